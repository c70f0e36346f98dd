package stopper

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// rollout is a one-time invocation with one instance per status, tagged.
func rollout(id string, statuses []string, tags ...ca.Tag) ca.Invocation {
	inv := ca.Invocation{InvokeId: id, CommandName: "rollout", RepeatMode: ca.RepeatOnce, Tags: ca.Tags{Tag: tags}}
	for i, st := range statuses {
		inv.InvokeInstances.InvokeInstance = append(inv.InvokeInstances.InvokeInstance,
			ca.InvokeInstance{InstanceId: fmt.Sprintf("i-%s%d", id[2:], i), InvocationStatus: st})
	}
	return inv
}

func tag(k, v string) ca.Tag { return ca.Tag{TagKey: k, TagValue: v} }

func TestFailFast(t *testing.T) {
	two := []string{"Failed", "Error", "Running", "Pending", "Pending"}
	for _, tc := range []struct {
		name        string
		inv         ca.Invocation
		status      string
		config      string // STOPPER_FAILFAST_MAX_ERRORS
		dryRun      bool
		stopped     bool // in a dry run: would stop
		maxErrors   string
		reason      string
		describes   int
		wantCounts  string // failed/instances pending/running
		wantErrCode string
	}{
		{name: "tag reached", inv: rollout("t-a", two, tag(TagMaxErrors, "2")), status: "Failed",
			stopped: true, maxErrors: "2", reason: "reached", describes: 1, wantCounts: "2/5 2/1"},
		{name: "below the tag", inv: rollout("t-a", two, tag(TagMaxErrors, "3")), status: "Failed",
			maxErrors: "3", reason: "2 of 5 instances failed: below max-errors 3", describes: 1, wantCounts: "2/5 0/0"},
		{name: "share of the instances", inv: rollout("t-a", two, tag(TagMaxErrors, "40%")), status: "Timeout",
			stopped: true, maxErrors: "40%", reason: "reached", describes: 1, wantCounts: "2/5 2/1"},
		{name: "share rounded up", inv: rollout("t-a", two, tag(TagMaxErrors, "50%")), status: "Failed",
			maxErrors: "50%", reason: "max-errors 50% (3 of 5)", describes: 1, wantCounts: "2/5 0/0"},
		{name: "untagged, not watched", inv: rollout("t-a", two), status: "Failed",
			reason: "not watched", describes: 1, wantCounts: "2/5 0/0"},
		{name: "untagged, configured", inv: rollout("t-a", two), status: "Aborted", config: "1",
			stopped: true, maxErrors: "1", reason: "reached", describes: 1, wantCounts: "2/5 2/1"},
		{name: "the tag wins over the configuration", inv: rollout("t-a", two, tag(TagMaxErrors, "4")), status: "Failed", config: "1",
			maxErrors: "4", reason: "below", describes: 1, wantCounts: "2/5 0/0"},
		{name: "protected", inv: rollout("t-a", two, tag(TagMaxErrors, "1"), tag(TagProtect, "true")), status: "Failed",
			maxErrors: "1", reason: TagProtect, describes: 1, wantCounts: "2/5 0/0"},
		{name: "bad tag is reported, not guessed", inv: rollout("t-a", two, tag(TagMaxErrors, "a few")), status: "Failed", config: "1",
			reason: `stopper:max-errors="a few"`, describes: 1, wantCounts: "2/5 0/0"},
		{name: "nothing left", inv: rollout("t-a", []string{"Failed", "Failed", "Success"}, tag(TagMaxErrors, "2")), status: "Failed",
			maxErrors: "2", reason: "nothing is left", describes: 1, wantCounts: "2/3 0/0"},
		{name: "dry run", inv: rollout("t-a", two, tag(TagMaxErrors, "2")), status: "Failed", dryRun: true,
			stopped: true, maxErrors: "2", reason: "would be stopped (dry run)", describes: 1, wantCounts: "2/5 2/1"},
		{name: "dry run below the tag", inv: rollout("t-a", two, tag(TagMaxErrors, "3")), status: "Failed", dryRun: true,
			maxErrors: "3", reason: "below max-errors 3", describes: 1, wantCounts: "2/5 0/0"},
		{name: "dry run of a success", inv: rollout("t-a", two, tag(TagMaxErrors, "1")), status: "Success", dryRun: true,
			reason: "not in failure", describes: 0, wantCounts: "0/0 0/0"},
		{name: "success costs no call", inv: rollout("t-a", two, tag(TagMaxErrors, "1")), status: "Success",
			reason: "not in failure", describes: 0, wantCounts: "0/0 0/0"},
		{name: "cancelled is no failure", inv: rollout("t-a", two, tag(TagMaxErrors, "1")), status: "Cancelled",
			reason: "not in failure", describes: 0, wantCounts: "0/0 0/0"},
		{name: "unknown invocation", inv: rollout("t-other", two), status: "Failed", wantErrCode: CodeInvalidInvokeNotFound, describes: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newRecorder(tc.inv)
			var logs bytes.Buffer
			fn := &Function{API: api, RegionId: "cn-hangzhou", DryRun: tc.dryRun, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
			if tc.config != "" {
				fn.FailFastMaxErrors, _ = ParseThreshold(tc.config)
			}
			a, err := withError(fn.FailFast(context.Background(), "req-ff", FailFastRequest{EventId: "ev-1", InvokeId: "t-a", InstanceId: "i-a0", Status: tc.status}))
			if tc.wantErrCode != "" {
				if err == nil || err.Code != tc.wantErrCode {
					t.Fatalf("err = %v, want %s", err, tc.wantErrCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			counts := fmt.Sprintf("%d/%d %d/%d", a.Failed, a.Instances, a.Pending, a.Running)
			if got, want := flags(a.Stopped, a.WouldStop), wantFlags(tc.dryRun, tc.stopped); got != want {
				t.Fatalf("answer says %s, want %s", got, want)
			}
			if a.MaxErrors != tc.maxErrors || !strings.Contains(a.Reason, tc.reason) || counts != tc.wantCounts ||
				a.Action != ActionFailFast || a.EventId != "ev-1" || a.RegionId != "cn-hangzhou" || a.InstanceId != "i-a0" {
				t.Fatalf("answer = %+v (counts %s), want stopped %v, max-errors %q, reason with %q, counts %s", a, counts, tc.stopped, tc.maxErrors, tc.reason, tc.wantCounts)
			}
			if (len(api.Stops()) == 1) != (tc.stopped && !tc.dryRun) || len(api.Stops()) > 1 {
				t.Fatalf("stops = %v", stopsOf(api))
			}
			if len(api.Stops()) == 1 && stopsOf(api)[0] != "cn-hangzhou/t-a[]" {
				t.Fatalf("stop = %s, want every instance", stopsOf(api)[0])
			}
			if api.Describes() != tc.describes {
				t.Errorf("%d DescribeInvocations calls, want %d", api.Describes(), tc.describes)
			}
			if strings.Count(logs.String(), "\n") != 1 || !strings.Contains(logs.String(), `"action":"FailFast"`) {
				t.Errorf("want one outcome line: %s", logs.String())
			}
			checkStopLog(t, logs.String(), tc.dryRun, fmt.Sprint(tc.stopped))
		})
	}
}

// A batch handles every item, one failing item never stops the others, and
// the first transient failure is there for the runtime.
func TestHandleBatch(t *testing.T) {
	inv := rollout("t-a", []string{"Failed", "Failed", "Pending"}, tag(TagMaxErrors, "2"))
	api := newRecorder(inv, rollout("t-b", []string{"Running"}))
	fn := &Function{API: api, RegionId: "cn-hangzhou", Log: slog.New(slog.DiscardHandler)}
	b := fn.HandleBatch(context.Background(), "req-b", []Item{
		{Id: "ev-1", Request: Request{FailFast: &FailFastRequest{InvokeId: "t-a", Status: "Failed"}}},
		{Id: "alert-1", Request: Request{Stop: &StopRequest{InvokeId: "t-b", Alert: "CommandTooLong"}}},
		{Id: "bad", Err: Invalid("body", "is not JSON")},
		{Id: "resolved", Ignored: "resolved alert"},
		{Id: "gone", Request: Request{Stop: &StopRequest{InvokeId: "t-gone"}}},
	})
	var got []string
	for _, r := range b.Results {
		got = append(got, r.Id+":"+r.Outcome+":"+r.Code)
	}
	if want := "ev-1:Stopped:|alert-1:Stopped:|bad:Failed:InvalidParameter|resolved:Ignored:|gone:Failed:InvalidInvokeId.NotFound"; strings.Join(got, "|") != want {
		t.Fatalf("results %s\nwant    %s", strings.Join(got, "|"), want)
	}
	if b.RequestId != "req-b" || b.Transient() != nil || len(api.Stops()) != 2 {
		t.Fatalf("batch = %+v, stops %v", b, stopsOf(api))
	}
	failStops(api, &ca.Error{Code: "ServiceUnavailable", HTTPStatus: 503})
	b = fn.HandleBatch(context.Background(), "req-c", []Item{{Id: "x", Request: Request{Stop: &StopRequest{InvokeId: "t-b"}}}})
	if _, e := withError(0, b.Transient()); e == nil || e.Code != "ServiceUnavailable" {
		t.Fatalf("Transient = %v", e)
	}
}

// An alert names an invocation nobody chose by hand: stopper:protect
// applies to it, while a request naming the invocation still stops it.
func TestAlertStopRespectsProtection(t *testing.T) {
	inv := rollout("t-p", []string{"Running"}, tag(TagProtect, "true"))
	api := newRecorder(inv)
	fn := &Function{API: api, RegionId: "cn-hangzhou", Log: slog.New(slog.DiscardHandler)}
	a, err := fn.Stop(context.Background(), "r", StopRequest{InvokeId: "t-p", Alert: "CommandTooLong"})
	if err != nil || flags(a.Stopped, a.WouldStop) != "Stopped=false" || !strings.Contains(a.Reason, TagProtect) || len(api.Stops()) != 0 {
		t.Fatalf("alert: %+v %v, stops %v", a, err, stopsOf(api))
	}
	a, err = fn.Stop(context.Background(), "r", StopRequest{InvokeId: "t-p"})
	if err != nil || flags(a.Stopped, a.WouldStop) != "Stopped=true" || len(api.Stops()) != 1 {
		t.Fatalf("explicit: %+v %v, stops %v", a, err, stopsOf(api))
	}
}

// A count threshold's reason says the count; only a share adds what it
// came to. An event that is not a failure says what it was.
func TestFailFastReasons(t *testing.T) {
	inv := rollout("t-a", []string{"Failed", "Error", "Running", "Pending", "Pending"}, tag(TagMaxErrors, "2"))
	api := newRecorder(inv)
	fn := &Function{API: api, RegionId: "cn-hangzhou", Log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct{ status, reason string }{
		{"Failed", "2 of 5 instances failed: max-errors 2 reached, the rest stopped"},
		{"Success", "the run ended success, not in failure: nothing to decide"},
		{"", "the run ended with no status, not in failure: nothing to decide"},
	} {
		a, err := fn.FailFast(context.Background(), "r", FailFastRequest{InvokeId: "t-a", Status: tc.status})
		if err != nil || a.Reason != tc.reason {
			t.Errorf("%q: %v, Reason %q\nwant %q", tc.status, err, a.Reason, tc.reason)
		}
	}
}
