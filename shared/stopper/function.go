// Package stopper is the core: the requests every trigger ends in, their
// rules, and what stopping and sweeping do against the Cloud Assistant API.
// It knows nothing of Lambda, FC or HTTP.
package stopper

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// CloudAssistant is the part of the ECS API the function calls. The client in
// shared/ecs implements it; StopInvocation takes any number of instances and
// splits them into calls the API accepts.
type CloudAssistant interface {
	StopInvocation(ctx context.Context, regionID, invokeID string, instanceIDs []string) error
	DescribeInvocations(ctx context.Context, req cloudassistant.DescribeInvocationsRequest) (*cloudassistant.DescribeInvocationsResponse, error)
}

// Function carries out requests. Its fields are the configured defaults; it
// is safe for concurrent use and cheap to copy (FC gives each invocation its
// own credentials, so the runtime copies it with another API).
type Function struct {
	API CloudAssistant
	// RegionId is used when a request names none.
	RegionId string
	// AllowedRegions, when not empty, is the only regions requests may act on.
	AllowedRegions []string
	// DryRun makes every request a dry run unless it says otherwise.
	DryRun bool
	// Sweep holds the defaults of a sweep request's unset fields.
	Sweep SweepDefaults
	Log   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SweepDefaults are the configured values of a sweep's unset fields.
type SweepDefaults struct {
	RegionIds       []string
	OlderThan       time.Duration
	CommandName     string
	Tags            map[string]string
	IncludePeriodic bool
	// Concurrency bounds the stops in flight at once.
	Concurrency int
	// Reserve is how much of the deadline a sweep keeps for finishing the
	// stops in flight and answering.
	Reserve time.Duration
}

// Handle carries out one request and returns the answer to render: a
// StopAnswer or a SweepAnswer on success, an *Error otherwise.
func (f *Function) Handle(ctx context.Context, requestID string, req Request) (any, *Error) {
	if req.Sweep != nil {
		a, err := f.RunSweep(ctx, requestID, *req.Sweep)
		if err != nil {
			return nil, err
		}
		return a, nil
	}
	if req.Stop == nil {
		return nil, Invalid("Action", "the request names nothing to do")
	}
	a, err := f.Stop(ctx, requestID, *req.Stop)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Stop stops one invocation on the instances asked for (all when none are).
func (f *Function) Stop(ctx context.Context, requestID string, req StopRequest) (StopAnswer, *Error) {
	start := f.now()
	region, rerr := f.region(req.RegionId)
	dryRun := f.DryRun
	if req.DryRun != nil {
		dryRun = *req.DryRun
	}
	ids := req.InstanceIds
	if ids == nil {
		ids = []string{}
	}
	answer := StopAnswer{RequestId: requestID, Action: ActionStopInvocation, RegionId: region,
		InvokeId: req.InvokeId, InstanceIds: ids, DryRun: dryRun}
	var err error
	switch {
	case rerr != nil:
		err = rerr
	case dryRun:
		err = f.checkStoppable(ctx, region, req.InvokeId, ids)
	default:
		err = f.API.StopInvocation(ctx, region, req.InvokeId, ids)
	}
	e := AsError(err)
	f.logOutcome(ctx, requestID, "StopInvocation", e, start,
		slog.String("region_id", region), slog.String("invoke_id", req.InvokeId),
		slog.Int("instances", len(ids)), slog.Bool("dry_run", dryRun))
	if e != nil {
		return StopAnswer{}, e
	}
	return answer, nil
}

// region resolves a request's region against the default and the allowlist.
func (f *Function) region(requested string) (string, error) {
	region := requested
	if region == "" {
		region = f.RegionId
	}
	if region == "" {
		return "", Missing("RegionId", "Give RegionId in the request, or set STOPPER_REGION_ID.")
	}
	if err := f.allowed(region); err != nil {
		return "", err
	}
	return region, nil
}

func (f *Function) allowed(region string) *Error {
	if len(f.AllowedRegions) == 0 || slices.Contains(f.AllowedRegions, region) {
		return nil
	}
	return &Error{Code: CodeForbiddenRegion, Status: http.StatusForbidden,
		Message: "region " + region + " is not in STOPPER_ALLOWED_REGIONS; add it there to act on it"}
}

// checkStoppable is the dry run of a stop: it proves that the invocation and
// the instances exist, as StopInvocation would, without stopping anything.
func (f *Function) checkStoppable(ctx context.Context, region, invokeID string, instanceIDs []string) error {
	var inv *cloudassistant.Invocation
	// Active periodic invocations are only listed with Timed=true.
	for _, timed := range []bool{false, true} {
		resp, err := f.API.DescribeInvocations(ctx, cloudassistant.DescribeInvocationsRequest{
			RegionId: region, InvokeId: invokeID, Timed: &timed, MaxResults: 1})
		if err != nil {
			return err
		}
		if len(resp.Invocations.Invocation) > 0 {
			inv = &resp.Invocations.Invocation[0]
			break
		}
	}
	if inv == nil {
		return &Error{Code: CodeInvalidInvokeNotFound, Status: http.StatusNotFound,
			Message: "The specified InvokeId does not exist: " + invokeID + " in " + region}
	}
	have := make(map[string]bool, len(inv.InvokeInstances.InvokeInstance))
	for _, in := range inv.InvokeInstances.InvokeInstance {
		have[in.InstanceId] = true
	}
	for _, id := range instanceIDs {
		if !have[id] {
			return &Error{Code: "InvalidInstanceId.NotFound", Status: http.StatusNotFound,
				Message: "The specified instance " + id + " is not part of invocation " + invokeID}
		}
	}
	return nil
}

func (f *Function) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Function) logger() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.Default()
}

// logOutcome writes the one line each request ends with.
func (f *Function) logOutcome(ctx context.Context, requestID, action string, e *Error, start time.Time, attrs ...slog.Attr) {
	attrs = append(attrs, slog.String("request_id", requestID), slog.String("action", action),
		slog.Duration("duration", f.now().Sub(start)))
	level, msg := slog.LevelInfo, "done"
	if e != nil {
		level, msg = slog.LevelWarn, "failed"
		if e.Transient {
			level = slog.LevelError
		}
		attrs = append(attrs, slog.String("code", e.Code), slog.String("error", e.Message),
			slog.Bool("transient", e.Transient))
		if e.UpstreamRequestId != "" {
			attrs = append(attrs, slog.String("upstream_request_id", e.UpstreamRequestId))
		}
	}
	f.logger().LogAttrs(ctx, level, msg, attrs...)
}
