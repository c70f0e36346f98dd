package notify

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Text is the chat summary as plain text: the title first ("Dry run" for a
// dry run), one line per invocation, no markup.
func TestText(t *testing.T) {
	refused := stopper.NewReport("fc-timer", "req-9", nil, &stopper.Error{Code: stopper.CodeSweepLimitExceeded, Message: "over the limit"})
	dryStop := stopper.NewReport("direct", "req-2", stopper.StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-a", CommandName: "backup",
		DryRun: true, WouldStop: boolp(true), Pending: 1}, nil)
	nothing := stopper.NewReport("direct", "req-3", stopper.StopAnswer{RegionId: "cn-hangzhou", InvokeId: "t-a", DryRun: true, WouldStop: boolp(false),
		Reason: "nothing left to stop"}, nil)
	// A batch in which one item stopped an invocation and another, a sweep,
	// was refused by its limit.
	mixed := stopper.Report{RequestId: "req-4", Trigger: "sqs", Action: stopper.ActionBatch, Matched: map[string]int{"cn-hangzhou": 1},
		Stopped: []stopper.ReportedStop{{RegionId: "cn-hangzhou", InvokeId: "t-a", CommandName: "backup", Running: 1, Why: "requested"}},
		Refused: &stopper.Error{Code: stopper.CodeSweepLimitExceeded, Message: "over the limit"}}
	for _, tc := range []struct {
		name string
		r    stopper.Report
		want string
	}{
		{"a stop and a refused sweep", mixed, `ecs-stopper stopped 1 invocation; a sweep was refused and stopped nothing
Batch (trigger sqs), request req-4
A sweep was refused and stopped nothing. Sweep.LimitExceeded: over the limit
Instances: 0 pending (cancelled), 1 running (possibly killed)
  t-a (backup) in cn-hangzhou: 0 pending, 1 running; why: requested
Matched: cn-hangzhou 1
`},
		{"sweep", twoStopSweep(), `ecs-stopper stopped 2 invocations, 1 failure
Sweep (trigger fc-timer), request c0ffee00-1d2e-4f50-8a6b-7c8d9e0f1a2b
Instances: 1 pending (cancelled), 3 running (possibly killed)
  t-hz0jdfwd9f7k2a (nightly-backup) in cn-hangzhou: 1 pending, 2 running; why: OlderThan=2h0m0s
  t-sh01ab2cd3ef4g (warm-cache) in cn-shanghai: 0 pending, 1 running; why: stopper:ttl=30m
Failed (1)
  cn-shanghai t-sh09zz8yy7xx6w: Throttling.User Request was denied due to user flow control.
Matched: cn-hangzhou 1, cn-shanghai 2
`},
		{"dry-run sweep", dryTwoStopSweep(), `Dry run: ecs-stopper would stop 2 invocations, 1 failure
Sweep (trigger fc-timer), request c0ffee00-1d2e-4f50-8a6b-7c8d9e0f1a2b
Dry run. Instances: 1 pending (would cancel), 3 running (would possibly kill)
  t-hz0jdfwd9f7k2a (nightly-backup) in cn-hangzhou: 1 pending, 2 running; why: OlderThan=2h0m0s
  t-sh01ab2cd3ef4g (warm-cache) in cn-shanghai: 0 pending, 1 running; why: stopper:ttl=30m
Failed (1)
  cn-shanghai t-sh09zz8yy7xx6w: Throttling.User Request was denied due to user flow control.
Matched: cn-hangzhou 1, cn-shanghai 2
`},
		{"dry-run stop", dryStop, `Dry run: ecs-stopper would stop 1 invocation
StopInvocation (trigger direct), request req-2
Dry run. Instances: 1 pending (would cancel), 0 running (would possibly kill)
  t-a (backup) in cn-hangzhou: 1 pending, 0 running; why: requested
`},
		{"dry run with nothing to stop", nothing, `Dry run: ecs-stopper would stop 0 invocations
StopInvocation (trigger direct), request req-3
`},
		{"refused", refused, `ecs-stopper refused a sweep: nothing was stopped
Sweep (trigger fc-timer), request req-9
Nothing was stopped. Sweep.LimitExceeded: over the limit
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Text(tc.r); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// Every invocation has its line (a terminal has no size limit), and
// outside text cannot reach the terminal as control characters.
func TestTextListsEverythingSafely(t *testing.T) {
	r := stopper.Report{Action: stopper.ActionSweep, DryRun: true, Matched: map[string]int{}}
	for i := range 150 {
		r.WouldStop = append(r.WouldStop, stopper.ReportedStop{RegionId: "cn-hangzhou", InvokeId: fmt.Sprintf("t-%04d", i),
			CommandName: "evil\x1b[2J\x1b]0;title\x07\nname", Why: "OlderThan=2h0m0s"})
	}
	got := Text(r)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 3+150 || !strings.HasPrefix(lines[0], "Dry run: ") || !strings.Contains(got, "t-0149") {
		t.Fatalf("%d lines:\n%s", len(lines), got)
	}
	if strings.ContainsAny(got, "\x1b\x07\r") || strings.Contains(got, "more invocations") {
		t.Fatalf("unsafe or cut: %q", lines[3])
	}
}

// The plain summaries of the sample sweep, for the README and the local
// runner's -output text (go test -run TestSamples -update rewrites them).
func TestTextSamples(t *testing.T) {
	checkSample(t, "text.txt", []byte(Text(twoStopSweep())))
	checkSample(t, "text-dry-run.txt", []byte(Text(dryTwoStopSweep())))
}

func boolp(b bool) *bool { return &b }
