package emulator

import (
	"strings"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// Per-instance statuses, grouped by what they mean for the invocation.
var (
	instanceStatuses = map[string]bool{
		ca.StatusPending: true, ca.StatusScheduled: true, ca.StatusRunning: true, ca.StatusStopping: true,
		ca.StatusSuccess: true, ca.StatusFailed: true, ca.StatusError: true, ca.StatusTimeout: true,
		ca.StatusInvalid: true, ca.StatusAborted: true, ca.StatusCancelled: true, ca.StatusTerminate: true,
		// Not in the documented per-instance list, but the emulator puts it on the
		// scheduled instances of a stopped periodic invocation.
		ca.StatusStopped: true,
	}
	stoppedStatuses = map[string]bool{
		ca.StatusCancelled: true, ca.StatusStopped: true, ca.StatusTerminate: true,
	}
	// invokeStatusFilters are the values DescribeInvocations' InvokeStatus accepts.
	invokeStatusFilters = []string{
		ca.StatusRunning, ca.StatusFinished, ca.StatusSuccess, ca.StatusFailed, ca.StatusStopped,
		ca.StatusStopping, ca.StatusPartial, ca.StatusPending, ca.StatusScheduled,
	}
)

// instanceEnded reports whether an instance's run is over for good.
func instanceEnded(status string) bool {
	switch status {
	case ca.StatusPending, ca.StatusScheduled, ca.StatusRunning, ca.StatusStopping:
		return false
	}
	return true
}

// deriveStatus computes the invocation-level status from its instances.
// While any instance is in flight the invocation is, with the precedence
// Running > Stopping > Pending > Scheduled: the API documents none, so that
// order is the emulator's choice (what is happening now wins over what is
// only waiting). Once every instance has ended, the documented derivation
// applies (docs/reference/cloud-assistant-api.md): Success when every
// instance is Success or stopped and at least one is Success; Stopped when
// every instance was stopped (Cancelled, Terminated, Stopped); with
// failures, PartialFailed when some succeeded and Failed when none did.
func deriveStatus(instances []ca.InvokeInstance) string {
	var running, stopping, pending, scheduled bool
	var fail, success int
	for _, in := range instances {
		switch st := in.InvocationStatus; {
		case st == ca.StatusRunning:
			running = true
		case st == ca.StatusStopping:
			stopping = true
		case st == ca.StatusPending:
			pending = true
		case st == ca.StatusScheduled:
			scheduled = true
		case st == ca.StatusSuccess:
			success++
		case stoppedStatuses[st]:
		default:
			fail++
		}
	}
	switch {
	case running:
		return ca.StatusRunning
	case stopping:
		return ca.StatusStopping
	case pending:
		return ca.StatusPending
	case scheduled:
		return ca.StatusScheduled
	case fail == 0 && success > 0:
		return ca.StatusSuccess
	case fail == 0:
		return ca.StatusStopped
	case success > 0:
		return ca.StatusPartial
	default:
		return ca.StatusFailed
	}
}

// legacyInvokeStatus maps the invocation-level status to the deprecated
// InvokeStatus field (Running, Finished, Failed, PartialFailed, Stopped).
func legacyInvokeStatus(status string) string {
	switch status {
	case ca.StatusPending, ca.StatusScheduled, ca.StatusRunning, ca.StatusStopping:
		return ca.StatusRunning
	case ca.StatusSuccess:
		return ca.StatusFinished
	case ca.StatusStopped, ca.StatusPartial:
		return status
	default:
		return ca.StatusFailed
	}
}

// legacyInstanceStatus maps a per-instance status to the deprecated
// InstanceInvokeStatus field (Running, Finished, Failed, Stopped).
func legacyInstanceStatus(status string) string {
	switch {
	case !instanceEnded(status):
		return ca.StatusRunning
	case status == ca.StatusSuccess:
		return ca.StatusFinished
	case stoppedStatuses[status]:
		return ca.StatusStopped
	default:
		return ca.StatusFailed
	}
}

// matchInvokeStatus applies DescribeInvocations' InvokeStatus filter:
// Finished means "ended, however it ended"; the other values name the
// invocation-level status.
func matchInvokeStatus(filter, status string) bool {
	if strings.EqualFold(filter, ca.StatusFinished) {
		return instanceEnded(status)
	}
	return strings.EqualFold(filter, status)
}

// canonicalInvokeStatus returns the filter value spelled as the API does, or
// "" when the value is not one the API accepts.
func canonicalInvokeStatus(v string) string {
	for _, s := range invokeStatusFilters {
		if strings.EqualFold(v, s) {
			return s
		}
	}
	return ""
}

// periodicMode reports whether an invocation repeats (a timer or reboots),
// i.e. whether StopInvocation ends its schedule rather than its pending runs.
func periodicMode(repeatMode string) bool {
	switch repeatMode {
	case ca.RepeatPeriod, ca.RepeatEveryReboot, ca.RepeatNextRebootOnly:
		return true
	}
	return false
}
