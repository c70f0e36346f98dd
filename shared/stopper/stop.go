package stopper

import (
	"context"
	"log/slog"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// A stop may kill running work. The StopInvocation page
// (https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-stopinvocation)
// says that instances already running finish and only those not yet started are
// cancelled; the Cloud Assistant agent's source kills the running process
// (aliyun/aliyun_assist_client, agent/taskengine/scheduletask.go:
// dispatchStopTask -> Task.Cancel -> process kill, reported "killed"), and
// the API's own TerminationMode parameter and the Stopping/Terminated
// statuses agree. So every stop reads the invocation first and answers how
// many of the instances it targeted were pending (cancelled) and how many
// running (possibly killed), and nothing is stopped that is already on its
// way out.

// Stop stops one invocation on the instances asked for (all when none are).
// It reads the invocation first: an unknown invocation or instance is
// answered as the API would (InvalidInvokeId.NotFound,
// InvalidInstanceId.NotFound) without a stop, and an invocation with
// nothing left to stop on those instances (every one ended or already
// Stopping) is not stopped again, nor is one this instance stopped already
// (ledger.go). Protection tags do not apply: the request names the
// invocation.
func (f *Function) Stop(ctx context.Context, requestID string, req StopRequest) (StopAnswer, error) {
	start := f.now()
	dryRun := f.dryRun(req.DryRun)
	ids := req.InstanceIds
	if ids == nil {
		ids = []string{}
	}
	answer := StopAnswer{RequestId: requestID, Action: ActionStopInvocation, InvokeId: req.InvokeId, InstanceIds: ids, DryRun: dryRun, Alert: req.Alert}
	stop, err := f.stop(ctx, req, ids, dryRun, &answer)
	e := AsError(err)
	answer.Stopped, answer.WouldStop = stopFlags(dryRun, stop)
	f.logOutcome(ctx, requestID, ActionStopInvocation, e, start, append(accountAttrs(answer.AccountId),
		slog.String("region_id", answer.RegionId), slog.String("invoke_id", req.InvokeId),
		slog.Int("instances", len(ids)), slog.Bool("dry_run", dryRun), slog.Bool(stopKey(dryRun), stop),
		slog.Int("pending", answer.Pending), slog.Int("running", answer.Running), slog.String("alert", req.Alert),
		slog.String("reason", answer.Reason))...)
	if e != nil {
		return StopAnswer{}, e
	}
	return answer, nil
}

// stopKey is the log field of a request's stops: "would_stop" in a dry run,
// so that a dry run's line never says "stopped".
func stopKey(dryRun bool) string {
	if dryRun {
		return "would_stop"
	}
	return "stopped"
}

// stop resolves the region and the account, reads the invocation and
// stops it unless it is a dry run, nothing is left to stop, or an alert
// names a protected one. It reports whether a stop was sent, or in a dry
// run would have been.
func (f *Function) stop(ctx context.Context, req StopRequest, ids []string, dryRun bool, answer *StopAnswer) (bool, error) {
	region, err := f.region(req.RegionId)
	if err != nil {
		return false, err
	}
	answer.RegionId = region
	account, api, err := f.account(ctx, req.AccountId)
	answer.AccountId = account
	if err != nil {
		return false, err
	}
	read := f.Ledger.clock()
	inv, err := findInvocation(ctx, api, region, req.InvokeId)
	if err != nil {
		return false, err
	}
	answer.CommandName = inv.CommandName
	c, err := countTargets(inv, ids)
	if err != nil {
		return false, err
	}
	answer.Pending, answer.Running = c.pending, c.running
	switch {
	case req.Alert != "" && readOwnerTags(inv.Tags.Tag).protect:
		answer.Reason = "tagged " + TagProtect + ": an alert never stops it (name it in a request to stop it by hand)"
		return false, nil
	case !c.stoppable(inv):
		answer.Reason = "nothing left to stop: every targeted instance has ended or is already Stopping"
		return false, nil
	}
	stopped, err := f.stopOnce(ctx, accountKeyOf(account, region, req.InvokeId, ids), read, c, dryRun, func() error {
		return api.StopInvocation(ctx, region, req.InvokeId, ids)
	})
	if err == nil && !stopped {
		answer.Reason = ReasonAlreadyStopped
	}
	return stopped, err
}

// stopOnce sends a stop that the instance has not sent already (ledger.go):
// false, without a call, when a remembered stop covers key; read is when
// the invocation was read, c its targeted instances. A dry run consults
// the ledger but neither waits for a stop in flight nor records one: it
// says what a real run would do now.
func (f *Function) stopOnce(ctx context.Context, key ledgerKey, read time.Time, c instanceCounts, dryRun bool, stop func() error) (bool, error) {
	pending := c.pending > 0
	if dryRun {
		return !f.Ledger.alreadyStopped(key, read, pending), nil
	}
	already, done, err := f.Ledger.claim(ctx, key, read, pending)
	if err != nil {
		return false, &Error{Code: CodeServiceUnavailable, Transient: true,
			Message: "the deadline passed while another request of this function instance was stopping the same invocation (" +
				err.Error() + "): nothing was sent; the next try finds it stopped, or stops it"}
	}
	if already {
		return false, nil
	}
	err = stop()
	done(err == nil)
	return err == nil, err
}

// findInvocation reads one invocation. Active periodic invocations are
// listed only with Timed=true, every other one only without it, so both
// listings are asked, the common one first.
func findInvocation(ctx context.Context, api CloudAssistant, region, invokeID string) (*ca.Invocation, error) {
	for _, timed := range []bool{false, true} {
		resp, err := api.DescribeInvocations(ctx, ca.DescribeInvocationsRequest{
			RegionId: region, InvokeId: invokeID, Timed: &timed, MaxResults: 1})
		if err != nil {
			return nil, err
		}
		for i := range resp.Invocations.Invocation {
			if resp.Invocations.Invocation[i].InvokeId == invokeID {
				return &resp.Invocations.Invocation[i], nil
			}
		}
	}
	return nil, &Error{Code: CodeInvalidInvokeNotFound,
		Message: "The specified InvokeId does not exist: " + invokeID + " in " + region + " (DescribeInvocations keeps the last four weeks)"}
}

// instanceCounts sorts an invocation's instances by what a stop does to them.
// Stopping instances, on their way out already, count in total only.
type instanceCounts struct {
	total   int
	pending int // Pending or Scheduled: a stop cancels them
	running int // Running: a stop may kill them
	failed  int // ended in failure (fail-fast counts these)
}

// stoppable reports whether a stop would change anything: some targeted
// instance has not ended and is not already Stopping. An invocation listed
// without instances is judged by its own status.
func (c instanceCounts) stoppable(inv *ca.Invocation) bool {
	if c.total == 0 {
		switch invocationStatus(inv) {
		case ca.StatusPending, ca.StatusRunning, ca.StatusScheduled:
			return true
		}
		return false
	}
	return c.pending+c.running > 0
}

// countTargets counts the targeted instances (all when ids is empty); a
// named instance the invocation does not have is InvalidInstanceId.NotFound,
// as StopInvocation answers it.
func countTargets(inv *ca.Invocation, ids []string) (instanceCounts, error) {
	instances := inv.InvokeInstances.InvokeInstance
	if len(ids) == 0 {
		return countInstances(instances), nil
	}
	byID := make(map[string]int, len(instances))
	for i := range instances {
		byID[instances[i].InstanceId] = i
	}
	targets := make([]ca.InvokeInstance, 0, len(ids))
	for _, id := range ids {
		i, ok := byID[id]
		if !ok {
			return instanceCounts{}, &Error{Code: "InvalidInstanceId.NotFound",
				Message: "The specified instance " + id + " is not part of invocation " + inv.InvokeId}
		}
		targets = append(targets, instances[i])
	}
	return countInstances(targets), nil
}

func countInstances(instances []ca.InvokeInstance) instanceCounts {
	c := instanceCounts{total: len(instances)}
	for i := range instances {
		switch st := instanceStatus(&instances[i]); {
		case st == ca.StatusPending, st == ca.StatusScheduled:
			c.pending++
		case st == ca.StatusRunning:
			c.running++
		case FailureStatus(st):
			c.failed++
		}
	}
	return c
}

// FailureStatus reports whether a per-instance status is a failed run:
// Failed, Error, Timeout, Aborted or Invalid (not Cancelled or Terminated,
// which a stop causes).
func FailureStatus(status string) bool {
	switch status {
	case ca.StatusFailed, ca.StatusError, ca.StatusTimeout, ca.StatusAborted, ca.StatusInvalid:
		return true
	}
	return false
}

// invocationStatus is the current status, or the legacy one when only that is given.
func invocationStatus(inv *ca.Invocation) string {
	if inv.InvocationStatus != "" {
		return inv.InvocationStatus
	}
	return inv.InvokeStatus
}

// instanceStatus is an instance's current status, or the legacy one.
func instanceStatus(in *ca.InvokeInstance) string {
	if in.InvocationStatus != "" {
		return in.InvocationStatus
	}
	return in.InstanceInvokeStatus
}
