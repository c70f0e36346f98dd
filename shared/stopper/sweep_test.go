package stopper

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/fakeapi"
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// newFake is an in-memory Cloud Assistant over invs (RegionId set) that,
// as the sweep's tests expect, refuses stops naming instances.
func newFake(invs ...ca.Invocation) *fakeapi.API {
	f := fakeapi.New(invs...)
	f.WholeOnly = true
	return f
}

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// inv builds a one-time invocation of the given age and status in cn-hangzhou.
func inv(id string, age time.Duration, status string, mods ...func(*ca.Invocation)) ca.Invocation {
	i := ca.Invocation{RegionId: "cn-hangzhou", InvokeId: id, InvocationStatus: status, RepeatMode: ca.RepeatOnce,
		CommandName: "backup", CreationTime: testNow.Add(-age).Format(creationLayout)}
	for _, m := range mods {
		m(&i)
	}
	return i
}

func inRegion(r string) func(*ca.Invocation) { return func(i *ca.Invocation) { i.RegionId = r } }
func named(n string) func(*ca.Invocation)    { return func(i *ca.Invocation) { i.CommandName = n } }
func tagged(k, v string) func(*ca.Invocation) {
	return func(i *ca.Invocation) { i.Tags.Tag = append(i.Tags.Tag, ca.Tag{TagKey: k, TagValue: v}) }
}
func periodic(i *ca.Invocation) { i.RepeatMode, i.Timed = ca.RepeatPeriod, true }

func testFunction(api CloudAssistant, logs *bytes.Buffer) *Function {
	h := slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	return &Function{API: api, Log: slog.New(h), Now: func() time.Time { return testNow },
		Sweep: SweepDefaults{RegionIds: []string{"cn-hangzhou"}, OlderThan: 2 * time.Hour, Concurrency: 4}}
}

func ids(list []SweptInvoke) string {
	var out []string
	for _, s := range list {
		out = append(out, s.RegionId+"/"+s.InvokeId)
	}
	return strings.Join(out, " ")
}

func TestSweepSelection(t *testing.T) {
	fleet := []ca.Invocation{
		inv("t-old", 3*time.Hour, ca.StatusRunning),
		inv("t-oldpending", 3*time.Hour, ca.StatusPending),
		inv("t-oldscheduled", 3*time.Hour, ca.StatusScheduled),
		inv("t-young", time.Hour, ca.StatusRunning),
		inv("t-done", 3*time.Hour, ca.StatusSuccess),
		inv("t-stopping", 3*time.Hour, ca.StatusStopping),
		inv("t-deploy", 3*time.Hour, ca.StatusRunning, named("deploy")),
		inv("t-prod", 3*time.Hour, ca.StatusRunning, tagged("env", "prod"), tagged("team", "a")),
		inv("t-dev", 3*time.Hour, ca.StatusRunning, tagged("env", "dev")),
		inv("t-periodic", 3*time.Hour, ca.StatusRunning, periodic),
		inv("t-periodicyoung", time.Hour, ca.StatusScheduled, periodic),
		// A periodic invocation whose schedule is over is listed with
		// Timed=false; a stop would change nothing.
		inv("t-periodicover", 3*time.Hour, ca.StatusRunning, func(i *ca.Invocation) { i.RepeatMode = ca.RepeatEveryReboot }),
		inv("t-shanghai", 3*time.Hour, ca.StatusRunning, inRegion("cn-shanghai")),
	}
	for _, tc := range []struct {
		name string
		fn   func(*Function)
		req  SweepRequest
		want string
	}{
		{name: "defaults", want: "cn-hangzhou/t-deploy cn-hangzhou/t-dev cn-hangzhou/t-old cn-hangzhou/t-oldpending cn-hangzhou/t-oldscheduled cn-hangzhou/t-prod"},
		{name: "name", req: SweepRequest{CommandName: "deploy"}, want: "cn-hangzhou/t-deploy"},
		{name: "name from defaults", fn: func(f *Function) { f.Sweep.CommandName = "deploy" }, want: "cn-hangzhou/t-deploy"},
		{name: "tags", req: SweepRequest{Tags: map[string]string{"env": "prod"}}, want: "cn-hangzhou/t-prod"},
		{name: "every tag", req: SweepRequest{Tags: map[string]string{"env": "prod", "team": "b"}}, want: ""},
		{name: "older than", fn: func(f *Function) { f.Sweep.OlderThan = 30 * time.Minute }, req: SweepRequest{CommandName: "backup", Tags: map[string]string{}},
			want: "cn-hangzhou/t-dev cn-hangzhou/t-old cn-hangzhou/t-oldpending cn-hangzhou/t-oldscheduled cn-hangzhou/t-prod cn-hangzhou/t-young"},
		{name: "older than narrowed", fn: func(f *Function) { f.Sweep.OlderThan = 30 * time.Minute }, req: SweepRequest{OlderThan: 2 * time.Hour, CommandName: "backup"},
			want: "cn-hangzhou/t-dev cn-hangzhou/t-old cn-hangzhou/t-oldpending cn-hangzhou/t-oldscheduled cn-hangzhou/t-prod"},
		{name: "periodic", fn: func(f *Function) { f.Sweep.IncludePeriodic = true }, req: SweepRequest{IncludePeriodic: boolp(true), CommandName: "backup"},
			want: "cn-hangzhou/t-dev cn-hangzhou/t-old cn-hangzhou/t-oldpending cn-hangzhou/t-oldscheduled cn-hangzhou/t-periodic cn-hangzhou/t-prod"},
		{name: "periodic from defaults", fn: func(f *Function) { f.Sweep.IncludePeriodic = true; f.Sweep.CommandName = "backup" },
			want: "cn-hangzhou/t-dev cn-hangzhou/t-old cn-hangzhou/t-oldpending cn-hangzhou/t-oldscheduled cn-hangzhou/t-periodic cn-hangzhou/t-prod"},
		{name: "request overrides periodic default", fn: func(f *Function) { f.Sweep.IncludePeriodic = true },
			req:  SweepRequest{IncludePeriodic: boolp(false), CommandName: "backup"},
			want: "cn-hangzhou/t-dev cn-hangzhou/t-old cn-hangzhou/t-oldpending cn-hangzhou/t-oldscheduled cn-hangzhou/t-prod"},
		{name: "regions", req: SweepRequest{RegionIds: []string{"cn-shanghai", "cn-hangzhou"}, CommandName: "backup", Tags: map[string]string{}},
			want: "cn-hangzhou/t-dev cn-hangzhou/t-old cn-hangzhou/t-oldpending cn-hangzhou/t-oldscheduled cn-hangzhou/t-prod cn-shanghai/t-shanghai"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFake(fleet...)
			var logs bytes.Buffer
			fn := testFunction(api, &logs)
			if tc.fn != nil {
				tc.fn(fn)
			}
			a, err := fn.RunSweep(context.Background(), "req-1", tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(a.Stopped); got != tc.want {
				t.Errorf("Stopped = %q\nwant      %q", got, tc.want)
			}
			if a.Matched != len(a.Stopped) || len(a.Failed) != 0 || a.Truncated || a.DryRun || a.Action != ActionSweep || a.RequestId != "req-1" {
				t.Errorf("answer = %+v", a)
			}
			for _, s := range a.Stopped {
				if n := api.StopCount(s.RegionId, s.InvokeId); n != 1 {
					t.Errorf("%s stopped %d times", s.InvokeId, n)
				}
			}
			if n := len(api.Stops()); n != len(a.Stopped) {
				t.Errorf("%d invocations stopped, answer lists %d", n, len(a.Stopped))
			}
		})
	}
}

func TestHasTag(t *testing.T) {
	tags := []ca.Tag{{TagKey: "env", TagValue: "prod"}}
	for _, tc := range []struct {
		k, v string
		want bool
	}{{"env", "prod", true}, {"env", "dev", false}, {"env", "", true}, {"team", "", false}} {
		if got := hasTag(tags, tc.k, tc.v); got != tc.want {
			t.Errorf("hasTag(%s=%s) = %v", tc.k, tc.v, got)
		}
	}
}

func TestSweepPlanErrors(t *testing.T) {
	var logs bytes.Buffer
	fn := testFunction(newFake(), &logs)
	fn.Sweep.RegionIds = nil
	if _, err := withError(fn.RunSweep(context.Background(), "r", SweepRequest{})); err == nil || err.Code != "MissingParameter.RegionIds" ||
		!strings.Contains(err.Message, "STOPPER_SWEEP_REGION_IDS") {
		t.Errorf("no regions: %v", err)
	}
	if _, err := withError(fn.RunSweep(context.Background(), "r", SweepRequest{RegionIds: []string{}})); err == nil || err.Code != "MissingParameter.RegionIds" {
		t.Errorf("empty regions: %v", err)
	}
	fn.AllowedRegions = []string{"cn-hangzhou"}
	api := newFake(inv("t-old", 3*time.Hour, ca.StatusRunning))
	fn.API = api
	_, err := withError(fn.RunSweep(context.Background(), "r", SweepRequest{RegionIds: []string{"cn-hangzhou", "cn-beijing"}}))
	if err == nil || err.Code != CodeForbiddenRegion {
		t.Errorf("forbidden region: %v", err)
	}
	if api.Describes() != 0 || len(api.Stops()) != 0 {
		t.Errorf("a refused sweep made %d listings and %d stops", api.Describes(), len(api.Stops()))
	}
}

func TestSweepDefaultsApply(t *testing.T) {
	var logs bytes.Buffer
	fn := testFunction(nil, &logs)
	fn.DryRun = true
	fn.Sweep = SweepDefaults{RegionIds: []string{"cn-b", "cn-a", "cn-b"}, Tags: map[string]string{"z": "1", "a": ""}, MaxStops: 10}
	p, err := fn.plan(SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.dryRun || p.olderThan != defaultSweepOlderThan || p.concurrency != defaultSweepConcurrency || p.maxStops != 10 ||
		!slices.Equal(p.regions, []string{"cn-a", "cn-b"}) || fmt.Sprint(p.tags) != "map[a: z:1]" || !p.now.Equal(testNow) {
		t.Errorf("plan = %+v", p)
	}
	// Request values narrow: a longer OlderThan, a lower limit, more tags;
	// an empty Tags object keeps the configured ones.
	p, _ = fn.plan(SweepRequest{DryRun: boolp(false), OlderThan: 3 * time.Hour, MaxStops: 4, Tags: map[string]string{}})
	if p.dryRun || p.olderThan != 3*time.Hour || p.maxStops != 4 || fmt.Sprint(p.tags) != "map[a: z:1]" {
		t.Errorf("request values must win: %+v", p)
	}
	p, _ = fn.plan(SweepRequest{Tags: map[string]string{"a": "x", "b": "y", "z": "1"}})
	if fmt.Sprint(p.tags) != "map[a:x b:y z:1]" {
		t.Errorf("request tags add to the configured ones: %v", p.tags)
	}
}

// A request narrows the configured sweep and never widens it; a refused
// one lists nothing and stops nothing.
func TestSweepRails(t *testing.T) {
	for _, tc := range []struct {
		name  string
		d     SweepDefaults
		req   SweepRequest
		field string // "" accepted
	}{
		{name: "shorter OlderThan", req: SweepRequest{OlderThan: time.Second}, field: "OlderThan"},
		{name: "longer OlderThan", req: SweepRequest{OlderThan: 3 * time.Hour}},
		{name: "equal OlderThan", req: SweepRequest{OlderThan: 2 * time.Hour}},
		{name: "periodic when configured off", req: SweepRequest{IncludePeriodic: boolp(true)}, field: "IncludePeriodic"},
		{name: "periodic off when configured on", d: SweepDefaults{IncludePeriodic: true}, req: SweepRequest{IncludePeriodic: boolp(false)}},
		{name: "other command name", d: SweepDefaults{CommandName: "backup"}, req: SweepRequest{CommandName: "deploy"}, field: "CommandName"},
		{name: "same command name", d: SweepDefaults{CommandName: "backup"}, req: SweepRequest{CommandName: "backup"}},
		{name: "command name when none configured", req: SweepRequest{CommandName: "deploy"}},
		{name: "region outside the sweep regions", d: SweepDefaults{RegionIds: []string{"cn-hangzhou"}, RestrictRegions: true},
			req: SweepRequest{RegionIds: []string{"cn-hangzhou", "cn-beijing"}}, field: "RegionIds"},
		{name: "subset of the sweep regions", d: SweepDefaults{RegionIds: []string{"cn-hangzhou", "cn-beijing"}, RestrictRegions: true},
			req: SweepRequest{RegionIds: []string{"cn-beijing"}}},
		{name: "regions when only defaulted", d: SweepDefaults{RegionIds: []string{"cn-hangzhou"}}, req: SweepRequest{RegionIds: []string{"cn-beijing"}}},
		{name: "higher MaxStops", d: SweepDefaults{MaxStops: 10}, req: SweepRequest{MaxStops: 11}, field: "MaxStops"},
		{name: "lower MaxStops", d: SweepDefaults{MaxStops: 10}, req: SweepRequest{MaxStops: 9}},
		{name: "MaxStops when unlimited", d: SweepDefaults{MaxStops: 0}, req: SweepRequest{MaxStops: 500}},
		{name: "conflicting tag", d: SweepDefaults{Tags: map[string]string{"env": "prod"}}, req: SweepRequest{Tags: map[string]string{"env": "dev"}}, field: "Tags"},
		{name: "tag value for an any-value key", d: SweepDefaults{Tags: map[string]string{"env": ""}}, req: SweepRequest{Tags: map[string]string{"env": "dev"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFake(inv("t-old", 3*time.Hour, ca.StatusRunning))
			fn := testFunction(api, &bytes.Buffer{})
			d := tc.d
			if d.RegionIds == nil {
				d.RegionIds = []string{"cn-hangzhou"}
			}
			fn.Sweep = d
			_, err := withError(fn.RunSweep(context.Background(), "r", tc.req))
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || err.Code != CodeInvalidParameter ||
				!strings.HasPrefix(err.Message, tc.field+":") || (tc.field != "Tags" && !strings.Contains(err.Message, "never widen")) {
				t.Fatalf("err = %v, want InvalidParameter naming %s", err, tc.field)
			}
			if api.Describes() != 0 || len(api.Stops()) != 0 {
				t.Errorf("a refused sweep made %d listings and %d stops", api.Describes(), len(api.Stops()))
			}
		})
	}
}

// More selected than the limit: nothing is stopped and the error says how
// many; a dry run is never limited.
func TestSweepLimit(t *testing.T) {
	var fleet []ca.Invocation
	for i := range 5 {
		fleet = append(fleet, inv(fmt.Sprintf("t-%d", i), 3*time.Hour, ca.StatusRunning))
	}
	fleet = append(fleet, inv("t-sh", 3*time.Hour, ca.StatusRunning, inRegion("cn-shanghai")))
	for _, tc := range []struct {
		name     string
		max      int
		req      SweepRequest
		exceeded bool
	}{
		{name: "over the configured limit", max: 5, exceeded: true},
		{name: "at the limit", max: 6},
		{name: "no limit", max: 0},
		{name: "lowered by the request", max: 100, req: SweepRequest{MaxStops: 3}, exceeded: true},
		{name: "dry run over the limit", max: 2, req: SweepRequest{DryRun: boolp(true)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFake(fleet...)
			fn := testFunction(api, &bytes.Buffer{})
			fn.Sweep.MaxStops = tc.max
			fn.Sweep.RegionIds = []string{"cn-hangzhou", "cn-shanghai"}
			a, err := withError(fn.RunSweep(context.Background(), "r", tc.req))
			if !tc.exceeded {
				if err != nil || len(a.Stopped)+len(a.WouldStop) != 6 || a.Matched != 6 {
					t.Fatalf("answer %+v, err %v", a, err)
				}
				return
			}
			if err == nil || err.Code != CodeSweepLimitExceeded || err.Transient ||
				!strings.Contains(err.Message, "selected 6 invocations (cn-hangzhou 5, cn-shanghai 1)") || !strings.Contains(err.Message, "nothing was stopped") {
				t.Fatalf("err = %+v", err)
			}
			if len(api.Stops()) != 0 {
				t.Errorf("%d invocations stopped over the limit", len(api.Stops()))
			}
		})
	}
}

// Owner tags: stopper:protect spares a stale invocation, stopper:ttl
// replaces OlderThan (shorter or longer), and a bad value is reported.
func TestSweepOwnerTags(t *testing.T) {
	api := newFake(
		inv("t-plain", 3*time.Hour, ca.StatusRunning),
		inv("t-protected", 3*time.Hour, ca.StatusRunning, tagged(TagProtect, "true")),
		inv("t-protectedempty", 3*time.Hour, ca.StatusRunning, tagged(TagProtect, "")),
		inv("t-protectedfalse", 3*time.Hour, ca.StatusRunning, tagged(TagProtect, "false")),
		inv("t-protectedfresh", 10*time.Minute, ca.StatusRunning, tagged(TagProtect, "yes")),
		inv("t-ttlshort", 50*time.Minute, ca.StatusRunning, tagged(TagTTL, "30m")),
		inv("t-ttlshortfresh", 20*time.Minute, ca.StatusRunning, tagged(TagTTL, "30m")),
		inv("t-ttllong", 3*time.Hour, ca.StatusRunning, tagged(TagTTL, "6h")),
		inv("t-ttllongstale", 7*time.Hour, ca.StatusRunning, tagged(TagTTL, "6h")),
		inv("t-ttlbad", 3*time.Hour, ca.StatusRunning, tagged(TagTTL, "soon")),
		inv("t-ttlbadprotected", 3*time.Hour, ca.StatusRunning, tagged(TagTTL, "-1h"), tagged(TagProtect, "1")),
		inv("t-fresh", 10*time.Minute, ca.StatusRunning),
	)
	fn := testFunction(api, &bytes.Buffer{})
	a, err := fn.RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range a.Stopped {
		got = append(got, s.InvokeId+" "+s.Rule)
	}
	want := "t-plain OlderThan=2h0m0s|t-protectedfalse OlderThan=2h0m0s|t-ttllongstale stopper:ttl=6h|t-ttlshort stopper:ttl=30m"
	if strings.Join(got, "|") != want {
		t.Errorf("Stopped = %q\nwant      %q", strings.Join(got, "|"), want)
	}
	got = nil
	for _, s := range a.Spared {
		got = append(got, s.InvokeId+" "+s.Reason)
	}
	want = "t-protected stopper:protect|t-protectedempty stopper:protect|t-ttlbadprotected stopper:protect|t-ttllong stopper:ttl=6h"
	if strings.Join(got, "|") != want {
		t.Errorf("Spared = %q\nwant     %q", strings.Join(got, "|"), want)
	}
	if len(a.Failed) != 1 || a.Failed[0].InvokeId != "t-ttlbad" || a.Failed[0].Code != CodeInvalidTag ||
		!strings.Contains(a.Failed[0].Message, `stopper:ttl="soon"`) || !strings.Contains(a.Failed[0].Message, "left alone") {
		t.Errorf("Failed = %+v", a.Failed)
	}
	if api.StopCount("cn-hangzhou", "t-ttlbad") != 0 || api.StopCount("cn-hangzhou", "t-protected") != 0 {
		t.Error("a protected or unreadable invocation was stopped")
	}
}

// What a stop does is judged per instance: an invocation whose active
// instances are all Stopping is not stopped again, one with a pending
// instance behind a Stopping one is; the answer counts pending and running.
func TestSweepInstanceStates(t *testing.T) {
	withInstances := func(statuses ...string) func(*ca.Invocation) {
		return func(i *ca.Invocation) {
			for n, st := range statuses {
				i.InvokeInstances.InvokeInstance = append(i.InvokeInstances.InvokeInstance,
					ca.InvokeInstance{InstanceId: fmt.Sprintf("i-%d", n), InvocationStatus: st})
			}
		}
	}
	api := newFake(
		inv("t-mixed", 3*time.Hour, ca.StatusRunning, withInstances("Running", "Pending", "Pending", "Success", "Failed")),
		// The real API's precedence is not documented: it may still say
		// Running while every instance is on its way out.
		inv("t-allstopping", 3*time.Hour, ca.StatusRunning, withInstances("Stopping", "Stopping", "Cancelled")),
		inv("t-stoppingpending", 3*time.Hour, ca.StatusStopping, withInstances("Stopping", "Pending")),
		inv("t-ended", 3*time.Hour, ca.StatusRunning, withInstances("Success", "Terminated")),
	)
	a, err := testFunction(api, &bytes.Buffer{}).RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range a.Stopped {
		got = append(got, fmt.Sprintf("%s p%d r%d", s.InvokeId, s.Pending, s.Running))
	}
	if want := "t-mixed p2 r1|t-stoppingpending p1 r0"; strings.Join(got, "|") != want {
		t.Errorf("Stopped = %q, want %q", strings.Join(got, "|"), want)
	}
	if api.StopCount("cn-hangzhou", "t-allstopping") != 0 {
		t.Error("an invocation already Stopping was stopped again")
	}
}

// The sweep lists every region completely before it stops anything, so a
// listing whose cursor is an offset into the current filtered list (stops
// change that list) still finds everything, and a second sweep finds
// nothing more to do.
func TestSweepListsBeforeStopping(t *testing.T) {
	var fleet []ca.Invocation
	for i := range 230 {
		fleet = append(fleet, inv(fmt.Sprintf("t-%03d", i), 3*time.Hour, ca.StatusRunning))
	}
	api := newFake(fleet...)
	api.StopEnds = true
	fn := testFunction(api, &bytes.Buffer{})
	a, err := fn.RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil || len(a.Stopped) != 230 || a.Truncated || len(a.Failed) != 0 {
		t.Fatalf("first sweep: %d stopped, err %v, %+v", len(a.Stopped), err, a.Failed)
	}
	a, err = fn.RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil || len(a.Stopped) != 0 || a.Scanned != 0 {
		t.Fatalf("second sweep: %d stopped, %d scanned, err %v", len(a.Stopped), a.Scanned, err)
	}
}

// A stop that failed transiently after the client's retries (a 5xx, a
// dropped connection) is tried again while there is time.
func TestSweepRetriesFaults(t *testing.T) {
	api := newFake(inv("t-a", 3*time.Hour, ca.StatusRunning), inv("t-b", 3*time.Hour, ca.StatusRunning))
	api.FailTimes = map[string]int{"t-a": 2}
	api.StopErr["t-b"] = &ca.Error{Code: "ServiceUnavailable", Message: "down", HTTPStatus: 503}
	a, err := testFunction(api, &bytes.Buffer{}).RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ids(a.Stopped) != "cn-hangzhou/t-a" || len(a.Failed) != 1 || a.Failed[0].InvokeId != "t-b" || a.Failed[0].Code != "ServiceUnavailable" {
		t.Errorf("answer = %+v", a)
	}
	if n := api.Attempts("t-b"); n != 1+faultRetries {
		t.Errorf("t-b tried %d times, want %d", n, 1+faultRetries)
	}
}

func TestSweepDryRun(t *testing.T) {
	api := newFake(inv("t-old", 3*time.Hour, ca.StatusRunning), inv("t-young", time.Hour, ca.StatusRunning))
	var logs bytes.Buffer
	a, err := testFunction(api, &logs).RunSweep(context.Background(), "r", SweepRequest{DryRun: boolp(true)})
	if err != nil {
		t.Fatal(err)
	}
	if !a.DryRun || ids(a.WouldStop) != "cn-hangzhou/t-old" || a.Stopped != nil || a.Matched != 1 || len(api.Stops()) != 0 {
		t.Errorf("dry run: %+v, %d stops", a, len(api.Stops()))
	}
}

// Pages that repeat an item (the fleet changed between pages) must not make
// the sweep count or stop it twice.
func TestSweepDeduplicatesPages(t *testing.T) {
	var fleet []ca.Invocation
	for i := range 180 {
		fleet = append(fleet, inv(fmt.Sprintf("t-%03d", i), 3*time.Hour, ca.StatusRunning))
	}
	api := newFake(fleet...)
	api.Overlap = true
	var logs bytes.Buffer
	a, err := testFunction(api, &logs).RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Scanned != 180 || a.Matched != 180 || len(a.Stopped) != 180 {
		t.Errorf("Scanned %d Matched %d Stopped %d, want 180 each", a.Scanned, a.Matched, len(a.Stopped))
	}
	for _, i := range fleet {
		if n := api.StopCount(i.RegionId, i.InvokeId); n != 1 {
			t.Errorf("%s stopped %d times", i.InvokeId, n)
		}
	}
	if api.Describes() < 5 {
		t.Errorf("%d listings: the test needs several pages", api.Describes())
	}
}

func TestSweepFailures(t *testing.T) {
	api := newFake(
		inv("t-a", 3*time.Hour, ca.StatusRunning),
		inv("t-gone", 3*time.Hour, ca.StatusRunning),
		inv("t-b", 3*time.Hour, ca.StatusRunning),
		inv("t-5xx", 3*time.Hour, ca.StatusRunning),
		inv("t-badtime", 3*time.Hour, ca.StatusRunning, func(i *ca.Invocation) { i.CreationTime = "yesterday" }),
		inv("t-c", 3*time.Hour, ca.StatusRunning, inRegion("cn-beijing")),
	)
	api.StopErr["t-gone"] = &ca.Error{Code: "InvalidInvokeId.NotFound", Message: "The specified InvokeId does not exist.", HTTPStatus: 404}
	api.StopErr["t-5xx"] = fmt.Errorf("ecs: failed after 5 attempts: %w", &ca.Error{Code: "InternalError", Message: "boom", HTTPStatus: 500})
	api.ListErr["xx-nowhere-1"] = &ca.Error{Code: "InvalidRegionId.NotFound", Message: "The RegionId provided does not exist in our items.", HTTPStatus: 404}
	var logs bytes.Buffer
	fn := testFunction(api, &logs)
	a, err := fn.RunSweep(context.Background(), "r", SweepRequest{RegionIds: []string{"cn-hangzhou", "xx-nowhere-1", "cn-beijing"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(a.Stopped); got != "cn-beijing/t-c cn-hangzhou/t-a cn-hangzhou/t-b" {
		t.Errorf("Stopped = %s", got)
	}
	var failed []string
	for _, f := range a.Failed {
		failed = append(failed, f.RegionId+"/"+f.InvokeId+":"+f.Code)
		if f.Message == "" {
			t.Errorf("%+v has no message", f)
		}
	}
	want := "cn-hangzhou/t-5xx:InternalError cn-hangzhou/t-badtime:InvalidCreationTime cn-hangzhou/t-gone:InvalidInvokeId.NotFound xx-nowhere-1/:InvalidRegionId.NotFound"
	if got := strings.Join(failed, " "); got != want {
		t.Errorf("Failed = %s\nwant     %s", got, want)
	}
	if a.Truncated || a.Matched != 5 || a.Scanned != 6 {
		t.Errorf("Truncated %v Matched %d Scanned %d", a.Truncated, a.Matched, a.Scanned)
	}
}

// A region whose listing keeps failing transiently is reported and makes the
// answer Truncated: part of the fleet was not looked at.
func TestSweepTransientListingFailure(t *testing.T) {
	api := newFake(inv("t-a", 3*time.Hour, ca.StatusRunning), inv("t-b", 3*time.Hour, ca.StatusRunning, inRegion("cn-beijing")))
	api.ListErr["cn-beijing"] = &ca.Error{Code: "ServiceUnavailable", Message: "busy", HTTPStatus: 503}
	var logs bytes.Buffer
	a, err := testFunction(api, &logs).RunSweep(context.Background(), "r", SweepRequest{RegionIds: []string{"cn-hangzhou", "cn-beijing"}})
	if err != nil {
		t.Fatal(err)
	}
	if ids(a.Stopped) != "cn-hangzhou/t-a" || len(a.Failed) != 1 || a.Failed[0].Code != "ServiceUnavailable" || a.Failed[0].RegionId != "cn-beijing" || !a.Truncated {
		t.Errorf("answer = %+v", a)
	}
	if api.Describes() < 1+listRetries+1 {
		t.Errorf("%d listings: a transient failure is tried again", api.Describes())
	}
}

func TestSweepAnswerJSONAndLogs(t *testing.T) {
	api := newFake(inv("t-old", 3*time.Hour, ca.StatusRunning))
	var logs bytes.Buffer
	fn := testFunction(api, &logs)
	a, err := fn.RunSweep(context.Background(), "req-42", SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(a)
	wantStopped := `"Stopped":[{"RegionId":"cn-hangzhou","InvokeId":"t-old","CommandName":"backup","CreationTime":"2026-11-26T09:00:00Z","Rule":"OlderThan=2h0m0s","Pending":0,"Running":0}]`
	if !strings.Contains(string(b), `"Failed":[]`) || !strings.Contains(string(b), `"Spared":[]`) || !strings.Contains(string(b), wantStopped) {
		t.Errorf("answer JSON = %s", b)
	}
	empty, _ := testFunction(newFake(), &bytes.Buffer{}).RunSweep(context.Background(), "r", SweepRequest{})
	if b, _ := json.Marshal(empty); !strings.Contains(string(b), `"Stopped":[]`) || !strings.Contains(string(b), `"Failed":[]`) || !strings.Contains(string(b), `"Spared":[]`) {
		t.Errorf("empty answer JSON = %s", b)
	}
	var outcome, stopped map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		switch {
		case m["action"] == ActionSweep:
			outcome = m
		case m["invoke_id"] == "t-old":
			stopped = m
		}
	}
	if outcome == nil || outcome["request_id"] != "req-42" || outcome["scanned"] != 1.0 || outcome["matched"] != 1.0 ||
		outcome["stopped"] != 1.0 || outcome["failed"] != 0.0 || outcome["truncated"] != false {
		t.Errorf("outcome line = %v", outcome)
	}
	if stopped == nil || stopped["level"] != "DEBUG" || stopped["request_id"] != "req-42" {
		t.Errorf("stopped line = %v", stopped)
	}
}

// Near the deadline the sweep starts nothing new, lets the stops in flight
// finish with a live context, and answers Truncated; nothing is stopped twice.
func TestSweepDeadline(t *testing.T) {
	var fleet []ca.Invocation
	for i := range 100 {
		fleet = append(fleet, inv(fmt.Sprintf("t-%03d", i), 3*time.Hour, ca.StatusRunning))
	}
	api := newFake(fleet...)
	api.StopDelay = 50 * time.Millisecond
	var logs bytes.Buffer
	fn := testFunction(api, &logs)
	fn.Sweep.Concurrency = 2
	fn.Sweep.Reserve = 500 * time.Millisecond
	// 100 stops of 50 ms, 2 at a time, need 2.5 s; work stops after 1 s.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	a, err := fn.RunSweep(ctx, "r", SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Truncated || len(a.Stopped) == 0 || len(a.Stopped) >= 100 || len(a.Failed) != 0 {
		t.Fatalf("Truncated %v, %d stopped, Failed %v: want a partial sweep without failures", a.Truncated, len(a.Stopped), a.Failed)
	}
	if len(api.Stops()) != len(a.Stopped) {
		t.Errorf("%d stopped, answer lists %d", len(api.Stops()), len(a.Stopped))
	}
	for _, e := range api.StopContextErrs() {
		if e != nil {
			t.Errorf("a stop in flight saw its context end: %v", e)
		}
	}
	for _, s := range api.Stops() {
		if n := api.StopCount(s.RegionID, s.InvokeID); n != 1 {
			t.Errorf("%s/%s stopped %d times", s.RegionID, s.InvokeID, n)
		}
	}
}

func TestSweepWithoutDeadlineNeverTruncates(t *testing.T) {
	var fleet []ca.Invocation
	for i := range 120 {
		fleet = append(fleet, inv(fmt.Sprintf("t-%03d", i), 3*time.Hour, ca.StatusRunning))
	}
	api := newFake(fleet...)
	fn := testFunction(api, &bytes.Buffer{})
	fn.Sweep.Reserve = time.Hour // no deadline: the reserve has nothing to apply to
	a, err := fn.RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Truncated || len(a.Stopped) != 120 {
		t.Errorf("Truncated %v, %d stopped", a.Truncated, len(a.Stopped))
	}
}

func TestSweepPastDeadlineDoesNothing(t *testing.T) {
	api := newFake(inv("t-old", 3*time.Hour, ca.StatusRunning))
	fn := testFunction(api, &bytes.Buffer{})
	fn.Sweep.Reserve = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a, err := fn.RunSweep(ctx, "r", SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Truncated || len(a.Stopped) != 0 || api.Describes() != 0 {
		t.Errorf("a sweep with less time than its reserve: %+v, %d listings", a, api.Describes())
	}
}

// Throttling answers reach the sweep (a client that does not retry): it
// slows down and still stops everything once, with nothing Failed.
func TestSweepThrottlingStopsEverything(t *testing.T) {
	var fleet []ca.Invocation
	for i := range 150 {
		fleet = append(fleet, inv(fmt.Sprintf("t-%03d", i), 3*time.Hour, ca.StatusRunning))
	}
	api := newFake(fleet...)
	api.QPS = 300
	fn := testFunction(api, &bytes.Buffer{})
	fn.Sweep.Concurrency = 8
	a, err := fn.RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Stopped) != 150 || len(a.Failed) != 0 || a.Truncated {
		t.Errorf("%d stopped, Failed %v, Truncated %v", len(a.Stopped), a.Failed, a.Truncated)
	}
	for _, s := range api.Stops() {
		if n := api.StopCount(s.RegionID, s.InvokeID); n != 1 {
			t.Errorf("%s/%s stopped %d times", s.RegionID, s.InvokeID, n)
		}
	}
	if api.Throttled() == 0 {
		t.Error("the fake never throttled: the test tests nothing")
	}
}

// A throttled invocation is not Failed when the deadline ends the sweep: it
// is simply not done, and the answer is Truncated.
func TestSweepThrottledUntilDeadline(t *testing.T) {
	api := newFake(inv("t-old", 3*time.Hour, ca.StatusRunning))
	api.StopErr["t-old"] = &ca.Error{Code: "Throttling.User", Message: "slow down", HTTPStatus: 400}
	fn := testFunction(api, &bytes.Buffer{})
	fn.Sweep.Reserve = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	a, err := fn.RunSweep(ctx, "r", SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Truncated || len(a.Failed) != 0 || len(a.Stopped) != 0 || a.Matched != 1 {
		t.Errorf("answer = %+v", a)
	}
}

func boolp(b bool) *bool { return &b }

// FuzzSweepOwnerTags holds the sweep to its promises whatever the owner
// tags say: a protected invocation is never stopped, an unreadable
// stopper:ttl is reported and never guessed, and what is stopped is older
// than the rule it names.
func FuzzSweepOwnerTags(f *testing.F) {
	for _, s := range []struct {
		key, value string
		ageMin     int
	}{
		{TagProtect, "true", 300}, {TagProtect, "false", 300}, {TagProtect, "FALSE ", 300}, {TagProtect, "", 10},
		{TagTTL, "30m", 50}, {TagTTL, "6h", 180}, {TagTTL, "soon", 240}, {TagTTL, "-1h", 240}, {TagTTL, "0s", 5},
		{TagTTL, "9999999h", 1}, {TagMaxErrors, "3", 300}, {"env", "prod", 300},
	} {
		f.Add(s.key, s.value, s.ageMin)
	}
	f.Fuzz(func(t *testing.T, key, value string, ageMin int) {
		if ageMin < 0 || ageMin > 100000 {
			return
		}
		age := time.Duration(ageMin) * time.Minute
		api := newFake(inv("t-fuzz", age, ca.StatusRunning, tagged(key, value)))
		a, err := testFunction(api, &bytes.Buffer{}).RunSweep(context.Background(), "r", SweepRequest{})
		if err != nil {
			t.Fatal(err)
		}
		owner := readOwnerTags([]ca.Tag{{TagKey: key, TagValue: value}})
		stopped := api.StopCount("cn-hangzhou", "t-fuzz") > 0
		if stopped != (len(a.Stopped) == 1) {
			t.Fatalf("stopped %v, answer %+v", stopped, a)
		}
		switch {
		case owner.protect && stopped:
			t.Fatalf("a protected invocation (%s=%q) was stopped", key, value)
		case owner.ttlErr != nil && (stopped || len(a.Failed) != 1 || a.Failed[0].Code != CodeInvalidTag):
			t.Fatalf("bad ttl %q: stopped %v, Failed %+v", value, stopped, a.Failed)
		case stopped:
			limit := 2 * time.Hour
			if owner.ttl > 0 {
				limit = owner.ttl
			}
			if age <= limit {
				t.Fatalf("stopped at %s, under its limit %s (%s=%q)", age, limit, key, value)
			}
		}
	})
}

func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"3", "10%", "0", "100%", "100.5%", "1e3", " 2 ", "%", "-1", "NaN%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThreshold(s)
		if err != nil {
			if !th.IsZero() {
				t.Fatalf("%q: error with a threshold %+v", s, th)
			}
			return
		}
		if th.IsZero() || (th.Count > 0) == (th.Percent > 0) || th.Percent > 100*OnePercent {
			t.Fatalf("%q parsed as %+v", s, th)
		}
		for _, n := range []int{1, 7, 500} {
			if l := th.Limit(n); l < 1 {
				t.Fatalf("%q: limit %d of %d instances", s, l, n)
			}
		}
	})
}

// concurrentLister counts DescribeInvocations calls in flight at once.
type concurrentLister struct {
	*fakeapi.API
	mu        sync.Mutex
	now, most int
}

func (c *concurrentLister) DescribeInvocations(ctx context.Context, req ca.DescribeInvocationsRequest) (*ca.DescribeInvocationsResponse, error) {
	c.mu.Lock()
	c.now++
	c.most = max(c.most, c.now)
	c.mu.Unlock()
	defer func() { c.mu.Lock(); c.now--; c.mu.Unlock() }()
	time.Sleep(5 * time.Millisecond) // long enough for the other listers to pile up
	return c.API.DescribeInvocations(ctx, req)
}

// A sweep naming many regions lists at most regionListers of them at once
// (a request naming 10,000 regions once opened thousands of connections).
func TestSweepBoundsRegionsListedAtOnce(t *testing.T) {
	var regions []string
	for i := range MaxRegions {
		regions = append(regions, fmt.Sprintf("cn-r%02d", i))
	}
	api := &concurrentLister{API: newFake()}
	fn := testFunction(api, &bytes.Buffer{})
	if _, err := fn.RunSweep(context.Background(), "r", SweepRequest{RegionIds: regions}); err != nil {
		t.Fatal(err)
	}
	if api.most > regionListers || api.most < 2 {
		t.Fatalf("%d listings at once, want at most %d (and some concurrency)", api.most, regionListers)
	}
}

// throttledLister throttles the first n listings, as a busy API does to a
// client that does not retry.
type throttledLister struct {
	*fakeapi.API
	mu sync.Mutex
	n  int
}

func (l *throttledLister) DescribeInvocations(ctx context.Context, req ca.DescribeInvocationsRequest) (*ca.DescribeInvocationsResponse, error) {
	l.mu.Lock()
	if l.n > 0 {
		l.n--
		l.mu.Unlock()
		return nil, &ca.Error{Code: "Throttling.User", Message: "Request was denied due to user flow control.", HTTPStatus: 400}
	}
	l.mu.Unlock()
	return l.API.DescribeInvocations(ctx, req)
}

// Throttled listings are waited out, not counted as faults: a sweep that
// lists first cannot do without its listing.
func TestSweepWaitsOutThrottledListings(t *testing.T) {
	var fleet []ca.Invocation
	for i := range 60 {
		fleet = append(fleet, inv(fmt.Sprintf("t-%03d", i), 3*time.Hour, ca.StatusRunning))
	}
	api := &throttledLister{API: newFake(fleet...), n: listRetries + 2}
	a, err := testFunction(api, &bytes.Buffer{}).RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil || len(a.Stopped) != 60 || len(a.Failed) != 0 || a.Truncated {
		t.Fatalf("err %v, %d stopped, Failed %v, Truncated %v", err, len(a.Stopped), a.Failed, a.Truncated)
	}
}

// A stopper:ttl of 0s is no stale age at all: reported, never guessed.
func TestSweepZeroTTLIsReported(t *testing.T) {
	api := newFake(inv("t-zero", 3*time.Hour, ca.StatusRunning, tagged(TagTTL, "0s")))
	a, err := testFunction(api, &bytes.Buffer{}).RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil || len(a.Stopped) != 0 || len(a.Failed) != 1 || a.Failed[0].Code != CodeInvalidTag || api.StopCount("cn-hangzhou", "t-zero") != 0 {
		t.Fatalf("err %v, answer %+v", err, a)
	}
}

// A protected invocation is listed as Spared only once it is stale: at
// exactly its limit it is not stale yet.
func TestSweepProtectedAtTheLimit(t *testing.T) {
	api := newFake(
		inv("t-at", 2*time.Hour, ca.StatusRunning, tagged(TagProtect, "true")),
		inv("t-over", 2*time.Hour+time.Second, ca.StatusRunning, tagged(TagProtect, "true")),
		inv("t-plain", 2*time.Hour, ca.StatusRunning),
	)
	a, err := testFunction(api, &bytes.Buffer{}).RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil || len(a.Spared) != 1 || a.Spared[0].InvokeId != "t-over" || len(a.Stopped) != 0 {
		t.Fatalf("err %v, Spared %+v, Stopped %+v", err, a.Spared, a.Stopped)
	}
}

// A sweep's report counts what it matched, region by region.
func TestSweepReportMatchedByRegion(t *testing.T) {
	api := newFake(
		inv("t-a1", 3*time.Hour, ca.StatusRunning),
		inv("t-a2", 3*time.Hour, ca.StatusRunning),
		inv("t-b1", 3*time.Hour, ca.StatusRunning, inRegion("cn-shanghai")),
		inv("t-young", time.Hour, ca.StatusRunning, inRegion("cn-shanghai")),
	)
	fn := testFunction(api, &bytes.Buffer{})
	fn.Sweep.RegionIds = []string{"cn-hangzhou", "cn-shanghai"}
	a, err := fn.RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReport("fc-timer", "r", a, nil)
	if fmt.Sprint(r.Matched) != "map[cn-hangzhou:2 cn-shanghai:1]" || len(r.Stopped) != 3 {
		t.Fatalf("Matched %v, Stopped %d", r.Matched, len(r.Stopped))
	}
}

// jitter draws uniformly from [d/2, d], both ends included.
func TestJitterBounds(t *testing.T) {
	for _, d := range []time.Duration{2, throttleBackoff} {
		seen := map[time.Duration]bool{}
		for range 2000 {
			j := jitter(d)
			if j < d/2 || j > d {
				t.Fatalf("jitter(%v) = %v, outside [%v, %v]", d, j, d/2, d)
			}
			seen[j] = true
		}
		if d == 2 && (!seen[1] || !seen[2]) {
			t.Fatalf("jitter(%v) never drew an end of its range: %v", d, seen)
		}
	}
}
