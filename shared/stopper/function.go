// Package stopper is the core: the requests every trigger ends in, their
// rules, and what stopping and sweeping do against the Cloud Assistant API.
// It knows nothing of Lambda, FC or HTTP.
package stopper

import (
	"context"
	"log/slog"
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
	// Accounts, when set, is every account the function acts in
	// (accounts.go); API is then not used. nil acts in the credentials' own
	// account through API, naming no account anywhere.
	Accounts Accounts
	// RegionId is used when a request names none.
	RegionId string
	// AllowedRegions, when not empty, is the only regions requests may act on.
	AllowedRegions []string
	// DryRun makes every request a dry run unless it says otherwise.
	DryRun bool
	// ForceDryRun makes every request a dry run whatever it says (the
	// local runner's -dry-run against a real account).
	ForceDryRun bool
	// DryRunsOnly refuses every request that is not a dry run
	// (DryRun.Required) before it reads or stops anything: the local runner
	// against a real account that nobody confirmed.
	DryRunsOnly bool
	// Sweep holds the defaults of a sweep request's unset fields.
	Sweep SweepDefaults
	// Notifier, when set, is told of every request that stopped something
	// or was refused by a sweep's limit; Metrics records every request.
	Notifier Notifier
	Metrics  Metrics
	// NotifyDryRun tells the Notifier of dry runs that would have stopped
	// something as well (STOPPER_NOTIFY_DRY_RUN).
	NotifyDryRun bool
	// FailFastMaxErrors is the fail-fast threshold of invocations without a
	// stopper:max-errors tag; zero watches only tagged ones.
	FailFastMaxErrors Threshold
	// Ledger is the instance's memory of its own stops and its turn for
	// sweeps (ledger.go), shared by every copy of the Function: one stop in
	// flight per invocation, none again within StopMemory, one sweep at a
	// time. nil coalesces nothing.
	Ledger *StopLedger
	Log    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SweepDefaults is the configured sweep: what a request's unset fields take,
// and the bounds its set fields must stay within (the rails, sweep.go).
type SweepDefaults struct {
	RegionIds []string
	// RestrictRegions makes RegionIds the only regions a request may name
	// (STOPPER_SWEEP_REGION_IDS was set); otherwise RegionIds is only the
	// default.
	RestrictRegions bool
	OlderThan       time.Duration
	CommandName     string
	Tags            map[string]string
	IncludePeriodic bool
	// MaxStops is the most invocations one sweep may stop; a sweep that
	// selects more stops none (Sweep.LimitExceeded). 0 is no limit.
	MaxStops int
	// Concurrency bounds the stops in flight at once.
	Concurrency int
	// Reserve is how much of the deadline a sweep keeps for finishing the
	// stops in flight and answering.
	Reserve time.Duration
}

// Handle carries out one request and returns the answer to render: a
// StopAnswer, a SweepAnswer or a FailFastAnswer on success, an error
// otherwise (an *Error, for errors.As).
func (f *Function) Handle(ctx context.Context, requestID string, req Request) (any, error) {
	if f.DryRunsOnly && !f.dryRun(req.requestedDryRun()) {
		e := &Error{Code: CodeDryRunRequired,
			Message: "only dry runs are allowed here, and this request is not one: nothing was read or stopped; " +
				`send it with "DryRun": true to see what it would stop`}
		f.logOutcome(ctx, requestID, req.Action(), e, f.now())
		return nil, e
	}
	switch {
	case req.Sweep != nil:
		a, err := f.RunSweep(ctx, requestID, *req.Sweep)
		if err != nil {
			return nil, err
		}
		return a, nil
	case req.FailFast != nil:
		a, err := f.FailFast(ctx, requestID, *req.FailFast)
		if err != nil {
			return nil, err
		}
		return a, nil
	case req.Stop != nil:
		a, err := f.Stop(ctx, requestID, *req.Stop)
		if err != nil {
			return nil, err
		}
		return a, nil
	}
	return nil, Invalid("Action", "the request names nothing to do")
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

func (f *Function) allowed(region string) error {
	if len(f.AllowedRegions) == 0 || slices.Contains(f.AllowedRegions, region) {
		return nil
	}
	return &Error{Code: CodeForbiddenRegion,
		Message: "region " + region + " is not in STOPPER_ALLOWED_REGIONS; add it there to act on it"}
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

// dryRun is whether a request is a dry run: forced, or as it says, or the
// configured default when it says nothing.
func (f *Function) dryRun(requested *bool) bool {
	if f.ForceDryRun {
		return true
	}
	if requested != nil {
		return *requested
	}
	return f.DryRun
}

// requestedDryRun is the DryRun the request itself gives, nil when it says
// nothing.
func (r Request) requestedDryRun() *bool {
	switch {
	case r.Sweep != nil:
		return r.Sweep.DryRun
	case r.FailFast != nil:
		return r.FailFast.DryRun
	case r.Stop != nil:
		return r.Stop.DryRun
	}
	return nil
}
