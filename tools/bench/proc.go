package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
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
		return time.Time{}, fmt.Errorf("%s exited before asking for an event (%s):\n%s", p.cmd.Path, exitStatus(p.err), p.out)
	case <-time.After(timeout):
		return time.Time{}, fmt.Errorf("%s did not ask for an event within %s:\n%s", p.cmd.Path, timeout, p.out)
	}
}

// kill ends the process and returns its peak resident set size in bytes
// and the CPU time it used.
//
// The peak is VmHWM from /proc/PID/status, read just before the kill: the
// high-water mark of the process's own address space since exec. Not
// getrusage's ru_maxrss: os/exec starts children with clone(CLONE_VM|
// CLONE_VFORK), so until exec the child shares this process's address space,
// and Linux carries that space's high-water mark over into the child's
// ru_maxrss at exec; the figure would be this harness's RSS (the emulator's
// fleet included) whenever that is the larger.
func (p *proc) kill() (rss int64, cpu time.Duration) {
	rss = vmHWM(p.cmd.Process.Pid)
	_ = p.cmd.Process.Kill()
	<-p.exited
	cpu = p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
	if rss == 0 {
		if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss * 1024 // KiB on Linux; an upper bound, see above
		}
	}
	return rss, cpu
}

// vmHWM is the peak RSS of a live process in bytes, 0 if unknown.
func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	return parseVmHWM(string(data))
}

func parseVmHWM(status string) int64 {
	for line := range strings.Lines(status) {
		var kb int64
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kb); err == nil {
			return kb * 1024
		}
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

// exitStatus is how a process ended, from what Wait returned.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
