package stopper

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// The sweep: scheduled cleanup that lists stale invocations with
// DescribeInvocations and stops them. A stop may kill running work
// (stop.go), so the sweep is built to be safe by default.
//
// List first, then stop. Each region is listed completely before anything
// is stopped: whether the API's NextToken is a stable cursor or an offset
// into the current filtered listing is not documented, and with an offset a
// caller that stops invocations while paging through a status-filtered
// listing skips some on every page. Listing first also lets the stop limit
// apply before the first stop. Only what selection needs is kept: the ids
// seen (so nothing is counted or stopped twice) and the selected
// invocations (id, name, age, rule, instance counts), never the pages.
//
// Listings. The API filters on one InvokeStatus per call, and a listing
// without a status filter walks every invocation of the last four weeks, so
// each region is listed with the filters that can only return active
// invocations: Timed=false with InvokeStatus Pending, Scheduled, Running and
// Stopping, in that order (an invocation that moves on between two listings
// is then seen twice rather than missed; Stopping because an invocation
// whose only running instance is being stopped may still have pending
// ones), and Timed=true without a status, only with IncludePeriodic (the
// active periodic and reboot invocations, which no Timed=false listing
// shows). CommandName is sent as a filter. Tags are not: a Tag.N filter may
// match at most 1,000 resources, which a busy tag such as env=prod exceeds
// over four weeks; they are checked on each invocation instead. At most
// regionListers regions are listed at once.
//
// Selection, on each invocation: some instance still Pending, Scheduled or
// Running (one whose active instances are all Stopping already is not
// stopped again); not periodic unless IncludePeriodic; the command name and
// every tag; then its age against its stale age, which is its stopper:ttl
// tag when it has one (shorter or longer than OlderThan) and OlderThan
// otherwise. A stale invocation tagged stopper:protect, or one old by
// OlderThan whose stopper:ttl is longer, is Spared and listed as such, and
// so is one this instance stopped within StopMemory that has nothing
// pending left (ledger.go: "already stopped"; a long job whose running
// instances a stop let finish would otherwise be stopped by every sweep);
// one whose owner tag or CreationTime cannot be read is never stopped and
// is reported in Failed.
//
// Rails. A request narrows the configured sweep and never widens it (see
// plan), and a sweep (not a dry run) that selects more than its limit stops
// nothing and answers Sweep.LimitExceeded. The limit bounds one sweep;
// sweeps of one instance take turns (Function.Ledger), so that two timers
// that overlap never stop the same invocation twice. What bounds the
// sweeps of several instances is how many instances the platform runs at
// once (ReservedConcurrentExecutions on Lambda, the instance limit on FC:
// 5 in the deploy files).
//
// Stopping. A pool of Concurrency workers stops the selected invocations
// (all instances each), paced by an adaptive pacer (sweep_pacer.go). Each
// is read again (DescribeInvocations by InvokeId) just before its stop:
// one that ended, is gone or has every active instance Stopping by then is
// counted in NoLongerStoppable, one tagged stopper:protect meanwhile or
// stopped by another request of this instance is Spared. Throttling is not
// a failure: the pacer slows down and the invocation is tried again. A
// transient failure that outlived the client's retries is tried again too,
// a few times, while there is time. Anything else (any permanent code) is
// one Failed entry and the others go on.
//
// Accounts. With Function.Accounts set a sweep covers every listed
// account × region (accounts.go): an account's API is had at its first
// listing, and one that cannot be had (its role cannot be assumed) is
// listed under Skipped while the others go on. Listings and stops of all
// accounts share one bound, at most Concurrency API calls in flight, and
// each account has a pacer of its own, since quotas are per account: a
// throttled account is passed over while others have work (stopAll). The
// rails hold for the whole run: MaxStops counts the selection of every
// account together, and a sweep over it stops nothing anywhere.
//
// Deadline. stopBy = the context's deadline - Reserve. After stopBy no page
// is requested and no stop is started; stops in flight run to the real
// deadline (their context is not cancelled with the request's). Whatever was
// left makes the answer Truncated, so the next sweep carries on. A region
// whose listing fails is one Failed entry with an empty InvokeId; when the
// failure is transient the answer is Truncated too.

// Sweep limits and tuning that are not configuration.
const (
	// sweepPageSize is DescribeInvocations' largest page.
	sweepPageSize = cloudassistant.MaxResultsLimit
	// defaultSweepOlderThan applies when neither the request nor the
	// defaults give OlderThan (config always does: STOPPER_SWEEP_OLDER_THAN).
	defaultSweepOlderThan = 2 * time.Hour
	// defaultSweepConcurrency applies when SweepDefaults.Concurrency is unset.
	defaultSweepConcurrency = 8
	// regionListers bounds how many regions are listed at once.
	regionListers = 4
	// accountListersPerCall is how many (account, region) pairs are listed
	// at once per call a sweep over several accounts keeps in flight.
	accountListersPerCall = 8
	// maxThrottleRetries bounds how often one invocation is tried again after
	// the client gave up on throttling, for sweeps without a deadline.
	maxThrottleRetries = 20
	// throttleBackoff is the first wait of an invocation the API throttled
	// (doubling with each try, up to 64 times this).
	throttleBackoff = 25 * time.Millisecond
	// faultRetries is how often an invocation whose stop failed transiently
	// (after the client's own retries) is tried again while time is left.
	faultRetries = 3
	// listRetries is how often a page whose listing failed transiently
	// (after the client's own retries) is tried again.
	listRetries = 3
	// CodeInvalidCreationTime reports an invocation whose CreationTime does
	// not parse: it is never stopped.
	CodeInvalidCreationTime = "InvalidCreationTime"
	// CodeSweepLimitExceeded refuses a sweep that selected more invocations
	// than it may stop.
	CodeSweepLimitExceeded = "Sweep.LimitExceeded"
)

// faultBackoff is the first wait before a page or a stop that failed
// transiently is tried again (doubling). A variable only so that tests of
// what happens after the waits need not wait.
var faultBackoff = 200 * time.Millisecond

// creationLayout is how the API writes times (UTC, seconds).
const creationLayout = "2006-01-02T15:04:05Z"

// sweepPlan is a sweep request with every field resolved.
type sweepPlan struct {
	regions         []string
	olderThan       time.Duration
	now             time.Time
	commandName     string
	tags            map[string]string
	includePeriodic bool
	dryRun          bool
	maxStops        int // 0 is no limit
	concurrency     int
	reserve         time.Duration
}

// plan resolves a request against the configured sweep. A request may
// narrow the sweep, never widen it: a shorter OlderThan, IncludePeriodic
// when the configuration leaves periodic invocations alone, another
// CommandName than the configured one, a region outside
// STOPPER_SWEEP_REGION_IDS (when set) or a MaxStops above the configured
// one are refused naming the field; its Tags add to the configured ones.
func (f *Function) plan(req SweepRequest) (sweepPlan, error) {
	d := f.Sweep
	configured := cmp.Or(d.OlderThan, defaultSweepOlderThan)
	p := sweepPlan{
		regions:         req.RegionIds,
		olderThan:       cmp.Or(req.OlderThan, configured),
		now:             f.now(),
		commandName:     cmp.Or(d.CommandName, req.CommandName),
		includePeriodic: d.IncludePeriodic,
		dryRun:          f.dryRun(req.DryRun),
		maxStops:        max(d.MaxStops, 0),
		concurrency:     cmp.Or(max(d.Concurrency, 0), defaultSweepConcurrency),
		reserve:         max(d.Reserve, 0),
	}
	widens := func(field, format string, args ...any) error {
		return Invalid(field, "%s: a request may narrow the configured sweep, never widen it", fmt.Sprintf(format, args...))
	}
	if req.OlderThan != 0 && req.OlderThan < configured {
		return p, widens("OlderThan", "%s is shorter than STOPPER_SWEEP_OLDER_THAN (%s)", req.OlderThan, configured)
	}
	if req.IncludePeriodic != nil && *req.IncludePeriodic && !d.IncludePeriodic {
		return p, widens("IncludePeriodic", "periodic invocations are left alone by STOPPER_SWEEP_INCLUDE_PERIODIC=false")
	}
	if req.IncludePeriodic != nil {
		p.includePeriodic = *req.IncludePeriodic
	}
	if d.CommandName != "" && req.CommandName != "" && req.CommandName != d.CommandName {
		return p, widens("CommandName", "%q is not STOPPER_SWEEP_COMMAND_NAME (%q)", truncate(req.CommandName), d.CommandName)
	}
	if req.MaxStops != 0 {
		if p.maxStops != 0 && req.MaxStops > p.maxStops {
			return p, widens("MaxStops", "%d is above STOPPER_SWEEP_MAX_STOPS (%d)", req.MaxStops, p.maxStops)
		}
		p.maxStops = req.MaxStops
	}
	if p.regions == nil {
		p.regions = d.RegionIds
	} else if d.RestrictRegions {
		for _, r := range p.regions {
			if !slices.Contains(d.RegionIds, r) {
				return p, widens("RegionIds", "%s is not in STOPPER_SWEEP_REGION_IDS (%s)", r, strings.Join(d.RegionIds, ","))
			}
		}
	}
	if len(p.regions) == 0 {
		return p, Missing("RegionIds", "Give RegionIds in the request, or set STOPPER_SWEEP_REGION_IDS (or STOPPER_REGION_ID) for sweeps that name none.")
	}
	p.regions = slices.Compact(slices.Sorted(slices.Values(p.regions)))
	if len(p.regions) > MaxRegions {
		return p, Invalid("RegionIds", "names %d regions; at most %d are swept at once", len(p.regions), MaxRegions)
	}
	for _, r := range p.regions {
		if e := f.allowed(r); e != nil {
			return p, e
		}
	}
	tags, e := mergeTags(d.Tags, req.Tags)
	if e != nil {
		return p, e
	}
	p.tags = tags
	return p, nil
}

// mergeTags adds a request's tag conditions to the configured ones. An
// empty value asks for the key with any value, so a request may give a
// value the configuration leaves open, but not another value than the
// configured one (no invocation could match both).
func mergeTags(configured, requested map[string]string) (map[string]string, error) {
	tags := maps.Clone(configured)
	if tags == nil {
		tags = map[string]string{}
	}
	for _, k := range slices.Sorted(maps.Keys(requested)) {
		v := requested[k]
		have, ok := tags[k]
		switch {
		case !ok || have == "":
			tags[k] = v
		case v != "" && v != have:
			return nil, Invalid("Tags", "%s=%q conflicts with STOPPER_SWEEP_TAGS %s=%q: no invocation could match both", truncate(k), truncate(v), k, have)
		}
	}
	if len(tags) > MaxTags {
		return nil, Invalid("Tags", "with STOPPER_SWEEP_TAGS makes %d tag conditions; at most %d are allowed", len(tags), MaxTags)
	}
	return tags, nil
}

// candidate is one selected invocation on its way to being stopped.
type candidate struct {
	acct   *sweepAccount
	region string
	timed  bool // listed with Timed=true
	swept  SweptInvoke
}

// sweepAccount is one account a sweep covers: its API, had once (the
// first listing of the account asks for it), and its own pacer, since
// quotas are per account.
type sweepAccount struct {
	id       string // "" with Function.Accounts nil
	once     sync.Once
	resolved atomic.Bool    // once has run
	api      CloudAssistant // nil when the account is skipped
	pace     *pacer
	// calls is the sweep's calls, rereads its work (the context of the
	// reads just before each stop), each telling this account's pacer of
	// throttling (each stop costs a read as well).
	calls, rereads context.Context
}

// sweep is the state of one running sweep.
type sweep struct {
	f        *Function
	plan     sweepPlan
	reqID    string
	accounts []*sweepAccount
	// slots bounds the API calls in flight over every account (nil: the
	// workers' number bounds them, with one account).
	slots chan struct{}

	// work is done at stopBy: no page is requested and no stop started after it.
	work context.Context
	// calls is the context of the stops: the request's values, not its
	// cancellation, and the real deadline.
	calls context.Context

	mu                sync.Mutex
	scanned           int
	selected          []candidate
	stopped           []SweptInvoke
	spared            []SparedInvoke
	failed            []FailedInvoke
	skipped           []SkippedAccount
	noLongerStoppable int
	truncated         bool
}

// RunSweep finds stale invocations and stops them (see the comment at the top
// of this file). Refusals of the whole sweep (no region, a region outside the
// allowlist, a request that widens the sweep, more selected than the limit)
// are errors; everything that happens to single regions and invocations is
// in the answer.
func (f *Function) RunSweep(ctx context.Context, requestID string, req SweepRequest) (SweepAnswer, error) {
	start := f.now()
	p, err := f.plan(req)
	if err != nil {
		e := AsError(err)
		f.logOutcome(ctx, requestID, ActionSweep, e, start, slog.Any("region_ids", p.regions))
		return SweepAnswer{}, e
	}

	ids := []string{""}
	if f.Accounts != nil {
		if ids, err = f.Accounts.List(ctx); err != nil {
			e := AsError(err)
			f.logOutcome(ctx, requestID, ActionSweep, e, start, slog.Any("region_ids", p.regions))
			return SweepAnswer{}, e
		}
	}
	s := &sweep{f: f, plan: p, reqID: requestID}
	var cancelWork, cancelCalls context.CancelFunc
	if dl, ok := ctx.Deadline(); ok {
		s.work, cancelWork = context.WithDeadline(ctx, dl.Add(-p.reserve))
		s.calls, cancelCalls = context.WithDeadline(context.WithoutCancel(ctx), dl)
	} else {
		s.work, cancelWork = context.WithCancel(ctx)
		s.calls, cancelCalls = context.WithCancel(context.WithoutCancel(ctx))
	}
	s.accounts = make([]*sweepAccount, 0, len(ids))
	for _, id := range ids {
		a := &sweepAccount{id: id, pace: newPacer()}
		a.calls = cloudassistant.WithPacer(s.calls, a.pace.throttled)
		a.rereads = cloudassistant.WithPacer(s.work, a.pace.throttled)
		if f.Accounts == nil {
			a.api = f.API
			a.once.Do(func() {})
		}
		s.accounts = append(s.accounts, a)
	}
	if f.Accounts != nil {
		s.slots = make(chan struct{}, p.concurrency)
	}
	defer cancelWork()
	defer cancelCalls()

	release, ok := f.Ledger.sweepTurn(s.work)
	if !ok {
		// Another sweep of this instance held the turn until this one's
		// time for starting work: the next sweep carries on.
		s.truncated = true
		f.logger().LogAttrs(ctx, slog.LevelWarn, "sweep: waited for another sweep of this instance until the deadline: nothing listed or stopped",
			slog.String("request_id", requestID), slog.Duration("waited", f.now().Sub(start)))
		answer := s.answer()
		f.logOutcome(ctx, requestID, ActionSweep, nil, start, append(s.accountsAttrs(),
			slog.Any("region_ids", p.regions), slog.Bool("dry_run", p.dryRun), slog.Bool("truncated", true))...)
		return answer, nil
	}
	defer release()

	s.list()
	if e := s.checkLimit(); e != nil {
		f.logOutcome(ctx, requestID, ActionSweep, e, start, append(s.accountsAttrs(),
			slog.Any("region_ids", p.regions), slog.Int("scanned", s.scanned), slog.Int("matched", len(s.selected)),
			slog.Int("max_stops", p.maxStops))...)
		return SweepAnswer{}, e
	}
	s.stopAll()

	answer := s.answer()
	attrs := append(s.accountsAttrs(),
		slog.Any("region_ids", p.regions), slog.Bool("dry_run", p.dryRun),
		slog.Int("scanned", answer.Scanned), slog.Int("matched", answer.Matched),
		slog.Int(stopKey(p.dryRun), len(answer.Stopped)+len(answer.WouldStop)), slog.Int("spared", len(answer.Spared)),
		slog.Int("no_longer_stoppable", answer.NoLongerStoppable),
		slog.Int("failed", len(answer.Failed)), slog.Bool("truncated", answer.Truncated))
	if f.Accounts == nil {
		attrs = append(attrs, slog.Float64("stop_rate_limit", s.accounts[0].pace.current()))
	}
	f.logOutcome(ctx, requestID, ActionSweep, nil, start, attrs...)
	return answer, nil
}

// accountsAttrs is the sweep's log fields about accounts: how many it
// covers and how many it skipped; none with Function.Accounts nil.
func (s *sweep) accountsAttrs() []slog.Attr {
	if s.f.Accounts == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return []slog.Attr{slog.Int("accounts", len(s.accounts)), slog.Int("skipped", len(s.skipped))}
}

// checkLimit refuses a sweep that selected more invocations than it may
// stop: it stops none of them, since a selection that large more likely
// means a wrong setting or an incident than a backlog. A dry run is never
// refused (it is how the selection is inspected).
func (s *sweep) checkLimit() *Error {
	n := len(s.selected)
	if s.plan.dryRun || s.plan.maxStops == 0 || n <= s.plan.maxStops {
		return nil
	}
	perRegion := map[string]int{}
	for _, c := range s.selected {
		where := c.region
		if c.acct.id != "" {
			where = c.acct.id + "/" + c.region
		}
		perRegion[where]++
	}
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(perRegion)) {
		parts = append(parts, fmt.Sprintf("%s %d", r, perRegion[r]))
	}
	truncated := ""
	if s.truncated {
		truncated = " (the listing did not finish: there may be more)"
	}
	return &Error{Code: CodeSweepLimitExceeded,
		Message: fmt.Sprintf("the sweep selected %d invocations (%s)%s, more than its limit of %d: nothing was stopped. "+
			"Run it with \"DryRun\": true to see them, narrow it (OlderThan, CommandName, Tags, RegionIds), "+
			"protect long jobs with the stopper:protect or stopper:ttl tags, or raise STOPPER_SWEEP_MAX_STOPS",
			n, strings.Join(parts, ", "), truncated, s.plan.maxStops)}
}

func (s *sweep) answer() SweepAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	byRegionID := func(a1, r1, i1, a2, r2, i2 string) int {
		return cmp.Or(cmp.Compare(a1, a2), cmp.Compare(r1, r2), cmp.Compare(i1, i2))
	}
	// Stopped, or in a dry run WouldStop: the selection.
	var listed []SweptInvoke
	if s.plan.dryRun {
		listed = make([]SweptInvoke, 0, len(s.selected))
		for _, c := range s.selected {
			listed = append(listed, c.swept)
		}
	} else {
		listed = orEmpty(slices.Clone(s.stopped))
	}
	slices.SortFunc(listed, func(a, b SweptInvoke) int {
		return byRegionID(a.AccountId, a.RegionId, a.InvokeId, b.AccountId, b.RegionId, b.InvokeId)
	})
	spared := orEmpty(slices.Clone(s.spared))
	slices.SortFunc(spared, func(a, b SparedInvoke) int {
		return byRegionID(a.AccountId, a.RegionId, a.InvokeId, b.AccountId, b.RegionId, b.InvokeId)
	})
	failed := orEmpty(slices.Clone(s.failed))
	slices.SortFunc(failed, func(a, b FailedInvoke) int {
		return byRegionID(a.AccountId, a.RegionId, a.InvokeId, b.AccountId, b.RegionId, b.InvokeId)
	})
	matched, matchedAt := map[string]int{}, map[Place]int{}
	for _, c := range s.selected {
		matched[c.region]++
		matchedAt[Place{AccountId: c.acct.id, RegionId: c.region}]++
	}
	a := SweepAnswer{RequestId: s.reqID, Action: ActionSweep, DryRun: s.plan.dryRun,
		Scanned: s.scanned, Matched: len(s.selected), Spared: spared, NoLongerStoppable: s.noLongerStoppable,
		Failed: failed, Truncated: s.truncated, matchedByRegion: matched, matchedAt: matchedAt}
	if s.f.Accounts != nil {
		a.Skipped = slices.Clone(s.skipped)
		slices.SortFunc(a.Skipped, func(x, y SkippedAccount) int { return cmp.Compare(x.AccountId, y.AccountId) })
		a.Skipped = orEmpty(a.Skipped)
	}
	if s.plan.dryRun {
		a.WouldStop = listed
	} else {
		a.Stopped = listed
	}
	return a
}

// orEmpty makes a nil list an empty one: answers show [] rather than null.
func orEmpty[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

func (s *sweep) truncate() {
	s.mu.Lock()
	s.truncated = true
	s.mu.Unlock()
}

func (s *sweep) fail(acct *sweepAccount, region, invokeID string, e *Error) {
	s.mu.Lock()
	s.failed = append(s.failed, FailedInvoke{AccountId: acct.id, RegionId: region, InvokeId: invokeID, Code: e.Code, Message: e.Message, transient: e.Transient})
	s.mu.Unlock()
	s.f.logger().LogAttrs(s.calls, slog.LevelWarn, "sweep: not stopped", append(accountAttrs(acct.id),
		slog.String("request_id", s.reqID), slog.String("region_id", region),
		slog.String("invoke_id", invokeID), slog.String("code", e.Code), slog.String("error", e.Message))...)
}

// resolve has the account's API, once; false when the account is skipped
// (listed in Skipped) or the time for starting work ran out.
func (s *sweep) resolve(a *sweepAccount) bool {
	a.once.Do(func() {
		api, err := s.f.Accounts.API(s.work, a.id)
		if err == nil {
			a.api = api
			return
		}
		if s.work.Err() != nil {
			s.truncate()
			return
		}
		e := AsError(err)
		s.mu.Lock()
		s.skipped = append(s.skipped, SkippedAccount{AccountId: a.id, Code: e.Code, Message: e.Message, transient: e.Transient})
		s.mu.Unlock()
		s.f.logger().LogAttrs(s.calls, slog.LevelWarn, "sweep: account skipped",
			slog.String("request_id", s.reqID), slog.String("account_id", a.id),
			slog.String("code", e.Code), slog.String("error", e.Message))
	})
	a.resolved.Store(true)
	return a.api != nil
}

// call runs one API call within the bound on calls in flight over every
// account; false, without the call, when ctx ended while waiting for room.
func (s *sweep) call(ctx context.Context, do func()) bool {
	if s.slots != nil {
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return false
		}
		defer func() { <-s.slots }()
	}
	do()
	return true
}

// sweepListing is one DescribeInvocations filter a region is listed with.
type sweepListing struct {
	timed  bool
	status string // "" is no status filter
}

func (s *sweep) listings() []sweepListing {
	l := []sweepListing{
		{false, cloudassistant.StatusPending},
		{false, cloudassistant.StatusScheduled},
		{false, cloudassistant.StatusRunning},
		{false, cloudassistant.StatusStopping},
	}
	if s.plan.includePeriodic {
		l = append(l, sweepListing{timed: true})
	}
	return l
}

// list lists every account's regions and selects: at most regionListers
// regions at once in the function's only account; with several accounts,
// see listAccounts.
func (s *sweep) list() {
	if s.f.Accounts != nil {
		s.listAccounts()
		return
	}
	acct := s.accounts[0]
	regions := make(chan string)
	var wg sync.WaitGroup
	for range min(regionListers, len(s.plan.regions)) {
		wg.Go(func() {
			for region := range regions {
				if s.resolve(acct) {
					s.listRegion(acct, region)
				}
			}
		})
	}
feed:
	for _, region := range s.plan.regions {
		select {
		case regions <- region:
		case <-s.work.Done():
			s.truncate()
			break feed
		}
	}
	close(regions)
	wg.Wait()
}

// listAccounts lists every (account, region), with at most Concurrency
// calls in flight over all of them (call):
//   - each account's role is assumed ahead of its listings, a few accounts
//     at a time, so that STS's answers and the listings of the accounts
//     already had overlap instead of taking turns;
//   - the (account, region) pairs are taken region by region across the
//     accounts (so that no account's quota takes every lister at once),
//     those of accounts already had first;
//   - each lister goes at most at its account's quota, which the function
//     is not told, so there are listers enough that Concurrency calls stay
//     in flight even when every account allows only a few a second.
func (s *sweep) listAccounts() {
	var wg sync.WaitGroup
	accts := make(chan *sweepAccount)
	for range min(s.plan.concurrency, len(s.accounts)) {
		wg.Go(func() {
			for a := range accts {
				s.resolve(a)
			}
		})
	}
	wg.Go(func() {
		defer close(accts)
		for _, a := range s.accounts {
			select {
			case accts <- a:
			case <-s.work.Done():
				return
			}
		}
	})
	q := &placeQueue{}
	for _, region := range s.plan.regions {
		for _, a := range s.accounts {
			q.items = append(q.items, place{a, region})
		}
	}
	for range min(accountListersPerCall*s.plan.concurrency, len(q.items)) {
		wg.Go(func() {
			for {
				if s.work.Err() != nil {
					if q.len() > 0 {
						s.truncate()
					}
					return
				}
				p, ok := q.next()
				if !ok {
					return
				}
				if s.resolve(p.acct) {
					s.listRegion(p.acct, p.region)
				}
			}
		})
	}
	wg.Wait()
}

// place is one account's region, to be listed.
type place struct {
	acct   *sweepAccount
	region string
}

// placeQueue hands out places in order, those of accounts already had (or
// skipped) first: a lister waits on an account's role only when no other
// place is ready.
type placeQueue struct {
	mu    sync.Mutex
	items []place
}

func (q *placeQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

func (q *placeQueue) next() (place, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return place{}, false
	}
	i := slices.IndexFunc(q.items, func(p place) bool { return p.acct.resolved.Load() })
	if i < 0 {
		i = 0
	}
	p := q.items[i]
	q.items = slices.Delete(q.items, i, i+1)
	return p, true
}

// listRegion runs a region's listings one after another. Ids seen once are
// skipped (an invocation can move from one listing to the next, and a page
// can repeat an item), so nothing is counted, selected or stopped twice.
func (s *sweep) listRegion(acct *sweepAccount, region string) {
	seen := map[string]struct{}{}
	for _, l := range s.listings() {
		if !s.listOne(acct, region, l, seen) {
			return
		}
	}
}

// listOne pages through one listing; false means the region is given up
// (failed or out of time).
func (s *sweep) listOne(acct *sweepAccount, region string, l sweepListing, seen map[string]struct{}) bool {
	req := cloudassistant.DescribeInvocationsRequest{
		RegionId: region, InvokeStatus: l.status, CommandName: s.plan.commandName,
		Timed: &l.timed, MaxResults: sweepPageSize,
	}
	tokens := map[string]struct{}{}
	for {
		read := s.f.Ledger.clock()
		resp, ok := s.describe(acct, s.work, req)
		if !ok {
			return false
		}
		scanned := 0
		for i := range resp.Invocations.Invocation {
			inv := &resp.Invocations.Invocation[i]
			if _, dup := seen[inv.InvokeId]; dup {
				continue
			}
			seen[inv.InvokeId] = struct{}{}
			scanned++
			s.judge(acct, region, inv, l.timed, read)
		}
		s.mu.Lock()
		s.scanned += scanned
		s.mu.Unlock()
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

// describe fetches one page of a listing, or with req.InvokeId one
// invocation; false when it is given up (reported in Failed, for the region
// or for the invocation, or out of time). A transient failure that
// outlived the client's retries is tried again a few times; throttling, as
// for stops, is waited out while there is time (a listing the API pushes
// back on is busy, not broken, and a sweep that lists first cannot do
// without it).
func (s *sweep) describe(acct *sweepAccount, ctx context.Context, req cloudassistant.DescribeInvocationsRequest) (*cloudassistant.DescribeInvocationsResponse, bool) {
	faults, throttled := 0, 0
	for {
		if s.work.Err() != nil {
			s.truncate()
			return nil, false
		}
		var resp *cloudassistant.DescribeInvocationsResponse
		var err error
		callCtx := ctx
		if s.slots != nil {
			// A throttled listing waits below, without its call slot.
			callCtx = cloudassistant.WithThrottleHandBack(ctx)
		}
		if !s.call(s.work, func() { resp, err = acct.api.DescribeInvocations(callCtx, req) }) {
			s.truncate()
			return nil, false
		}
		if err == nil {
			return resp, true
		}
		if s.work.Err() != nil {
			s.truncate()
			return nil, false
		}
		e := AsError(err)
		var wait time.Duration
		switch {
		case !e.Transient:
			s.fail(acct, req.RegionId, req.InvokeId, e)
			return nil, false
		case cloudassistant.Throttling(e.Code) && throttled < maxThrottleRetries:
			wait = jitter(throttleBackoff << min(throttled, 6))
			throttled++
		case !cloudassistant.Throttling(e.Code) && faults < listRetries:
			wait = faultBackoff << faults
			faults++
		default:
			s.fail(acct, req.RegionId, req.InvokeId, e)
			s.truncate()
			return nil, false
		}
		if !sleep(s.work, wait) {
			s.fail(acct, req.RegionId, req.InvokeId, e)
			s.truncate()
			return nil, false
		}
	}
}

// judge applies the selection to one listed invocation, read at read, and
// records the verdict: selected, spared, failed (cannot be judged), or
// nothing.
func (s *sweep) judge(acct *sweepAccount, region string, inv *cloudassistant.Invocation, timedListing bool, read time.Time) {
	c := countInstances(inv.InvokeInstances.InvokeInstance)
	if !c.stoppable(inv) {
		// Ended, or every active instance already Stopping.
		return
	}
	periodic := inv.Timed || (inv.RepeatMode != "" && inv.RepeatMode != cloudassistant.RepeatOnce)
	if periodic && (!s.plan.includePeriodic || !timedListing) {
		// Outside a Timed=true listing a periodic invocation's schedule is
		// already over: a stop would change nothing.
		return
	}
	if s.plan.commandName != "" && inv.CommandName != s.plan.commandName {
		return
	}
	for k, v := range s.plan.tags {
		if !hasTag(inv.Tags.Tag, k, v) {
			return
		}
	}
	created, err := time.Parse(creationLayout, inv.CreationTime)
	if err != nil {
		if created, err = time.Parse(time.RFC3339, inv.CreationTime); err != nil {
			s.fail(acct, region, inv.InvokeId, &Error{Code: CodeInvalidCreationTime,
				Message: "CreationTime " + truncate(inv.CreationTime) + " is not a time such as 2026-01-19T09:15:46Z: the invocation's age is unknown, so it was not stopped"})
			return
		}
	}
	age := s.plan.now.Sub(created)
	owner := readOwnerTags(inv.Tags.Tag)
	limit, rule := s.plan.olderThan, "OlderThan="+s.plan.olderThan.String()
	if owner.ttl > 0 {
		limit, rule = owner.ttl, TagTTL+"="+tagValue(inv.Tags.Tag, TagTTL)
	}
	var spared string
	switch {
	case owner.protect:
		// Protection wins over everything else, a bad tag included.
		if age > limit {
			spared = TagProtect
		}
	case owner.ttlErr != nil:
		s.fail(acct, region, inv.InvokeId, owner.ttlErr)
		return
	case age > s.plan.olderThan && age <= limit:
		spared = rule
	case age > limit && s.f.Ledger.alreadyStopped(accountKeyOf(acct.id, region, inv.InvokeId, nil), read, c.pending > 0):
		// Not selected, so not counted against the limit either.
		spared = ReasonAlreadyStopped
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case spared != "":
		s.spared = append(s.spared, SparedInvoke{AccountId: acct.id, RegionId: region, InvokeId: inv.InvokeId, CommandName: inv.CommandName, Reason: spared})
	case !owner.protect && age > limit:
		s.selected = append(s.selected, candidate{acct: acct, region: region, timed: timedListing, swept: SweptInvoke{
			AccountId: acct.id, RegionId: region, InvokeId: inv.InvokeId, CommandName: inv.CommandName, CreationTime: inv.CreationTime,
			Rule: rule, Pending: c.pending, Running: c.running}})
	}
}

// tagValue is a tag's value as the owner wrote it.
func tagValue(tags []cloudassistant.Tag, key string) string {
	for _, t := range tags {
		if t.TagKey == key {
			return strings.TrimSpace(t.TagValue)
		}
	}
	return ""
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

// stopAll stops the selected invocations; in a dry run it does nothing
// (the answer lists the selection as WouldStop). In the function's only
// account Concurrency workers take them in turn; with several accounts
// twice as many workers take them account by account (sweep_lanes.go),
// passing over an account whose pacer has no slot yet, with at most
// Concurrency calls in flight (call): a worker waiting out one account's
// throttling holds no call, and the others go on.
func (s *sweep) stopAll() {
	if s.plan.dryRun {
		return
	}
	for _, a := range s.accounts {
		a.pace.start()
	}
	workers := s.plan.concurrency
	if s.f.Accounts != nil {
		workers *= 2
	}
	work := newLanes(s.selected)
	var wg sync.WaitGroup
	for range min(workers, max(len(s.selected), 1)) {
		wg.Go(func() {
			for {
				c, ok := work.next(s.work)
				if !ok {
					return
				}
				s.handle(c)
			}
		})
	}
	wg.Wait()
	if work.left() > 0 {
		// Out of time: the rest is left for the next sweep.
		s.truncate()
	}
}

// handle reads one selected invocation again and stops it if it still
// should be, once (the ledger), trying the stop again while the API
// throttles and, a few times, after a transient failure.
func (s *sweep) handle(c candidate) {
	read := s.f.Ledger.clock()
	inv, ok := s.reread(c)
	if !ok {
		return
	}
	var counts instanceCounts
	if inv != nil {
		counts = countInstances(inv.InvokeInstances.InvokeInstance)
	}
	switch {
	case inv == nil || !counts.stoppable(inv):
		s.mu.Lock()
		s.noLongerStoppable++
		s.mu.Unlock()
		s.f.logger().LogAttrs(s.calls, slog.LevelDebug, "sweep: no longer stoppable", append(accountAttrs(c.acct.id),
			slog.String("request_id", s.reqID), slog.String("region_id", c.region), slog.String("invoke_id", c.swept.InvokeId))...)
		return
	case readOwnerTags(inv.Tags.Tag).protect:
		s.spare(c, TagProtect)
		return
	}
	c.swept.Pending, c.swept.Running = counts.pending, counts.running
	already, done, err := s.f.Ledger.claim(s.work, accountKeyOf(c.acct.id, c.region, c.swept.InvokeId, nil), read, counts.pending > 0)
	switch {
	case err != nil:
		// Out of time waiting for another request's stop of it.
		s.truncate()
		return
	case already:
		s.spare(c, ReasonAlreadyStopped)
		return
	}
	stopped := s.stop(c)
	done(stopped)
	if stopped {
		s.mu.Lock()
		s.stopped = append(s.stopped, c.swept)
		s.mu.Unlock()
		s.f.logger().LogAttrs(s.calls, slog.LevelDebug, "sweep: stopped", append(accountAttrs(c.acct.id),
			slog.String("request_id", s.reqID), slog.String("region_id", c.region), slog.String("invoke_id", c.swept.InvokeId),
			slog.String("rule", c.swept.Rule), slog.Int("pending", c.swept.Pending), slog.Int("running", c.swept.Running))...)
	}
}

// reread reads a selected invocation again, in the listing it was found
// in; nil (and true) when it is no longer there: ended, or gone. false when
// the read failed or time ran out (reported).
func (s *sweep) reread(c candidate) (*cloudassistant.Invocation, bool) {
	resp, ok := s.describe(c.acct, c.acct.rereads, cloudassistant.DescribeInvocationsRequest{
		RegionId: c.region, InvokeId: c.swept.InvokeId, Timed: &c.timed, MaxResults: 1})
	if !ok {
		return nil, false
	}
	for i := range resp.Invocations.Invocation {
		if inv := &resp.Invocations.Invocation[i]; inv.InvokeId == c.swept.InvokeId {
			return inv, true
		}
	}
	return nil, true
}

func (s *sweep) spare(c candidate, reason string) {
	s.mu.Lock()
	s.spared = append(s.spared, SparedInvoke{AccountId: c.acct.id, RegionId: c.region, InvokeId: c.swept.InvokeId, CommandName: c.swept.CommandName, Reason: reason})
	s.mu.Unlock()
}

// stop sends one stop, trying it again while the API throttles and, a few
// times, after a transient failure; false when it was not sent (reported,
// or out of time).
func (s *sweep) stop(c candidate) bool {
	faults := 0
	pace := c.acct.pace
	for throttled := 0; ; {
		if s.work.Err() != nil || pace.wait(s.work) != nil {
			// Out of time before it was started: left for the next sweep.
			s.truncate()
			return false
		}
		var began time.Time
		var err error
		if !s.call(s.work, func() {
			began = time.Now()
			err = c.acct.api.StopInvocation(c.acct.calls, c.region, c.swept.InvokeId, nil)
		}) {
			s.truncate()
			return false
		}
		e := AsError(err)
		switch {
		case err == nil:
			pace.done(outcomeOK, time.Since(began))
			return true
		case cloudassistant.Throttling(e.Code) && throttled < maxThrottleRetries:
			pace.done(outcomeThrottled, time.Since(began))
			// Besides the pacer slowing everyone down, this invocation
			// waits a little before its next try, more each time.
			if !sleep(s.work, jitter(throttleBackoff<<min(throttled, 6))) {
				s.truncate()
				return false
			}
			throttled++
		case e.Transient && !cloudassistant.Throttling(e.Code) && faults < faultRetries && !ctxEnded(err):
			// The client's own retries ran out on a fault (5xx, a dropped
			// connection); with time left it is worth another round rather
			// than a Failed entry. Stops are idempotent: a stop that was
			// applied but whose answer was lost succeeds again.
			pace.done(outcomeOther, time.Since(began))
			if !sleep(s.work, jitter(faultBackoff<<faults)) {
				s.fail(c.acct, c.region, c.swept.InvokeId, e)
				s.truncate()
				return false
			}
			faults++
		default:
			pace.done(outcomeOther, time.Since(began))
			if ctxEnded(err) {
				s.truncate()
			}
			s.fail(c.acct, c.region, c.swept.InvokeId, e)
			return false
		}
	}
}

func ctxEnded(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
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
