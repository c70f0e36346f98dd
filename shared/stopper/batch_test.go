package stopper

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// Items of one batch that ask for the same thing are carried out once; the
// others answer "duplicate of" the first, sharing its failure.
func TestHandleBatchDuplicates(t *testing.T) {
	stop := func(id, invokeID string, instances ...string) Item {
		return Item{Id: id, Request: Request{Stop: &StopRequest{InvokeId: invokeID, InstanceIds: instances}}}
	}
	failFast := func(id, status string) Item {
		return Item{Id: id, Request: Request{FailFast: &FailFastRequest{EventId: id, InvokeId: "t-f", InstanceId: "i-f0", Status: status}}}
	}
	dryStop := stop("dry", "t-a")
	dryStop.Request.Stop.DryRun = boolp(true)
	for _, tc := range []struct {
		name     string
		items    []Item
		stopErr  error
		outcomes string // id:outcome[>first]
		stops    int
	}{
		{name: "the same stop", items: []Item{stop("1", "t-a"), stop("2", "t-a"), stop("3", "t-a")},
			outcomes: "1:Stopped 2:NotStopped>1 3:NotStopped>1", stops: 1},
		{name: "the same instances in another order", items: []Item{stop("1", "t-a", "i-a0", "i-a1"), stop("2", "t-a", "i-a1", "i-a0")},
			outcomes: "1:Stopped 2:NotStopped>1", stops: 1},
		{name: "other instances are another stop", items: []Item{stop("1", "t-a", "i-a0"), stop("2", "t-a", "i-a1")},
			outcomes: "1:Stopped 2:Stopped", stops: 2},
		{name: "a dry run is not a duplicate of a stop", items: []Item{dryStop, stop("1", "t-a")},
			outcomes: "dry:WouldStop 1:Stopped", stops: 1},
		{name: "fail-fast failures of one invocation", items: []Item{failFast("e1", "Failed"), failFast("e2", "Timeout"), failFast("ok", "Success"), failFast("ok2", "Success")},
			outcomes: "e1:Stopped e2:NotStopped>e1 ok:NotStopped ok2:NotStopped", stops: 1},
		{name: "a duplicate of a failure fails too", items: []Item{stop("1", "t-a"), stop("2", "t-a")},
			stopErr: &ca.Error{Code: "ServiceUnavailable", HTTPStatus: 503}, outcomes: "1:Failed 2:Failed>1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newRecorder(
				rollout("t-a", []string{"Running", "Pending"}),
				rollout("t-f", []string{"Failed", "Failed", "Pending"}, tag(TagMaxErrors, "2")),
			)
			if tc.stopErr != nil {
				failStops(api, tc.stopErr)
			}
			var logs bytes.Buffer
			fn := &Function{API: api, RegionId: "cn-hangzhou", Log: slog.New(slog.NewJSONHandler(&logs, nil))}
			b := fn.HandleBatch(context.Background(), "req-b", tc.items)
			var got []string
			for _, r := range b.Results {
				o := r.Id + ":" + r.Outcome
				if r.DuplicateOf != "" {
					o += ">" + r.DuplicateOf
					if r.Reason != "duplicate of "+r.DuplicateOf || r.Answer != nil {
						t.Errorf("%s: Reason %q, Answer %v", r.Id, r.Reason, r.Answer)
					}
				}
				got = append(got, o)
			}
			if strings.Join(got, " ") != tc.outcomes || len(api.Stops()) != tc.stops {
				t.Fatalf("outcomes %s, %d stops; want %s, %d", strings.Join(got, " "), len(api.Stops()), tc.outcomes, tc.stops)
			}
			dups := strings.Count(tc.outcomes, ">")
			if !strings.Contains(logs.String(), fmt.Sprintf(`"duplicates":%d`, dups)) {
				t.Errorf("batch line does not count %d duplicates: %s", dups, logs.String())
			}
			// Every case stops at most one invocation (on some instances or all).
			if r := NewReport("sqs", "req-b", b, nil); len(r.Stopped) != min(tc.stops, 1) {
				t.Errorf("report lists %d stops, want one per invocation", len(r.Stopped))
			}
		})
	}
}

// A batch's log line counts its items by outcome, in the words of what
// they were: stopped for real stops, would_stop for dry runs (both for a
// batch of both), and never a word that did not happen.
func TestHandleBatchLogsCounts(t *testing.T) {
	dry, live := boolp(true), boolp(false)
	for _, tc := range []struct {
		name   string
		dryRun bool // the function's default
		items  []Item
		counts string // items stopped would_stop not_stopped ignored failed (<nil>: no such field)
	}{
		{name: "real", items: []Item{
			{Id: "a", Request: Request{Stop: &StopRequest{InvokeId: "t-b"}}},
			{Id: "b", Request: Request{Stop: &StopRequest{InvokeId: "t-c"}}},
			{Id: "c", Err: Invalid("body", "is not JSON")},
			{Id: "d", Ignored: "resolved alert"},
			{Id: "e", Ignored: "resolved alert"},
		}, counts: "5 1 <nil> 1 2 1"},
		{name: "dry runs", items: []Item{
			{Id: "a", Request: Request{Stop: &StopRequest{InvokeId: "t-b", DryRun: dry}}},
			{Id: "b", Request: Request{Stop: &StopRequest{InvokeId: "t-c", DryRun: dry}}},
		}, counts: "2 <nil> 1 1 0 0"},
		{name: "both", dryRun: true, items: []Item{
			{Id: "a", Request: Request{Stop: &StopRequest{InvokeId: "t-b"}}},
			{Id: "b", Request: Request{Stop: &StopRequest{InvokeId: "t-b", DryRun: live}}},
		}, counts: "2 1 1 0 0 0"},
		{name: "nothing handled, dry-run function", dryRun: true, items: []Item{{Id: "d", Ignored: "resolved alert"}},
			counts: "1 <nil> 0 0 1 0"},
		{name: "nothing handled", items: []Item{{Id: "d", Ignored: "resolved alert"}},
			counts: "1 0 <nil> 0 1 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newRecorder(rollout("t-b", []string{"Running"}), rollout("t-c", []string{"Success"}))
			var logs bytes.Buffer
			fn := testFunction(api, &logs)
			fn.RegionId, fn.DryRun = "cn-hangzhou", tc.dryRun
			fn.HandleBatch(context.Background(), "req-b", tc.items)
			lines := logLines(t, &logs)
			last := lines[len(lines)-1]
			got := fmt.Sprint(last["items"], " ", last["stopped"], " ", last["would_stop"], " ", last["not_stopped"], " ", last["ignored"], " ", last["failed"])
			if last["msg"] != "batch done" || got != tc.counts {
				t.Fatalf("batch log %v %q, want %q", last["msg"], got, tc.counts)
			}
		})
	}
}

// A sweep in a batch is Stopped when it stopped something, WouldStop when
// a dry run selected something; a refused sweep is a Failed item.
func TestHandleBatchSweepOutcomes(t *testing.T) {
	fn := testFunction(newFake(inv("t-old", 3*time.Hour, ca.StatusRunning)), &bytes.Buffer{})
	quiet := testFunction(newFake(inv("t-young", time.Hour, ca.StatusRunning)), &bytes.Buffer{})
	var got []string
	for _, tc := range []struct {
		fn  *Function
		req SweepRequest
	}{
		{fn, SweepRequest{DryRun: boolp(true)}},
		{fn, SweepRequest{}},
		{quiet, SweepRequest{}},
		{fn, SweepRequest{OlderThan: time.Minute}},
	} {
		b := tc.fn.HandleBatch(context.Background(), "r", []Item{{Id: "s", Request: Request{Sweep: &tc.req}}})
		got = append(got, b.Results[0].Outcome+":"+b.Results[0].Code)
	}
	if want := "WouldStop:|Stopped:|NotStopped:|Failed:InvalidParameter"; strings.Join(got, "|") != want {
		t.Fatalf("outcomes %s\nwant     %s", strings.Join(got, "|"), want)
	}
}
