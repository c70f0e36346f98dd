package emulator

import (
	"cmp"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

const (
	hzOnce     = "t-1fad2a8876de47068cc734d57703aa76"
	hzPeriodic = "t-hz0periodic7c1d2e3f4a5b6c7d8e9f"
	shStuck    = "t-sh0stuck9a8b7c6d5e4f3a2b1c0d9e8f"
	shPeriodic = "t-sh0periodic6f7a8b9c0d1e2f3a4b5c"
	hzFinished = "t-hz0finished1a2b3c4d5e6f7a8b9c0d"
)

func statusesOf(inv ca.Invocation) map[string]string {
	m := map[string]string{}
	for _, in := range inv.InvokeInstances.InvokeInstance {
		m[in.InstanceId] = in.InvocationStatus
	}
	return m
}

func TestStopSemantics(t *testing.T) {
	for _, tc := range []struct {
		name       string
		region, id string
		instances  []string
		want       map[string]string
		wantStatus string
		wantActive bool
	}{
		{name: "one-time, all instances: started keep running, pending never run",
			region: "cn-hangzhou", id: hzOnce,
			want:       map[string]string{"i-bp1a2b3c4d5e6f7g8h9i": "Running", "i-bp1j2k3l4m5n6o7p8q9r": "Cancelled", "i-bp1s2t3u4v5w6x7y8z9a": "Cancelled"},
			wantStatus: "Running"},
		{name: "one-time, some instances", region: "cn-hangzhou", id: hzOnce, instances: []string{"i-bp1j2k3l4m5n6o7p8q9r"},
			want:       map[string]string{"i-bp1a2b3c4d5e6f7g8h9i": "Running", "i-bp1j2k3l4m5n6o7p8q9r": "Cancelled", "i-bp1s2t3u4v5w6x7y8z9a": "Pending"},
			wantStatus: "Running"},
		{name: "one-time, only pending", region: "cn-shanghai", id: shStuck,
			want: map[string]string{"i-uf6stuck000000000001": "Cancelled"}, wantStatus: "Stopped"},
		{name: "periodic: no further runs", region: "cn-hangzhou", id: hzPeriodic,
			want:       map[string]string{"i-bp1periodic00000001": "Stopped", "i-bp1periodic00000002": "Stopped"},
			wantStatus: "Stopped"},
		{name: "periodic, one instance: still active", region: "cn-hangzhou", id: hzPeriodic, instances: []string{"i-bp1periodic00000001"},
			want:       map[string]string{"i-bp1periodic00000001": "Stopped", "i-bp1periodic00000002": "Scheduled"},
			wantStatus: "Scheduled", wantActive: true},
		{name: "periodic with a run in progress: the run continues, nothing more",
			region: "cn-shanghai", id: shPeriodic,
			want:       map[string]string{"i-uf6periodic00000001": "Running", "i-uf6periodic00000002": "Stopped"},
			wantStatus: "Running"},
		{name: "finished: no-op", region: "cn-hangzhou", id: hzFinished,
			want:       map[string]string{"i-bp1web0000000000001": "Success", "i-bp1web0000000000002": "Success"},
			wantStatus: "Success"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, hs := start(t, Options{})
			c := newClient(hs)
			before, _ := s.Invocation(tc.region, tc.id)
			r := c.stop(t, tc.region, tc.id, tc.instances...)
			if r.status != http.StatusOK || len(r.body) != 1 || !requestIDPattern.MatchString(r.body["RequestId"].(string)) {
				t.Fatalf("answer %d %s, want 200 {RequestId}", r.status, r.raw)
			}
			inv, ok := s.Invocation(tc.region, tc.id)
			if !ok {
				t.Fatal("invocation gone")
			}
			got := statusesOf(inv)
			for id, want := range tc.want {
				if got[id] != want {
					t.Errorf("%s: %s, want %s", id, got[id], want)
				}
			}
			if inv.InvocationStatus != tc.wantStatus || inv.Timed != tc.wantActive {
				t.Errorf("invocation %s Timed=%v, want %s Timed=%v", inv.InvocationStatus, inv.Timed, tc.wantStatus, tc.wantActive)
			}
			for i, in := range inv.InvokeInstances.InvokeInstance {
				old := before.InvokeInstances.InvokeInstance[i]
				changed := old.InvocationStatus != in.InvocationStatus
				if changed != (in.StopTime == testNow.Format(timeLayout)) || (changed && in.UpdateTime != in.StopTime) {
					t.Errorf("%s: %s -> %s with StopTime %q UpdateTime %q", in.InstanceId, old.InvocationStatus, in.InvocationStatus, in.StopTime, in.UpdateTime)
				}
			}
			if n := s.StopCalls(tc.region, tc.id); n != 1 {
				t.Errorf("StopCalls = %d, want 1", n)
			}
			// A second stop is a harmless success.
			if r := c.stop(t, tc.region, tc.id, tc.instances...); r.status != http.StatusOK {
				t.Fatalf("second stop: %d %s", r.status, r.raw)
			}
			again, _ := s.Invocation(tc.region, tc.id)
			if g := statusesOf(again); !maps.Equal(g, got) {
				t.Errorf("second stop changed %v to %v", got, g)
			}
			if s.StopCalls(tc.region, tc.id) != 2 || s.Stops() != 2 || s.Calls(actionStop) != 2 {
				t.Errorf("StopCalls %d Stops %d Calls %d, want 2 each", s.StopCalls(tc.region, tc.id), s.Stops(), s.Calls(actionStop))
			}
		})
	}
}

// Stopping a periodic invocation takes it out of Timed=true listings and
// into the default ones.
func TestStopPeriodicLeavesTimedListing(t *testing.T) {
	_, hs := start(t, Options{})
	c := newClient(hs)
	timed := url.Values{"RegionId": {"cn-hangzhou"}, "Timed": {"true"}}
	untimed := url.Values{"RegionId": {"cn-hangzhou"}, "InvokeId": {hzPeriodic}}
	if got := ids(c.describe(t, timed).Invocations.Invocation); !contains(got, hzPeriodic) {
		t.Fatalf("Timed=true before the stop: %v", got)
	}
	if got := c.describe(t, untimed).Invocations.Invocation; len(got) != 0 {
		t.Fatalf("active periodic shown without Timed=true: %v", ids(got))
	}
	c.stop(t, "cn-hangzhou", hzPeriodic)
	if got := ids(c.describe(t, timed).Invocations.Invocation); contains(got, hzPeriodic) {
		t.Fatalf("Timed=true after the stop still lists it: %v", got)
	}
	got := c.describe(t, untimed).Invocations.Invocation
	if len(got) != 1 || got[0].InvocationStatus != "Stopped" || got[0].InvokeStatus != "Stopped" || got[0].Timed {
		t.Fatalf("after the stop: %+v", got)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// instanceState is one instance's status with the times a stop writes.
type instanceState struct{ status, stop, finish string }

func statesOf(inv ca.Invocation) map[string]instanceState {
	m := map[string]instanceState{}
	for _, in := range inv.InvokeInstances.InvokeInstance {
		m[in.InstanceId] = instanceState{in.InvocationStatus, in.StopTime, in.FinishTime}
	}
	return m
}

// In kill mode a stop cancels what had not started and kills what runs:
// Stopping at once, Terminated once the emulator's clock passes KillDelay,
// evaluated when the state is read (no timers: the injected clock decides).
func TestStopKillMode(t *testing.T) {
	at := func(d time.Duration) string { return testNow.Add(d).Format(timeLayout) }
	const delay = 5 * time.Second
	for _, tc := range []struct {
		name       string
		region, id string
		instances  []string
		killDelay  time.Duration
		// Right after the stop, and once the delay is over.
		now, later             map[string]instanceState
		nowStatus, laterStatus string
		nowActive              bool
	}{
		{name: "one-time: running killed, pending cancelled", region: "cn-hangzhou", id: hzOnce, killDelay: delay,
			now: map[string]instanceState{
				"i-bp1a2b3c4d5e6f7g8h9i": {"Stopping", at(0), ""},
				"i-bp1j2k3l4m5n6o7p8q9r": {"Cancelled", at(0), ""},
				"i-bp1s2t3u4v5w6x7y8z9a": {"Cancelled", at(0), ""}},
			later: map[string]instanceState{
				"i-bp1a2b3c4d5e6f7g8h9i": {"Terminated", at(0), at(delay)},
				"i-bp1j2k3l4m5n6o7p8q9r": {"Cancelled", at(0), ""},
				"i-bp1s2t3u4v5w6x7y8z9a": {"Cancelled", at(0), ""}},
			nowStatus: "Stopping", laterStatus: "Stopped"},
		{name: "one-time, the running instance only; default delay", region: "cn-hangzhou", id: hzOnce,
			instances: []string{"i-bp1a2b3c4d5e6f7g8h9i"},
			now: map[string]instanceState{
				"i-bp1a2b3c4d5e6f7g8h9i": {"Stopping", at(0), ""},
				"i-bp1j2k3l4m5n6o7p8q9r": {"Pending", "", ""}},
			later: map[string]instanceState{
				"i-bp1a2b3c4d5e6f7g8h9i": {"Terminated", at(0), at(DefaultKillDelay)},
				"i-bp1j2k3l4m5n6o7p8q9r": {"Pending", "", ""}},
			nowStatus: "Stopping", laterStatus: "Pending"},
		{name: "one-time, pending only: nothing to kill", region: "cn-shanghai", id: shStuck, killDelay: delay,
			now:       map[string]instanceState{"i-uf6stuck000000000001": {"Cancelled", at(0), ""}},
			later:     map[string]instanceState{"i-uf6stuck000000000001": {"Cancelled", at(0), ""}},
			nowStatus: "Stopped", laterStatus: "Stopped"},
		{name: "periodic with a run in progress: killed, no further runs", region: "cn-shanghai", id: shPeriodic, killDelay: delay,
			now: map[string]instanceState{
				"i-uf6periodic00000001": {"Stopping", at(0), ""},
				"i-uf6periodic00000002": {"Stopped", at(0), ""}},
			later: map[string]instanceState{
				"i-uf6periodic00000001": {"Terminated", at(0), at(delay)},
				"i-uf6periodic00000002": {"Stopped", at(0), ""}},
			nowStatus: "Stopping", laterStatus: "Stopped"},
		{name: "periodic, between runs", region: "cn-hangzhou", id: hzPeriodic, killDelay: delay,
			now: map[string]instanceState{
				"i-bp1periodic00000001": {"Stopped", at(0), ""},
				"i-bp1periodic00000002": {"Stopped", at(0), ""}},
			later: map[string]instanceState{
				"i-bp1periodic00000001": {"Stopped", at(0), ""},
				"i-bp1periodic00000002": {"Stopped", at(0), ""}},
			nowStatus: "Stopped", laterStatus: "Stopped"},
		{name: "periodic, one instance: the other stays scheduled", region: "cn-hangzhou", id: hzPeriodic,
			instances: []string{"i-bp1periodic00000001"}, killDelay: delay,
			now: map[string]instanceState{
				"i-bp1periodic00000001": {"Stopped", at(0), ""},
				"i-bp1periodic00000002": {"Scheduled", "", ""}},
			later: map[string]instanceState{
				"i-bp1periodic00000001": {"Stopped", at(0), ""},
				"i-bp1periodic00000002": {"Scheduled", "", ""}},
			nowStatus: "Scheduled", laterStatus: "Scheduled", nowActive: true},
		{name: "finished: no-op", region: "cn-hangzhou", id: hzFinished, killDelay: delay,
			now: map[string]instanceState{
				"i-bp1web0000000000001": {"Success", "", "2026-11-21T09:31:40Z"},
				"i-bp1web0000000000002": {"Success", "", "2026-11-21T09:31:52Z"}},
			later: map[string]instanceState{
				"i-bp1web0000000000001": {"Success", "", "2026-11-21T09:31:40Z"},
				"i-bp1web0000000000002": {"Success", "", "2026-11-21T09:31:52Z"}},
			nowStatus: "Success", laterStatus: "Success"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(testNow)
			s, hs := start(t, Options{StopMode: StopModeKill, KillDelay: tc.killDelay, Now: clock.Now})
			c := newClient(hs)
			wantDelay := cmp.Or(tc.killDelay, DefaultKillDelay)
			check := func(when string, want map[string]instanceState, status string, active bool) {
				t.Helper()
				inv, _ := s.Invocation(tc.region, tc.id)
				got := statesOf(inv)
				for id, w := range want {
					if got[id] != w {
						t.Errorf("%s: %s is %+v, want %+v", when, id, got[id], w)
					}
				}
				if inv.InvocationStatus != status || inv.Timed != active {
					t.Errorf("%s: invocation %s Timed=%v, want %s Timed=%v", when, inv.InvocationStatus, inv.Timed, status, active)
				}
				// DescribeInvocations sees the same, through its filters.
				timed := strconv.FormatBool(active)
				resp := c.describe(t, url.Values{"RegionId": {tc.region}, "InvokeId": {tc.id}, "InvokeStatus": {status}, "Timed": {timed}})
				if len(resp.Invocations.Invocation) != 1 || resp.Invocations.Invocation[0].InvocationStatus != status {
					t.Errorf("%s: InvokeStatus=%s lists %v", when, status, ids(resp.Invocations.Invocation))
				}
			}
			if r := c.stop(t, tc.region, tc.id, tc.instances...); r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			check("at the stop", tc.now, tc.nowStatus, tc.nowActive)

			// A stop again while Stopping changes nothing, a second later.
			clock.Advance(time.Second / 2)
			if r := c.stop(t, tc.region, tc.id, tc.instances...); r.status != 200 {
				t.Fatalf("second stop: %d %s", r.status, r.raw)
			}
			clock.Advance(wantDelay - time.Second/2 - time.Nanosecond)
			check("just before the delay", tc.now, tc.nowStatus, tc.nowActive)
			clock.Advance(time.Nanosecond)
			check("at the delay", tc.later, tc.laterStatus, tc.nowActive)

			// A stop retried after the kill succeeds and changes nothing
			// (within the signature's 15 minutes of clock skew).
			clock.Advance(10 * time.Minute)
			if r := c.stop(t, tc.region, tc.id, tc.instances...); r.status != 200 {
				t.Fatalf("late stop: %d %s", r.status, r.raw)
			}
			check("after a late stop", tc.later, tc.laterStatus, tc.nowActive)
			if n := s.StopCalls(tc.region, tc.id); n != 3 {
				t.Errorf("StopCalls %d, want 3", n)
			}
		})
	}
}

// A Stopping instance written in the fleet has no kill pending: in kill mode
// a stop leaves it exactly as it is.
func TestStopKillModeLeavesStopping(t *testing.T) {
	inv := ca.Invocation{RegionId: "cn-hangzhou", InvokeId: "t-stopping", RepeatMode: "Once", CreationTime: "2026-11-26T08:00:00Z",
		InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{
			{InstanceId: "i-a", InvocationStatus: "Stopping", StopTime: "2026-11-26T08:30:00Z", UpdateTime: "2026-11-26T08:30:00Z"}}}}
	clock := newFakeClock(testNow)
	s, hs := start(t, Options{StopMode: StopModeKill, Now: clock.Now, Fleet: &Fleet{Invocations: []ca.Invocation{inv}}})
	before, _ := s.Invocation("cn-hangzhou", "t-stopping")
	if r := newClient(hs).stop(t, "cn-hangzhou", "t-stopping"); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	clock.Advance(time.Hour)
	after, _ := s.Invocation("cn-hangzhou", "t-stopping")
	if !reflect.DeepEqual(before.InvokeInstances, after.InvokeInstances) || after.InvocationStatus != "Stopping" {
		t.Fatalf("before %+v\nafter %+v", before.InvokeInstances, after.InvokeInstances)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{StopMode: "gentle"}, `StopMode "gentle" is not one of documented, kill`},
		{Options{StopMode: "Kill"}, `StopMode "Kill" is not one of documented, kill`},
		{Options{Cursor: "random"}, `Cursor "random" is not one of stable, offset`},
		{Options{KillDelay: -time.Second}, "KillDelay -1s must not be negative"},
		{Options{DropAfterRate: 1.5}, "DropAfterRate 1.5 must be between 0 and 1"},
		{Options{DropRate: -0.1}, "DropRate -0.1 must be between 0 and 1"},
	} {
		tc.opts.AccessKeyID, tc.opts.AccessKeySecret = "a", "b"
		if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.opts, err, tc.want)
		}
	}
	for _, o := range []Options{{StopMode: StopModeKill, Cursor: CursorOffset}, {StopMode: StopModeDocumented, Cursor: CursorStable}} {
		o.AccessKeyID, o.AccessKeySecret = "a", "b"
		if _, err := New(o); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
