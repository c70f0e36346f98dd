package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/testenv"
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// The sweep's safety promises, through the whole wiring: the local runner's
// invoke (configuration, trigger decoding, the core, the signed client)
// against an emulator that kills running work and whose NextToken is an
// offset into the current listing (the worst case of both undocumented
// behaviours).

// safetyFleet is a fleet of several pages per listing, each invocation's
// fate decided by its id prefix.
func safetyFleet(now time.Time) []ca.Invocation {
	var fleet []ca.Invocation
	add := func(prefix string, n int, age time.Duration, status string, tags ...ca.Tag) {
		for i := range n {
			id := fmt.Sprintf("t-%s%04d", prefix, i)
			created := now.Add(-age).UTC().Format(time.RFC3339)
			fleet = append(fleet, ca.Invocation{RegionId: "cn-hangzhou", InvokeId: id, CommandName: "job", RepeatMode: "Once",
				CreationTime: created, Tags: ca.Tags{Tag: tags},
				InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{
					{InstanceId: "i-" + id[2:] + "a", InvocationStatus: status, CreationTime: created},
					{InstanceId: "i-" + id[2:] + "b", InvocationStatus: ca.StatusPending, CreationTime: created}}}})
		}
	}
	add("stale", 60, 3*time.Hour, ca.StatusRunning)
	add("stalettl", 20, 50*time.Minute, ca.StatusRunning, ca.Tag{TagKey: stopper.TagTTL, TagValue: "30m"})
	add("protected", 20, 5*time.Hour, ca.StatusRunning, ca.Tag{TagKey: stopper.TagProtect, TagValue: "true"})
	add("fresh", 20, 10*time.Minute, ca.StatusRunning)
	add("longttl", 20, 3*time.Hour, ca.StatusRunning, ca.Tag{TagKey: stopper.TagTTL, TagValue: "6h"})
	return fleet
}

// invokeAgainst runs `local invoke` on body against a running emulator.
func invokeAgainst(t *testing.T, emu *emulator.Running, body string) (int, map[string]any) {
	t.Helper()
	code, answer, _ := invokeLogged(t, emu, []byte(body))
	return code, answer
}

// invokeLogged is invokeAgainst that also returns the function's log, in
// which no secret of the key it signs with may appear.
func invokeLogged(t *testing.T, emu *emulator.Running, event []byte) (int, map[string]any, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(file, event, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"invoke", "-event", file, "-endpoint", emu.URL,
		"-access-key-id", localAccessKeyID, "-access-key-secret", localAccessKeySecret}, &stdout, &stderr)
	var answer map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &answer); err != nil {
		t.Fatalf("stdout is not one JSON answer: %v\n%s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	testenv.NoSecret(t, stderr.String(), localAccessKeySecret)
	return code, answer, stderr.String()
}

func startSafetyEmulator(t *testing.T, stopMode, cursor string) (*emulator.Running, []ca.Invocation) {
	t.Helper()
	t.Setenv("STOPPER_REGION_ID", "cn-hangzhou")
	t.Setenv("STOPPER_SWEEP_MAX_STOPS", "100")
	fleet := safetyFleet(time.Now())
	emu, err := emulator.Listen("127.0.0.1:0", emulator.Options{AccessKeyID: localAccessKeyID, AccessKeySecret: localAccessKeySecret,
		Fleet: &emulator.Fleet{Invocations: fleet}, StopMode: stopMode, KillDelay: time.Hour, Cursor: cursor})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu, fleet
}

// One sweep stops exactly the stale invocations (by age or stopper:ttl)
// and leaves protected, fresh and long-ttl ones running, under both stop
// behaviours and both cursors. Right after, a sweep finds nothing to do when
// stops kill (everything stale is Stopping); when they let running work
// finish (the API page), it finds the still-running stale ones again, and
// only those.
func TestSweepStopModesAndCursors(t *testing.T) {
	for _, stopMode := range []string{emulator.StopModeKill, emulator.StopModeDocumented} {
		for _, cursor := range []string{emulator.CursorOffset, emulator.CursorStable} {
			t.Run(stopMode+"/"+cursor, func(t *testing.T) { sweepTwice(t, stopMode, cursor) })
		}
	}
}

func sweepTwice(t *testing.T, stopMode, cursor string) {
	emu, fleet := startSafetyEmulator(t, stopMode, cursor)
	code, a := invokeAgainst(t, emu, `{"Action":"Sweep"}`)
	if code != 0 {
		t.Fatalf("first sweep: exit %d, %v", code, a)
	}
	stopped := map[string]bool{}
	for _, s := range a["Stopped"].([]any) {
		entry := s.(map[string]any)
		stopped[entry["InvokeId"].(string)] = true
		if entry["Pending"] != 1.0 || entry["Running"] != 1.0 {
			t.Errorf("%v: want 1 pending and 1 running instance", entry)
		}
	}
	for _, inv := range fleet {
		stale := strings.HasPrefix(inv.InvokeId, "t-stale")
		if stopped[inv.InvokeId] != stale {
			t.Errorf("%s: stopped %v, want %v", inv.InvokeId, stopped[inv.InvokeId], stale)
		}
		if n := emu.StopCalls("cn-hangzhou", inv.InvokeId); n != map[bool]int{true: 1, false: 0}[stale] {
			t.Errorf("%s: %d stop calls", inv.InvokeId, n)
		}
		got, _ := emu.Invocation("cn-hangzhou", inv.InvokeId)
		want := "Running"
		if stale && stopMode == emulator.StopModeKill {
			want = "Stopping" // killed: Terminated once the kill delay has passed
		}
		if st := got.InvokeInstances.InvokeInstance[0].InvocationStatus; st != want {
			t.Errorf("%s: running instance is %s, want %s", inv.InvokeId, st, want)
		}
	}
	if len(stopped) != 80 || len(a["Spared"].([]any)) != 40 || len(a["Failed"].([]any)) != 0 || a["Truncated"] != false {
		t.Fatalf("first sweep: %d stopped, %d spared, failed %v, truncated %v", len(stopped), len(a["Spared"].([]any)), a["Failed"], a["Truncated"])
	}
	if pages := emu.Calls("DescribeInvocations"); pages < 6 {
		t.Fatalf("%d listings: the fleet must need several pages", pages)
	}

	code, b := invokeAgainst(t, emu, `{"Action":"Sweep"}`)
	again := b["Stopped"].([]any)
	switch {
	case code != 0:
		t.Fatalf("second sweep: exit %d, %v", code, b)
	case stopMode == emulator.StopModeKill && len(again) != 0:
		t.Fatalf("second sweep stopped %d invocations already Stopping", len(again))
	case stopMode == emulator.StopModeDocumented && len(again) != 80:
		t.Fatalf("second sweep stopped %d, want the 80 stale ones still running", len(again))
	}
	for _, s := range again {
		entry := s.(map[string]any)
		if !stopped[entry["InvokeId"].(string)] || entry["Pending"] != 0.0 || entry["Running"] != 1.0 {
			t.Errorf("second sweep: %v, want a stale one with only its running instance left", entry)
		}
	}
}

// Over the limit nothing is stopped; a dry run still lists everything;
// requests that widen the sweep are refused naming the field; an empty
// instance list is refused. None of them stops anything.
func TestSweepRefusalsStopNothing(t *testing.T) {
	emu, _ := startSafetyEmulator(t, emulator.StopModeKill, emulator.CursorOffset)
	t.Setenv("STOPPER_SWEEP_MAX_STOPS", "50")
	for _, tc := range []struct {
		name, body, code, field string
	}{
		{"over the limit", `{"Action":"Sweep"}`, stopper.CodeSweepLimitExceeded, "selected 80 invocations"},
		// OlderThan 4h leaves the 3h-old ones alone; stopper:ttl=30m still applies.
		{"lowered limit", `{"Action":"Sweep","MaxStops":10,"OlderThan":"4h"}`, stopper.CodeSweepLimitExceeded, "selected 20 invocations"},
		{"shorter OlderThan", `{"Action":"Sweep","OlderThan":"1s"}`, "InvalidParameter", "OlderThan"},
		{"periodic", `{"Action":"Sweep","IncludePeriodic":true}`, "InvalidParameter", "IncludePeriodic"},
		{"higher limit", `{"Action":"Sweep","MaxStops":500}`, "InvalidParameter", "MaxStops"},
		{"empty instance list", `{"InvokeId":"t-stale0000","InstanceIds":[]}`, "InvalidParameter", "omit InstanceIds"},
		{"empty list in a string", `{"InvokeId":"t-stale0000","InstanceIds":"[]"}`, "InvalidParameter", "omit InstanceIds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, a := invokeAgainst(t, emu, tc.body)
			msg, _ := a["Message"].(string)
			if code == 0 || a["Code"] != tc.code || !strings.Contains(msg, tc.field) {
				t.Fatalf("exit %d, answer %v; want %s naming %q", code, a, tc.code, tc.field)
			}
		})
	}
	code, a := invokeAgainst(t, emu, `{"Action":"Sweep","DryRun":true}`)
	if listed, _ := a["WouldStop"].([]any); code != 0 || len(listed) != 80 || a["DryRun"] != true || a["Stopped"] != nil {
		t.Fatalf("dry run over the limit: exit %d, %d listed, Stopped %v", code, len(listed), a["Stopped"])
	}
	if n := emu.Calls("StopInvocation"); n != 0 {
		t.Fatalf("%d StopInvocation calls: a refused request stopped something", n)
	}
}
