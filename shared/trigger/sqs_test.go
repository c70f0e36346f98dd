package trigger

import (
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Which records go back to the queue, and why: failures (but a gone
// invocation), and sweeps that did not finish, never counted as done.
func TestSQSUnhandled(t *testing.T) {
	failed := func(code string) stopper.ItemResult {
		return stopper.ItemResult{Outcome: stopper.OutcomeFailed, Code: code, Message: code + " happened", Err: &stopper.Error{Code: code}}
	}
	dupOfFailed := failed("ServiceUnavailable")
	dupOfFailed.DuplicateOf, dupOfFailed.Reason = "m-1", "duplicate of m-1"
	sweep := func(a stopper.SweepAnswer) stopper.ItemResult {
		return stopper.ItemResult{Outcome: stopper.OutcomeNotStopped, Answer: a}
	}
	for _, tc := range []struct {
		name string
		it   stopper.ItemResult
		why  string // "" is handled
	}{
		{"stopped", stopper.ItemResult{Outcome: stopper.OutcomeStopped, Answer: stopper.StopAnswer{}}, ""},
		{"not stopped", stopper.ItemResult{Outcome: stopper.OutcomeNotStopped, Reason: stopper.ReasonAlreadyStopped}, ""},
		{"duplicate of a stop", stopper.ItemResult{Outcome: stopper.OutcomeNotStopped, DuplicateOf: "m-1"}, ""},
		{"failed", failed("ServiceUnavailable"), "ServiceUnavailable happened"},
		{"duplicate of a failure", dupOfFailed, "ServiceUnavailable happened"},
		{"failed without a message", stopper.ItemResult{Outcome: stopper.OutcomeFailed, Code: "X"}, "X"},
		{"gone", failed(stopper.CodeInvalidInvokeNotFound), ""},
		{"refused sweep", failed(stopper.CodeSweepLimitExceeded), "Sweep.LimitExceeded happened"},
		{"finished sweep", sweep(stopper.SweepAnswer{Stopped: []stopper.SweptInvoke{{InvokeId: "t-a"}}}), ""},
		{"truncated sweep", sweep(stopper.SweepAnswer{Truncated: true}), "truncated"},
		{"sweep with a region not listed", sweep(stopper.SweepAnswer{Failed: []stopper.FailedInvoke{{RegionId: "cn-beijing", Code: "ServiceUnavailable"}}}),
			"region cn-beijing not listed: ServiceUnavailable"},
		{"sweep with a permanent failure on one invocation", sweep(stopper.SweepAnswer{Failed: []stopper.FailedInvoke{{RegionId: "cn-beijing", InvokeId: "t-a", Code: "InvalidCreationTime"}}}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			why := sqsUnhandled(tc.it)
			if tc.why == "" && why != "" || !strings.Contains(why, tc.why) {
				t.Fatalf("sqsUnhandled = %q, want %q", why, tc.why)
			}
			tc.it.Id = "m-2"
			got := sqsAnswer(stopper.BatchAnswer{Results: []stopper.ItemResult{tc.it}})
			if listed := len(got.BatchItemFailures) == 1; listed != (tc.why != "") {
				t.Fatalf("batchItemFailures %v", got.BatchItemFailures)
			}
		})
	}
}
