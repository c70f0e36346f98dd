package emulator

import (
	"slices"
	"sort"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// record is one invocation as the emulator keeps it.
type record struct {
	inv     ca.Invocation
	created time.Time
	// halted marks, per instance, that a stop ended the instance's schedule:
	// a periodic invocation keeps its Running instances running but is no
	// longer active once every instance is halted or over.
	halted []bool
	// killAt holds, per instance killed in StopModeKill and still Stopping,
	// when it becomes Terminated (nil until the first kill); kills counts
	// them, so that settling a record with none costs nothing.
	killAt []time.Time
	kills  int
	// stopCalls counts successful StopInvocation calls, so that tests can
	// assert that a sweep stopped an invocation exactly once.
	stopCalls int
}

// region indexes one region's invocations in the stable listing order
// (newest CreationTime first, ties by InvokeId), sorted lazily after adds so
// that building a large fleet costs one sort, not one per Add.
type region struct {
	byID   map[string]*record
	order  []*record
	sorted bool
}

func newRegion() *region { return &region{byID: map[string]*record{}, sorted: true} }

func (g *region) add(r *record) {
	g.byID[r.inv.InvokeId] = r
	g.order = append(g.order, r)
	g.sorted = false
}

// ordered returns the invocations in listing order.
func (g *region) ordered() []*record {
	if !g.sorted {
		sort.Slice(g.order, func(i, j int) bool { return before(g.order[i], g.order[j].created, g.order[j].inv.InvokeId) })
		g.sorted = true
	}
	return g.order
}

// before reports whether r is listed before the position (created, id).
func before(r *record, created time.Time, id string) bool {
	if !r.created.Equal(created) {
		return r.created.After(created)
	}
	return r.inv.InvokeId < id
}

// kill marks instance i Stopping as of now and due to be Terminated at due.
func (r *record) kill(i int, now, due time.Time) {
	in := &r.inv.InvokeInstances.InvokeInstance[i]
	stamp := now.UTC().Format(timeLayout)
	in.InvocationStatus = ca.StatusStopping
	in.StopTime, in.UpdateTime = stamp, stamp
	if r.killAt == nil {
		r.killAt = make([]time.Time, len(r.inv.InvokeInstances.InvokeInstance))
	}
	r.killAt[i] = due
	r.kills++
}

// settle turns the killed instances whose delay is over into Terminated, with
// the time they ended. It runs whenever the record is read or changed, under
// the server's lock and on the emulator's clock, so that a test with an
// injected clock sees the change exactly when its clock passes the delay (no
// timers, no goroutines).
func (r *record) settle(now time.Time) {
	if r.kills == 0 {
		return
	}
	for i, due := range r.killAt {
		if due.IsZero() || now.Before(due) {
			continue
		}
		in := &r.inv.InvokeInstances.InvokeInstance[i]
		stamp := due.UTC().Format(timeLayout)
		in.InvocationStatus = ca.StatusTerminate
		in.FinishTime, in.UpdateTime = stamp, stamp
		r.killAt[i] = time.Time{}
		r.kills--
	}
}

// periodic reports whether the invocation repeats. A fleet entry that says
// Timed without a RepeatMode is taken as periodic too.
func (r *record) periodic() bool {
	return periodicMode(r.inv.RepeatMode) || (r.inv.RepeatMode == "" && r.inv.Timed)
}

// active reports whether a periodic invocation will still run again: some
// instance is neither over nor halted by a stop.
func (r *record) active() bool {
	if !r.periodic() {
		return false
	}
	for i, in := range r.inv.InvokeInstances.InvokeInstance {
		if !r.halted[i] && !instanceEnded(in.InvocationStatus) {
			return true
		}
	}
	return false
}

// status is the invocation-level status. It is derived from the instances
// whenever there are any, so a status given in the fleet never contradicts
// them; an invocation without instances keeps the fleet's status.
func (r *record) status() string {
	if len(r.inv.InvokeInstances.InvokeInstance) == 0 {
		if r.inv.InvocationStatus != "" {
			return r.inv.InvocationStatus
		}
		return ca.StatusPending
	}
	return deriveStatus(r.inv.InvokeInstances.InvokeInstance)
}

// snapshot is the invocation as DescribeInvocations shows it, as a copy the
// caller may keep: derived statuses filled in, Timed telling whether the
// invocation is an active periodic one.
func (r *record) snapshot() ca.Invocation {
	inv := copyInvocation(r.inv)
	inv.InvocationStatus = r.status()
	inv.InvokeStatus = legacyInvokeStatus(inv.InvocationStatus)
	inv.Timed = r.active()
	// The API answers empty lists as [], never null; clients may index them.
	if inv.Tags.Tag == nil {
		inv.Tags.Tag = []ca.Tag{}
	}
	if inv.InvokeInstances.InvokeInstance == nil {
		inv.InvokeInstances.InvokeInstance = []ca.InvokeInstance{}
	}
	for i := range inv.InvokeInstances.InvokeInstance {
		in := &inv.InvokeInstances.InvokeInstance[i]
		in.InstanceInvokeStatus = legacyInstanceStatus(in.InvocationStatus)
	}
	return inv
}

// copyInvocation copies the lists, so that the copy may be changed freely.
func copyInvocation(inv ca.Invocation) ca.Invocation {
	inv.Tags.Tag = slices.Clone(inv.Tags.Tag)
	inv.InvokeInstances.InvokeInstance = slices.Clone(inv.InvokeInstances.InvokeInstance)
	return inv
}
