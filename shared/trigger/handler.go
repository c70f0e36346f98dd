// Package trigger turns the raw payload of every trigger (timers, webhooks,
// direct invocations, on Lambda and on FC) into the core's request, and the
// core's outcome into the answer that trigger expects.
package trigger

import (
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

// Invoke handles one raw event. A non-nil error is transient (a
// *stopper.Error with Transient set, for errors.As): the runtime reports a function error so the platform
// retries; Result.Payload then still holds the error answer, for logs and
// the local runner.
func (h *Handler) Invoke(ctx context.Context, requestID string, payload []byte) (Result, error) {
	var p probe
	p.read(payload)
	src := p.source()
	if src.webhook != nil {
		out := h.eventWebhook(ctx, requestID, src, &p)
		h.finish(ctx, requestID, out)
		// A webhook caller needs a status whatever happened, and a function
		// error would reach it as the platform's bare 502: so even a
		// transient failure is answered, as its 5xx, and is not an error.
		return Result{Kind: src.kind, Payload: renderHTTPEvent(src.webhook, requestID, out), Failure: out.failure()}, nil
	}
	out := src.handle(h, ctx, requestID, src.kind, payload)
	h.finish(ctx, requestID, out)
	answer := renderAnswer
	if src.answer != nil {
		answer = src.answer
	}
	res := Result{Kind: src.kind, Payload: answer(requestID, out), Failure: out.failure()}
	// Direct invocations, timers, schedules and event sources have a
	// platform behind them that retries function errors (or hands them to a
	// dead-letter queue): transient failures go there, while permanent ones
	// are answers, so a bad request is not retried forever. A source whose
	// answer names the items to deliver again (SQS) answers its transient
	// failures item by item instead.
	if e := out.retry(src.answersItems); e != nil {
		return res, e
	}
	return res, nil
}

// outcome is what one request came to, before it is rendered.
type outcome struct {
	// trigger names where the request came from, for reports: the kind, or
	// on a webhook what its body was (alertmanager, eventbridge).
	trigger string
	answer  any            // stopper.StopAnswer, SweepAnswer, FailFastAnswer or BatchAnswer on success
	err     *stopper.Error // nil on success
}

// failure is the outcome's failure: its error, or a batch's first failed item.
func (o outcome) failure() *stopper.Error {
	if o.err != nil {
		return o.err
	}
	if b, ok := o.answer.(stopper.BatchAnswer); ok {
		for _, r := range b.Results {
			if r.Err != nil {
				return r.Err
			}
		}
	}
	return nil
}

// retry is the transient failure the platform should retry the delivery
// for: the error, or a batch's first transient item (unless the answer
// names the items to retry).
func (o outcome) retry(answersItems bool) error {
	if o.err != nil {
		if o.err.Transient {
			return o.err
		}
		return nil
	}
	if b, ok := o.answer.(stopper.BatchAnswer); ok && !answersItems {
		return b.Transient()
	}
	return nil
}

// status is the HTTP status a webhook caller gets: a batch with an item
// that failed transiently is a 503, so that the sender (Alertmanager,
// EventBridge) tries it again.
func (o outcome) status() int {
	if o.err != nil {
		return HTTPStatus(o.err)
	}
	if b, ok := o.answer.(stopper.BatchAnswer); ok && b.Transient() != nil {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

// handle hands a decoded request to the core, which logs the outcome.
func (h *Handler) handle(ctx context.Context, requestID string, kind Kind, req stopper.Request) outcome {
	answer, err := h.Function.Handle(ctx, requestID, req)
	return outcome{trigger: string(kind), answer: answer, err: stopper.AsError(err)}
}

// request hands the request an event decoded to the core, or refuses the
// event when it could not be decoded.
func (h *Handler) request(ctx context.Context, requestID string, kind Kind, req stopper.Request, err error) outcome {
	if err != nil {
		return h.refuse(ctx, requestID, kind, err)
	}
	return h.handle(ctx, requestID, kind, req)
}

// batch hands a delivery's items to the core, one after another.
func (h *Handler) batch(ctx context.Context, requestID, trigger string, items []stopper.Item) outcome {
	return outcome{trigger: trigger, answer: h.Function.HandleBatch(ctx, requestID, items)}
}

// items hands the items an event decoded to the core, or refuses the event
// when it could not be decoded.
func (h *Handler) items(ctx context.Context, requestID string, kind Kind, items []stopper.Item, err error) outcome {
	if err != nil {
		return h.refuse(ctx, requestID, kind, err)
	}
	return h.batch(ctx, requestID, string(kind), items)
}

// finish reports the request once it is answered (metrics, notifications).
func (h *Handler) finish(ctx context.Context, requestID string, out outcome) {
	if h.Function != nil {
		h.Function.Finish(ctx, out.trigger, requestID, out.answer, out.err)
	}
}

// refuse ends a request the core never saw, with the one log line the core
// would otherwise have written. Nothing secret is logged: the messages say
// what the caller sent wrong, never what was expected.
func (h *Handler) refuse(ctx context.Context, requestID string, kind Kind, err error) outcome {
	e := stopper.AsError(err)
	h.logger().LogAttrs(ctx, slog.LevelWarn, "refused",
		slog.String("request_id", requestID), slog.String("kind", string(kind)),
		slog.String("code", e.Code), slog.Int("status", HTTPStatus(e)), slog.String("error", e.Message))
	return outcome{trigger: string(kind), err: e}
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
