package emulator

import (
	"maps"
	"net/http"
	"net/url"
	"testing"

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
