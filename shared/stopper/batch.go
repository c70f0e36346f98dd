package stopper

import (
	"context"
	"log/slog"
)

// Batches: one delivery that carries several requests (an EventBridge batch
// of TaskCompleted events, an Alertmanager group of alerts, an SQS batch,
// SNS records). Each item is handled on its own, one after another, and the
// batch answers what each came to; one failing item never stops the others.
//
// Items that ask for the same thing (a stop of the same instances of the
// same invocation; fail-fast failures of the same invocation; with the same
// DryRun) are carried out once: the first is handled, and each duplicate
// answers NotStopped, "duplicate of <first id>", or shares the first's
// failure (so that a queue hands it back too). Counts, reports and
// notifications count the first only.

// Item is one request of a batch, with the id its source gave it (an event
// id, an alert fingerprint, a queue message id). Err is set when the item
// could not be decoded, Ignored when it asks for nothing (a resolved
// alert); otherwise Request is handled.
type Item struct {
	Id      string
	Request Request
	Err     error
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
	// DuplicateOf is the id of the item this one repeats, which was
	// carried out instead.
	DuplicateOf string `json:"DuplicateOf,omitempty"`
	Answer      any    `json:"Answer,omitempty"`
	Code        string `json:"Code,omitempty"`
	Message     string `json:"Message,omitempty"`
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
func (b BatchAnswer) Transient() error {
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
	firsts := map[itemAsk]int{} // what an item asks for → its first item's result
	duplicates := 0
	for _, it := range items {
		ask, comparable := f.asks(it)
		if i, dup := firsts[ask]; dup && comparable {
			b.Results = append(b.Results, b.Results[i].duplicate(it.Id))
			duplicates++
			continue
		}
		if comparable {
			firsts[ask] = len(b.Results)
		}
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
		slog.Int("failed", counts[OutcomeFailed]), slog.Int("duplicates", duplicates))
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
		return r.fail(AsError(it.Err))
	case it.Ignored != "":
		r.Outcome, r.Reason = OutcomeIgnored, it.Ignored
		return r
	}
	if err := ctx.Err(); err != nil {
		// Out of time before this item was started: not handled, and worth
		// another delivery.
		return r.fail(AsError(err))
	}
	answer, err := f.Handle(ctx, requestID, it.Request)
	if err != nil {
		return r.fail(AsError(err))
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

// itemAsk is what an item asks for, as far as duplicates go.
type itemAsk struct {
	action string
	dryRun bool
	target ledgerKey
}

// asks is what an item asks for; false when it is never a duplicate.
// Sweeps are not (a second one finds what the first left), nor are
// fail-fast events of runs that did not fail (they cost nothing), nor
// items refused on their own.
func (f *Function) asks(it Item) (itemAsk, bool) {
	if it.Err != nil || it.Ignored != "" {
		return itemAsk{}, false
	}
	var action, accountID, regionID, invokeID string
	var instances []string
	switch r := it.Request; {
	case r.Stop != nil:
		action, accountID, regionID, invokeID, instances = ActionStopInvocation, r.Stop.AccountId, r.Stop.RegionId, r.Stop.InvokeId, r.Stop.InstanceIds
	case r.FailFast != nil && FailureStatus(r.FailFast.Status):
		action, regionID, invokeID = ActionFailFast, r.FailFast.RegionId, r.FailFast.InvokeId
		if f.Accounts != nil {
			accountID = r.FailFast.AccountId
		}
	default:
		return itemAsk{}, false
	}
	region, err := f.region(regionID)
	if err != nil {
		return itemAsk{}, false
	}
	// An item naming no account and one naming the credentials' own are
	// told apart here: both are carried out, and the ledger makes the
	// second find the first's stop.
	return itemAsk{action: action, dryRun: f.dryRun(it.Request.requestedDryRun()), target: accountKeyOf(accountID, region, invokeID, instances)}, true
}

// duplicate is the result of an item that repeats this one: not carried
// out, failed when this one failed.
func (first ItemResult) duplicate(id string) ItemResult {
	r := ItemResult{Id: id, Outcome: OutcomeNotStopped, Reason: "duplicate of " + first.Id, DuplicateOf: first.Id}
	if first.Err != nil {
		r.Outcome, r.Code, r.Message, r.Err = OutcomeFailed, first.Code, first.Message, first.Err
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
