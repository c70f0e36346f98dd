package fcruntime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/trigger"
)

// The custom runtime's HTTP protocol (docs/reference/function-compute.md):
// POST /invoke for events, POST /initialize and GET /pre-stop for the
// lifecycle hooks, every other request is an HTTP trigger's request passed
// through unchanged: a webhook.

// serve runs the custom-runtime server on ln until ctx ends.
func (a *app) serve(ctx context.Context, ln net.Listener) error {
	srv := newServer(a.customHandler())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("custom runtime listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Requests in flight are answered, for 10 s at most. Serve returns
	// ErrServerClosed as soon as Shutdown begins; any other error is why it
	// stopped before.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return shutdownErr
}

// newServer is the custom runtime's HTTP server for h.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// No WriteTimeout: an event may run up to the function's timeout,
		// which FC enforces itself.
		//
		// No idle timeout (negative; zero would fall back to ReadTimeout,
		// net/http Server.IdleTimeout): FC keeps its connections to the
		// server alive across freezes and reuses them after a thaw, and its
		// FAQ ("Process exited unexpectedly before completing request")
		// asks for Keep-Alive with a server timeout of at least 15 minutes,
		// no timeout being its example (docs/reference/function-compute.md).
		// A connection closed while the instance was frozen fails FC's next
		// request on it, and a deadline that passed while the instance was
		// frozen fires at the thaw, just as FC reuses the connection. Only
		// FC reaches this port, so nobody else can hold connections open.
		IdleTimeout:    -1,
		MaxHeaderBytes: 64 << 10,
	}
}

// customHandler routes by x-fc-control-path, which FC sets on everything it
// sends (/invoke, /http-invoke, /initialize), so that a webhook whose own
// path happens to be /invoke is still a webhook. See route.
func (a *app) customHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch route := a.route(r); route {
		case "/invoke":
			if a.pathEvents {
				if e := localEventRefusal(r); e != nil {
					a.refuseLocalEvent(w, r, e)
					return
				}
			}
			a.invokeEvent(w, r)
		case "/initialize":
			a.lifecycle(w, r, "Initialize")
		case "/pre-stop":
			a.lifecycle(w, r, "PreStop")
		case "/pre-freeze":
			a.lifecycle(w, r, "PreFreeze")
		default: // "/http-invoke": a webhook
			a.webhook(w, r)
		}
	})
}

// route names what a request is: an event path, or "/http-invoke" for a
// webhook.
//
// x-fc-control-path decides only when the request carries it exactly once
// and it names an event path exactly. Clients of an HTTP trigger may not
// send x-fc-* headers, but whether FC strips, overwrites or appends to a
// client's x-fc-control-path is not documented (Alibaba's FC 2.0 local
// mocker lets the client's win): a second value, or any value that is not
// exactly an event path, may be the caller's, and makes the request a
// webhook, which must be signed.
//
// Without the header the path decides, except that on FC a request naming
// /invoke by its path alone came from an HTTP trigger's caller, not from FC:
// it is a webhook too. Only the local runner, with no FC in front of it,
// takes events from the path (a.pathEvents).
func (a *app) route(r *http.Request) string {
	switch control := r.Header.Values("x-fc-control-path"); len(control) {
	case 0:
		if r.URL.Path == "/invoke" && !a.pathEvents {
			return "/http-invoke"
		}
		if isEventPath(r.URL.Path) {
			return r.URL.Path
		}
	case 1:
		if isEventPath(control[0]) {
			return control[0]
		}
	}
	return "/http-invoke"
}

func isEventPath(p string) bool {
	switch p {
	case "/invoke", "/initialize", "/pre-stop", "/pre-freeze":
		return true
	}
	return false
}

// lifecycle answers a hook: there is nothing to set up or flush.
func (a *app) lifecycle(w http.ResponseWriter, r *http.Request, kind string) {
	id := trigger.RequestID(r.Header.Get("x-fc-request-id"))
	a.logLine(kind+" Start", id)
	defer a.logLine(kind+" End", id)
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
	w.WriteHeader(http.StatusOK)
}

// invokeEvent handles POST /invoke: the body is the raw event.
//
// FC documents two answers to /invoke: HTTP 200 for a success and 404 for a
// failure, each with the same x-fc-status (docs/reference/function-compute.md);
// what it does with any other status is not documented. So the HTTP status
// is always 200 or 404 and the detail is in the body. Success and permanent
// failures (a bad request, an invocation that does not exist) are answers,
// 200: FC must not retry what would fail again. Transient failures and
// panics are function errors, 404 with FC's error body, so that FC's async
// retry policy or dead-letter destination takes over.
func (a *app) invokeEvent(w http.ResponseWriter, r *http.Request) {
	id := trigger.RequestID(r.Header.Get("x-fc-request-id"))
	a.logLine("Invoke Start", id)
	defer a.logLine("Invoke End", id)
	if r.Method != http.MethodPost {
		// FC sends every event with POST: another method reaches /invoke
		// only on the local runner (or from a caller faking FC's header).
		// It is a permanent failure, answered as FC would see it, so that a
		// local run shows what FC would do.
		w.Header().Set("Allow", http.MethodPost)
		writeEventAnswer(w, http.StatusOK, methodNotAllowed(id))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEvent))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeEventAnswer(w, http.StatusOK, tooLarge(id))
			return
		}
		// The caller went away mid-body: most likely nobody reads this, but
		// should FC, the event was not handled and may be retried.
		a.log.Warn("reading the event failed", "request_id", id, "error", err.Error())
		writeEventAnswer(w, http.StatusNotFound, mustJSON(errorBody{ErrorMessage: "reading the event failed: " + err.Error(),
			ErrorType: "Runtime.ReadError", StackTrace: []string{}}))
		return
	}
	ctx, cancel := invocationContext(r.Context(), r.Header)
	defer cancel()
	defer func() {
		// net/http would only drop the connection; FC needs a failure answer.
		if p := recover(); p != nil {
			a.log.Error("panic", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			writeEventAnswer(w, http.StatusNotFound, mustJSON(errorBody{ErrorMessage: "the function panicked: " + fmt.Sprint(p),
				ErrorType: "Runtime.Panic", StackTrace: []string{}}))
		}
	}()
	res, err := a.handlerFor(r.Header).Invoke(ctx, id, body)
	if err != nil {
		eb, _ := transientBody(err)
		writeEventAnswer(w, http.StatusNotFound, mustJSON(eb))
		return
	}
	// A permanent failure too: res.Payload is then the error answer.
	writeEventAnswer(w, http.StatusOK, res.Payload)
}

// writeEventAnswer answers an event with status (200 or 404) as both the
// HTTP status and x-fc-status.
func writeEventAnswer(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-fc-status", strconv.Itoa(status))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// webhook hands an HTTP trigger's request to the shared webhook handling,
// with this invocation's credentials and region. The credential headers are
// removed first so that nothing downstream can log or echo them; the body
// limit and every answer are the shared handler's.
func (a *app) webhook(w http.ResponseWriter, r *http.Request) {
	id := trigger.RequestID(r.Header.Get("x-fc-request-id"))
	a.logLine("Invoke Start", id)
	defer a.logLine("Invoke End", id)
	h := a.handlerFor(r.Header)
	r = webhookRequest(r, id)
	ctx, cancel := invocationContext(r.Context(), r.Header)
	defer cancel()
	h.ServeHTTP(w, r.WithContext(ctx))
}

// webhookRequest is the request the shared webhook handling sees: a copy
// without FC's credential headers (the invocation's handler already has
// them), so that nothing downstream can log or echo them, and with one
// request id for the FC log lines and the answer.
func webhookRequest(r *http.Request, id string) *http.Request {
	r = r.Clone(r.Context())
	stripCredentials(r.Header)
	r.Header.Set("x-fc-request-id", id)
	return r
}

func methodNotAllowed(requestID string) []byte {
	e := &stopper.Error{Code: stopper.CodeMethodNotAllowed,
		Message: "events are delivered with POST /invoke"}
	return mustJSON(e.Answer(requestID))
}

// CustomRuntime is the custom-runtime HTTP handler for h: POST /invoke for
// events, POST /initialize, GET /pre-stop, every other request a webhook.
// fcRegion is the region default when neither the configuration nor the
// request's x-fc-region names one; log lines go to out.
//
// Unlike on FC, POST /invoke is an event by its path alone: this is for the
// local runner, which has no FC in front of it to set x-fc-control-path.
// It therefore takes an event only with a loopback Host and Content-Type
// application/json (see localEventRefusal).
func CustomRuntime(h *trigger.Handler, fcRegion string, out io.Writer) http.Handler {
	a := newApp(h, fcRegion, out)
	a.pathEvents = true
	return a.customHandler()
}
