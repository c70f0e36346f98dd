package emulator

import (
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

func TestSampleFleet(t *testing.T) {
	s, err := New(Options{AccessKeyID: "a", AccessKeySecret: "b", Fleet: SampleFleetAt(testNow)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		region, id, name, mode string
		instances              map[string]string
	}{
		{"cn-hangzhou", hzOnce, "backup", "Once", map[string]string{
			"i-bp1a2b3c4d5e6f7g8h9i": "Running", "i-bp1j2k3l4m5n6o7p8q9r": "Pending", "i-bp1s2t3u4v5w6x7y8z9a": "Pending"}},
		{"cn-hangzhou", hzPeriodic, "log-rotate", "Period", map[string]string{
			"i-bp1periodic00000001": "Scheduled", "i-bp1periodic00000002": "Scheduled"}},
		{"cn-shanghai", shStuck, "deploy-app", "Once", map[string]string{"i-uf6stuck000000000001": "Pending"}},
	} {
		inv, ok := s.Invocation(want.region, want.id)
		if !ok || inv.CommandName != want.name || inv.RepeatMode != want.mode || inv.RegionId != want.region {
			t.Fatalf("%s: %+v", want.id, inv)
		}
		got := statusesOf(inv)
		if len(got) != len(want.instances) {
			t.Fatalf("%s: instances %v", want.id, got)
		}
		for id, st := range want.instances {
			if got[id] != st {
				t.Errorf("%s %s: %s, want %s", want.id, id, got[id], st)
			}
		}
	}
	if inv, _ := s.Invocation("cn-hangzhou", hzPeriodic); !inv.Timed || inv.Frequency != "0 */10 * * * *" {
		t.Errorf("periodic: Timed %v Frequency %q", inv.Timed, inv.Frequency)
	}
	f := SampleFleet()
	if n := len(f.Invocations); n != 19 {
		t.Errorf("%d invocations", n)
	}
	f.Invocations[0].InvokeInstances.InvokeInstance[0].InvocationStatus = "Failed"
	if SampleFleet().Invocations[0].InvokeInstances.InvokeInstance[0].InvocationStatus == "Failed" {
		t.Error("SampleFleet shares state between calls")
	}
}

// The owner-tag and fail-fast samples: their tags, instances and ages as of
// the anchor, with the failed instances carrying what the API reports.
func TestSampleFleetOwnerTags(t *testing.T) {
	s, err := New(Options{AccessKeyID: "a", AccessKeySecret: "b", Fleet: SampleFleetAt(testNow)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		id, name string
		age      time.Duration
		tags     map[string]string // stopper:* tags, exactly
		statuses []string          // per instance, in order
		status   string
	}{
		{hzProtected, "db-migrate", 5 * time.Hour, map[string]string{"stopper:protect": "true"}, []string{"Running"}, "Running"},
		{hzTTLShort, "cache-warm", 50 * time.Minute, map[string]string{"stopper:ttl": "30m"}, []string{"Running", "Pending"}, "Running"},
		{hzTTLLong, "backup-full", 3 * time.Hour, map[string]string{"stopper:ttl": "6h"}, []string{"Running"}, "Running"},
		{hzBadTTL, "report-gen", 4 * time.Hour, map[string]string{"stopper:ttl": "soon"}, []string{"Running"}, "Running"},
		{hzFresh, "deploy-app", 10 * time.Minute, map[string]string{}, []string{"Running"}, "Running"},
		{hzAgent, "rollout-agent", 15 * time.Minute, map[string]string{"stopper:max-errors": "2"},
			[]string{"Failed", "Failed", "Running", "Pending", "Pending"}, "Running"},
		{hzCanary, "rollout-canary", 15 * time.Minute, map[string]string{"stopper:max-errors": "3"},
			[]string{"Failed", "Running", "Pending", "Pending"}, "Running"},
		{hzUntagged, "rollout-untagged", 15 * time.Minute, map[string]string{}, []string{"Failed", "Pending", "Pending"}, "Pending"},
		{hzRolloutProtected, "rollout-protected", 15 * time.Minute, map[string]string{"stopper:protect": "true", "stopper:max-errors": "1"},
			[]string{"Failed", "Failed", "Pending"}, "Pending"},
	} {
		t.Run(want.name, func(t *testing.T) {
			inv, ok := s.Invocation("cn-hangzhou", want.id)
			if !ok || inv.CommandName != want.name || inv.RepeatMode != "Once" || inv.InvocationStatus != want.status {
				t.Fatalf("%+v", inv)
			}
			created, _ := time.Parse(time.RFC3339, inv.CreationTime)
			if age := testNow.Sub(created); age != want.age {
				t.Errorf("age %v, want %v", age, want.age)
			}
			tags := map[string]string{}
			for _, tg := range inv.Tags.Tag {
				if strings.HasPrefix(tg.TagKey, "stopper:") {
					tags[tg.TagKey] = tg.TagValue
				}
			}
			if !maps.Equal(tags, want.tags) {
				t.Errorf("stopper tags %v, want %v", tags, want.tags)
			}
			var got []string
			for _, in := range inv.InvokeInstances.InvokeInstance {
				got = append(got, in.InvocationStatus)
				switch in.InvocationStatus {
				case "Failed":
					if in.ExitCode == 0 || in.ErrorCode == "" || in.FinishTime == "" || in.StartTime == "" {
						t.Errorf("failed instance %+v lacks ExitCode/ErrorCode/StartTime/FinishTime", in)
					}
				case "Running":
					if in.StartTime == "" || in.FinishTime != "" {
						t.Errorf("running instance %+v", in)
					}
				case "Pending":
					if in.StartTime != "" {
						t.Errorf("pending instance %+v", in)
					}
				}
			}
			if !slices.Equal(got, want.statuses) {
				t.Errorf("instances %v, want %v", got, want.statuses)
			}
		})
	}
}

// SampleFleetAt moves every time by now minus the anchor, so the ages never
// go stale; at the anchor it is the file as written.
func TestSampleFleetAt(t *testing.T) {
	anchor, err := time.Parse(time.RFC3339, SampleFleetAnchor)
	if err != nil || !anchor.Equal(testNow) {
		t.Fatalf("anchor %v %v", anchor, err)
	}
	raw, err := ParseFleet(sampleFleet)
	if err != nil {
		t.Fatal(err)
	}
	if got := SampleFleetAt(anchor); !reflect.DeepEqual(got, raw) {
		t.Fatal("SampleFleetAt(anchor) differs from sample-fleet.json")
	}
	later := anchor.Add(97*24*time.Hour + 3*time.Hour + 17*time.Second + 600*time.Millisecond)
	shift := later.Sub(anchor).Truncate(time.Second)
	moved := SampleFleetAt(later)
	check := func(what, was, is string) {
		t.Helper()
		if was == "" {
			if is != "" {
				t.Errorf("%s: empty became %q", what, is)
			}
			return
		}
		w, _ := time.Parse(time.RFC3339, was)
		g, err := time.Parse(time.RFC3339, is)
		if err != nil || g.Sub(w) != shift || !strings.HasSuffix(is, "Z") || len(is) != len(timeLayout) {
			t.Errorf("%s: %s became %s, want moved by %v", what, was, is, shift)
		}
	}
	fields := 0
	for i, inv := range raw.Invocations {
		m := moved.Invocations[i]
		check(inv.InvokeId+" CreationTime", inv.CreationTime, m.CreationTime)
		for j, in := range inv.InvokeInstances.InvokeInstance {
			mi := m.InvokeInstances.InvokeInstance[j]
			name := inv.InvokeId + "/" + in.InstanceId
			check(name+" CreationTime", in.CreationTime, mi.CreationTime)
			check(name+" StartTime", in.StartTime, mi.StartTime)
			check(name+" UpdateTime", in.UpdateTime, mi.UpdateTime)
			check(name+" FinishTime", in.FinishTime, mi.FinishTime)
			check(name+" StopTime", in.StopTime, mi.StopTime)
			for _, v := range []string{in.StopTime, in.FinishTime} {
				if v != "" {
					fields++
				}
			}
		}
	}
	if fields == 0 {
		t.Fatal("the fleet has no FinishTime or StopTime to check")
	}
	// SampleFleet is as of now: the fresh invocation is about 10 minutes old.
	for _, inv := range SampleFleet().Invocations {
		if inv.InvokeId == hzFresh {
			created, _ := time.Parse(time.RFC3339, inv.CreationTime)
			if age := time.Since(created); age < 10*time.Minute || age > 10*time.Minute+time.Hour {
				t.Errorf("fresh invocation is %v old", age)
			}
		}
	}
}

func TestParseFleetErrors(t *testing.T) {
	for _, tc := range []struct{ name, json, want string }{
		{"not JSON", `{`, "not a fleet"},
		{"missing RegionId", `{"Invocations":[{"InvokeId":"t-a"}]}`, "invocation #1 (t-a): missing RegionId"},
		{"missing InvokeId", `{"Invocations":[{"RegionId":"cn-hangzhou","InvokeId":"t-a"},{"RegionId":"cn-hangzhou"}]}`, "invocation #2: missing InvokeId"},
		{"duplicate", `{"Invocations":[{"RegionId":"cn-hangzhou","InvokeId":"t-a"},{"RegionId":"cn-hangzhou","InvokeId":"t-a"}]}`, "invocation #2 (t-a): duplicate InvokeId in cn-hangzhou (first at #1)"},
		{"bad CreationTime", `{"Invocations":[{"RegionId":"cn-hangzhou","InvokeId":"t-a","CreationTime":"yesterday"}]}`, `bad CreationTime "yesterday"`},
		{"bad status", `{"Invocations":[{"RegionId":"cn-hangzhou","InvokeId":"t-a","InvokeInstances":{"InvokeInstance":[{"InstanceId":"i-a","InvocationStatus":"Sleeping"}]}}]}`, `instance i-a: unknown InvocationStatus "Sleeping"`},
		{"instance without id", `{"Invocations":[{"RegionId":"cn-hangzhou","InvokeId":"t-a","InvokeInstances":{"InvokeInstance":[{"InvocationStatus":"Running"}]}}]}`, "instance #1: missing InstanceId"},
		{"instance twice", `{"Invocations":[{"RegionId":"cn-hangzhou","InvokeId":"t-a","InvokeInstances":{"InvokeInstance":[{"InstanceId":"i-a"},{"InstanceId":"i-a"}]}}]}`, "instance i-a listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFleet([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// The same region id may reuse an InvokeId in another region.
	if _, err := ParseFleet([]byte(`{"Invocations":[{"RegionId":"cn-hangzhou","InvokeId":"t-a"},{"RegionId":"cn-shanghai","InvokeId":"t-a"}]}`)); err != nil {
		t.Fatal(err)
	}
}

func TestLoadFleet(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "fleet.json")
	if err := os.WriteFile(bad, []byte(`{"Invocations":[{"InvokeId":"t-a"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFleet(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "missing RegionId") {
		t.Fatalf("error %v", err)
	}
	if _, err := LoadFleet(filepath.Join(dir, "none.json")); err == nil || !strings.Contains(err.Error(), "none.json") {
		t.Fatalf("error %v", err)
	}
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, sampleFleet, 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := LoadFleet(good); err != nil || len(f.Invocations) != len(SampleFleet().Invocations) {
		t.Fatalf("%v", err)
	}
}

func TestNewAndAdd(t *testing.T) {
	if _, err := New(Options{AccessKeyID: "a"}); err == nil {
		t.Fatal("New accepted a key without secret")
	}
	s, _ := New(Options{AccessKeyID: "a", AccessKeySecret: "b", Now: func() time.Time { return testNow }})
	inv := ca.Invocation{RegionId: "cn-test-1", InvokeId: "t-new", InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{{InstanceId: "i-a"}}}}
	if err := s.Add(inv); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(inv); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Fatalf("second Add: %v", err)
	}
	// Add copies: changing the caller's value changes nothing inside.
	inv.InvokeInstances.InvokeInstance[0].InvocationStatus = "Failed"
	got, ok := s.Invocation("cn-test-1", "t-new")
	if !ok || got.InvocationStatus != "Pending" || got.CreationTime != testNow.Format(timeLayout) || got.InvokeStatus != "Running" {
		t.Fatalf("%+v", got)
	}
	// The region became known with its first invocation.
	if len(s.Fleet().Invocations) != 1 {
		t.Fatal("Fleet snapshot")
	}
	if _, err := New(Options{AccessKeyID: "a", AccessKeySecret: "b", Fleet: &Fleet{Invocations: []ca.Invocation{{InvokeId: "t-x"}}}}); err == nil {
		t.Fatal("New accepted an invalid fleet")
	}
}

func TestDeriveStatus(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		// In flight, in the emulator's precedence (the docs give none).
		{[]string{"Success", "Running", "Pending"}, "Running"},
		{[]string{"Stopping", "Running"}, "Running"},
		{[]string{"Stopping", "Pending"}, "Stopping"},
		{[]string{"Stopping", "Terminated", "Cancelled"}, "Stopping"},
		{[]string{"Pending", "Scheduled", "Success"}, "Pending"},
		{[]string{"Scheduled", "Failed"}, "Scheduled"},
		// Ended: "Success = every instance Stopped or Success, at least one Success".
		{[]string{"Success", "Success"}, "Success"},
		{[]string{"Success", "Cancelled"}, "Success"},
		{[]string{"Success", "Terminated", "Stopped"}, "Success"},
		{[]string{"Terminated"}, "Stopped"},
		{[]string{"Terminated", "Cancelled"}, "Stopped"},
		{[]string{"Stopped", "Stopped"}, "Stopped"},
		{[]string{"Success", "Timeout"}, "PartialFailed"},
		{[]string{"Success", "Cancelled", "Failed"}, "PartialFailed"},
		{[]string{"Cancelled", "Error"}, "Failed"},
		{[]string{"Terminated", "Failed"}, "Failed"},
		{[]string{"Invalid", "Aborted"}, "Failed"},
	} {
		var ins []ca.InvokeInstance
		for _, s := range tc.in {
			ins = append(ins, ca.InvokeInstance{InvocationStatus: s})
		}
		if got := deriveStatus(ins); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.in, got, tc.want)
		}
	}
	for st, legacy := range map[string]string{"Pending": "Running", "Scheduled": "Running", "Success": "Finished", "Failed": "Failed", "PartialFailed": "PartialFailed", "Stopped": "Stopped"} {
		if got := legacyInvokeStatus(st); got != legacy {
			t.Errorf("legacy %s: %s, want %s", st, got, legacy)
		}
	}
}

// Concurrent sweeps and listings under -race: every invocation ends up
// stopped, and the counts add up.
func TestConcurrentCallers(t *testing.T) {
	s, hs := start(t, Options{Fleet: &Fleet{}})
	bigFleet(t, s, "cn-beijing", 200)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := newClient(hs)
			c.v1 = w%2 == 0
			p := url.Values{"RegionId": {"cn-beijing"}, "MaxResults": {"50"}}
			for {
				resp := c.describe(t, p)
				for i, inv := range resp.Invocations.Invocation {
					if i%8 == w {
						c.stop(t, "cn-beijing", inv.InvokeId)
					}
				}
				if resp.NextToken == "" {
					return
				}
				p.Set("NextToken", resp.NextToken)
			}
		}(w)
	}
	wg.Wait()
	if s.Stops() != 200 || s.Calls(actionStop) != 200 {
		t.Fatalf("Stops %d Calls %d", s.Stops(), s.Calls(actionStop))
	}
	if resp := newClient(hs).describe(t, url.Values{"RegionId": {"cn-beijing"}, "InvokeStatus": {"Pending"}}); resp.TotalCount != 0 {
		t.Fatalf("%d still pending", resp.TotalCount)
	}
}

func TestStaleFleet(t *testing.T) {
	created := testNow.Add(-3 * time.Hour)
	s, err := New(Options{AccessKeyID: "a", AccessKeySecret: "b", Now: func() time.Time { return testNow },
		Fleet: StaleFleet("cn-test-1", 3, created)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Fleet().Invocations); n != 3 {
		t.Fatalf("%d invocations, want 3", n)
	}
	got, ok := s.Invocation("cn-test-1", "t-late0002")
	if !ok || got.InvocationStatus != ca.StatusRunning || got.CreationTime != created.UTC().Format(timeLayout) ||
		len(got.InvokeInstances.InvokeInstance) != 1 || got.InvokeInstances.InvokeInstance[0].InstanceId != "i-late0002" {
		t.Fatalf("%+v", got)
	}
}
