package fcruntime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/trigger"
)

// The custom runtime's HTTP protocol (shared/reference/function-compute.md):
// POST /invoke for events, POST /initialize and GET /pre-stop for the
// lifecycle hooks, every other request is an HTTP trigger's request passed
// through unchanged: a webhook.

// serve runs the custom-runtime server on ln until ctx ends.
func (a *app) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.customHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// No WriteTimeout: an event may run up to the function's timeout,
		// which FC enforces itself.
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("custom runtime listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// customHandler routes by x-fc-control-path, which FC sets on everything it
// sends (/invoke, /http-invoke, /initialize), so that a webhook whose own
// path happens to be /invoke is still a webhook. Without the header the path
// decides, except that on FC a request naming /invoke by its path alone came
// from an HTTP trigger's caller, not from FC: it is a webhook, and must be
// signed like any other. Only the local runner, with no FC in front of it,
// takes events from the path (a.pathEvents).
func (a *app) customHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := r.Header.Get("x-fc-control-path")
		if route == "" {
			route = r.URL.Path
			if route == "/invoke" && !a.pathEvents {
				route = "/http-invoke"
			}
		}
		switch route {
		case "/invoke":
			a.invokeEvent(w, r)
		case "/initialize":
			a.lifecycle(w, r, "Initialize")
		case "/pre-stop":
			a.lifecycle(w, r, "PreStop")
		case "/pre-freeze":
			a.lifecycle(w, r, "PreFreeze")
		default: // "/http-invoke", or any other path: a webhook
			a.webhook(w, r)
		}
	})
}

// lifecycle answers a hook: there is nothing to set up or flush.
func (a *app) lifecycle(w http.ResponseWriter, r *http.Request, kind string) {
	id := trigger.RequestID(r.Header.Get("x-fc-request-id"))
	a.logLine(kind+" Start", id)
	defer a.logLine(kind+" End", id)
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
	w.WriteHeader(http.StatusOK)
}

// invokeEvent handles POST /invoke: the body is the raw event. Success and
// permanent failures are answers (x-fc-status: 200; the HTTP status mirrors
// the answer's); transient failures are function errors (x-fc-status: 404)
// so that FC's retry policy or destination takes over.
func (a *app) invokeEvent(w http.ResponseWriter, r *http.Request) {
	id := trigger.RequestID(r.Header.Get("x-fc-request-id"))
	a.logLine("Invoke Start", id)
	defer a.logLine("Invoke End", id)
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.Header().Set("x-fc-status", "200")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write(methodNotAllowed(id))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEvent))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			w.Header().Set("x-fc-status", "200")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = w.Write(tooLarge(id))
			return
		}
		// The caller went away mid-body: nobody is left to answer.
		a.log.Warn("reading the event failed", "request_id", id, "error", err.Error())
		w.Header().Set("x-fc-status", "404")
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	ctx, cancel := invocationContext(r.Context(), r.Header)
	defer cancel()
	defer func() {
		// net/http would only drop the connection; FC needs a failure answer.
		if p := recover(); p != nil {
			a.log.Error("panic", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			w.Header().Set("x-fc-status", "404")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write(mustJSON(errorBody{ErrorMessage: "the function panicked: " + fmt.Sprint(p),
				ErrorType: "Runtime.Panic", StackTrace: []string{}}))
		}
	}()
	res, err := a.handlerFor(r.Header).Invoke(ctx, id, body)
	if err != nil {
		eb, e := transientBody(err)
		w.Header().Set("x-fc-status", "404")
		w.WriteHeader(statusOr(e.Status, http.StatusServiceUnavailable))
		_, _ = w.Write(mustJSON(eb))
		return
	}
	w.Header().Set("x-fc-status", "200")
	status := http.StatusOK
	if res.Failure != nil {
		status = statusOr(res.Failure.Status, http.StatusBadRequest)
	}
	w.WriteHeader(status)
	_, _ = w.Write(res.Payload)
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
	r = r.Clone(r.Context())
	stripCredentials(r.Header)
	r.Header.Set("x-fc-request-id", id) // one id for the FC log lines and the answer
	ctx, cancel := invocationContext(r.Context(), r.Header)
	defer cancel()
	h.ServeHTTP(w, r.WithContext(ctx))
}

func methodNotAllowed(requestID string) []byte {
	e := &stopper.Error{Code: stopper.CodeMethodNotAllowed, Status: http.StatusMethodNotAllowed,
		Message: "events are delivered with POST /invoke"}
	return mustJSON(e.Answer(requestID))
}

func statusOr(s, def int) int {
	if s >= 200 && s <= 599 {
		return s
	}
	return def
}

// CustomRuntime is the custom-runtime HTTP handler for h: POST /invoke for
// events, POST /initialize, GET /pre-stop, every other request a webhook.
// fcRegion is the region default when neither the configuration nor the
// request's x-fc-region names one; log lines go to out.
//
// Unlike on FC, POST /invoke is an event by its path alone: this is for the
// local runner, which has no FC in front of it to set x-fc-control-path.
func CustomRuntime(h *trigger.Handler, fcRegion string, out io.Writer) http.Handler {
	a := newApp(h, fcRegion, out)
	a.pathEvents = true
	return a.customHandler()
}
