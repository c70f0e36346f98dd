package fcruntime

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/trigger"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// The tests here hold the edges of the runtime protocols: the exact event
// limit, the port range, how often an answer is posted and what counts as
// posted, the backoff of a failing next, the graceful end of the custom
// runtime, the bounds on every wait, and the quoting of request ids and
// headers in log lines and refusals.

// edgeApp is the function over api (no emulator), logging JSON to out.
func edgeApp(api stopper.CloudAssistant, out io.Writer) *app {
	log := slog.New(slog.NewJSONHandler(out, nil))
	return newApp(&trigger.Handler{
		Function: &stopper.Function{API: api, RegionId: sampleRegion, Log: log,
			Sweep: stopper.SweepDefaults{OlderThan: time.Hour, Concurrency: 1}},
		Webhook: &webhook.Verifier{Secret: hookSecret},
		Log:     log,
	}, "", out)
}

// runLoop runs l until the test ends.
func runLoop(t *testing.T, l *runtimeLoop) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.run(ctx); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Error("the runtime loop did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond with a generous bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestListenAddr: the custom runtime listens on every interface, on
// FC_CUSTOM_LISTEN_PORT, else FC_SERVER_PORT, else 9000; a value that is
// not a TCP port (1 to 65535) stops the start with an error naming it.
func TestListenAddr(t *testing.T) {
	for _, tc := range []struct {
		custom, server string
		addr           string // "" when refused
	}{
		{"", "", "0.0.0.0:9000"},
		{"", "8080", "0.0.0.0:8080"},
		{"9001", "8080", "0.0.0.0:9001"},
		{"1", "", "0.0.0.0:1"},
		{"65535", "", "0.0.0.0:65535"},
		{"0", "", ""},
		{"65536", "", ""},
		{"-1", "", ""},
		{"9000x", "", ""},
		{"", "http", ""},
	} {
		env := map[string]string{"FC_CUSTOM_LISTEN_PORT": tc.custom, "FC_SERVER_PORT": tc.server}
		addr, err := listenAddr(func(k string) string { return env[k] })
		switch {
		case tc.addr != "" && (err != nil || addr != tc.addr):
			t.Errorf("%q/%q: %q %v, want %s", tc.custom, tc.server, addr, err, tc.addr)
		case tc.addr == "" && (err == nil || !strings.Contains(err.Error(), "FC_CUSTOM_LISTEN_PORT") || !strings.Contains(err.Error(), "is not a port number")):
			t.Errorf("%q/%q: %q %v, want a refusal naming the variable", tc.custom, tc.server, addr, err)
		}
	}
}

// TestRunReportsWhereItCannotListen: Run ends with the error when the
// port is not a port or is taken, rather than serving nothing.
func TestRunReportsWhereItCannotListen(t *testing.T) {
	setEnv(t, "http://127.0.0.1:1")
	taken, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, port, _ := net.SplitHostPort(taken.Addr().String())
	for _, tc := range []struct{ port, says string }{
		{"70000", "is not a port number"},
		{port, "address already in use"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // were it to serve, it would stop at once and answer nil
		err := Run(ctx, func(k string) string {
			if k == "FC_CUSTOM_LISTEN_PORT" {
				return tc.port
			}
			return ""
		}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("port %s: Run = %v, want an error saying %q", tc.port, err, tc.says)
		}
	}
}

// TestCustomShutdownAnswersInFlight: when the custom runtime is told to
// stop (SIGTERM), the invocation in flight is still answered and the
// server ends cleanly.
func TestCustomShutdownAnswersInFlight(t *testing.T) {
	api := &blockingAPI{release: make(chan struct{})}
	a := edgeApp(api, io.Discard)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- a.serve(ctx, ln) }()

	type answer struct {
		status int
		body   []byte
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/invoke",
			strings.NewReader(`{"InvokeId":"t-held00000001"}`))
		req.Header.Set("x-fc-control-path", "/invoke")
		req.Header.Set("x-fc-request-id", "req-in-flight")
		resp, err := client.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		answered <- answer{resp.StatusCode, b, err}
	}()
	waitFor(t, "the invocation to reach the API", func() bool { return api.inFlight() == 1 })
	cancel()
	waitFor(t, "the server to stop listening", func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(api.release)

	got := <-answered
	if got.err != nil || got.status != 200 || decodeObject(t, got.body)["Action"] != "StopInvocation" {
		t.Fatalf("in-flight invocation = %d %s (%v), want its answer", got.status, got.body, got.err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve = %v, want a clean end", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop")
	}
}

// TestEveryWaitIsBounded: the custom runtime bounds how long a client may
// take to send a request, and the go1 loop bounds its dial and each
// answer's post, while next may wait for an event as long as FC takes
// (it long-polls). Waiting out each bound would take seconds; the bounds
// themselves are checked.
func TestEveryWaitIsBounded(t *testing.T) {
	srv := newServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout < srv.ReadHeaderTimeout || srv.ReadTimeout > 5*time.Minute {
		t.Errorf("server read timeouts %v (headers), %v (request): want both bounded", srv.ReadHeaderTimeout, srv.ReadTimeout)
	}
	l := edgeApp(&blockingAPI{}, io.Discard).runtimeAPI("127.0.0.1:1")
	if l.next.Timeout != 0 {
		t.Errorf("next times out after %v: it long-polls", l.next.Timeout)
	}
	if l.post.Timeout <= 0 || l.post.Timeout > 5*time.Minute {
		t.Errorf("an answer's post times out after %v, want a bound", l.post.Timeout)
	}
	for name, c := range map[string]*http.Client{"next": l.next, "post": l.post} {
		tr := c.Transport.(*http.Transport)
		if tr.Proxy != nil || tr.IdleConnTimeout <= 0 || tr.MaxIdleConnsPerHost < 200 {
			t.Errorf("%s transport: proxy %v, idle %v, %d idle per host: want no proxy, idle connections kept a while for 200 invocations",
				name, tr.Proxy != nil, tr.IdleConnTimeout, tr.MaxIdleConnsPerHost)
		}
	}
	if d := runtimeAPIDialer.Timeout; d <= 0 || d > time.Minute {
		t.Errorf("dial timeout %v, want a bound", d)
	}
}

// TestLogLinesCarryOnePrintableID: FC's marker lines carry the request id
// on one line, at most 128 bytes, without control characters.
func TestLogLinesCarryOnePrintableID(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{strings.Repeat("a", 128), strings.Repeat("a", 128)},
		{strings.Repeat("b", 129), strings.Repeat("b", 128)},
		{"req with spaces~", "req with spaces~"},
		{"a\x00b\x1fc\x7fd\ne\rf\tg", "abcdefg"},
		{"中文-é", "中文-é"},
	} {
		var out bytes.Buffer
		edgeApp(&blockingAPI{}, &out).logLine("Invoke Start", tc.id)
		if want := "FC Invoke Start RequestId: " + tc.want + "\n"; out.String() != want {
			t.Errorf("id %q: line %q, want %q", tc.id, out.String(), want)
		}
	}
}

// exactlyMaxEvent is a dry-run stop request padded in front to exactly
// maxEvent bytes: any byte lost at the end makes it invalid JSON.
func exactlyMaxEvent() []byte {
	req := []byte(`{"InvokeId":"t-fine0000000001","DryRun":true}`)
	return append(bytes.Repeat([]byte(" "), maxEvent-len(req)), req...)
}

// TestEventOfExactlyTheLimit: an event of exactly the limit (6 MiB) is
// read whole and handled, on the go1 loop and on the custom runtime.
func TestEventOfExactlyTheLimit(t *testing.T) {
	event := exactlyMaxEvent()
	check := func(what string, body []byte) {
		t.Helper()
		got := decodeObject(t, body)
		if got["Action"] != "StopInvocation" || got["DryRun"] != true {
			t.Errorf("%s: answer %.300s, want the dry run's", what, body)
		}
	}

	fc := newFakeFC(t)
	runLoop(t, edgeApp(&blockingAPI{}, io.Discard).runtimeAPI(fc.addr()))
	fc.push("req-max", fcHeaders(), event)
	a := fc.wait(t, "req-max")
	if a.kind != "response" {
		t.Fatalf("go1: %s %.300s", a.kind, a.body)
	}
	check("go1", a.body)

	srv := httptest.NewServer(edgeApp(&blockingAPI{}, io.Discard).customHandler())
	defer srv.Close()
	resp, body := send(t, http.MethodPost, srv.URL+"/invoke", invokeHeaders("req-max"), event)
	if resp.StatusCode != 200 || resp.Header.Get("x-fc-status") != "200" {
		t.Fatalf("custom: %d %.300s", resp.StatusCode, body)
	}
	check("custom", body)
}

// nextWarnings are the loop's warnings for failed next calls: attempt and delay.
func nextWarnings(t *testing.T, out *syncBuffer) (attempts []float64, delays []string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var l struct {
			Msg     string  `json:"msg"`
			Attempt float64 `json:"attempt"`
			Delay   string  `json:"delay"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "runtime API next failed; retrying" {
			attempts, delays = append(attempts, l.Attempt), append(delays, l.Delay)
		}
	}
	return attempts, delays
}

// TestRuntimeAPIBackoffGrowsAndResets: a failing next is retried after a
// wait that doubles up to the longest, each failure logged with its
// attempt; an event taken starts the count again.
func TestRuntimeAPIBackoffGrowsAndResets(t *testing.T) {
	out := &syncBuffer{}
	fc := newFakeFC(t)
	fc.failNext = 4
	l := edgeApp(&blockingAPI{}, out).runtimeAPI(fc.addr())
	l.backoff, l.maxBackoff = time.Millisecond, 4*time.Millisecond
	stop := runLoop(t, l)
	fc.push("req-after-4", fcHeaders(), []byte(`{"InvokeId":"t-fine","DryRun":true}`))
	if a := fc.wait(t, "req-after-4"); a.kind != "response" {
		t.Fatalf("answer %s %s", a.kind, a.body)
	}
	fc.mu.Lock()
	fc.failNext = 2
	fc.mu.Unlock()
	fc.push("req-after-2", fcHeaders(), []byte(`{"InvokeId":"t-fine","DryRun":true}`))
	if a := fc.wait(t, "req-after-2"); a.kind != "response" {
		t.Fatalf("answer %s %s", a.kind, a.body)
	}
	waitFor(t, "six warnings", func() bool { a, _ := nextWarnings(t, out); return len(a) >= 6 })
	stop()
	attempts, delays := nextWarnings(t, out)
	wantAttempts, wantDelays := []float64{1, 2, 3, 4, 1, 2}, []string{"1ms", "2ms", "4ms", "4ms", "1ms", "2ms"}
	if len(attempts) != 6 || len(delays) != 6 {
		t.Fatalf("warnings: attempts %v delays %v, want %v and %v", attempts, delays, wantAttempts, wantDelays)
	}
	for i := range wantAttempts {
		if attempts[i] != wantAttempts[i] || delays[i] != wantDelays[i] {
			t.Fatalf("warnings: attempts %v delays %v, want %v and %v", attempts, delays, wantAttempts, wantDelays)
		}
	}
}

// answerAPI is a Runtime API that hands out one event and answers each
// post of its outcome as respond says (n counts the posts, from 1).
type answerAPI struct {
	respond func(n int, w http.ResponseWriter)
	mu      sync.Mutex
	served  bool
	posts   int
}

func (f *answerAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if r.Method == http.MethodGet {
		first := !f.served
		f.served = true
		f.mu.Unlock()
		if !first {
			<-r.Context().Done()
			return
		}
		w.Header().Set("x-fc-request-id", "req-post")
		_, _ = w.Write([]byte(`{"InvokeId":"t-fine","DryRun":true}`))
		return
	}
	f.posts++
	n := f.posts
	f.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	f.respond(n, w)
}

func (f *answerAPI) postCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts
}

// dropConnection closes the connection without an answer, as a dropped
// keep-alive connection does.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// TestRuntimeAPIAnswerPosts: an answer is posted again once when the
// connection drops (a dropped keep-alive connection), never a third time
// (the answer is then logged as lost);
// an answer that FC refuses (any status from 300) is logged as not
// posted, and not posted again.
func TestRuntimeAPIAnswerPosts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		respond func(n int, w http.ResponseWriter)
		posts   int
		failed  string // the error logged; "" when posted
	}{
		{"dropped once", func(n int, w http.ResponseWriter) {
			if n == 1 {
				dropConnection(w)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		}, 2, ""},
		{"dropped twice", func(n int, w http.ResponseWriter) {
			if n <= 2 {
				dropConnection(w)
				return
			}
			w.WriteHeader(http.StatusAccepted) // a third post would get through
		}, 2, "EOF"},
		{"accepted with 299", func(n int, w http.ResponseWriter) { w.WriteHeader(299) }, 1, ""},
		{"answered 300", func(n int, w http.ResponseWriter) { w.WriteHeader(300) }, 1, "response answered 300"},
		{"answered 500", func(n int, w http.ResponseWriter) { w.WriteHeader(500) }, 1, "response answered 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &answerAPI{respond: tc.respond}
			srv := httptest.NewServer(api)
			defer srv.Close()
			out := &syncBuffer{}
			stop := runLoop(t, edgeApp(&blockingAPI{}, out).runtimeAPI(srv.URL))
			waitFor(t, "the invocation to end", func() bool { return strings.Contains(out.String(), "FC Invoke End RequestId: req-post\n") })
			stop()
			if n := api.postCount(); n != tc.posts {
				t.Errorf("%d posts, want %d", n, tc.posts)
			}
			logged := strings.Contains(out.String(), `"msg":"runtime API: could not post the answer"`)
			if logged != (tc.failed != "") || !strings.Contains(out.String(), tc.failed) {
				t.Errorf("log:\n%s\nwant the post's failure logged: %v (%q)", out, tc.failed != "", tc.failed)
			}
		})
	}
}

// TestLocalRefusalsQuoteTheHeader: the local runner's refusals quote the
// Host or Content-Type they refuse, "(missing)" when there is none, cut at
// 64 bytes and without control characters.
func TestLocalRefusalsQuoteTheHeader(t *testing.T) {
	h := CustomRuntime(edgeApp(&blockingAPI{}, io.Discard).h, "", io.Discard)
	long := strings.Repeat("h", 60) + ".com"
	for _, tc := range []struct {
		name, host, contentType string
		status                  int
		message                 string
	}{
		{"no Host", "", "application/json", 403, `Host (missing) is not a loopback name`},
		{"Host of 64 bytes", long, "application/json", 403, `Host "` + long + `" is not a loopback name`},
		{"Host of 65 bytes", long + "x", "application/json", 403, `Host "` + long + `..." is not a loopback name`},
		{"Host with a control character", "evil\x01.example", "application/json", 403, `Host "evil.example" is not`},
		{"no Content-Type", "127.0.0.1:9000", "", 415, `Content-Type (missing) is not application/json`},
		{"text/plain", "localhost", "text/plain", 415, `Content-Type "text/plain" is not application/json`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/invoke", strings.NewReader(`{"InvokeId":"t-fine","DryRun":true}`))
			r.Host = tc.host
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := decodeObject(t, w.Body.Bytes())
			msg, _ := got["Message"].(string)
			if w.Code != tc.status || !strings.HasPrefix(msg, tc.message) {
				t.Errorf("%d %q, want %d %q", w.Code, msg, tc.status, tc.message)
			}
		})
	}
}

// TestRuntimeLogsWithoutAHandlerLogger: given a handler without a logger,
// the runtime's own lines (here a refused local event) are JSON on out.
func TestRuntimeLogsWithoutAHandlerLogger(t *testing.T) {
	out := &syncBuffer{}
	h := CustomRuntime(&trigger.Handler{Function: &stopper.Function{API: &blockingAPI{}, RegionId: sampleRegion}}, "", out)
	r := httptest.NewRequest(http.MethodPost, "/invoke", strings.NewReader(`{"InvokeId":"t-fine"}`))
	r.Host = "attacker.example"
	r.Header.Set("x-fc-request-id", "req-no-logger")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var line struct {
		Level     string `json:"level"`
		Msg       string `json:"msg"`
		RequestID string `json:"request_id"`
		Code      string `json:"code"`
	}
	if err := json.Unmarshal([]byte(out.String()), &line); err != nil || w.Code != 403 ||
		line.Level != "WARN" || line.Msg != "refused" || line.RequestID != "req-no-logger" || line.Code != "Forbidden.Host" {
		t.Fatalf("%d, log %q (%v): want the refusal logged as one JSON line", w.Code, out, err)
	}
}
