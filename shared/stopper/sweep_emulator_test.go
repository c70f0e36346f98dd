package stopper_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/ecs"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// These tests run the sweep through the project's real client against the
// emulator: signed HTTP calls, real paging, real throttling answers.

const (
	testKeyID     = "LTAI-sweep-test"
	testKeySecret = "sweep-test-secret"
)

var sweepRegions = []string{"cn-hangzhou", "cn-shanghai"}

// fleetSpec is what the test generator decided about one invocation; the
// oracle reads it, never the emulator's view, so that a listing bug cannot
// hide itself.
type fleetSpec struct {
	region, id, name string
	age              time.Duration
	status           string // every instance's status
	repeat           string
	tags             map[string]string
}

func (f fleetSpec) periodic() bool { return f.repeat != ca.RepeatOnce }

func (f fleetSpec) active() bool {
	switch f.status {
	case ca.StatusPending, ca.StatusRunning, ca.StatusScheduled:
		return true
	}
	return false
}

// selection is a sweep's filters as the oracle applies them.
type selection struct {
	olderThan       time.Duration
	name            string
	tags            map[string]string
	includePeriodic bool
}

func (s selection) filtersPass(f fleetSpec) bool {
	if s.name != "" && f.name != s.name {
		return false
	}
	for k, v := range s.tags {
		if f.tags[k] != v {
			return false
		}
	}
	return true
}

// wantStop: active, older than OlderThan, name and tags, periodic only when asked.
func (s selection) wantStop(f fleetSpec) bool {
	return s.filtersPass(f) && f.active() && f.age > s.olderThan && (!f.periodic() || s.includePeriodic)
}

// wantScanned: what the sweep's listings return: active and Stopping
// one-time invocations, and active periodic ones when asked, under the name
// filter (tags are checked on each invocation, not sent as filters).
func (s selection) wantScanned(f fleetSpec) bool {
	if s.name != "" && f.name != s.name {
		return false
	}
	if f.periodic() && !s.includePeriodic {
		return false
	}
	return f.active() || f.status == ca.StatusStopping
}

// genFleet makes n invocations per region with every combination of age,
// status, name, tags and repeat mode represented. Ages sit far from the
// 2h cut-off, so no test depends on how long it runs.
func genFleet(seed int64, perRegion int, now time.Time) []fleetSpec {
	rng := rand.New(rand.NewSource(seed))
	ages := []time.Duration{5 * time.Minute, 50 * time.Minute, 4 * time.Hour, 26 * time.Hour, 9 * 24 * time.Hour}
	statuses := []string{ca.StatusRunning, ca.StatusRunning, ca.StatusRunning, ca.StatusPending, ca.StatusScheduled,
		ca.StatusSuccess, ca.StatusFailed, ca.StatusStopped, ca.StatusStopping}
	names := []string{"backup", "deploy", "cleanup"}
	repeats := []string{ca.RepeatOnce, ca.RepeatOnce, ca.RepeatOnce, ca.RepeatPeriod, ca.RepeatEveryReboot}
	var out []fleetSpec
	for _, region := range sweepRegions {
		for i := range perRegion {
			f := fleetSpec{
				region: region, id: fmt.Sprintf("t-%s%05d", region[3:5], i),
				name: names[rng.Intn(len(names))], age: ages[rng.Intn(len(ages))],
				status: statuses[rng.Intn(len(statuses))], repeat: repeats[rng.Intn(len(repeats))],
				tags: map[string]string{},
			}
			if rng.Intn(2) == 0 {
				f.tags["env"] = "prod"
			} else {
				f.tags["env"] = "dev"
			}
			if rng.Intn(3) == 0 {
				f.tags["team"] = "infra"
			}
			// Spread creation times by a few seconds so the listing order
			// is by time, not only by id.
			f.age += time.Duration(rng.Intn(60)) * time.Second
			out = append(out, f)
		}
	}
	_ = now
	return out
}

func (f fleetSpec) invocation(now time.Time) ca.Invocation {
	inv := ca.Invocation{RegionId: f.region, InvokeId: f.id, CommandName: f.name, CommandType: "RunShellScript",
		RepeatMode: f.repeat, CreationTime: now.Add(-f.age).UTC().Format("2006-01-02T15:04:05Z")}
	for k, v := range f.tags {
		inv.Tags.Tag = append(inv.Tags.Tag, ca.Tag{TagKey: k, TagValue: v})
	}
	slices.SortFunc(inv.Tags.Tag, func(a, b ca.Tag) int {
		if a.TagKey < b.TagKey {
			return -1
		}
		return 1
	})
	n := 1 + len(f.id)%3
	for j := range n {
		inv.InvokeInstances.InvokeInstance = append(inv.InvokeInstances.InvokeInstance, ca.InvokeInstance{
			InstanceId: fmt.Sprintf("i-%s%d", f.id[2:], j), InvocationStatus: f.status, CreationTime: inv.CreationTime})
	}
	return inv
}

type rig struct {
	emu    *emulator.Server
	client *ecs.Client
	fn     *stopper.Function
}

// newRig starts an emulator holding the fleet and a Function calling it
// through the real client.
func newRig(tb testing.TB, fleet []fleetSpec, now time.Time, eo emulator.Options, co ecs.Options) *rig {
	tb.Helper()
	eo.AccessKeyID, eo.AccessKeySecret = testKeyID, testKeySecret
	emu, err := emulator.New(eo)
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range fleet {
		if err := emu.Add(f.invocation(now)); err != nil {
			tb.Fatal(err)
		}
	}
	ts := httptest.NewServer(emu)
	tb.Cleanup(ts.Close)
	co.Credentials = acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testKeySecret}
	co.Endpoint = ts.URL
	client, err := ecs.New(co)
	if err != nil {
		tb.Fatal(err)
	}
	fn := &stopper.Function{API: client, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Sweep: stopper.SweepDefaults{RegionIds: sweepRegions, OlderThan: 2 * time.Hour, Concurrency: 8}}
	return &rig{emu: emu, client: client, fn: fn}
}

func boolp(b bool) *bool { return &b }

func keys(list []stopper.SweptInvoke) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, s.RegionId+"/"+s.InvokeId)
	}
	return out
}

func TestSweepEmulatorSelection(t *testing.T) {
	now := time.Now()
	fleet := genFleet(1, 500, now)
	for _, tc := range []struct {
		name string
		req  stopper.SweepRequest
		sel  selection
	}{
		{name: "defaults", sel: selection{olderThan: 2 * time.Hour}},
		{name: "older than a day", req: stopper.SweepRequest{OlderThan: 24 * time.Hour}, sel: selection{olderThan: 24 * time.Hour}},
		{name: "command name", req: stopper.SweepRequest{CommandName: "backup"}, sel: selection{olderThan: 2 * time.Hour, name: "backup"}},
		{name: "tags", req: stopper.SweepRequest{Tags: map[string]string{"env": "prod", "team": "infra"}},
			sel: selection{olderThan: 2 * time.Hour, tags: map[string]string{"env": "prod", "team": "infra"}}},
		{name: "periodic", req: stopper.SweepRequest{IncludePeriodic: boolp(true)}, sel: selection{olderThan: 2 * time.Hour, includePeriodic: true}},
		{name: "everything at once", req: stopper.SweepRequest{OlderThan: 3 * time.Hour, CommandName: "deploy",
			Tags: map[string]string{"env": "dev"}, IncludePeriodic: boolp(true)},
			sel: selection{olderThan: 3 * time.Hour, name: "deploy", tags: map[string]string{"env": "dev"}, includePeriodic: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, fleet, now, emulator.Options{}, ecs.Options{})
			r.fn.Sweep.IncludePeriodic = tc.sel.includePeriodic
			a, err := r.fn.RunSweep(context.Background(), "req-sel", tc.req)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			scanned := 0
			for _, f := range fleet {
				if tc.sel.wantScanned(f) {
					scanned++
				}
				stop := tc.sel.wantStop(f)
				if stop {
					want = append(want, f.region+"/"+f.id)
				}
				calls := r.emu.StopCalls(f.region, f.id)
				if stop && calls != 1 || !stop && calls != 0 {
					t.Errorf("%s/%s (%+v): %d stop calls, want stop=%v", f.region, f.id, f, calls, stop)
				}
			}
			slices.Sort(want)
			if got := keys(a.Stopped); !slices.Equal(got, want) {
				t.Errorf("Stopped: %d entries, want %d\n got %v\nwant %v", len(got), len(want), got, want)
			}
			if len(want) < 20 {
				t.Errorf("the fleet selects only %d invocations: the case tests too little", len(want))
			}
			if a.Matched != len(want) || a.Scanned != scanned || len(a.Failed) != 0 || a.Truncated || a.DryRun {
				t.Errorf("answer: Matched %d (want %d) Scanned %d (want %d) Failed %v Truncated %v DryRun %v",
					a.Matched, len(want), a.Scanned, scanned, a.Failed, a.Truncated, a.DryRun)
			}
			if pages := r.emu.Calls("DescribeInvocations"); tc.name == "defaults" && pages <= 2*3 {
				t.Errorf("%d DescribeInvocations calls: the fleet should need more than one page per listing", pages)
			}
		})
	}
}

func TestSweepEmulatorDryRun(t *testing.T) {
	now := time.Now()
	fleet := genFleet(2, 300, now)
	r := newRig(t, fleet, now, emulator.Options{}, ecs.Options{})
	r.fn.DryRun = true // the request's absence of DryRun takes the function's default
	r.fn.Sweep.IncludePeriodic = true
	a, err := r.fn.RunSweep(context.Background(), "req-dry", stopper.SweepRequest{IncludePeriodic: boolp(true)})
	if err != nil {
		t.Fatal(err)
	}
	sel := selection{olderThan: 2 * time.Hour, includePeriodic: true}
	var want []string
	for _, f := range fleet {
		if sel.wantStop(f) {
			want = append(want, f.region+"/"+f.id)
		}
	}
	slices.Sort(want)
	if got := keys(a.WouldStop); !a.DryRun || !slices.Equal(got, want) || a.Matched != len(want) || a.Stopped != nil {
		t.Errorf("dry run: DryRun %v, Matched %d, WouldStop %d entries, Stopped %v; want %d", a.DryRun, a.Matched, len(got), a.Stopped, len(want))
	}
	if n := r.emu.Calls("StopInvocation"); n != 0 {
		t.Errorf("a dry run made %d StopInvocation calls", n)
	}
}

func TestSweepEmulatorUnknownRegion(t *testing.T) {
	now := time.Now()
	fleet := genFleet(3, 60, now)
	r := newRig(t, fleet, now, emulator.Options{}, ecs.Options{})
	a, err := r.fn.RunSweep(context.Background(), "req-region", stopper.SweepRequest{RegionIds: []string{"cn-hangzhou", "xx-nowhere-9"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Failed) != 1 || a.Failed[0].RegionId != "xx-nowhere-9" || a.Failed[0].InvokeId != "" || a.Failed[0].Code != "InvalidRegionId.NotFound" {
		t.Errorf("Failed = %+v, want one InvalidRegionId.NotFound entry for xx-nowhere-9", a.Failed)
	}
	if len(a.Stopped) == 0 || a.Truncated {
		t.Errorf("the known region was not swept: Stopped %d, Truncated %v", len(a.Stopped), a.Truncated)
	}
}

// A sweep that cannot finish before its deadline stops what it can, answers
// Truncated, and the next sweep finishes the job without stopping anything
// twice in one sweep — whether a stop lets running work finish (the API
// page) or kills it (the agent).
func TestSweepEmulatorTruncatesAtDeadline(t *testing.T) {
	for _, mode := range []string{emulator.StopModeDocumented, emulator.StopModeKill} {
		t.Run(mode, func(t *testing.T) { sweepTruncatesAtDeadline(t, mode) })
	}
}

func sweepTruncatesAtDeadline(t *testing.T, mode string) {
	now := time.Now()
	var fleet []fleetSpec
	for i := range 300 {
		fleet = append(fleet, fleetSpec{region: sweepRegions[i%2], id: fmt.Sprintf("t-late%04d", i), name: "backup",
			age: 3 * time.Hour, status: ca.StatusRunning, repeat: ca.RepeatOnce})
	}
	// 20 ms a call, 2 at a time: 300 stops need 3 s; the sweep gets 1 s.
	r := newRig(t, fleet, now, emulator.Options{Latency: 20 * time.Millisecond, StopMode: mode, KillDelay: time.Hour}, ecs.Options{})
	r.fn.Sweep.Concurrency = 2
	r.fn.Sweep.Reserve = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a, err := r.fn.RunSweep(ctx, "req-late", stopper.SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Truncated || len(a.Stopped) == 0 || len(a.Stopped) >= len(fleet) {
		t.Fatalf("Truncated %v with %d of %d stopped; want a truncated, partial sweep", a.Truncated, len(a.Stopped), len(fleet))
	}
	first := map[string]bool{}
	for _, k := range keys(a.Stopped) {
		first[k] = true
	}
	for _, f := range a.Failed {
		// A stop in flight when the real deadline came is the only failure allowed.
		if f.Code != "ServiceUnavailable" {
			t.Errorf("unexpected failure %+v", f)
		}
	}
	for _, f := range fleet {
		k := f.region + "/" + f.id
		if got := r.emu.StopCalls(f.region, f.id); first[k] && got != 1 {
			t.Errorf("%s is in Stopped but had %d stop calls", k, got)
		}
	}

	r.fn.Sweep.Concurrency = 16
	b, err := r.fn.RunSweep(context.Background(), "req-next", stopper.SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Truncated || len(b.Failed) != 0 {
		t.Fatalf("second sweep: Truncated %v, Failed %v", b.Truncated, b.Failed)
	}
	// Documented: one-time Running invocations stay Running after a stop
	// (the runs in progress continue), so the second sweep stops them all
	// again. Kill: the first sweep's are Stopping, and are not stopped again.
	for _, f := range fleet {
		want := 1
		if first[f.region+"/"+f.id] && mode == emulator.StopModeDocumented {
			want = 2
		}
		if got := r.emu.StopCalls(f.region, f.id); got != want {
			t.Errorf("%s/%s: %d stop calls after two sweeps, want %d", f.region, f.id, got, want)
		}
	}
}

// Under throttling the sweep slows down and still stops everything, each once.
func TestSweepEmulatorThrottled(t *testing.T) {
	now := time.Now()
	fleet := genFleet(4, 250, now)
	sel := selection{olderThan: 2 * time.Hour, includePeriodic: true}
	for _, tc := range []struct {
		name string
		co   ecs.Options
	}{
		{name: "client retries", co: ecs.Options{BaseDelay: 20 * time.Millisecond}},
		// Without client retries every throttling answer reaches the sweep.
		{name: "no client retries", co: ecs.Options{MaxAttempts: 1, MaxThrottleRetries: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, fleet, now, emulator.Options{ThrottleQPS: 150, ThrottleBurst: 5}, tc.co)
			r.fn.Sweep.IncludePeriodic = true
			a, err := r.fn.RunSweep(context.Background(), "req-throttled", stopper.SweepRequest{IncludePeriodic: boolp(true)})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range fleet {
				stop := sel.wantStop(f)
				if stop {
					want = append(want, f.region+"/"+f.id)
				}
				if got := r.emu.StopCalls(f.region, f.id); stop && got != 1 || !stop && got != 0 {
					t.Errorf("%s/%s: %d stop calls, want stop=%v", f.region, f.id, got, stop)
				}
			}
			slices.Sort(want)
			if got := keys(a.Stopped); !slices.Equal(got, want) || len(a.Failed) != 0 || a.Truncated {
				t.Errorf("Stopped %d of %d, Failed %v, Truncated %v", len(got), len(want), a.Failed, a.Truncated)
			}
			// Each stop is read again first: the reads or the stops are throttled.
			refused := 0
			for _, action := range []string{"StopInvocation", "DescribeInvocations"} {
				refused += r.emu.Calls(action) - r.emu.Succeeded(action)
			}
			if refused == 0 {
				t.Errorf("the emulator never throttled, the test tests nothing")
			}
		})
	}
}

// Throttling and dropped connections together, over many seeds: a sweep
// with time left loses nothing (a fault that outlived the client's retries
// is tried again, throttling does not spend the fault budget, a stop whose
// answer was lost after it took effect succeeds when tried again) and
// stops nothing twice.
func TestSweepEmulatorFaultsProperty(t *testing.T) {
	now := time.Now()
	var fleet []fleetSpec
	for i := range 40 {
		fleet = append(fleet, fleetSpec{region: sweepRegions[i%2], id: fmt.Sprintf("t-fault%04d", i), name: "backup",
			age: 3 * time.Hour, status: ca.StatusPending, repeat: ca.RepeatOnce})
	}
	seeds := 8
	if testing.Short() {
		seeds = 3
	}
	for seed := range int64(seeds) {
		r := newRig(t, fleet, now, emulator.Options{ThrottleQPS: 150, ThrottleBurst: 3, DropRate: 0.1, DropAfterRate: 0.05, Seed: seed},
			ecs.Options{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond, ReadTimeout: 2 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		a, err := r.fn.RunSweep(ctx, "req-faults", stopper.SweepRequest{})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Stopped) != len(fleet) || len(a.Failed) != 0 || a.Truncated {
			t.Fatalf("seed %d: %d of %d stopped, Failed %+v, Truncated %v", seed, len(a.Stopped), len(fleet), a.Failed, a.Truncated)
		}
		for _, f := range fleet {
			got, _ := r.emu.Invocation(f.region, f.id)
			if st := got.InvokeInstances.InvokeInstance[0].InvocationStatus; st != ca.StatusCancelled {
				t.Fatalf("seed %d: %s is %s after the sweep", seed, f.id, st)
			}
		}
		// Faults fall on whichever calls the seeded draws meet, in the order
		// the workers happen to call: count them over every call, reads
		// and stops (a dropped-after call succeeded but lost its answer).
		faults := 0
		for _, action := range []string{"StopInvocation", "DescribeInvocations"} {
			faults += r.emu.Calls(action) - r.emu.Succeeded(action) + r.emu.DroppedAfter(action)
		}
		if faults == 0 {
			t.Fatalf("seed %d: no fault was injected", seed)
		}
	}
}

func TestSweepEmulatorForcedDryRun(t *testing.T) {
	now := time.Now()
	r := newRig(t, genFleet(1, 50, now), now, emulator.Options{}, ecs.Options{})
	r.fn.ForceDryRun = true // a request saying DryRun false is a dry run all the same
	a, err := r.fn.RunSweep(context.Background(), "req-forced", stopper.SweepRequest{DryRun: boolp(false)})
	if err != nil {
		t.Fatal(err)
	}
	if !a.DryRun || len(a.WouldStop) == 0 || a.Stopped != nil {
		t.Errorf("answer: DryRun %v, %d selected, Stopped %v", a.DryRun, len(a.WouldStop), a.Stopped)
	}
	if n := r.emu.Calls("StopInvocation"); n != 0 {
		t.Errorf("a forced dry run made %d StopInvocation calls", n)
	}
}
