package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/emulator"
)

// `local invoke -timeout` is the function's deadline, as the platform's
// timeout is: a timer sweep (the sample event) that cannot finish within it
// stops starting work STOPPER_SWEEP_RESERVE before it and answers Truncated
// before it, whether the deadline comes while it stops (60 stale
// invocations, 50 ms a call, one stop at a time: 3 s of stops) or while it
// still lists (600 ms a call: the third of four listings ends after the
// reserve began).
func TestInvokeTimeoutTruncatesTheSweep(t *testing.T) {
	const timeout = 2 * time.Second
	for _, tc := range []struct {
		name       string
		stale      int
		latency    time.Duration
		listingCut bool
	}{
		{"stopping", 60, 50 * time.Millisecond, false},
		{"listing", 5, 600 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("STOPPER_SWEEP_REGION_IDS", "cn-hangzhou")
			t.Setenv("STOPPER_SWEEP_RESERVE", "500ms")
			t.Setenv("STOPPER_SWEEP_CONCURRENCY", "1")
			fleet := emulator.StaleFleet("cn-hangzhou", tc.stale, time.Now().Add(-3*time.Hour))
			emu, err := emulator.Listen("127.0.0.1:0", emulator.Options{AccessKeyID: localAccessKeyID, AccessKeySecret: localAccessKeySecret,
				Fleet: fleet, Latency: tc.latency})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { emu.Close() })

			var stdout, stderr bytes.Buffer
			// The deadline is set inside invoke, after start-up: it is no
			// earlier than start + timeout.
			start := time.Now()
			code := run(context.Background(), []string{"invoke", "-event", "../../events/fc-timer-sweep.json", "-timeout", timeout.String(),
				"-endpoint", emu.URL, "-access-key-id", localAccessKeyID, "-access-key-secret", localAccessKeySecret}, &stdout, &stderr)
			if elapsed := time.Since(start); elapsed >= timeout {
				t.Errorf("answered %s after invoke began, at or after the %s deadline", elapsed, timeout)
			}
			var a struct {
				Action    string
				Stopped   []struct{ RegionId, InvokeId string }
				Failed    []any
				Truncated bool
			}
			if err := json.Unmarshal(stdout.Bytes(), &a); err != nil || code != 0 || a.Action != "Sweep" {
				t.Fatalf("exit %d, answer %.300s (%v)\nstderr: %.2000s", code, stdout.String(), err, stderr.String())
			}
			if !a.Truncated || len(a.Failed) != 0 {
				t.Fatalf("Truncated %v, Failed %v, %d stopped; want a Truncated answer without failures", a.Truncated, a.Failed, len(a.Stopped))
			}
			if tc.listingCut && len(a.Stopped) != 0 || !tc.listingCut && (len(a.Stopped) == 0 || len(a.Stopped) >= tc.stale) {
				t.Fatalf("%d of %d stopped", len(a.Stopped), tc.stale)
			}
			for _, s := range a.Stopped {
				if n := emu.StopCalls(s.RegionId, s.InvokeId); n != 1 {
					t.Errorf("%s/%s is in Stopped after %d stop calls", s.RegionId, s.InvokeId, n)
				}
			}
			if n := emu.Calls("StopInvocation"); n != len(a.Stopped) {
				t.Errorf("%d StopInvocation calls, %d in Stopped", n, len(a.Stopped))
			}
		})
	}
}
