package stopper

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strconv"
)

// Reports: what one request came to, for the people who run the fleet —
// what was stopped and where, why, how many instances were pending
// (cancelled) or running (possibly killed), and what failed. A stop may
// kill someone's running job, and a JSON log line is not where anyone looks
// at 3 a.m.: notifications (chat) and metrics render the report. Both live
// outside the core (shared/notify) behind the two interfaces below.

// Notifier tells people about a request that stopped something, or whose
// sweep was refused by its limit (and, with Function.NotifyDryRun, about a
// dry run that would have stopped something). It is best effort: it must
// return within its own short bound (and ctx's deadline), and its error is
// only logged.
type Notifier interface {
	Notify(ctx context.Context, r Report) error
}

// Metrics records every request's numbers (stops, dry-run selections,
// failures, matched, refused, by action and region).
type Metrics interface {
	Record(ctx context.Context, r Report)
}

// Report is what one request (one invocation of the function: a batch is
// one request) came to.
type Report struct {
	RequestId string
	// Trigger is the kind of trigger the request came from (fc-timer,
	// apigateway-v2, sqs, eventbridge, alertmanager, direct, ...).
	Trigger string
	// Action is StopInvocation, Sweep, FailFast or Batch.
	Action string
	// DryRun says the request was a dry run (a batch: every item it
	// handled was one).
	DryRun bool
	// Stopped lists the invocations a stop was sent to (never in a dry run).
	Stopped []ReportedStop
	// WouldStop lists the invocations a dry run selected: a stop would have
	// been sent to them.
	WouldStop []ReportedStop
	// Failed lists what could not be handled.
	Failed []ReportedFailure
	// Matched counts the invocations selected for a stop, by region (a
	// sweep's selection; one per stop, or would-be stop, otherwise), and
	// MatchedAt the same by account and region (the account "" with
	// Function.Accounts nil).
	Matched   map[string]int
	MatchedAt map[Place]int
	// Refused is the error that refused the whole request, or a batch's
	// first item refused, when it was Sweep.LimitExceeded (that sweep
	// stopped nothing, and someone must look).
	Refused *Error
	// Answer is the request's answer (or error answer) as the caller got it.
	Answer any
}

// ReportedStop is one invocation a stop was sent to (or, in WouldStop,
// would have been), and why.
type ReportedStop struct {
	AccountId   string // "" with Function.Accounts nil
	RegionId    string
	InvokeId    string
	CommandName string
	Pending     int // cancelled by the stop
	Running     int // possibly killed by the stop
	// Why is the rule that selected it: "OlderThan=2h0m0s",
	// "stopper:ttl=30m", "max-errors 2 reached (2 of 5 instances failed)",
	// "alert CommandRunsTooLong", or "requested" for a stop naming it.
	Why string
}

// ReportedFailure is one invocation (or, with an empty InvokeId, one
// region, one account a sweep skipped, or one batch item) that could not
// be handled.
type ReportedFailure struct {
	AccountId string // "" with Function.Accounts nil
	RegionId  string
	InvokeId  string
	Item      string // the batch item's id, when there is one
	Code      string
	Message   string
}

// Worth reports whether the report should reach people: something was
// stopped, or a sweep was refused by its limit, always; a dry run's
// selection only when dryRuns (STOPPER_NOTIFY_DRY_RUN) asks for it.
func (r Report) Worth(dryRuns bool) bool {
	return len(r.Stopped) > 0 || r.Refused != nil || dryRuns && len(r.WouldStop) > 0
}

// Finish reports a request once it is answered: metrics always, a
// notification when something was stopped or a sweep was refused by its
// limit, or with NotifyDryRun when a dry run selected something. answer is
// the success answer (nil on failure), e the failure.
func (f *Function) Finish(ctx context.Context, trigger, requestID string, answer any, e *Error) {
	if f.Metrics == nil && f.Notifier == nil {
		return
	}
	r := NewReport(trigger, requestID, answer, e)
	if f.Metrics != nil {
		f.Metrics.Record(ctx, r)
	}
	if f.Notifier == nil || !r.Worth(f.NotifyDryRun) {
		return
	}
	if !f.NotifyDryRun {
		// A batch's real stops are told without its dry runs' selections.
		r.WouldStop = nil
	}
	if err := f.Notifier.Notify(ctx, r); err != nil {
		f.logger().LogAttrs(ctx, slog.LevelWarn, "notification not sent",
			slog.String("request_id", requestID), slog.String("error", err.Error()))
	}
}

// NewReport builds the report of a request from its answer or error.
func NewReport(trigger, requestID string, answer any, e *Error) Report {
	r := Report{RequestId: requestID, Trigger: trigger, Matched: map[string]int{}, MatchedAt: map[Place]int{}, Answer: answer}
	if e != nil {
		r.Answer = e.Answer(requestID)
		if e.Code == CodeSweepLimitExceeded {
			r.Action, r.Refused = ActionSweep, e
		}
		r.Failed = append(r.Failed, ReportedFailure{Code: e.Code, Message: e.Message})
		return r
	}
	r.add(answer, "")
	if b, ok := answer.(BatchAnswer); ok {
		r.Action = ActionBatch
		dry, live := b.dryRuns()
		r.DryRun = dry > 0 && live == 0
		for _, it := range b.Results {
			if it.Err == nil || it.DuplicateOf != "" {
				continue
			}
			r.Failed = append(r.Failed, ReportedFailure{Item: it.Id, Code: it.Code, Message: it.Message})
			if it.Err.Code == CodeSweepLimitExceeded && r.Refused == nil {
				r.Refused = it.Err
			}
		}
	}
	return r
}

// ActionBatch names a request that carried several (Report.Action).
const ActionBatch = "Batch"

// add adds one answer's stops and failures; item is the batch item's id.
func (r *Report) add(answer any, item string) {
	switch a := answer.(type) {
	case StopAnswer:
		r.Action, r.DryRun = cmp.Or(r.Action, ActionStopInvocation), a.DryRun
		if isTrue(a.Stopped) || isTrue(a.WouldStop) {
			why := "requested"
			switch {
			case a.Alert != "":
				why = "alert " + a.Alert
			case len(a.InstanceIds) > 0:
				why = "requested, on " + strconv.Itoa(len(a.InstanceIds)) + " named instances"
			}
			r.selected(isTrue(a.WouldStop), ReportedStop{AccountId: a.AccountId, RegionId: a.RegionId, InvokeId: a.InvokeId, CommandName: a.CommandName,
				Pending: a.Pending, Running: a.Running, Why: why})
		}
	case SweepAnswer:
		r.Action, r.DryRun = cmp.Or(r.Action, ActionSweep), a.DryRun
		for region, n := range a.matchedByRegion {
			r.Matched[region] += n
		}
		for place, n := range a.matchedAt {
			r.MatchedAt[place] += n
		}
		for _, s := range a.Stopped {
			r.Stopped = addStop(r.Stopped, sweptStop(s))
		}
		for _, s := range a.WouldStop {
			r.WouldStop = addStop(r.WouldStop, sweptStop(s))
		}
		for _, fl := range a.Failed {
			r.Failed = append(r.Failed, ReportedFailure{AccountId: fl.AccountId, RegionId: fl.RegionId, InvokeId: fl.InvokeId, Item: item, Code: fl.Code, Message: fl.Message})
		}
		for _, sk := range a.Skipped {
			r.Failed = append(r.Failed, ReportedFailure{AccountId: sk.AccountId, Item: item, Code: sk.Code, Message: sk.Message})
		}
	case FailFastAnswer:
		r.Action, r.DryRun = cmp.Or(r.Action, ActionFailFast), a.DryRun
		if isTrue(a.Stopped) || isTrue(a.WouldStop) {
			r.selected(isTrue(a.WouldStop), ReportedStop{AccountId: a.AccountId, RegionId: a.RegionId, InvokeId: a.InvokeId, CommandName: a.CommandName,
				Pending: a.Pending, Running: a.Running, Why: a.Reason})
		}
	case BatchAnswer:
		for _, it := range a.Results {
			if it.Answer != nil {
				r.add(it.Answer, it.Id)
			}
		}
	}
}

// selected adds one invocation a stop was sent to, or in a dry run would
// have been; an invocation already listed (a batch's items may stop
// different instances of it) counts once.
func (r *Report) selected(dryRun bool, s ReportedStop) {
	list := &r.Stopped
	if dryRun {
		list = &r.WouldStop
	}
	n := len(*list)
	*list = addStop(*list, s)
	if len(*list) > n {
		r.Matched[s.RegionId]++
		if r.MatchedAt == nil {
			r.MatchedAt = map[Place]int{}
		}
		r.MatchedAt[Place{AccountId: s.AccountId, RegionId: s.RegionId}]++
	}
}

// addStop adds s to list, or adds its instances to the entry of the same
// invocation: reports count invocations.
func addStop(list []ReportedStop, s ReportedStop) []ReportedStop {
	for i := range list {
		if list[i].AccountId == s.AccountId && list[i].RegionId == s.RegionId && list[i].InvokeId == s.InvokeId {
			list[i].Pending += s.Pending
			list[i].Running += s.Running
			return list
		}
	}
	return append(list, s)
}

func sweptStop(s SweptInvoke) ReportedStop {
	return ReportedStop{AccountId: s.AccountId, RegionId: s.RegionId, InvokeId: s.InvokeId, CommandName: s.CommandName,
		Pending: s.Pending, Running: s.Running, Why: s.Rule}
}

// Accounts is every account the report names, sorted: none with
// Function.Accounts nil.
func (r Report) Accounts() []string {
	var out []string
	for place := range r.MatchedAt {
		out = append(out, place.AccountId)
	}
	for _, s := range r.Stopped {
		out = append(out, s.AccountId)
	}
	for _, s := range r.WouldStop {
		out = append(out, s.AccountId)
	}
	for _, fl := range r.Failed {
		out = append(out, fl.AccountId)
	}
	out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	slices.Sort(out)
	return slices.Compact(out)
}

// Regions is every region the report names, sorted.
func (r Report) Regions() []string {
	var out []string
	for region := range r.Matched {
		out = append(out, region)
	}
	for _, s := range r.Stopped {
		out = append(out, s.RegionId)
	}
	for _, s := range r.WouldStop {
		out = append(out, s.RegionId)
	}
	for _, fl := range r.Failed {
		out = append(out, fl.RegionId)
	}
	out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	slices.Sort(out)
	return slices.Compact(out)
}
