package main

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// The real bootstrap under the real RIE, whose AWS_LAMBDA_FUNCTION_TIMEOUT
// (whole seconds) becomes the invocation's Lambda-Runtime-Deadline-Ms: a
// scheduled sweep (the sample event) that cannot finish stops starting work
// STOPPER_SWEEP_RESERVE before the deadline and answers Truncated before
// it, cut off while stopping (60 stale invocations, 50 ms a call, one stop
// at a time: 3 s of stops) or while still listing (600 ms a call). The RIE
// answers a function that outlives its deadline with a timeout error, not
// the function's answer, so a Sweep answer came before the deadline; the
// time from send to answer, which includes the whole invocation, must be
// shorter than the timeout as well.
func TestRIESweepAnswersTruncatedBeforeTheDeadline(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Runtime Interface Emulator runs on Linux only")
	}
	const timeout = 2 * time.Second
	rie := findRIE(t)
	bootstrap := buildBootstrap(t)
	api := newSwitchableEmulator(t)
	fn := startRIE(t, rie, bootstrap, map[string]string{
		"STOPPER_ECS_ENDPOINT":            api.url,
		"STOPPER_REGION_ID":               sampleRegion,
		"STOPPER_SWEEP_RESERVE":           "500ms",
		"STOPPER_SWEEP_CONCURRENCY":       "1",
		"STOPPER_MAX_ATTEMPTS":            "2",
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     testKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": testKeySecret,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     fmt.Sprint(int(timeout.Seconds())),
		"AWS_LAMBDA_FUNCTION_NAME":        "StopperFunction",
	})
	// The first invoke starts the bootstrap: the RIE sets the deadline
	// after that, so the timing below starts from a warm function.
	if got := fn.answer(t, "req-warm", []byte(`{}`)); got["Code"] == nil {
		t.Fatalf("warm-up answer = %v, want a refusal", got)
	}

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
			fleet := emulator.StaleFleet(sampleRegion, tc.stale, time.Now().Add(-3*time.Hour))
			emu, err := emulator.New(emulator.Options{AccessKeyID: testKeyID, AccessKeySecret: testKeySecret, Fleet: fleet, Latency: tc.latency})
			if err != nil {
				t.Fatal(err)
			}
			api.mu.Lock()
			api.cur = emu
			api.mu.Unlock()

			start := time.Now()
			got := fn.answer(t, "req-late-"+tc.name, e2e.ReadEvent(t, "eventbridge-schedule.json"))
			if elapsed := time.Since(start); elapsed >= timeout {
				t.Errorf("answered %s after the invoke was sent, at or after the %s deadline", elapsed, timeout)
			}
			stopped, _ := got["Stopped"].([]any)
			failed, _ := got["Failed"].([]any)
			if got["Action"] != "Sweep" || got["Truncated"] != true || len(failed) != 0 {
				t.Fatalf("answer Action %v Truncated %v Failed %v errorType %v, %d stopped; want a Truncated Sweep answer without failures",
					got["Action"], got["Truncated"], failed, got["errorType"], len(stopped))
			}
			if tc.listingCut && len(stopped) != 0 || !tc.listingCut && (len(stopped) == 0 || len(stopped) >= tc.stale) {
				t.Fatalf("%d of %d stopped", len(stopped), tc.stale)
			}
			for _, s := range stopped {
				m, _ := s.(map[string]any)
				if n := emu.StopCalls(sampleRegion, fmt.Sprint(m["InvokeId"])); n != 1 {
					t.Errorf("%v is in Stopped after %d stop calls", m["InvokeId"], n)
				}
			}
			if n := emu.Calls("StopInvocation"); n != len(stopped) {
				t.Errorf("%d StopInvocation calls, %d in Stopped", n, len(stopped))
			}
		})
	}
	fn.checkLog(t)
}
