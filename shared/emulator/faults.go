package emulator

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"net/http"
	"sync"
	"time"
)

// faults injects the failures a real endpoint shows under load. They apply in
// this order: drop, fail-first, throttle, latency, then (after the action
// ran) drop-after. A dropped call therefore neither counts toward FailFirst
// nor takes a throttle token, and a fail-first 503 takes no token either:
// each fault sees only the calls the earlier ones let through. Drop-after
// applies only to calls whose action ran, so that what it loses is an answer
// to a call that took effect.
type faults struct {
	latency time.Duration

	mu            sync.Mutex
	rng           *rand.Rand
	dropRate      float64
	dropAfterRate float64
	failFirst     int
	failed        int
	qps           float64
	burst         float64
	stsQPS        float64 // STS's own quota; 0: qps
	stsBurst      float64
	buckets       map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newFaults(o Options, rng *rand.Rand) *faults {
	f := &faults{latency: o.Latency, rng: rng, dropRate: o.DropRate, dropAfterRate: o.DropAfterRate, failFirst: o.FailFirst,
		qps: o.ThrottleQPS, burst: float64(o.ThrottleBurst), buckets: map[string]*bucket{}}
	if f.qps > 0 && f.burst <= 0 {
		f.burst = math.Max(1, math.Ceil(f.qps))
	}
	if o.STSThrottleQPS > 0 {
		f.stsQPS, f.stsBurst = o.STSThrottleQPS, math.Max(1, math.Ceil(o.STSThrottleQPS/10))
	}
	return f
}

// drop decides whether to close this call's connection without an answer.
func (f *faults) drop() bool {
	if f.dropRate <= 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < f.dropRate
}

// dropAfter decides whether to close the connection of a call that was just
// performed, without its answer.
func (f *faults) dropAfter() bool {
	if f.dropAfterRate <= 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < f.dropAfterRate
}

// failing reports whether this call is one of the first FailFirst calls.
func (f *faults) failing() *apiError {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed >= f.failFirst {
		return nil
	}
	f.failed++
	return newError(http.StatusServiceUnavailable, CodeServiceUnavailable,
		"The request has failed due to a temporary failure of the server.")
}

// throttle takes a token from the account's bucket for the action (API
// quotas are per account), or answers Throttling.User with the rate-limit
// header the SDKs read their back-off from. It runs on the real clock: see
// Options.Now.
func (f *faults) throttle(account, action string, sts bool) *apiError {
	qps, burst := f.qps, f.burst
	if sts && f.stsQPS > 0 {
		qps, burst = f.stsQPS, f.stsBurst
	}
	if qps <= 0 {
		return nil
	}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	key := account + "/" + action
	b := f.buckets[key]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		f.buckets[key] = b
	}
	b.tokens = math.Min(burst, b.tokens+now.Sub(b.last).Seconds()*qps)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return nil
	}
	wait := time.Duration((1 - b.tokens) / qps * float64(time.Second))
	e := newError(http.StatusBadRequest, CodeThrottlingUser, "Request was denied due to user flow control.")
	e.header = http.Header{}
	e.header.Set("x-ratelimit-user-api", fmt.Sprintf("Limit:%d,Remain:0,TimeLeft:%d,Reset:%d",
		int(burst), wait.Milliseconds(), now.Add(wait).UnixMilli()))
	return e
}

// wait holds the answer for the configured latency; false when the caller
// gave up meanwhile (there is nobody left to answer).
func (f *faults) wait(ctx context.Context) bool {
	if f.latency <= 0 {
		return true
	}
	t := time.NewTimer(f.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// hangUp closes the connection without an answer: hijacked where the
// connection allows it, else by aborting the handler, which net/http turns
// into a closed connection (or a reset HTTP/2 stream) without logging.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
