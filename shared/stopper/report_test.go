package stopper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestNewReport(t *testing.T) {
	sweep := SweepAnswer{Action: ActionSweep, Stopped: []SweptInvoke{
		{RegionId: "cn-hangzhou", InvokeId: "t-a", CommandName: "backup", Rule: "OlderThan=2h0m0s", Pending: 2, Running: 1},
		{RegionId: "cn-shanghai", InvokeId: "t-b", CommandName: "warm", Rule: "stopper:ttl=30m", Running: 1}},
		Failed:          []FailedInvoke{{RegionId: "cn-hangzhou", InvokeId: "t-c", Code: "InternalError", Message: "boom"}},
		matchedByRegion: map[string]int{"cn-hangzhou": 2, "cn-shanghai": 1}}
	dry := sweep
	dry.DryRun, dry.Stopped, dry.WouldStop = true, nil, sweep.Stopped
	limit := &Error{Code: CodeSweepLimitExceeded, Message: "the sweep selected 150 invocations"}
	for _, tc := range []struct {
		name      string
		answer    any
		err       *Error
		worth     bool // with and without NotifyDryRun
		worthDry  bool // only with NotifyDryRun
		action    string
		dryRun    bool
		stopped   string
		wouldStop string
		failed    string
		matched   string
	}{
		{name: "sweep", answer: sweep, worth: true, action: ActionSweep,
			stopped: "t-a/backup/2/1/OlderThan=2h0m0s t-b/warm/0/1/stopper:ttl=30m", failed: "t-c:InternalError", matched: "map[cn-hangzhou:2 cn-shanghai:1]"},
		{name: "dry run stops nothing", answer: dry, worthDry: true, action: ActionSweep, dryRun: true,
			wouldStop: "t-a/backup/2/1/OlderThan=2h0m0s t-b/warm/0/1/stopper:ttl=30m", failed: "t-c:InternalError", matched: "map[cn-hangzhou:2 cn-shanghai:1]"},
		{name: "dry run of nothing", answer: SweepAnswer{Action: ActionSweep, DryRun: true, WouldStop: []SweptInvoke{}}, action: ActionSweep, dryRun: true, matched: "map[]"},
		{name: "limit", err: limit, worth: true, action: ActionSweep, failed: ":Sweep.LimitExceeded", matched: "map[]"},
		{name: "other error", err: AsError(Invalid("InvokeId", "bad")), failed: ":InvalidParameter", matched: "map[]"},
		{name: "stop", answer: StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-a", CommandName: "backup", Pending: 1, Stopped: boolp(true)},
			worth: true, action: ActionStopInvocation, stopped: "t-a/backup/1/0/requested", matched: "map[cn-hangzhou:1]"},
		{name: "dry-run stop", answer: StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-a", CommandName: "backup", Pending: 1, DryRun: true, WouldStop: boolp(true)},
			worthDry: true, action: ActionStopInvocation, dryRun: true, wouldStop: "t-a/backup/1/0/requested", matched: "map[cn-hangzhou:1]"},
		{name: "nothing left to stop", answer: StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-a", Stopped: boolp(false)}, action: ActionStopInvocation, matched: "map[]"},
		{name: "dry run, nothing left to stop", answer: StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-a", DryRun: true, WouldStop: boolp(false)},
			action: ActionStopInvocation, dryRun: true, matched: "map[]"},
		{name: "dry-run fail-fast", answer: FailFastAnswer{RegionId: "cn-hangzhou", InvokeId: "t-f", DryRun: true, WouldStop: boolp(true), Running: 1, Reason: "max-errors 2 reached"},
			worthDry: true, action: ActionFailFast, dryRun: true, wouldStop: "t-f//0/1/max-errors 2 reached", matched: "map[cn-hangzhou:1]"},
		{name: "batch", answer: BatchAnswer{Results: []ItemResult{
			{Id: "ev-1", Outcome: OutcomeStopped, Answer: FailFastAnswer{RegionId: "cn-hangzhou", InvokeId: "t-f", CommandName: "rollout", Stopped: boolp(true), Pending: 2, Reason: "max-errors 2 reached"}},
			{Id: "alert-1", Outcome: OutcomeStopped, Answer: StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-g", Stopped: boolp(true), Running: 1, Alert: "TooLong"}},
			{Id: "alert-2", Outcome: OutcomeWouldStop, Answer: StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-h", DryRun: true, WouldStop: boolp(true), Alert: "TooLong"}},
			{Id: "bad", Outcome: OutcomeFailed, Code: "InvalidParameter", Message: "no", Err: AsError(Invalid("body", "no"))}}},
			worth: true, action: ActionBatch, stopped: "t-f/rollout/2/0/max-errors 2 reached t-g//0/1/alert TooLong",
			wouldStop: "t-h//0/0/alert TooLong", failed: ":InvalidParameter", matched: "map[cn-hangzhou:3]"},
		{name: "batch of dry runs", answer: BatchAnswer{Results: []ItemResult{
			{Id: "alert-2", Outcome: OutcomeWouldStop, Answer: StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-h", DryRun: true, WouldStop: boolp(true), Alert: "TooLong"}},
			{Id: "resolved", Outcome: OutcomeIgnored}}},
			worthDry: true, action: ActionBatch, dryRun: true, wouldStop: "t-h//0/0/alert TooLong", matched: "map[cn-hangzhou:1]"},
		// Items that stopped other instances of one invocation count it once;
		// a duplicate's failure is its first's, counted once.
		{name: "batch counts invocations", answer: BatchAnswer{Results: []ItemResult{
			{Id: "a", Outcome: OutcomeStopped, Answer: StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-g", InstanceIds: []string{"i-1"}, Stopped: boolp(true), Pending: 1, Alert: "TooLong"}},
			{Id: "b", Outcome: OutcomeStopped, Answer: StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-g", InstanceIds: []string{"i-2"}, Stopped: boolp(true), Running: 1, Alert: "TooLong"}},
			{Id: "c", Outcome: OutcomeNotStopped, Reason: "duplicate of a", DuplicateOf: "a"},
			{Id: "bad", Outcome: OutcomeFailed, Code: "ServiceUnavailable", Message: "down", Err: &Error{Code: "ServiceUnavailable", Transient: true}},
			{Id: "bad2", Outcome: OutcomeFailed, Code: "ServiceUnavailable", Message: "down", Err: &Error{Code: "ServiceUnavailable", Transient: true}, DuplicateOf: "bad"}}},
			worth: true, action: ActionBatch, stopped: "t-g//1/1/alert TooLong", failed: ":ServiceUnavailable", matched: "map[cn-hangzhou:1]"},
		// A sweep refused by its limit in a batch is told as a direct one is.
		{name: "batch with a refused sweep", answer: BatchAnswer{Results: []ItemResult{
			{Id: "m-1", Outcome: OutcomeFailed, Code: limit.Code, Message: limit.Message, Err: limit}}},
			worth: true, action: ActionBatch, failed: ":Sweep.LimitExceeded", matched: "map[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReport("fc-timer", "req-1", tc.answer, tc.err)
			list := func(stops []ReportedStop) string {
				var out []string
				for _, s := range stops {
					out = append(out, fmt.Sprintf("%s/%s/%d/%d/%s", s.InvokeId, s.CommandName, s.Pending, s.Running, s.Why))
				}
				return strings.Join(out, " ")
			}
			var failed []string
			for _, f := range r.Failed {
				failed = append(failed, f.InvokeId+":"+f.Code)
			}
			if r.Worth(false) != tc.worth || r.Worth(true) != (tc.worth || tc.worthDry) || r.Action != tc.action || r.DryRun != tc.dryRun ||
				list(r.Stopped) != tc.stopped || list(r.WouldStop) != tc.wouldStop ||
				strings.Join(failed, " ") != tc.failed || fmt.Sprint(r.Matched) != tc.matched || r.Trigger != "fc-timer" || r.RequestId != "req-1" || r.Answer == nil {
				t.Fatalf("report = %+v\nstopped %q would stop %q failed %q", r, list(r.Stopped), list(r.WouldStop), failed)
			}
			if refused := r.Refused != nil; refused != strings.Contains(tc.failed, CodeSweepLimitExceeded) {
				t.Fatalf("Refused = %v", r.Refused)
			}
		})
	}
}

type recordingNotifier struct {
	reports []Report
	err     error
}

func (n *recordingNotifier) Notify(ctx context.Context, r Report) error {
	n.reports = append(n.reports, r)
	return n.err
}

func (n *recordingNotifier) Record(ctx context.Context, r Report) { n.reports = append(n.reports, r) }

// Finish records every request and notifies only those worth it; a failed
// notification is logged, nothing more.
func TestFinish(t *testing.T) {
	notes, metrics := &recordingNotifier{err: errors.New("receiver down")}, &recordingNotifier{}
	var logs bytes.Buffer
	fn := testFunction(nil, &logs)
	fn.Notifier, fn.Metrics = notes, metrics
	fn.Finish(context.Background(), "direct", "r1", StopAnswer{InvokeId: "t-a", Stopped: boolp(true)}, nil)
	fn.Finish(context.Background(), "direct", "r2", StopAnswer{InvokeId: "t-a"}, nil)
	fn.Finish(context.Background(), "direct", "r3", nil, AsError(Invalid("InvokeId", "bad")))
	if len(metrics.reports) != 3 || len(notes.reports) != 1 || notes.reports[0].RequestId != "r1" {
		t.Fatalf("metrics %d, notifications %+v", len(metrics.reports), notes.reports)
	}
	if !strings.Contains(logs.String(), "notification not sent") || !strings.Contains(logs.String(), "receiver down") {
		t.Fatalf("logs: %s", logs.String())
	}
}

// A dry run that would stop something reaches people only with
// NotifyDryRun; real stops always do, without a batch's dry-run selections
// unless NotifyDryRun asks for them.
func TestFinishDryRuns(t *testing.T) {
	wouldStop := StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-a", DryRun: true, WouldStop: boolp(true)}
	mixed := BatchAnswer{Results: []ItemResult{
		{Id: "a", Outcome: OutcomeStopped, Answer: StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-b", Stopped: boolp(true)}},
		{Id: "b", Outcome: OutcomeWouldStop, Answer: wouldStop}}}
	for _, tc := range []struct {
		name         string
		notifyDryRun bool
		answer       any
		want         string // notified: stopped/would stop counts
	}{
		{"dry run, not asked", false, wouldStop, ""},
		{"dry run, asked", true, wouldStop, "0/1"},
		{"dry run of nothing, asked", true, StopAnswer{DryRun: true, WouldStop: boolp(false)}, ""},
		{"mixed batch, not asked", false, mixed, "1/0"},
		{"mixed batch, asked", true, mixed, "1/1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			notes, metrics := &recordingNotifier{}, &recordingNotifier{}
			fn := testFunction(nil, &bytes.Buffer{})
			fn.Notifier, fn.Metrics, fn.NotifyDryRun = notes, metrics, tc.notifyDryRun
			fn.Finish(context.Background(), "direct", "r1", tc.answer, nil)
			got := ""
			if len(notes.reports) == 1 {
				got = fmt.Sprintf("%d/%d", len(notes.reports[0].Stopped), len(notes.reports[0].WouldStop))
			}
			if got != tc.want || len(notes.reports) > 1 || len(metrics.reports) != 1 {
				t.Fatalf("notified %q (%d), want %q; %d metrics", got, len(notes.reports), tc.want, len(metrics.reports))
			}
		})
	}
}

// Finish with only metrics records; with only a notifier notifies.
func TestFinishWithOneSink(t *testing.T) {
	stopped := StopAnswer{InvokeId: "t-a", Stopped: boolp(true)}
	metrics := &recordingNotifier{}
	fn := testFunction(nil, &bytes.Buffer{})
	fn.Metrics = metrics
	fn.Finish(context.Background(), "direct", "r1", stopped, nil)
	if len(metrics.reports) != 1 {
		t.Fatalf("metrics alone: %d reports", len(metrics.reports))
	}
	notes := &recordingNotifier{}
	fn = testFunction(nil, &bytes.Buffer{})
	fn.Notifier = notes
	fn.Finish(context.Background(), "direct", "r2", stopped, nil)
	if len(notes.reports) != 1 || notes.reports[0].RequestId != "r2" {
		t.Fatalf("notifier alone: %+v", notes.reports)
	}
}

// A report names every region it touches once, sorted, and no empty one.
func TestReportRegions(t *testing.T) {
	r := Report{
		Matched: map[string]int{"cn-b": 1, "cn-a": 0},
		Stopped: []ReportedStop{{RegionId: "cn-b"}},
		Failed:  []ReportedFailure{{Item: "bad"}, {RegionId: "cn-c"}},
	}
	if got := fmt.Sprint(r.Regions()); got != "[cn-a cn-b cn-c]" {
		t.Fatalf("Regions() = %s", got)
	}
}
