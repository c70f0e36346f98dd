package stopper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
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
	dry.DryRun = true
	limit := &Error{Code: CodeSweepLimitExceeded, Status: http.StatusConflict, Message: "the sweep selected 150 invocations"}
	for _, tc := range []struct {
		name    string
		answer  any
		err     *Error
		worth   bool
		action  string
		stopped string
		failed  string
		matched string
	}{
		{name: "sweep", answer: sweep, worth: true, action: ActionSweep,
			stopped: "t-a/backup/2/1/OlderThan=2h0m0s t-b/warm/0/1/stopper:ttl=30m", failed: "t-c:InternalError", matched: "map[cn-hangzhou:2 cn-shanghai:1]"},
		{name: "dry run stops nothing", answer: dry, action: ActionSweep, failed: "t-c:InternalError", matched: "map[cn-hangzhou:2 cn-shanghai:1]"},
		{name: "limit", err: limit, worth: true, action: ActionSweep, failed: ":Sweep.LimitExceeded", matched: "map[]"},
		{name: "other error", err: Invalid("InvokeId", "bad"), failed: ":InvalidParameter", matched: "map[]"},
		{name: "stop", answer: StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-a", CommandName: "backup", Pending: 1, Stopped: true},
			worth: true, action: ActionStopInvocation, stopped: "t-a/backup/1/0/requested", matched: "map[cn-hangzhou:1]"},
		{name: "nothing left to stop", answer: StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-a"}, action: ActionStopInvocation, matched: "map[]"},
		{name: "batch", answer: BatchAnswer{Results: []ItemResult{
			{Id: "ev-1", Outcome: OutcomeStopped, Answer: FailFastAnswer{RegionId: "cn-hangzhou", InvokeId: "t-f", CommandName: "rollout", Stopped: true, Pending: 2, Reason: "max-errors 2 reached"}},
			{Id: "alert-1", Outcome: OutcomeStopped, Answer: StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-g", Stopped: true, Running: 1, Alert: "TooLong"}},
			{Id: "bad", Outcome: OutcomeFailed, Code: "InvalidParameter", Message: "no", Err: Invalid("body", "no")}}},
			worth: true, action: ActionBatch, stopped: "t-f/rollout/2/0/max-errors 2 reached t-g//0/1/alert TooLong", failed: ":InvalidParameter", matched: "map[cn-hangzhou:2]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReport("fc-timer", "req-1", tc.answer, tc.err)
			var stopped, failed []string
			for _, s := range r.Stopped {
				stopped = append(stopped, fmt.Sprintf("%s/%s/%d/%d/%s", s.InvokeId, s.CommandName, s.Pending, s.Running, s.Why))
			}
			for _, f := range r.Failed {
				failed = append(failed, f.InvokeId+":"+f.Code)
			}
			if r.Worth() != tc.worth || r.Action != tc.action || strings.Join(stopped, " ") != tc.stopped ||
				strings.Join(failed, " ") != tc.failed || fmt.Sprint(r.Matched) != tc.matched || r.Trigger != "fc-timer" || r.RequestId != "req-1" || r.Answer == nil {
				t.Fatalf("report = %+v\nstopped %q failed %q", r, stopped, failed)
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
	fn.Finish(context.Background(), "direct", "r1", StopAnswer{InvokeId: "t-a", Stopped: true}, nil)
	fn.Finish(context.Background(), "direct", "r2", StopAnswer{InvokeId: "t-a"}, nil)
	fn.Finish(context.Background(), "direct", "r3", nil, Invalid("InvokeId", "bad"))
	if len(metrics.reports) != 3 || len(notes.reports) != 1 || notes.reports[0].RequestId != "r1" {
		t.Fatalf("metrics %d, notifications %+v", len(metrics.reports), notes.reports)
	}
	if !strings.Contains(logs.String(), "notification not sent") || !strings.Contains(logs.String(), "receiver down") {
		t.Fatalf("logs: %s", logs.String())
	}
}
