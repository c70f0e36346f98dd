package stopper

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// The sweep: scheduled cleanup that lists stale invocations with
// DescribeInvocations and stops them.
//
// Shape. One lister per region (concurrently) pages through its listings and
// streams the invocations it selects into a small bounded channel; a pool of
// Concurrency workers takes them from there and stops each one (all its
// instances), paced by an adaptive pacer (sweep_pacer.go). Nothing but the
// current page and the ids already seen is held, so the memory a sweep needs
// does not grow with the size of the fleet's pages.
//
// Listings. The API filters on one InvokeStatus per call, and a listing
// without a status filter walks every invocation of the last 30 days (almost
// all of them finished), so each region is listed with the filters that can
// only return active invocations:
//   - Timed=false, InvokeStatus Running, Pending and Scheduled: one-time
//     invocations (and periodic ones whose schedule is already over, which
//     are left alone: a stop would change nothing);
//   - Timed=true, no status filter, only when IncludePeriodic: the active
//     periodic and reboot invocations, which no Timed=false listing shows.
//
// CommandName and Tags are passed to the API and checked again on each
// invocation, as are status, age and periodicity.
//
// Deadline. stopBy = the context's deadline - Reserve. After stopBy no page
// is requested and no stop is started; stops in flight run to the real
// deadline (their context is not cancelled with the request's). Whatever was
// left makes the answer Truncated, so the next timer carries on.
//
// Failures. An invocation that cannot be stopped (InvalidInvokeId.NotFound
// because it ended meanwhile, any permanent code, a transient failure that
// outlived the client's retries) is one Failed entry and the others go on.
// Throttling is not a failure: the pacer slows down and the invocation is
// tried again (up to maxThrottleRetries, then it is Failed with the API's
// code); when the deadline comes first the invocation is simply not done and
// the answer is Truncated. A region whose listing fails is one Failed entry
// with an empty InvokeId; when the failure is transient (after the client's
// retries and the sweep's own) the answer is also Truncated, since part of
// the region was not looked at. An invocation whose CreationTime cannot be
// read is never stopped (its age is unknown) and is reported in Failed with
// the code InvalidCreationTime, so that it does not go unnoticed.

// Sweep limits and tuning that are not configuration.
const (
	// sweepPageSize is DescribeInvocations' largest page.
	sweepPageSize = cloudassistant.MaxResultsLimit
	// defaultSweepOlderThan applies when neither the request nor the
	// defaults give OlderThan (config always does: STOPPER_SWEEP_OLDER_THAN).
	defaultSweepOlderThan = 2 * time.Hour
	// defaultSweepConcurrency applies when SweepDefaults.Concurrency is unset.
	defaultSweepConcurrency = 8
	// maxThrottleRetries bounds how often one invocation is tried again after
	// the client gave up on throttling, for sweeps without a deadline.
	maxThrottleRetries = 20
	// throttleBackoff is the first wait of an invocation the API throttled
	// (doubling with each try, up to 64 times this).
	throttleBackoff = 25 * time.Millisecond
	// listRetries is how often a page whose listing failed transiently
	// (after the client's own retries) is tried again.
	listRetries = 3
	// CodeInvalidCreationTime reports an invocation whose CreationTime does
	// not parse: it is never stopped.
	CodeInvalidCreationTime = "InvalidCreationTime"
)

// creationLayout is how the API writes times (UTC, seconds).
const creationLayout = "2006-01-02T15:04:05Z"

// sweepPlan is a sweep request with every field resolved.
type sweepPlan struct {
	regions         []string
	olderThan       time.Duration
	cutoff          time.Time // created before this is stale
	commandName     string
	tags            map[string]string
	apiTags         []cloudassistant.Tag // sorted by key
	includePeriodic bool
	dryRun          bool
	concurrency     int
	reserve         time.Duration
}

// plan fills the request's unset fields from the defaults and checks the regions.
func (f *Function) plan(req SweepRequest) (sweepPlan, *Error) {
	d := f.Sweep
	p := sweepPlan{
		regions:         req.RegionIds,
		olderThan:       cmp.Or(req.OlderThan, d.OlderThan, defaultSweepOlderThan),
		commandName:     cmp.Or(req.CommandName, d.CommandName),
		tags:            req.Tags,
		includePeriodic: d.IncludePeriodic,
		dryRun:          f.DryRun,
		concurrency:     cmp.Or(max(d.Concurrency, 0), defaultSweepConcurrency),
		reserve:         max(d.Reserve, 0),
	}
	if p.regions == nil {
		p.regions = d.RegionIds
	}
	if len(p.regions) == 0 {
		return p, Missing("RegionIds", "Give RegionIds in the request, or set STOPPER_SWEEP_REGION_IDS (or STOPPER_REGION_ID) for sweeps that name none.")
	}
	p.regions = slices.Compact(slices.Sorted(slices.Values(p.regions)))
	for _, r := range p.regions {
		if e := f.allowed(r); e != nil {
			return p, e
		}
	}
	if p.tags == nil {
		p.tags = d.Tags
	}
	for _, k := range slices.Sorted(maps.Keys(p.tags)) {
		p.apiTags = append(p.apiTags, cloudassistant.Tag{TagKey: k, TagValue: p.tags[k]})
	}
	if req.IncludePeriodic != nil {
		p.includePeriodic = *req.IncludePeriodic
	}
	if req.DryRun != nil {
		p.dryRun = *req.DryRun
	}
	p.cutoff = f.now().Add(-p.olderThan)
	return p, nil
}

// sweepJob is one selected invocation on its way to being stopped.
type sweepJob struct {
	region, invokeID string
}

// sweep is the state of one running sweep.
type sweep struct {
	f     *Function
	plan  sweepPlan
	reqID string
	pace  *pacer

	// work is done at stopBy: no page is requested and no stop started after it.
	work context.Context
	// calls is the context of the stops: the request's values, not its
	// cancellation, and the real deadline.
	calls context.Context

	jobs chan sweepJob

	mu        sync.Mutex
	scanned   int
	matched   int
	stopped   []SweptInvoke
	failed    []FailedInvoke
	truncated bool
}

// RunSweep finds stale invocations and stops them (see the comment at the top
// of this file). Refusals of the whole sweep (no region, a region outside the
// allowlist) are errors; everything that happens to single regions and
// invocations is in the answer.
func (f *Function) RunSweep(ctx context.Context, requestID string, req SweepRequest) (SweepAnswer, *Error) {
	start := f.now()
	p, e := f.plan(req)
	if e != nil {
		f.logOutcome(ctx, requestID, ActionSweep, e, start, slog.Any("region_ids", p.regions))
		return SweepAnswer{}, e
	}

	s := &sweep{f: f, plan: p, reqID: requestID, pace: newPacer(),
		jobs: make(chan sweepJob, p.concurrency)}
	var cancelWork, cancelCalls context.CancelFunc
	if dl, ok := ctx.Deadline(); ok {
		s.work, cancelWork = context.WithDeadline(ctx, dl.Add(-p.reserve))
		s.calls, cancelCalls = context.WithDeadline(context.WithoutCancel(ctx), dl)
	} else {
		s.work, cancelWork = context.WithCancel(ctx)
		s.calls, cancelCalls = context.WithCancel(context.WithoutCancel(ctx))
	}
	s.calls = cloudassistant.WithThrottleNotice(s.calls, s.pace.throttled)
	defer cancelWork()
	defer cancelCalls()

	var listers sync.WaitGroup
	for _, region := range p.regions {
		listers.Go(func() { s.listRegion(region) })
	}
	go func() {
		listers.Wait()
		close(s.jobs)
	}()
	var workers sync.WaitGroup
	for range p.concurrency {
		workers.Go(s.runWorker)
	}
	workers.Wait()

	answer := s.answer()
	f.logOutcome(ctx, requestID, ActionSweep, nil, start,
		slog.Any("region_ids", p.regions), slog.Bool("dry_run", p.dryRun),
		slog.Int("scanned", answer.Scanned), slog.Int("matched", answer.Matched),
		slog.Int("stopped", len(answer.Stopped)), slog.Int("failed", len(answer.Failed)),
		slog.Bool("truncated", answer.Truncated), slog.Float64("stop_rate_limit", s.pace.current()))
	return answer, nil
}

func (s *sweep) answer() SweepAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	stopped := slices.Clone(s.stopped)
	if stopped == nil {
		stopped = []SweptInvoke{}
	}
	failed := slices.Clone(s.failed)
	if failed == nil {
		failed = []FailedInvoke{}
	}
	slices.SortFunc(stopped, func(a, b SweptInvoke) int {
		return cmp.Or(cmp.Compare(a.RegionId, b.RegionId), cmp.Compare(a.InvokeId, b.InvokeId))
	})
	slices.SortFunc(failed, func(a, b FailedInvoke) int {
		return cmp.Or(cmp.Compare(a.RegionId, b.RegionId), cmp.Compare(a.InvokeId, b.InvokeId))
	})
	return SweepAnswer{RequestId: s.reqID, Action: ActionSweep, DryRun: s.plan.dryRun,
		Scanned: s.scanned, Matched: s.matched, Stopped: stopped, Failed: failed, Truncated: s.truncated}
}

func (s *sweep) truncate() {
	s.mu.Lock()
	s.truncated = true
	s.mu.Unlock()
}

func (s *sweep) fail(region, invokeID string, e *Error) {
	s.mu.Lock()
	s.failed = append(s.failed, FailedInvoke{RegionId: region, InvokeId: invokeID, Code: e.Code, Message: e.Message})
	s.mu.Unlock()
	s.f.logger().LogAttrs(s.calls, slog.LevelWarn, "sweep: not stopped",
		slog.String("request_id", s.reqID), slog.String("region_id", region),
		slog.String("invoke_id", invokeID), slog.String("code", e.Code), slog.String("error", e.Message))
}

// sweepListing is one DescribeInvocations filter a region is listed with.
type sweepListing struct {
	timed  bool
	status string // "" is no status filter
}

func (s *sweep) listings() []sweepListing {
	l := []sweepListing{
		{false, cloudassistant.StatusRunning},
		{false, cloudassistant.StatusPending},
		{false, cloudassistant.StatusScheduled},
	}
	if s.plan.includePeriodic {
		l = append(l, sweepListing{timed: true})
	}
	return l
}

// listRegion runs a region's listings one after another and sends what it
// selects to the workers. Ids seen once are skipped (a page can repeat an
// item when the fleet changes between pages), so nothing is counted or
// stopped twice.
func (s *sweep) listRegion(region string) {
	seen := map[string]struct{}{}
	for _, l := range s.listings() {
		if !s.listOne(region, l, seen) {
			return
		}
	}
}

// listOne pages through one listing; false means the region is given up
// (failed or out of time).
func (s *sweep) listOne(region string, l sweepListing, seen map[string]struct{}) bool {
	req := cloudassistant.DescribeInvocationsRequest{
		RegionId: region, InvokeStatus: l.status, CommandName: s.plan.commandName,
		Timed: &l.timed, Tags: s.plan.apiTags, MaxResults: sweepPageSize,
	}
	tokens := map[string]struct{}{}
	for {
		resp, ok := s.page(req)
		if !ok {
			return false
		}
		var batch []sweepJob
		scanned := 0
		for i := range resp.Invocations.Invocation {
			inv := &resp.Invocations.Invocation[i]
			if _, dup := seen[inv.InvokeId]; dup {
				continue
			}
			seen[inv.InvokeId] = struct{}{}
			scanned++
			switch verdict, e := s.selects(inv, l.timed); {
			case e != nil:
				s.fail(region, inv.InvokeId, e)
			case verdict:
				batch = append(batch, sweepJob{region: region, invokeID: inv.InvokeId})
			}
		}
		s.mu.Lock()
		s.scanned += scanned
		s.mu.Unlock()
		for i, j := range batch {
			if !s.send(j) {
				// Out of time: the rest of this page is left for the next sweep.
				s.mu.Lock()
				s.matched += len(batch) - i
				s.truncated = true
				s.mu.Unlock()
				return false
			}
		}
		next := resp.NextToken
		if next == "" || len(resp.Invocations.Invocation) == 0 {
			return true
		}
		if _, loop := tokens[next]; loop {
			// An API that hands back a token twice would page forever.
			return true
		}
		tokens[next] = struct{}{}
		req.NextToken = next
	}
}

// send hands a selected invocation to the workers; false when the time for
// starting work is over.
func (s *sweep) send(j sweepJob) bool {
	if s.work.Err() != nil {
		return false
	}
	select {
	case s.jobs <- j:
		s.mu.Lock()
		s.matched++
		s.mu.Unlock()
		return true
	case <-s.work.Done():
		return false
	}
}

// page fetches one page, retrying transient failures a few times; false when
// the region is given up (reported in Failed, or out of time).
func (s *sweep) page(req cloudassistant.DescribeInvocationsRequest) (*cloudassistant.DescribeInvocationsResponse, bool) {
	delay := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if s.work.Err() != nil {
			s.truncate()
			return nil, false
		}
		resp, err := s.f.API.DescribeInvocations(s.work, req)
		if err == nil {
			return resp, true
		}
		if s.work.Err() != nil {
			s.truncate()
			return nil, false
		}
		e := AsError(err)
		if !e.Transient {
			s.fail(req.RegionId, "", e)
			return nil, false
		}
		if attempt >= listRetries || !sleep(s.work, delay) {
			s.fail(req.RegionId, "", e)
			s.truncate()
			return nil, false
		}
		delay *= 2
	}
}

// selects decides whether an invocation is stopped. An error means it cannot
// be judged (its CreationTime does not parse).
func (s *sweep) selects(inv *cloudassistant.Invocation, timedListing bool) (bool, *Error) {
	status := inv.InvocationStatus
	if status == "" {
		status = inv.InvokeStatus
	}
	switch status {
	case cloudassistant.StatusPending, cloudassistant.StatusRunning, cloudassistant.StatusScheduled:
	default:
		return false, nil
	}
	periodic := inv.Timed || (inv.RepeatMode != "" && inv.RepeatMode != cloudassistant.RepeatOnce)
	if periodic && (!s.plan.includePeriodic || !timedListing) {
		// Outside a Timed=true listing a periodic invocation's schedule is
		// already over: a stop would change nothing.
		return false, nil
	}
	if s.plan.commandName != "" && inv.CommandName != s.plan.commandName {
		return false, nil
	}
	for k, v := range s.plan.tags {
		if !hasTag(inv.Tags.Tag, k, v) {
			return false, nil
		}
	}
	created, err := time.Parse(creationLayout, inv.CreationTime)
	if err != nil {
		if created, err = time.Parse(time.RFC3339, inv.CreationTime); err != nil {
			return false, &Error{Code: CodeInvalidCreationTime,
				Message: "CreationTime " + truncate(inv.CreationTime) + " is not a time such as 2026-01-19T09:15:46Z: the invocation's age is unknown, so it was not stopped"}
		}
	}
	return created.Before(s.plan.cutoff), nil
}

// hasTag reports whether tags carry key with value; an empty value asks for
// the key whatever its value, as the API's Tag.N.Key filter without a value does.
func hasTag(tags []cloudassistant.Tag, key, value string) bool {
	for _, t := range tags {
		if t.TagKey == key && (value == "" || t.TagValue == value) {
			return true
		}
	}
	return false
}

// runWorker is one worker: it stops jobs until the listers are done.
func (s *sweep) runWorker() {
	for j := range s.jobs {
		s.handle(j)
	}
}

// handle stops one invocation, trying it again while the API throttles.
func (s *sweep) handle(j sweepJob) {
	if s.plan.dryRun {
		s.mu.Lock()
		s.stopped = append(s.stopped, SweptInvoke{RegionId: j.region, InvokeId: j.invokeID})
		s.mu.Unlock()
		return
	}
	for throttled := 0; ; throttled++ {
		if s.work.Err() != nil || s.pace.wait(s.work) != nil {
			// Out of time before it was started: left for the next sweep.
			s.truncate()
			return
		}
		began := time.Now()
		err := s.f.API.StopInvocation(s.calls, j.region, j.invokeID, nil)
		e := AsError(err)
		switch {
		case err == nil:
			s.pace.done(outcomeOK, time.Since(began))
			s.mu.Lock()
			s.stopped = append(s.stopped, SweptInvoke{RegionId: j.region, InvokeId: j.invokeID})
			s.mu.Unlock()
			s.f.logger().LogAttrs(s.calls, slog.LevelDebug, "sweep: stopped",
				slog.String("request_id", s.reqID), slog.String("region_id", j.region), slog.String("invoke_id", j.invokeID))
			return
		case cloudassistant.Throttling(e.Code) && throttled < maxThrottleRetries:
			s.pace.done(outcomeThrottled, time.Since(began))
			// Besides the pacer slowing everyone down, this invocation
			// waits a little before its next try, more each time.
			if !sleep(s.work, jitter(throttleBackoff<<min(throttled, 6))) {
				s.truncate()
				return
			}
			continue
		default:
			s.pace.done(outcomeOther, time.Since(began))
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				s.truncate()
			}
			s.fail(j.region, j.invokeID, e)
			return
		}
	}
}

// jitter is a uniform duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
