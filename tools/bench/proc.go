package main

import (
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// proc is one function process under measurement.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
	out    *tail
}

// startProc runs bin with exactly env (nothing inherited), its output kept
// in a bounded buffer for diagnostics.
func startProc(bin string, env []string) (*proc, error) {
	p := &proc{cmd: exec.Command(bin), exited: make(chan struct{}), out: &tail{max: 64 << 10}}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

// waitReady waits for the process's first GET next on api.
func (p *proc) waitReady(api *runtimeAPI, timeout time.Duration) (time.Time, error) {
	select {
	case t := <-api.ready:
		return t, nil
	case <-p.exited:
		return time.Time{}, fmt.Errorf("%s exited before asking for an event (%v):\n%s", p.cmd.Path, p.err, p.out)
	case <-time.After(timeout):
		return time.Time{}, fmt.Errorf("%s did not ask for an event within %s:\n%s", p.cmd.Path, timeout, p.out)
	}
}

// kill ends the process and returns its peak resident set size in bytes.
func (p *proc) kill() int64 {
	_ = p.cmd.Process.Kill()
	<-p.exited
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024 // KiB on Linux
	}
	return 0
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
