package stopper

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Fail-fast: Cloud Assistant has no MaxErrors (AWS SSM stops sending a
// command to further targets after N errors; a Cloud Assistant command with
// a broken script runs on every instance of a rollout). Alibaba EventBridge
// publishes ecs:CloudAssistant:TaskCompleted each time an instance's run
// ends; given one such event whose status is a failure, the function reads
// the invocation (the API is the state: the function keeps none), counts
// its failed instances, and once they reach the invocation's threshold
// stops it on the rest.
//
// The threshold is the invocation's stopper:max-errors tag, else
// STOPPER_FAILFAST_MAX_ERRORS; with neither, the invocation is not watched.
// stopper:protect wins over both. A success event costs no API call; a
// failure event of an unwatched invocation costs the read that tells.
//
// With several accounts (Function.Accounts) a failure event acts in the
// account it came from (aliyunaccountid), and is refused with
// Forbidden.Account when that account is not listed; a success event is
// answered without a look at its account, as it asks for nothing.
//
// Events for the same invocation arrive concurrently (one per instance), and
// EventBridge may deliver one twice: within one instance they share one
// stop (ledger.go), and the others answer "already stopped". Across
// instances two may both stop it: stops are idempotent, and the second
// finds at most what the first left.

// ActionFailFast names the fail-fast action in answers.
const ActionFailFast = "FailFast"

// FailFastRequest is one TaskCompleted event: an instance's run of an
// invocation ended with Status.
type FailFastRequest struct {
	EventId string // the event's id, for answers and logs
	// AccountId is the account the event came from (aliyunaccountid), read
	// only when the function acts in several (Function.Accounts); "" is
	// the credentials' own.
	AccountId  string
	RegionId   string
	InvokeId   string
	InstanceId string
	Status     string // the instance's invocationStatus
	DryRun     *bool
}

// FailFastAnswer is what one TaskCompleted event came to. Failed counts the
// invocation's failed instances out of Instances, MaxErrors is the
// threshold that applied ("" when the invocation is not watched), Stopped
// says whether a stop was sent (in a dry run it is left out, and WouldStop
// says whether one would have been), and Reason why (or why not) in words.
type FailFastAnswer struct {
	RequestId        string `json:"RequestId"`
	Action           string `json:"Action"`
	EventId          string `json:"EventId"`
	AccountId        string `json:"AccountId,omitempty"`
	RegionId         string `json:"RegionId"`
	InvokeId         string `json:"InvokeId"`
	InstanceId       string `json:"InstanceId"`
	InvocationStatus string `json:"InvocationStatus"`
	CommandName      string `json:"CommandName"`
	Failed           int    `json:"Failed"`
	Instances        int    `json:"Instances"`
	MaxErrors        string `json:"MaxErrors"`
	Stopped          *bool  `json:"Stopped,omitempty"`
	WouldStop        *bool  `json:"WouldStop,omitempty"`
	Pending          int    `json:"Pending"`
	Running          int    `json:"Running"`
	DryRun           bool   `json:"DryRun"`
	Reason           string `json:"Reason"`
}

// FailFast handles one TaskCompleted event (see the comment above).
// Permanent problems with the event or the invocation's tags are in the
// answer's Reason; errors are the API's (the invocation does not exist, the
// API failed).
func (f *Function) FailFast(ctx context.Context, requestID string, req FailFastRequest) (FailFastAnswer, error) {
	start := f.now()
	dryRun := f.dryRun(req.DryRun)
	a := FailFastAnswer{RequestId: requestID, Action: ActionFailFast, EventId: req.EventId, RegionId: cmp.Or(req.RegionId, f.RegionId),
		InvokeId: req.InvokeId, InstanceId: req.InstanceId, InvocationStatus: req.Status, DryRun: dryRun}
	stop, err := f.failFast(ctx, req, &a)
	e := AsError(err)
	a.Stopped, a.WouldStop = stopFlags(dryRun, stop)
	f.logOutcome(ctx, requestID, ActionFailFast, e, start, append(accountAttrs(a.AccountId),
		slog.String("region_id", a.RegionId), slog.String("invoke_id", a.InvokeId), slog.String("event_id", a.EventId),
		slog.String("instance_id", a.InstanceId), slog.String("status", a.InvocationStatus),
		slog.Int("failed", a.Failed), slog.Int("instances", a.Instances), slog.String("max_errors", a.MaxErrors),
		slog.Bool(stopKey(dryRun), stop), slog.Int("pending", a.Pending), slog.Int("running", a.Running),
		slog.Bool("dry_run", dryRun), slog.String("reason", a.Reason))...)
	if e != nil {
		return FailFastAnswer{}, e
	}
	return a, nil
}

// failFast decides on one event and reports whether a stop was sent, or in
// a dry run would have been.
func (f *Function) failFast(ctx context.Context, req FailFastRequest, a *FailFastAnswer) (bool, error) {
	if !FailureStatus(req.Status) {
		a.Reason = "the run ended " + statusWord(req.Status) + ", not in failure: nothing to decide"
		return false, nil
	}
	region, err := f.region(req.RegionId)
	if err != nil {
		return false, err
	}
	a.RegionId = region
	requested := req.AccountId
	if f.Accounts == nil {
		// Every event names its account; a function acting in one account
		// acts there, as it always did.
		requested = ""
	}
	account, api, err := f.account(ctx, requested)
	a.AccountId = account
	if err != nil {
		return false, err
	}
	read := f.Ledger.clock()
	inv, err := findInvocation(ctx, api, region, req.InvokeId)
	if err != nil {
		return false, err
	}
	a.CommandName = inv.CommandName
	c := countInstances(inv.InvokeInstances.InvokeInstance)
	a.Failed, a.Instances = c.failed, c.total
	owner := readOwnerTags(inv.Tags.Tag)
	threshold := owner.maxErrors
	if threshold.IsZero() && owner.maxErrorsErr == nil {
		threshold = f.FailFastMaxErrors
	}
	a.MaxErrors = threshold.String()
	switch {
	case owner.protect:
		a.Reason = "tagged " + TagProtect + ": fail-fast never stops it"
		return false, nil
	case owner.maxErrorsErr != nil:
		a.Reason = owner.maxErrorsErr.Message
		return false, nil
	case threshold.IsZero():
		a.Reason = "not watched: no " + TagMaxErrors + " tag and no STOPPER_FAILFAST_MAX_ERRORS"
		return false, nil
	}
	limit := threshold.Limit(c.total)
	rule := "max-errors " + a.MaxErrors
	if threshold.Percent > 0 {
		rule += fmt.Sprintf(" (%d of %d)", limit, c.total)
	}
	if c.failed < limit {
		a.Reason = fmt.Sprintf("%d of %d instances failed: below %s", c.failed, c.total, rule)
		return false, nil
	}
	a.Pending, a.Running = c.pending, c.running
	if !c.stoppable(inv) {
		a.Reason = fmt.Sprintf("%d of %d instances failed: %s reached, but nothing is left to stop", c.failed, c.total, rule)
		return false, nil
	}
	// The whole invocation is stopped, so every event of it shares one key.
	stopped, err := f.stopOnce(ctx, accountKeyOf(account, region, req.InvokeId, nil), read, c, a.DryRun, func() error {
		return api.StopInvocation(ctx, region, req.InvokeId, nil)
	})
	switch {
	case err != nil:
		return false, err
	case !stopped:
		a.Reason = ReasonAlreadyStopped
	case a.DryRun:
		a.Reason = fmt.Sprintf("%d of %d instances failed: %s reached, the rest would be stopped (dry run)", c.failed, c.total, rule)
	default:
		a.Reason = fmt.Sprintf("%d of %d instances failed: %s reached, the rest stopped", c.failed, c.total, rule)
	}
	return stopped, nil
}

func statusWord(s string) string {
	if s == "" {
		return "with no status"
	}
	return strings.ToLower(s)
}
