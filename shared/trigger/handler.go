// Package trigger turns the raw payload of every trigger (timers, webhooks,
// direct invocations, on Lambda and on FC) into the core's request, and the
// core's outcome into the answer that trigger expects.
package trigger

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"

	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// Handler is the one path from payload bytes to answer bytes that every runtime shares.
type Handler struct {
	Function *stopper.Function
	// Webhook authenticates webhook kinds (signature or bearer token) and
	// remembers the signatures it accepted: share one per process; nil
	// refuses every webhook.
	Webhook *webhook.Verifier
	// Log receives one line per request refused before the core (the core
	// logs its own outcomes); nil means slog.Default().
	Log *slog.Logger
}

// Result is what a runtime returns for one event.
type Result struct {
	Kind Kind
	// Payload is the bytes the runtime answers with: the answer JSON, or for
	// webhook events the trigger's HTTP response shape.
	Payload []byte
	// Failure is the failure Payload answers with; nil on success. It is
	// permanent, except on webhook kinds, whose transient failures are
	// answered too (as a 5xx response).
	Failure *stopper.Error
}

// Invoke handles one raw event. A non-nil error is transient (*stopper.Error
// with Transient set): the runtime reports a function error so the platform
// retries; Result.Payload then still holds the error answer, for logs and
// the local runner.
func (h *Handler) Invoke(ctx context.Context, requestID string, payload []byte) (Result, error) {
	var p probe
	p.read(payload)
	kind := p.kind()
	if kind.IsWebhook() {
		out := h.eventWebhook(ctx, requestID, kind, &p)
		// A webhook caller needs a status whatever happened, and a function
		// error would reach it as the platform's bare 502: so even a
		// transient failure is answered, as its 5xx, and is not an error.
		return Result{Kind: kind, Payload: renderHTTPEvent(kind, requestID, out), Failure: out.err}, nil
	}
	out := h.event(ctx, requestID, kind, &p, payload)
	res := Result{Kind: kind, Payload: renderAnswer(requestID, out), Failure: out.err}
	// Direct invocations, timers and schedules have a platform behind them
	// that retries function errors (or hands them to a dead-letter queue):
	// transient failures go there, while permanent ones are answers, so a
	// bad request is not retried forever.
	if out.err != nil && out.err.Transient {
		return res, out.err
	}
	return res, nil
}

// outcome is what one request came to, before it is rendered.
type outcome struct {
	answer any            // stopper.StopAnswer or stopper.SweepAnswer on success
	err    *stopper.Error // nil on success
}

// status is the HTTP status a webhook caller gets.
func (o outcome) status() int {
	switch {
	case o.err == nil:
		return http.StatusOK
	case o.err.Status == 0:
		return http.StatusInternalServerError
	}
	return o.err.Status
}

// event handles the kinds that carry a request rather than an HTTP request.
func (h *Handler) event(ctx context.Context, requestID string, kind Kind, p *probe, payload []byte) outcome {
	req, err := p.request(kind, payload)
	if err != nil {
		return h.refuse(ctx, requestID, kind, err)
	}
	return h.handle(ctx, requestID, req)
}

// request is the request an event of a non-webhook kind asks for.
func (p *probe) request(kind Kind, payload []byte) (stopper.Request, *stopper.Error) {
	switch kind {
	case EventBridgeSchedule:
		return scheduledEventRequest(payload)
	case FCTimer:
		return p.timerRequest(payload)
	}
	// FC's custom runtime delivers a timer's JSON to /invoke, never an
	// empty body: an empty payload is a direct invocation without a request.
	if len(bytes.TrimSpace(payload)) == 0 {
		return stopper.Request{}, stopper.Invalid("body", `is empty: invoke the function with a request such as {"RegionId": "cn-hangzhou", "InvokeId": "t-..."} or {"Action": "Sweep"}`)
	}
	return decodeRequest(payload)
}

// handle hands a decoded request to the core, which logs the outcome.
func (h *Handler) handle(ctx context.Context, requestID string, req stopper.Request) outcome {
	answer, err := h.Function.Handle(ctx, requestID, req)
	return outcome{answer: answer, err: err}
}

// refuse ends a request the core never saw, with the one log line the core
// would otherwise have written. Nothing secret is logged: the messages say
// what the caller sent wrong, never what was expected.
func (h *Handler) refuse(ctx context.Context, requestID string, kind Kind, err *stopper.Error) outcome {
	h.logger().LogAttrs(ctx, slog.LevelWarn, "refused",
		slog.String("request_id", requestID), slog.String("kind", string(kind)),
		slog.String("code", err.Code), slog.Int("status", err.Status), slog.String("error", err.Message))
	return outcome{err: err}
}

func (h *Handler) logger() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// For returns a copy for one invocation (FC hands each its own credentials
// and region): its Function calls api (unless nil)
// and, when the configuration names no region, takes region (the one FC
// runs the invocation in) as the default of requests and sweeps. The
// configured STOPPER_REGION_ID always wins.
func (h *Handler) For(api stopper.CloudAssistant, region string) *Handler {
	c := *h
	f := *h.Function
	if api != nil {
		f.API = api
	}
	if f.RegionId == "" && stopper.ValidRegionID(region) {
		f.RegionId = region
		if len(f.Sweep.RegionIds) == 0 {
			f.Sweep.RegionIds = []string{region}
		}
	}
	c.Function = &f
	return &c
}
