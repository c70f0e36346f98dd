package fcruntime

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// A sweep that cannot finish before the invocation's deadline, which FC
// gives in x-fc-function-deadline: the function must stop starting work
// STOPPER_SWEEP_RESERVE before it and answer Truncated before it. The fleet
// holds staleCount stale invocations in one region; with the emulator's
// latency and one stop at a time they need far longer than the deadline
// allows, while listing them takes a fraction of it.
const (
	staleCount     = 60
	sweepLatency   = 50 * time.Millisecond // 60 stops one at a time: 3 s
	sweepReserve   = "500ms"
	sweepDeadline  = 2 * time.Second
	listingLatency = 600 * time.Millisecond // the third of four listings ends after the reserve began
)

// fleetSize is staleCount, or a few when the listing is to be cut off: the
// answer is the same, and a function that ignored the deadline would not
// take minutes to show it.
func fleetSize(listingCut bool) int {
	if listingCut {
		return 5
	}
	return staleCount
}

// setSweepEnv is setEnv with a short reserve and one stop at a time.
func setSweepEnv(t *testing.T, endpoint string) {
	t.Helper()
	setEnv(t, endpoint)
	t.Setenv("STOPPER_SWEEP_RESERVE", sweepReserve)
	t.Setenv("STOPPER_SWEEP_CONCURRENCY", "1")
}

// deadlineHeaders are FC's headers for an invocation whose deadline is at
// dl, given only in x-fc-function-deadline (epoch milliseconds), so that
// nothing else could bound the invocation.
func deadlineHeaders(dl time.Time) map[string]string {
	return with(without(fcHeaders(), "x-fc-function-timeout"),
		"x-fc-function-deadline", strconv.FormatInt(dl.UnixMilli(), 10))
}

// sweepAnswer is the part of a Sweep answer these tests read.
type sweepAnswer struct {
	Action    string
	Stopped   []struct{ RegionId, InvokeId string }
	Failed    []struct{ RegionId, InvokeId, Code string }
	Truncated bool
}

// checkTruncated checks a sweep answered at answered for a deadline at dl:
// before it, Truncated, no failure, and what it says it stopped is what
// the emulator was asked to stop, once each. listingCut says the deadline
// came while listing, so nothing was stopped; otherwise part of the fleet
// was.
func checkTruncated(t *testing.T, emu *emulator.Server, body []byte, answered, dl time.Time, listingCut bool) {
	t.Helper()
	if !answered.Before(dl) {
		t.Errorf("answered %s after the deadline", answered.Sub(dl))
	}
	var a sweepAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.Action != "Sweep" {
		t.Fatalf("not a Sweep answer (%v): %.300s", err, body)
	}
	if !a.Truncated || len(a.Failed) != 0 {
		t.Fatalf("Truncated %v, Failed %v, %d stopped; want a Truncated answer without failures", a.Truncated, a.Failed, len(a.Stopped))
	}
	switch {
	case listingCut && len(a.Stopped) != 0:
		t.Fatalf("stopped %d while the listing was cut off", len(a.Stopped))
	case !listingCut && (len(a.Stopped) == 0 || len(a.Stopped) >= staleCount):
		t.Fatalf("stopped %d of %d; want some, not all", len(a.Stopped), staleCount)
	}
	for _, s := range a.Stopped {
		if n := emu.StopCalls(s.RegionId, s.InvokeId); n != 1 {
			t.Errorf("%s/%s is in Stopped after %d stop calls", s.RegionId, s.InvokeId, n)
		}
	}
	if n := emu.Calls("StopInvocation"); n != len(a.Stopped) {
		t.Errorf("%d StopInvocation calls, %d in Stopped: a stop went unreported", n, len(a.Stopped))
	}
}

// The go1 runtime bounds an event by the x-fc-function-deadline its
// Runtime API hands out: a timer sweep (the sample event) that cannot
// finish answers Truncated before the deadline, cut off while stopping or
// while still listing.
func TestRuntimeAPISweepAnswersTruncatedBeforeTheDeadline(t *testing.T) {
	for _, tc := range []struct {
		name       string
		latency    time.Duration
		listingCut bool
	}{
		{"stopping", sweepLatency, false},
		{"listing", listingLatency, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, url := newEmulator(t, emulator.Options{Fleet: emulator.StaleFleet(sampleRegion, fleetSize(tc.listingCut), time.Now().Add(-3*time.Hour)), Latency: tc.latency})
			setSweepEnv(t, url)
			fc := newFakeFC(t)
			startLoop(t, fc, nil)
			dl := time.Now().Add(sweepDeadline)
			fc.push("req-late", deadlineHeaders(dl), e2e.ReadEvent(t, "fc-timer-sweep.json"))
			a := fc.wait(t, "req-late")
			answered := time.Now()
			if a.kind != "response" {
				t.Fatalf("answer = %s %s, want a response", a.kind, a.body)
			}
			checkTruncated(t, emu, a.body, answered, dl, tc.listingCut)
		})
	}
}

// The custom runtime bounds /invoke and webhooks alike by
// x-fc-function-deadline.
func TestCustomSweepAnswersTruncatedBeforeTheDeadline(t *testing.T) {
	sweep := []byte(`{"Action":"Sweep","RegionIds":["cn-hangzhou"]}`)
	for _, tc := range []struct {
		name       string
		latency    time.Duration
		listingCut bool
		webhook    bool
	}{
		{"invoke, stopping", sweepLatency, false, false},
		{"invoke, listing", listingLatency, true, false},
		{"webhook, stopping", sweepLatency, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, url := newEmulator(t, emulator.Options{Fleet: emulator.StaleFleet(sampleRegion, fleetSize(tc.listingCut), time.Now().Add(-3*time.Hour)), Latency: tc.latency})
			setSweepEnv(t, url)
			base, _ := startCustom(t, "")
			dl := time.Now().Add(sweepDeadline)
			h := with(deadlineHeaders(dl), "x-fc-request-id", "req-late", "x-fc-control-path", "/invoke",
				"Content-Type", "application/octet-stream")
			if tc.webhook {
				h["x-fc-control-path"], h["Content-Type"] = "/http-invoke", "application/json"
				h["X-Stopper-Timestamp"], h["X-Stopper-Signature"] = webhook.Sign(hookSecret, time.Now(), sweep)
			}
			resp, body := send(t, http.MethodPost, base+"/sweep", h, sweep)
			answered := time.Now()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("answer = %d %s", resp.StatusCode, body)
			}
			checkTruncated(t, emu, body, answered, dl, tc.listingCut)
		})
	}
}

// Credentials FC hands an invocation never show, under the JSON handler
// at debug level, through a call the client retries (STOPPER_MAX_ATTEMPTS
// is 2: one fault): not in the log, not in
// the answer, whether the invocation is an event or a webhook, on either
// runtime protocol.
func TestInvocationCredentialsNeverShow(t *testing.T) {
	stop := e2e.ReadEvent(t, "direct-stop.json")
	body := []byte(`{"RegionId":"cn-hangzhou","InvokeId":"` + sampleInvoke + `","InstanceIds":["` + samplePendingA + `"]}`)
	check := func(t *testing.T, emu *emulator.Server, out *e2e.Buffer, answer []byte) {
		t.Helper()
		if n := emu.Calls("DescribeInvocations") + emu.Calls("StopInvocation"); n < 3 {
			t.Fatalf("%d calls: the faults were not retried", n)
		}
		if !strings.Contains(out.String(), `"msg":"ecs: retrying"`) {
			t.Fatalf("no retry line at debug level:\n%s", out)
		}
		for _, s := range []string{testKeySecret, testToken} {
			if strings.Contains(out.String(), s) || strings.Contains(string(answer), s) {
				t.Errorf("%q shows in the log or the answer:\n%s\n%s", s, out, answer)
			}
		}
	}
	t.Run("custom webhook", func(t *testing.T) {
		emu, url := newEmulator(t, emulator.Options{FailFirst: 1})
		setEnv(t, url)
		base, out := startCustom(t, "")
		h := with(fcHeaders(), "x-fc-request-id", "req-cred", "x-fc-control-path", "/http-invoke", "Content-Type", "application/json")
		h["X-Stopper-Timestamp"], h["X-Stopper-Signature"] = webhook.Sign(hookSecret, time.Now(), body)
		resp, answer := send(t, http.MethodPost, base+"/stop", h, body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook = %d %s", resp.StatusCode, answer)
		}
		check(t, emu, out, answer)
	})
	t.Run("custom event", func(t *testing.T) {
		emu, url := newEmulator(t, emulator.Options{FailFirst: 1})
		setEnv(t, url)
		base, out := startCustom(t, "")
		resp, answer := send(t, http.MethodPost, base+"/invoke", invokeHeaders("req-cred"), stop)
		if resp.Header.Get("x-fc-status") != "200" {
			t.Fatalf("event = %d %s", resp.StatusCode, answer)
		}
		check(t, emu, out, answer)
	})
	t.Run("runtime API event", func(t *testing.T) {
		emu, url := newEmulator(t, emulator.Options{FailFirst: 1})
		setEnv(t, url)
		fc := newFakeFC(t)
		out := startLoop(t, fc, nil)
		fc.push("req-cred", fcHeaders(), stop)
		a := fc.wait(t, "req-cred")
		if a.kind != "response" {
			t.Fatalf("answer = %s %s", a.kind, a.body)
		}
		check(t, emu, out, a.body)
	})
}
