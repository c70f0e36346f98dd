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

func copyInvocation(inv ca.Invocation) ca.Invocation {
	inv.Tags.Tag = slices.Clone(inv.Tags.Tag)
	inv.InvokeInstances.InvokeInstance = slices.Clone(inv.InvokeInstances.InvokeInstance)
	return inv
}
