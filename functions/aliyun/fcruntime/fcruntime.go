// Package fcruntime speaks Alibaba Cloud Function Compute's two runtime
// protocols for the function: the go1 Runtime API loop (FC_RUNTIME_API set)
// and the custom runtimes' HTTP server (custom.debian10/11/12). Every event
// goes to the shared trigger handler, with the invocation's own credentials
// and region; nothing else happens here.
//
// It is a package of its own, not part of the FC main, so that the local
// runner serves exactly the same custom runtime on a laptop.
package fcruntime

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ecs-stopper/stopper/shared/config"
	"github.com/ecs-stopper/stopper/shared/ecs"
	"github.com/ecs-stopper/stopper/shared/notify"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/trigger"
)

// Run reads the configuration (STOPPER_* and ALIBABA_CLOUD_* from the
// process environment, once), then serves the runtime FC started it as until
// ctx ends. getenv supplies the FC_* variables; out receives the log.
func Run(ctx context.Context, getenv func(string) string, out io.Writer) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	out = &lockedWriter{w: out}
	log := cfg.Logger(out)
	id, role, err := identity(cfg, log)
	if err != nil {
		return err
	}
	h, err := cfg.Handler(id, log)
	if err != nil {
		return err
	}
	// FC has no embedded metric format: the same numbers go into one JSON
	// log line per request, which SLS can chart.
	h.Function.Metrics = notify.LogMetrics{Log: log}
	a := newApp(h, getenv("FC_REGION"), out)
	a.role = role
	if api := getenv("FC_RUNTIME_API"); api != "" {
		// SIGTERM ends the loop gracefully (invocations taken are answered),
		// but the handler is installed only once an invocation arrives: it
		// costs a thread, which shows in start-to-ready (docs/performance.md).
		// Before the first invocation there is nothing to finish.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		loop := a.runtimeAPI(api)
		loop.onFirst = func() { cancelOnSignal(ctx, cancel) }
		loop.run(ctx)
		return nil
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	addr, err := listenAddr(getenv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return a.serve(ctx, ln)
}

// listenAddr is where the custom runtime listens: FC_CUSTOM_LISTEN_PORT
// (FC 3.0), else FC_SERVER_PORT (FC 2.0), else 9000, on every interface
// (0.0.0.0, not 127.0.0.1: FC reaches the server from outside the
// sandbox's loopback, and fails with FunctionNotStarted otherwise).
func listenAddr(getenv func(string) string) (string, error) {
	port := cmp.Or(getenv("FC_CUSTOM_LISTEN_PORT"), getenv("FC_SERVER_PORT"), "9000")
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("FC_CUSTOM_LISTEN_PORT: %q is not a port number", port)
	}
	return net.JoinHostPort("0.0.0.0", port), nil
}

// cancelOnSignal cancels ctx on SIGTERM or an interrupt.
func cancelOnSignal(ctx context.Context, cancel context.CancelFunc) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		defer signal.Stop(sig)
		select {
		case <-sig:
			cancel()
		case <-ctx.Done():
		}
	}()
}

// app is what both FC protocols share: the handler and how one invocation's
// headers tailor it.
type app struct {
	h *trigger.Handler
	// role receives each invocation's x-fc-* credentials: the fc-role
	// source the handler's client signs with. nil when the handler was
	// wired elsewhere (CustomRuntime for the local runner, tests): the
	// client is then re-keyed per invocation instead.
	role *roleCredentials
	// client is the handler's Cloud Assistant client; nil when the handler
	// calls something else.
	client *ecs.Client
	// region is FC_REGION, the default when the configuration names none and
	// the invocation carries no x-fc-region.
	region string
	out    io.Writer
	log    *slog.Logger
	// pathEvents lets POST /invoke without x-fc-control-path be an event
	// (the local runner); on FC such a request is a webhook.
	pathEvents bool
}

func newApp(h *trigger.Handler, region string, out io.Writer) *app {
	if _, ok := out.(*lockedWriter); !ok {
		out = &lockedWriter{w: out}
	}
	a := &app{h: h, region: region, out: out, log: h.Log}
	if h.Function != nil {
		a.client, _ = h.Function.API.(*ecs.Client)
	}
	if a.log == nil {
		a.log = config.NewLogger(out, nil)
	}
	return a
}

// handlerFor is the handler for one invocation: the invocation's
// credentials win over the environment's, and the FC region it runs in is
// the default region when the configuration names none (STOPPER_REGION_ID wins).
func (a *app) handlerFor(hdr http.Header) *trigger.Handler {
	if a.h.Function == nil {
		return a.h
	}
	var api stopper.CloudAssistant
	if cred, ok := headerCredentials(hdr); ok {
		switch {
		case a.role != nil:
			a.role.set(cred)
		case a.client != nil:
			api = a.client.WithCredentials(cred)
		}
	}
	return a.h.For(api, cmp.Or(strings.TrimSpace(hdr.Get(headerRegion)), a.region))
}

// logLine writes FC's plain-text marker lines (FC Invoke Start/End) on stdout.
func (a *app) logLine(what, requestID string) {
	fmt.Fprintf(a.out, "FC %s RequestId: %s\n", what, cleanID(requestID))
}

// deadline is the invocation's deadline: x-fc-function-deadline (epoch ms)
// when present and sane, else now + x-fc-function-timeout (s), else none. A
// missing or bad header never drops the invocation.
func deadline(h http.Header, now time.Time) (time.Time, bool) {
	sane := func(t time.Time) bool { return t.After(now.Add(-time.Hour)) && t.Before(now.Add(48*time.Hour)) }
	if v := strings.TrimSpace(h.Get("x-fc-function-deadline")); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			if t := time.UnixMilli(ms); sane(t) {
				return t, true
			}
		}
	}
	if v := strings.TrimSpace(h.Get("x-fc-function-timeout")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			if t := now.Add(time.Duration(s * float64(time.Second))); sane(t) {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// invocationContext bounds ctx by the invocation's deadline, when it has one.
func invocationContext(ctx context.Context, h http.Header) (context.Context, context.CancelFunc) {
	if d, ok := deadline(h, time.Now()); ok {
		return context.WithDeadline(ctx, d)
	}
	return context.WithCancel(ctx)
}

// errorBody is FC's function-error body (go1 /error, custom runtime x-fc-status: 404).
type errorBody struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	StackTrace   []string `json:"stackTrace"`
}

func transientBody(err error) (errorBody, *stopper.Error) {
	e := stopper.AsError(err)
	return errorBody{ErrorMessage: e.Message, ErrorType: e.Code, StackTrace: []string{}}, e
}

// maxEvent bounds an event payload. Every request the function understands
// is a few hundred bytes; 6 MiB is Lambda's synchronous limit too.
const maxEvent = 6 << 20

func tooLarge(requestID string) []byte {
	e := &stopper.Error{Code: stopper.CodePayloadTooLarge,
		Message: fmt.Sprintf("the event is larger than %d bytes", maxEvent)}
	return mustJSON(e.Answer(requestID))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs of strings are marshalled here
	}
	return b
}

// cleanID keeps a request id to one printable line (it comes from a header).
func cleanID(id string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, id[:min(len(id), 128)])
}

// lockedWriter serialises writes so that log lines from concurrent
// invocations never interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
