package stopper

import (
	"context"
	"log/slog"
)

// Batches: one delivery that carries several requests (an EventBridge batch
// of TaskCompleted events, an Alertmanager group of alerts, an SQS batch,
// SNS records). Each item is handled on its own, one after another, and the
// batch answers what each came to; one failing item never stops the others.

// Item is one request of a batch, with the id its source gave it (an event
// id, an alert fingerprint, a queue message id). Err is set when the item
// could not be decoded, Ignored when it asks for nothing (a resolved
// alert); otherwise Request is handled.
type Item struct {
	Id      string
	Request Request
	Err     *Error
	Ignored string
}

// Outcomes of a batch item.
const (
	OutcomeStopped    = "Stopped"    // a stop was sent
	OutcomeWouldStop  = "WouldStop"  // a dry run: a stop would have been sent
	OutcomeNotStopped = "NotStopped" // handled, nothing stopped (Reason says why)
	OutcomeIgnored    = "Ignored"    // nothing asked for
	OutcomeFailed     = "Failed"     // not handled (Code, Message)
)

// ItemResult is what one item came to: its answer (a StopAnswer,
// SweepAnswer or FailFastAnswer) or its error.
type ItemResult struct {
	Id      string `json:"Id"`
	Outcome string `json:"Outcome"`
	Reason  string `json:"Reason,omitempty"`
	Answer  any    `json:"Answer,omitempty"`
	Code    string `json:"Code,omitempty"`
	Message string `json:"Message,omitempty"`
	// Err is the failure, for the runtime to decide on retries.
	Err *Error `json:"-"`
}

// BatchAnswer is the answer to a batch: one result per item, in order.
type BatchAnswer struct {
	RequestId string       `json:"RequestId"`
	Results   []ItemResult `json:"Results"`
}

// Transient reports the first item that failed transiently, if any: a
// runtime whose platform retries whole deliveries reports it as the
// delivery's failure (stops are idempotent, so items handled already are
// harmless to handle again).
func (b BatchAnswer) Transient() *Error {
	for _, r := range b.Results {
		if r.Err != nil && r.Err.Transient {
			return r.Err
		}
	}
	return nil
}

// HandleBatch handles every item of a batch, one after another. Its log
// line counts the items by outcome; a batch of dry runs counts would_stop
// and not stopped (a batch mixing both, as items may each ask for a dry
// run, counts both).
func (f *Function) HandleBatch(ctx context.Context, requestID string, items []Item) BatchAnswer {
	b := BatchAnswer{RequestId: requestID, Results: make([]ItemResult, 0, len(items))}
	counts := map[string]int{}
	for _, it := range items {
		r := f.handleItem(ctx, requestID, it)
		counts[r.Outcome]++
		b.Results = append(b.Results, r)
	}
	dry, live := b.dryRuns()
	countStopped, countWouldStop := live > 0, dry > 0
	if dry+live == 0 {
		// Nothing handled: the function's own default says which word fits.
		countWouldStop = f.dryRun(nil)
		countStopped = !countWouldStop
	}
	attrs := []slog.Attr{slog.String("request_id", requestID), slog.Int("items", len(items))}
	if countStopped {
		attrs = append(attrs, slog.Int("stopped", counts[OutcomeStopped]))
	}
	if countWouldStop {
		attrs = append(attrs, slog.Int("would_stop", counts[OutcomeWouldStop]))
	}
	attrs = append(attrs, slog.Int("not_stopped", counts[OutcomeNotStopped]), slog.Int("ignored", counts[OutcomeIgnored]),
		slog.Int("failed", counts[OutcomeFailed]))
	f.logger().LogAttrs(ctx, slog.LevelInfo, "batch done", attrs...)
	return b
}

// dryRuns counts the items handled as dry runs and those handled for real
// (items may each ask for a dry run).
func (b BatchAnswer) dryRuns() (dry, live int) {
	for _, r := range b.Results {
		var dryRun bool
		switch a := r.Answer.(type) {
		case StopAnswer:
			dryRun = a.DryRun
		case FailFastAnswer:
			dryRun = a.DryRun
		case SweepAnswer:
			dryRun = a.DryRun
		default:
			continue // not handled
		}
		if dryRun {
			dry++
		} else {
			live++
		}
	}
	return dry, live
}

func (f *Function) handleItem(ctx context.Context, requestID string, it Item) ItemResult {
	r := ItemResult{Id: it.Id}
	switch {
	case it.Err != nil:
		return r.fail(it.Err)
	case it.Ignored != "":
		r.Outcome, r.Reason = OutcomeIgnored, it.Ignored
		return r
	}
	if err := ctx.Err(); err != nil {
		// Out of time before this item was started: not handled, and worth
		// another delivery.
		return r.fail(AsError(err))
	}
	answer, e := f.Handle(ctx, requestID, it.Request)
	if e != nil {
		return r.fail(e)
	}
	r.Answer, r.Outcome = answer, OutcomeNotStopped
	switch a := answer.(type) {
	case StopAnswer:
		r.Outcome = itemOutcome(isTrue(a.Stopped), isTrue(a.WouldStop))
		r.Reason = a.Reason
	case FailFastAnswer:
		r.Outcome = itemOutcome(isTrue(a.Stopped), isTrue(a.WouldStop))
		r.Reason = a.Reason
	case SweepAnswer:
		r.Outcome = itemOutcome(len(a.Stopped) > 0, len(a.WouldStop) > 0)
	}
	return r
}

func itemOutcome(stopped, wouldStop bool) string {
	switch {
	case stopped:
		return OutcomeStopped
	case wouldStop:
		return OutcomeWouldStop
	}
	return OutcomeNotStopped
}

func (r ItemResult) fail(e *Error) ItemResult {
	r.Outcome, r.Code, r.Message, r.Err = OutcomeFailed, e.Code, e.Message, e
	return r
}
