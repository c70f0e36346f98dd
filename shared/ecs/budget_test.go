package ecs_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/ecs"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// Throttling answers and faults spend separate budgets: four throttled
// attempts and one dropped connection must not end a call allowed five
// tries.
func TestRetryBudgets(t *testing.T) {
	throttle := status(400, apiErr("Throttling.User", "Request was denied due to user flow control."))
	busy := status(503, apiErr("ServiceUnavailable", "busy"))
	notFound := status(404, apiErr("InvalidInvokeId.NotFound", "gone"))
	ok := status(200, okStopped)
	type answer = func(http.ResponseWriter, *http.Request)
	repeat := func(n int, a answer) []answer {
		out := make([]answer, n)
		for i := range out {
			out[i] = a
		}
		return out
	}
	cat := func(parts ...[]answer) []answer {
		var out []answer
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name             string
		answers          []answer
		maxAttempts      int
		maxThrottle      int
		wantCalls        int
		wantErr          string // "" = success; else the annotation
		wantThrottleRuns int    // OnRetry events with Throttled set
	}{
		{"4 throttled and 4 dropped do not end a call allowed 5 faults",
			cat(repeat(4, throttle), repeat(4, dropConnection), repeat(1, ok)), 5, 10, 9, "", 4},
		{"the issue's sequence: 4 throttled, 1 dropped, then success",
			cat(repeat(4, throttle), repeat(1, dropConnection), repeat(1, ok)), 5, 0, 6, "", 4},
		{"the fault budget ends it, throttling aside",
			cat(repeat(3, throttle), repeat(5, busy)), 5, 10, 8,
			"failed after 8 attempts (3 throttled, 5 faulted: the limit of faulted attempts is 5)", 3},
		{"faults and throttling interleaved",
			cat(repeat(2, throttle), repeat(1, busy), repeat(2, throttle), repeat(1, dropConnection), repeat(1, throttle), repeat(1, busy)), 3, 10, 8,
			"failed after 8 attempts (5 throttled, 3 faulted: the limit of faulted attempts is 3)", 5},
		{"the throttle budget ends it",
			repeat(1, throttle), 5, 3, 4,
			"failed after 4 attempts (4 throttled, 0 faulted: the limit of throttled retries is 3)", 3},
		{"no throttle retries",
			repeat(1, throttle), 5, -1, 1, "ecs: StopInvocation: Throttling.User", 0},
		{"a final answer after retries of both kinds",
			cat(repeat(1, throttle), repeat(1, busy), repeat(1, notFound)), 5, 10, 3,
			"failed after 3 attempts (1 throttled, 1 faulted): InvalidInvokeId.NotFound", 1},
		{"MaxAttempts 1 still waits out throttling",
			cat(repeat(2, throttle), repeat(1, ok)), 1, 0, 3, "", 2},
		{"MaxAttempts 1 gives up at the first fault",
			cat(repeat(2, throttle), repeat(1, busy)), 1, 0, 3,
			"failed after 3 attempts (2 throttled, 1 faulted: the limit of faulted attempts is 1)", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub(t, answers(tt.answers...))
			var events []ecs.RetryEvent
			var noticed atomic.Int32
			c := newClient(t, s.srv.URL, func(o *ecs.Options) {
				o.MaxAttempts, o.MaxThrottleRetries = tt.maxAttempts, tt.maxThrottle
				o.BaseDelay, o.MaxDelay = 100*time.Microsecond, time.Millisecond
				o.OnRetry = func(e ecs.RetryEvent) { events = append(events, e) }
			})
			ctx := cloudassistant.WithThrottleNotice(context.Background(), func() { noticed.Add(1) })
			err := c.StopInvocation(ctx, regionHZ, invokeID, nil)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v, want success", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want %q in it", err, tt.wantErr)
			}
			if n := len(s.Calls()); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
			var throttled int
			for i, e := range events {
				if e.Attempt != i+1 {
					t.Errorf("event %d is for attempt %d", i, e.Attempt)
				}
				if e.Throttled {
					throttled++
					if e.Code != "Throttling.User" {
						t.Errorf("throttled event with code %q", e.Code)
					}
				}
			}
			if throttled != tt.wantThrottleRuns || int(noticed.Load()) != tt.wantThrottleRuns {
				t.Errorf("%d throttled retry events, %d notices, want %d of each", throttled, noticed.Load(), tt.wantThrottleRuns)
			}
		})
	}
}

// outcome is one call as the client saw it: its error and its attempts of
// each kind, the last one included.
type outcome struct {
	err                          error
	attempts, throttled, faulted int
}

var annotation = regexp.MustCompile(`after (\d+) attempts \((\d+) throttled, (\d+) faulted`)

// checkBudget is the property: a call succeeds, or fails only when one of
// its budgets is genuinely spent, and its error's annotation tells the
// truth about its attempts.
func checkBudget(t *testing.T, label string, o outcome, maxAttempts, maxThrottle int) {
	t.Helper()
	switch {
	case o.err == nil:
		if o.faulted >= maxAttempts || o.throttled > maxThrottle {
			t.Errorf("%s: succeeded after %d faults and %d throttles: a budget was overrun", label, o.faulted, o.throttled)
		}
		return
	case ecs.IsThrottled(o.err):
		if o.throttled != maxThrottle+1 || o.faulted >= maxAttempts {
			t.Errorf("%s: gave up throttled after %d throttled and %d faulted attempts (limits %d retries, %d faults): %v",
				label, o.throttled, o.faulted, maxThrottle, maxAttempts, o.err)
		}
	case ecs.IsRetryable(o.err):
		if o.faulted != maxAttempts || o.throttled > maxThrottle {
			t.Errorf("%s: gave up on a fault after %d faulted and %d throttled attempts (limits %d faults, %d retries): %v",
				label, o.faulted, o.throttled, maxAttempts, maxThrottle, o.err)
		}
	default:
		t.Errorf("%s: unexpected final error %v", label, o.err)
	}
	if o.attempts > 1 {
		m := annotation.FindStringSubmatch(o.err.Error())
		if m == nil || m[1] != strconv.Itoa(o.attempts) || m[2] != strconv.Itoa(o.throttled) || m[3] != strconv.Itoa(o.faulted) {
			t.Errorf("%s: error %q does not say %d attempts (%d throttled, %d faulted)", label, o.err, o.attempts, o.throttled, o.faulted)
		}
	}
}

// recorder counts a client's attempts per call; calls must be sequential.
type recorder struct {
	mu     sync.Mutex
	events []ecs.RetryEvent
}

func (r *recorder) onRetry(e ecs.RetryEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) call(f func() error) outcome {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
	err := f()
	r.mu.Lock()
	defer r.mu.Unlock()
	o := outcome{err: err, attempts: len(r.events)}
	for _, e := range r.events {
		if e.Throttled {
			o.throttled++
		} else {
			o.faulted++
		}
	}
	if err != nil {
		o.attempts++
		switch {
		case ecs.IsThrottled(err):
			o.throttled++
		case ecs.IsRetryable(err):
			o.faulted++
		}
	} else {
		o.attempts++ // the one that succeeded
	}
	return o
}

// The property over many seeds against a server whose every answer is drawn
// from a seeded generator — throttled, 503, dropped or fine — so each seed
// is one exact, repeatable sequence.
func TestRetryBudgetPropertySeeded(t *testing.T) {
	const (
		seeds, callsPerSeed      = 120, 10
		maxAttempts, maxThrottle = 3, 6
	)
	var total, failedFaults, failedThrottled, mixed int
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 0xec5))
		var mu sync.Mutex
		var served int
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			served++
			x := rng.Float64()
			mu.Unlock()
			switch {
			case x < 0.45:
				writeJSON(w, 400, apiErr("Throttling.User", "slow down"))
			case x < 0.55:
				writeJSON(w, 503, apiErr("ServiceUnavailable", "busy"))
			case x < 0.65:
				dropConnection(w, r)
			default:
				writeJSON(w, 200, okStopped)
			}
		}))
		rec := &recorder{}
		c := newClient(t, srv.URL, func(o *ecs.Options) {
			o.MaxAttempts, o.MaxThrottleRetries = maxAttempts, maxThrottle
			o.BaseDelay, o.MaxDelay = time.Microsecond, 10*time.Microsecond
			o.OnRetry = rec.onRetry
		})
		attempts := 0
		for i := range callsPerSeed {
			o := rec.call(func() error { return c.StopInvocation(context.Background(), regionHZ, invokeID, nil) })
			checkBudget(t, fmt.Sprintf("seed %d call %d", seed, i), o, maxAttempts, maxThrottle)
			attempts += o.attempts
			total++
			switch {
			case o.err == nil && o.throttled > 0 && o.faulted > 0:
				mixed++
			case ecs.IsThrottled(o.err):
				failedThrottled++
			case o.err != nil:
				failedFaults++
			}
		}
		srv.Close()
		if served != attempts {
			t.Errorf("seed %d: the server answered %d requests, the client counted %d attempts", seed, served, attempts)
		}
	}
	t.Logf("%d calls: %d succeeded after throttles and faults, %d failed on faults, %d on throttling", total, mixed, failedFaults, failedThrottled)
	if mixed == 0 || failedFaults == 0 || failedThrottled == 0 {
		t.Errorf("the seeds never exercised every path: %d mixed successes, %d fault failures, %d throttle failures", mixed, failedFaults, failedThrottled)
	}
}

// The same property against the emulator with its real throttle (a token
// bucket on the real clock, TimeLeft hints included) and seeded dropped
// connections, as the local emulator runs them (-throttle-qps, -drop-rate). Four
// workers per seed call at once, so the bucket of one token throttles them
// however slow the machine; each has its own client to count its calls.
func TestRetryBudgetPropertyEmulator(t *testing.T) {
	const (
		seeds, workers, callsPerWorker = 40, 4, 2
		maxAttempts, maxThrottle       = 2, 30
	)
	var (
		mu                                     sync.Mutex
		total, throttledAttempts, failedFaults int
	)
	for seed := range int64(seeds) {
		emu, err := emulator.Listen("127.0.0.1:0", emulator.Options{
			AccessKeyID: testCred.AccessKeyID, AccessKeySecret: testCred.AccessKeySecret,
			Fleet:       emulator.SampleFleet(),
			ThrottleQPS: 200, ThrottleBurst: 1, DropRate: 0.3, Seed: seed,
		})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		attempts := make([]int, workers)
		for w := range workers {
			rec := &recorder{}
			c := newClient(t, emu.URL, func(o *ecs.Options) {
				o.MaxAttempts, o.MaxThrottleRetries = maxAttempts, maxThrottle
				o.BaseDelay, o.MaxDelay = 50*time.Microsecond, 500*time.Microsecond
				o.OnRetry = rec.onRetry
			})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range callsPerWorker {
					o := rec.call(func() error {
						_, err := c.DescribeInvocations(context.Background(), cloudassistant.DescribeInvocationsRequest{RegionId: regionHZ})
						return err
					})
					checkBudget(t, fmt.Sprintf("seed %d worker %d call %d", seed, w, i), o, maxAttempts, maxThrottle)
					attempts[w] += o.attempts
					mu.Lock()
					throttledAttempts += o.throttled
					total++
					if o.err != nil && !ecs.IsThrottled(o.err) {
						failedFaults++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		emu.Close()
		sum := 0
		for _, a := range attempts {
			sum += a
		}
		if got := emu.Calls("DescribeInvocations"); got != sum {
			t.Errorf("seed %d: the emulator saw %d calls, the clients counted %d attempts", seed, got, sum)
		}
	}
	t.Logf("%d calls: %d throttled attempts, %d calls failed on their fault budget", total, throttledAttempts, failedFaults)
	if throttledAttempts == 0 || failedFaults == 0 {
		t.Errorf("the emulator never throttled (%d) or the fault budget was never spent (%d): the test tests nothing", throttledAttempts, failedFaults)
	}
}

// A caller that paces itself (it asked for throttle notices) gets
// throttling back after three retries, whatever MaxThrottleRetries says; one
// that waits throttling out itself (a sweep's listing, without its call
// slot) gets it back at once; other callers get the full budget.
func TestPacedCallerThrottleBudget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(status(400, apiErr("Throttling.User", "slow down"))))
	defer srv.Close()
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		retries int
	}{
		{"paced", cloudassistant.WithPacer(context.Background(), func() {}), 3},
		{"waits throttling out itself", cloudassistant.WithThrottleHandBack(context.Background()), 0},
		{"paced and waits itself", cloudassistant.WithThrottleHandBack(cloudassistant.WithPacer(context.Background(), func() {})), 0},
		{"told of throttling only", cloudassistant.WithThrottleNotice(context.Background(), func() {}), 8},
		{"unpaced", context.Background(), 8},
	} {
		var retries atomic.Int32
		c, err := ecs.New(ecs.Options{Credentials: acs.Credentials{AccessKeyID: "ak", AccessKeySecret: "sk"}, Endpoint: srv.URL, MaxThrottleRetries: 8,
			BaseDelay: time.Microsecond, MaxDelay: time.Microsecond, OnRetry: func(ecs.RetryEvent) { retries.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		err = c.StopInvocation(tc.ctx, "cn-hangzhou", "t-1", nil)
		if !ecs.IsThrottled(err) || int(retries.Load()) != tc.retries {
			t.Errorf("%s: %d throttled retries (err %v), want %d", tc.name, retries.Load(), err, tc.retries)
		}
	}
}
