// Package fakeapi is an in-memory Cloud Assistant for the module's tests:
// the two calls the function makes (StopInvocation, DescribeInvocations)
// against a fleet held in memory, with the faults a test asks for. Only
// tests import it; tests that need the real protocol, signatures and
// throttle use shared/emulator instead.
package fakeapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// API is a Cloud Assistant over Fleet. Its listing honours RegionId,
// InvokeId, Timed, InvokeStatus, CommandName, Tags and paging (an offset
// token); it records every stop, unless CountOnly. Set its fields before the first call;
// read what it recorded through its methods, which lock.
type API struct {
	mu sync.Mutex
	// Fleet is every invocation there is, each with its RegionId set.
	Fleet []ca.Invocation
	// WholeOnly refuses a stop that names instances: a sweep stops every
	// instance of an invocation (a nil list).
	WholeOnly bool
	// StopErr answers a stop of an invocation (by InvokeId) with an error.
	StopErr map[string]error
	// ListErr answers every listing of a region with an error.
	ListErr map[string]error
	// Overlap makes each page repeat the previous page's last item.
	Overlap bool
	// StopEnds makes a stop end the invocation (status Stopped), so that
	// the offset token of a status-filtered listing shifts under a caller
	// that stops while paging.
	StopEnds bool
	// FailTimes answers the first N stops of an invocation with a 503.
	FailTimes map[string]int
	// StopDelay is how long each stop takes (it ignores its context, as a
	// call already on the wire does).
	StopDelay time.Duration
	// QPS, when set, throttles stops with a token bucket of burst 1.
	QPS float64
	// Unlisted, when set, is what a read of one InvokeId that Fleet does not
	// hold finds: a copy with that InvokeId, in the region read (its slices
	// shared), so that every invocation a test names exists.
	Unlisted *ca.Invocation
	// CountOnly records no call, only how many stops succeeded (Stopped):
	// for benchmarks and fuzzing, where the records would grow without end.
	CountOnly bool

	stops      map[string]int // region/id → successful stops
	calls      []Stop
	attempts   map[string]int
	stopCtxErr []error
	tokens     float64
	last       time.Time
	throttled  int
	describes  int
	stopped    int
}

// Stop is one StopInvocation that succeeded.
type Stop struct {
	RegionID, InvokeID string
	InstanceIDs        []string
}

// New is an API over fleet that answers every call.
func New(fleet ...ca.Invocation) *API {
	return &API{Fleet: fleet, StopErr: map[string]error{}, ListErr: map[string]error{}, FailTimes: map[string]int{}}
}

func (f *API) StopInvocation(ctx context.Context, region, id string, instances []string) error {
	if f.WholeOnly && instances != nil {
		return errors.New("a sweep must stop every instance (nil list)")
	}
	if f.StopDelay > 0 {
		time.Sleep(f.StopDelay)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.CountOnly {
		f.stopCtxErr = append(f.stopCtxErr, ctx.Err())
	}
	if f.QPS > 0 {
		now := time.Now()
		if f.last.IsZero() {
			f.tokens, f.last = 1, now
		}
		f.tokens = math.Min(1, f.tokens+now.Sub(f.last).Seconds()*f.QPS)
		f.last = now
		if f.tokens < 1 {
			f.throttled++
			return &ca.Error{Code: "Throttling.User", Message: "Request was denied due to user flow control.", HTTPStatus: 400}
		}
		f.tokens--
	}
	if !f.CountOnly {
		if f.attempts == nil {
			f.attempts = map[string]int{}
		}
		f.attempts[id]++
	}
	if err := f.StopErr[id]; err != nil {
		return err
	}
	if f.FailTimes[id] > 0 {
		f.FailTimes[id]--
		return fmt.Errorf("ecs: failed after 5 attempts: %w", &ca.Error{Code: "ServiceUnavailable", Message: "busy", HTTPStatus: 503})
	}
	f.stopped++
	if f.CountOnly {
		return nil
	}
	if f.stops == nil {
		f.stops = map[string]int{}
	}
	f.stops[region+"/"+id]++
	f.calls = append(f.calls, Stop{region, id, slices.Clone(instances)})
	if f.StopEnds {
		for i := range f.Fleet {
			if f.Fleet[i].RegionId == region && f.Fleet[i].InvokeId == id {
				f.Fleet[i].InvocationStatus = ca.StatusStopped
			}
		}
	}
	return nil
}

func (f *API) DescribeInvocations(ctx context.Context, req ca.DescribeInvocationsRequest) (*ca.DescribeInvocationsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.describes++
	if err := f.ListErr[req.RegionId]; err != nil {
		return nil, err
	}
	if req.MaxResults != ca.MaxResultsLimit && req.InvokeId == "" {
		return nil, fmt.Errorf("MaxResults %d, want %d", req.MaxResults, ca.MaxResultsLimit)
	}
	timed := req.Timed != nil && *req.Timed
	fleet := f.Fleet
	if f.Unlisted != nil && req.InvokeId != "" && !slices.ContainsFunc(f.Fleet, func(inv ca.Invocation) bool {
		return inv.RegionId == req.RegionId && inv.InvokeId == req.InvokeId
	}) {
		inv := *f.Unlisted
		inv.RegionId, inv.InvokeId = req.RegionId, req.InvokeId
		fleet = append(slices.Clip(fleet), inv)
	}
	var match []ca.Invocation
	for _, inv := range fleet {
		if inv.RegionId != req.RegionId || inv.Timed != timed || req.InvokeId != "" && inv.InvokeId != req.InvokeId ||
			req.InvokeStatus != "" && inv.InvocationStatus != req.InvokeStatus ||
			req.CommandName != "" && inv.CommandName != req.CommandName {
			continue
		}
		ok := true
		for _, t := range req.Tags {
			ok = ok && slices.Contains(inv.Tags.Tag, t)
		}
		if ok {
			inv.RegionId = ""
			match = append(match, inv)
		}
	}
	start := 0
	if req.NextToken != "" {
		start, _ = strconv.Atoi(req.NextToken)
	}
	end := min(start+req.MaxResults, len(match))
	resp := &ca.DescribeInvocationsResponse{TotalCount: len(match), Invocations: ca.Invocations{Invocation: match[start:end]}}
	if end < len(match) {
		next := end
		if f.Overlap {
			next--
		}
		resp.NextToken = strconv.Itoa(next)
	}
	return resp, nil
}

// Edit changes the fleet under the API's lock, as a change made in the
// cloud while calls are in flight.
func (f *API) Edit(change func(fleet []ca.Invocation)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f.Fleet)
}

// StopCount is how many stops of one invocation succeeded.
func (f *API) StopCount(region, id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stops[region+"/"+id]
}

// Stops is every stop that succeeded, in order.
func (f *API) Stops() []Stop {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Stopped is how many stops succeeded, of any invocation.
func (f *API) Stopped() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stopped
}

// Attempts is how many stops of an invocation were tried, failed or not
// (throttled ones aside).
func (f *API) Attempts(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[id]
}

// Describes is how many DescribeInvocations calls were made.
func (f *API) Describes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.describes
}

// Throttled is how many stops the QPS bucket refused.
func (f *API) Throttled() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.throttled
}

// StopContextErrs is the error each stop's context held when the stop
// ended (nil while it was live).
func (f *API) StopContextErrs() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.stopCtxErr)
}
