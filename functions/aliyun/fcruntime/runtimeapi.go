package fcruntime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// The go1 runtime's Runtime API (docs/reference/function-compute.md):
// GET next for each event, POST {id}/response or {id}/error with the outcome.
const runtimeAPIPath = "/2020-11-11/runtime/invocation/"

// FC function types (x-fc-function-type): lifecycle hooks come through the
// same loop as events.
const (
	functionTypeInvoke      = "0"
	functionTypeInitializer = "1"
	functionTypePreStop     = "2"
	functionTypePreFreeze   = "3"
)

// runtimeLoop runs invocations from FC's Runtime API. Several may be in
// flight at once (FC asks for the next event without waiting); each has its
// own body buffer, context, credentials and answer.
//
// It takes whatever FC hands out and never gives up, as the official SDK
// does (github.com/aliyun/fc-runtime-go-sdk v0.3.1, fc/invoke_loop.go
// startRuntimeAPILoop: every next is handled in its own goroutine, and a
// failed next is logged and called again, forever). FC decides how many
// invocations an instance runs at once (one by default on FC 3.0, up to
// 200 with instance concurrency): a cap of the loop's own, below FC's,
// would leave invocations FC sent to this instance waiting for a next call.
// A Runtime API that fails is FC's to repair, and an exit would only make
// FC restart the instance, losing the invocations in flight; so a failed
// next is retried while ctx lives, after a wait that grows to maxBackoff so
// that the log gets a few lines a minute rather than a flood.
type runtimeLoop struct {
	app  *app
	base string // http://host:port/2020-11-11/runtime/invocation/
	// next has no timeout (GET next long-polls); post bounds each answer.
	next, post *http.Client
	// backoff is the first wait after a failed next, maxBackoff the longest.
	backoff, maxBackoff time.Duration
	// onFirst, when set, runs once, when the first invocation arrives.
	onFirst func()
	first   sync.Once
}

func (a *app) runtimeAPI(hostport string) *runtimeLoop {
	base := strings.TrimSuffix(hostport, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &runtimeLoop{
		app:        a,
		base:       base + runtimeAPIPath,
		next:       &http.Client{Transport: localTransport()},
		post:       &http.Client{Timeout: 30 * time.Second, Transport: localTransport()},
		backoff:    50 * time.Millisecond,
		maxBackoff: 5 * time.Second,
	}
}

// runtimeAPIDialer connects to the Runtime API on the instance's own
// network, where a dial that takes seconds is not going to succeed: it is
// bounded, so that a next that cannot connect fails and is retried.
var runtimeAPIDialer = net.Dialer{Timeout: 5 * time.Second}

// localTransport talks to the Runtime API: never through a proxy from the
// environment, and with a bounded dial.
func localTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         runtimeAPIDialer.DialContext,
		MaxIdleConnsPerHost: 200, // FC 3.0's highest instance concurrency
		IdleConnTimeout:     90 * time.Second,
	}
}

// invocation is one event fetched from next.
type invocation struct {
	id     string
	header http.Header
	body   []byte // this invocation's own buffer
	large  bool   // the body exceeded maxEvent (and was cut)
}

// run fetches and handles invocations until ctx ends, then waits for the
// ones in flight.
func (l *runtimeLoop) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	// Invocations already taken are answered even when ctx ends.
	work := context.WithoutCancel(ctx)
	failures := 0
	delay := l.backoff
	for {
		inv, err := l.fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			l.app.log.Warn("runtime API next failed; retrying", "error", err.Error(), "attempt", failures, "delay", delay.String())
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return
			}
			delay = min(delay*2, l.maxBackoff)
			continue
		}
		failures, delay = 0, l.backoff
		if l.onFirst != nil {
			l.first.Do(l.onFirst)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.handle(work, inv)
		}()
	}
}

// fetch is one GET next.
func (l *runtimeLoop) fetch(ctx context.Context) (*invocation, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+"next", nil)
	if err != nil {
		return nil, err
	}
	resp, err := l.next.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("next answered %s", resp.Status)
	}
	inv := &invocation{id: resp.Header.Get("x-fc-request-id"), header: resp.Header}
	if inv.id == "" {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxEvent))
		return nil, errors.New("next answered without x-fc-request-id")
	}
	inv.body, err = io.ReadAll(io.LimitReader(resp.Body, maxEvent+1))
	if err != nil {
		return nil, fmt.Errorf("reading the event of %s: %w", cleanID(inv.id), err)
	}
	if len(inv.body) > maxEvent {
		inv.large, inv.body = true, nil
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return inv, nil
}

// handle runs one invocation and posts its answer. It never panics: a panic
// in one invocation must not take the others in flight down with it.
func (l *runtimeLoop) handle(ctx context.Context, inv *invocation) {
	kind := "Invoke"
	switch inv.header.Get("x-fc-function-type") {
	case functionTypeInitializer:
		kind = "Initialize"
	case functionTypePreStop:
		kind = "PreStop"
	case functionTypePreFreeze:
		kind = "PreFreeze"
	}
	l.app.logLine(kind+" Start", inv.id)
	defer l.app.logLine(kind+" End", inv.id)
	defer func() {
		if p := recover(); p != nil {
			l.app.log.Error("panic", "request_id", inv.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			l.answer(ctx, inv.id, "error", mustJSON(errorBody{
				ErrorMessage: "the function panicked: " + fmt.Sprint(p), ErrorType: "Runtime.Panic", StackTrace: []string{}}), "")
		}
	}()
	if kind != "Invoke" {
		// Nothing to set up or tear down: the configuration was read at start-up.
		l.answer(ctx, inv.id, "response", []byte("{}"), "")
		return
	}
	// The header's presence, whatever its value, makes the invocation an
	// HTTP request: one FC 2.0 could not describe is refused, not run.
	if params, ok := inv.header[http.CanonicalHeaderKey(headerHTTPParams)]; ok {
		l.handleHTTP(ctx, inv, params)
		return
	}
	if inv.large {
		l.answer(ctx, inv.id, "response", tooLarge(inv.id), "")
		return
	}
	ictx, cancel := invocationContext(ctx, inv.header)
	defer cancel()
	res, err := l.app.handlerFor(inv.header).Invoke(ictx, inv.id, inv.body)
	if err != nil {
		body, _ := transientBody(err)
		l.answer(ctx, inv.id, "error", mustJSON(body), "")
		return
	}
	l.answer(ctx, inv.id, "response", res.Payload, "")
}

// answer posts an outcome; one retry covers a dropped keep-alive connection.
// httpParams, when set, is an FC 2.0 HTTP function's response status and
// headers (see httpfunction.go).
func (l *runtimeLoop) answer(ctx context.Context, id, what string, body []byte, httpParams string) {
	u := l.base + url.PathEscape(id) + "/" + what
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			break
		}
		req.Header.Set("Content-Type", "application/json")
		if httpParams != "" {
			req.Header.Set(headerHTTPParams, httpParams)
		}
		var resp *http.Response
		resp, err = l.post.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				err = fmt.Errorf("%s answered %s", what, resp.Status)
			}
			break
		}
	}
	if err != nil {
		l.app.log.Error("runtime API: could not post the answer", "request_id", id, "what", what, "error", err.Error())
	}
}
