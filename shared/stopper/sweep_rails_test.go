package stopper

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/fakeapi"
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// Every region of a sweep is held to STOPPER_ALLOWED_REGIONS, wherever it
// sorts among the others (the plan sorts them), whether the request or the
// configuration names it; a refused sweep lists and stops nothing.
func TestSweepAllowlistHoldsForEveryRegion(t *testing.T) {
	allowed := []string{"cn-beijing", "cn-hangzhou", "cn-shanghai"}
	for _, tc := range []struct {
		name              string
		requested         []string // the request's RegionIds; nil sweeps the configured ones
		configured        []string
		restrict          bool // STOPPER_SWEEP_REGION_IDS set
		forbidden         string
		forbiddenPosition string // where the forbidden region sorts, for the record
	}{
		{name: "request, forbidden sorts first", requested: []string{"cn-hangzhou", "ap-southeast-1"}, forbidden: "ap-southeast-1", forbiddenPosition: "first"},
		{name: "request, forbidden sorts in the middle", requested: []string{"cn-shanghai", "cn-beijing", "cn-guangzhou"}, forbidden: "cn-guangzhou", forbiddenPosition: "middle"},
		{name: "request, forbidden sorts last", requested: []string{"cn-hangzhou", "us-west-1", "cn-beijing"}, forbidden: "us-west-1", forbiddenPosition: "last"},
		{name: "configured, forbidden sorts last", configured: []string{"cn-hangzhou", "us-west-1"}, restrict: true, forbidden: "us-west-1", forbiddenPosition: "last"},
		{name: "configured, forbidden sorts last, request names none", configured: []string{"cn-beijing", "cn-hangzhou", "eu-central-1"}, forbidden: "eu-central-1", forbiddenPosition: "last"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fleet []ca.Invocation
			for _, r := range append(slices.Clone(tc.requested), tc.configured...) {
				fleet = append(fleet, inv("t-old-"+r, 3*time.Hour, ca.StatusRunning, inRegion(r)))
			}
			api := newFake(fleet...)
			fn := testFunction(api, &bytes.Buffer{})
			fn.AllowedRegions = allowed
			if tc.configured != nil {
				fn.Sweep.RegionIds, fn.Sweep.RestrictRegions = tc.configured, tc.restrict
			}
			regions := slices.Sorted(slices.Values(append(slices.Clone(tc.requested), tc.configured...)))
			position := "middle"
			switch slices.Index(regions, tc.forbidden) {
			case 0:
				position = "first"
			case len(regions) - 1:
				position = "last"
			}
			if position != tc.forbiddenPosition {
				t.Fatalf("the case is mislabelled: %s sorts %s in %v", tc.forbidden, position, regions)
			}
			a, err := withError(fn.RunSweep(context.Background(), "req-allow", SweepRequest{RegionIds: tc.requested}))
			if err == nil || err.Code != CodeForbiddenRegion || !strings.Contains(err.Message, tc.forbidden) {
				t.Fatalf("RunSweep = %+v, %v; want Forbidden.Region naming %s", a, err, tc.forbidden)
			}
			if api.Describes() != 0 || len(api.Stops()) != 0 {
				t.Errorf("a refused sweep made %d listings and %d stops", api.Describes(), len(api.Stops()))
			}
		})
	}
}

// slowLister makes some DescribeInvocations calls of a fake API last until
// the sweep's work context ends (the deadline minus the reserve): a listing
// too slow to finish in time. A call that honours its context fails with
// the context's error, as the ECS client does; one that does not answers a
// little after the deadline, as a call already on its way back does.
type slowLister struct {
	*fakeapi.API
	// slow says which calls wait for the deadline.
	slow func(ca.DescribeInvocationsRequest) bool
	// honour makes a slow call fail with ctx's error.
	honour bool
	// late is how long after the deadline a call that does not honour its
	// context answers.
	late time.Duration
}

func (s *slowLister) DescribeInvocations(ctx context.Context, req ca.DescribeInvocationsRequest) (*ca.DescribeInvocationsResponse, error) {
	if s.slow(req) {
		<-ctx.Done()
		if s.honour {
			return nil, ctx.Err()
		}
		time.Sleep(s.late)
	}
	return s.API.DescribeInvocations(ctx, req)
}

// A listing that runs out of time makes the answer Truncated, and is not a
// failure: part of the fleet was not looked at, and the next sweep will.
// Each case cuts the listing at one of the three places the sweep notices
// the deadline: a call in flight, between two pages, and a region waiting
// for one of the regionListers slots. The sweeps are dry runs, so that the
// stop path (which notices the deadline too) cannot be what truncates.
func TestSweepListingCutOffByDeadlineIsTruncated(t *testing.T) {
	var fleet []ca.Invocation
	for i := range 60 {
		fleet = append(fleet, inv(fmt.Sprintf("t-pend%03d", i), 3*time.Hour, ca.StatusPending))
	}
	// Six regions without the fleet's (cn-hangzhou), so that which four get
	// the slots changes nothing in the answer.
	sixRegions := []string{"cn-beijing", "cn-chengdu", "cn-guangzhou", "cn-qingdao", "cn-shanghai", "cn-shenzhen"}
	for _, tc := range []struct {
		name    string
		regions []string
		lister  func(*fakeapi.API) *slowLister
		// listed is how many invocations the answer lists as (dry-run) stopped.
		listed int
	}{
		{
			name: "a call in flight at the deadline", regions: []string{"cn-hangzhou"},
			lister: func(f *fakeapi.API) *slowLister {
				return &slowLister{API: f, honour: true, slow: func(ca.DescribeInvocationsRequest) bool { return true }}
			},
		},
		{
			// The first page comes back after the deadline with a NextToken:
			// the second page is never asked for.
			name: "between two pages", regions: []string{"cn-hangzhou"}, listed: ca.MaxResultsLimit,
			lister: func(f *fakeapi.API) *slowLister {
				return &slowLister{API: f, late: 10 * time.Millisecond, slow: func(r ca.DescribeInvocationsRequest) bool {
					return r.InvokeStatus == ca.StatusPending && r.NextToken == ""
				}}
			},
		},
		{
			// Four regions hold the listing slots past the deadline, each in
			// its last listing, which answers late but completely; the other
			// two never get a slot.
			name: "a region waiting for a slot", regions: sixRegions,
			lister: func(f *fakeapi.API) *slowLister {
				return &slowLister{API: f, late: 300 * time.Millisecond, slow: func(r ca.DescribeInvocationsRequest) bool {
					return r.InvokeStatus == ca.StatusStopping
				}}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := tc.lister(newFake(fleet...))
			fn := testFunction(api, &bytes.Buffer{})
			fn.DryRun = true
			fn.Sweep.Reserve = 200 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
			defer cancel()
			a, err := fn.RunSweep(ctx, "req-cut", SweepRequest{RegionIds: tc.regions})
			if err != nil {
				t.Fatal(err)
			}
			if !a.Truncated || len(a.Failed) != 0 || len(a.WouldStop) != tc.listed || a.Stopped != nil {
				t.Fatalf("Truncated %v, Failed %+v, %d listed; want Truncated, no failure, %d listed", a.Truncated, a.Failed, len(a.WouldStop), tc.listed)
			}
			if len(api.Stops()) != 0 {
				t.Errorf("a dry run stopped %v", api.Stops())
			}
		})
	}
}

// A request may ask for the configured MaxStops itself, and configured and
// requested tags together may make MaxTags conditions, not more.
func TestSweepRailsAtTheirBounds(t *testing.T) {
	fn := testFunction(newFake(), &bytes.Buffer{})
	fn.Sweep.MaxStops = 10
	if p, e := fn.plan(SweepRequest{MaxStops: 10}); e != nil || p.maxStops != 10 {
		t.Fatalf("MaxStops equal to the configured one: %v, %d", e, p.maxStops)
	}
	fn.Sweep.Tags = map[string]string{}
	for i := range 10 {
		fn.Sweep.Tags[fmt.Sprintf("c%d", i)] = "x"
	}
	req := map[string]string{}
	for i := range MaxTags - 10 {
		req[fmt.Sprintf("r%d", i)] = ""
	}
	if p, e := fn.plan(SweepRequest{Tags: req}); e != nil || len(p.tags) != MaxTags {
		t.Fatalf("%d tags: %v, %d", MaxTags, e, len(p.tags))
	}
	req["one-more"] = "y"
	if _, e := withError(fn.plan(SweepRequest{Tags: req})); e == nil || !strings.HasPrefix(e.Message, "Tags: with STOPPER_SWEEP_TAGS makes 21") {
		t.Fatalf("%d tags: %v", MaxTags+1, e)
	}
}
