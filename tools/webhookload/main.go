// Command webhookload sends unauthenticated webhooks with large bodies to
// `local serve` on loopback and prints the server's peak resident set size
// before and after the load, as a Markdown table: what a flood of forged
// webhooks costs the function's memory.
//
//	go build -o /tmp/local ./functions/local
//	go run ./tools/webhookload -bin /tmp/local
//
// Each credential case runs against a fresh server process (the built
// binary given by -bin, so that its memory is its own): no credentials, a
// wrong bearer token, and a forged signature with the current time (the
// only one whose body must be read to be refused). The peak is VmHWM from
// /proc/PID/status, read once the server listens and again after the load.
// Everything is on loopback, bounded in count (-requests) and in time
// (-timeout); the exit status is non-zero only when a case could not run.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The server's credentials: dummies, only so that both schemes are on.
const (
	secret = "webhookload-secret-0123456789abcdef"
	token  = "webhookload-token-0123456789abcdef0123"
)

// A credential case: the headers of every request it sends.
type credentials struct {
	name    string
	headers func(now time.Time) map[string]string
}

var cases = []credentials{
	{"none", func(time.Time) map[string]string { return nil }},
	{"wrong bearer token", func(time.Time) map[string]string {
		return map[string]string{"Authorization": "Bearer " + strings.Repeat("x", len(token))}
	}},
	{"forged signature, current time", func(now time.Time) map[string]string {
		return map[string]string{
			"X-Stopper-Timestamp": fmt.Sprint(now.Unix()),
			"X-Stopper-Signature": "sha256=" + strings.Repeat("0", 64),
		}
	}},
}

type options struct {
	bin               string
	requests, conns   int
	size              int
	timeout           time.Duration
	only              string
	startup, settling time.Duration
	env               envFlag
	log               string
}

// envFlag collects -env KEY=VALUE flags.
type envFlag []string

func (e *envFlag) String() string     { return strings.Join(*e, " ") }
func (e *envFlag) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "the built local runner (go build -o /tmp/local ./functions/local)")
	flag.IntVar(&o.requests, "requests", 2000, "requests per case")
	flag.IntVar(&o.conns, "conns", 200, "concurrent connections")
	flag.IntVar(&o.size, "size", 1<<20, "body size in bytes (the function takes at most 1 MiB)")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Minute, "time limit of each case")
	flag.StringVar(&o.only, "case", "", "run only the case whose name contains this")
	flag.StringVar(&o.log, "log", "", "file to append the servers' stderr to (default: discarded)")
	flag.Var(&o.env, "env", "KEY=VALUE for the server's environment, e.g. GODEBUG=gctrace=1 (repeatable)")
	flag.Parse()
	o.startup, o.settling = 30*time.Second, 500*time.Millisecond
	if o.bin == "" || o.requests <= 0 || o.conns <= 0 || o.size <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	fmt.Printf("%d requests of %d bytes per case, %d connections, against %s serve on 127.0.0.1\n\n", o.requests, o.size, o.conns, o.bin)
	fmt.Println("| credentials | peak RSS at start | peak RSS after the load | answers | client errors | time |")
	fmt.Println("|---|---|---|---|---|---|")
	failed := false
	for _, c := range cases {
		if !strings.Contains(c.name, o.only) {
			continue
		}
		r, err := run(o, c)
		if err != nil {
			fmt.Fprintf(os.Stderr, "webhookload: %s: %v\n", c.name, err)
			failed = true
			continue
		}
		fmt.Printf("| %s | %s | %s | %s | %d | %s |\n", c.name, mib(r.before), mib(r.after), r.statuses(), r.errors, r.elapsed.Round(10*time.Millisecond))
	}
	if failed {
		os.Exit(1)
	}
}

type result struct {
	before, after int64
	status        map[int]int
	errors        int64
	elapsed       time.Duration
}

func (r result) statuses() string {
	codes := make([]int, 0, len(r.status))
	for c := range r.status {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d × %d", r.status[c], c))
	}
	return strings.Join(parts, ", ")
}

// run starts a server, loads it with case c and stops it.
func run(o options, c credentials) (result, error) {
	var res result
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	log := io.Discard
	if o.log != "" {
		f, err := os.OpenFile(o.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return res, err
		}
		defer f.Close()
		log = f
	}
	srv, err := startServer(o.bin, o.env, log, o.startup)
	if err != nil {
		return res, err
	}
	defer srv.stop()
	time.Sleep(o.settling) // start-up's allocations done
	res.before = vmHWM(srv.cmd.Process.Pid)
	start := time.Now()
	res.status, res.errors = load(ctx, srv.url, o, c)
	res.elapsed = time.Since(start)
	res.after = vmHWM(srv.cmd.Process.Pid)
	if ctx.Err() != nil {
		return res, fmt.Errorf("not done within %s", o.timeout)
	}
	return res, nil
}

// load sends o.requests requests over o.conns connections.
func load(ctx context.Context, url string, o options, c credentials) (map[int]int, int64) {
	body := bytes.Repeat([]byte(" "), o.size)
	copy(body, `{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76"}`)
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			MaxConnsPerHost:     o.conns,
			MaxIdleConnsPerHost: o.conns,
		},
		Timeout: time.Minute,
	}
	defer client.CloseIdleConnections()
	var next, errs atomic.Int64
	var mu sync.Mutex
	status := map[int]int{}
	var wg sync.WaitGroup
	for range o.conns {
		wg.Go(func() {
			for next.Add(1) <= int64(o.requests) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/stop", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				for k, v := range c.headers(time.Now()) {
					req.Header.Set(k, v)
				}
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				mu.Lock()
				status[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return status, errs.Load()
}

// server is one `local serve` process.
type server struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
}

// startServer runs bin serve on a free loopback port, with the dummy
// credentials and the embedded emulator, and waits until it listens.
func startServer(bin string, env []string, log io.Writer, timeout time.Duration) (*server, error) {
	cmd := exec.Command(bin, "serve", "-addr", "127.0.0.1:0")
	home, err := os.MkdirTemp("", "webhookload")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(home)
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"STOPPER_WEBHOOK_SECRET=" + secret, "STOPPER_WEBHOOK_TOKEN=" + token}
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, exited: make(chan struct{})}
	urls := make(chan string, 1)
	go func() {
		// The log line that names the URL, then the rest copied to log: a
		// full pipe would block the server.
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var l struct{ Msg, URL string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.URL != "" && strings.Contains(l.Msg, "custom runtime") {
				urls <- l.URL
				break
			}
		}
		_, _ = io.Copy(log, stderr)
		_ = cmd.Wait()
		close(s.exited)
	}()
	select {
	case s.url = <-urls:
		return s, nil
	case <-s.exited:
		return nil, errors.New("serve exited before listening")
	case <-time.After(timeout):
		s.stop()
		return nil, fmt.Errorf("serve did not listen within %s", timeout)
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// vmHWM is the process's peak resident set size, in bytes, from
// /proc/PID/status (0 when unreadable).
func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		var kb int64
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kb); err == nil {
			return kb * 1024
		}
	}
	return 0
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
