package stopper

import (
	"context"
	"math"
	"sync"
	"time"
)

// pacer spaces a sweep's StopInvocation calls so that they run at about the
// rate the account's quota allows, a rate the function is never told.
//
// The quota is a token bucket on the API's side: calls above its rate are
// answered Throttling (they take no token), so what is lost under throttling
// is not the quota but the time the callers spend backing off, and the calls
// wasted on it. The pacer therefore aims to offer calls at the bucket's rate
// R, a little above it now and then to find out whether R grew:
//
//   - Until the API first pushes back it does not pace at all: the sweep runs
//     at Concurrency stops in flight, as fast as the API answers.
//   - A window (100 ms, or 10 calls' worth at low rates) in which the API pushed
//     back is congested. Push-back is a throttled attempt — the client
//     reports each one as it happens, also those its own retries get past
//     (cloudassistant.WithPacer) — or a call that took far longer
//     than the fastest one (throttling by a client that does not report it
//     shows up that way). In a congested window the
//     calls that succeeded measure R: the rate becomes that measure
//     (multiplicative decrease, bounded below by half the old rate), and the
//     rate at which congestion came is remembered as the ceiling. A
//     throttled attempt closes the window early
//     (after a fifth of it), since every worker is retrying at the old rate;
//     the throttled invocation itself also waits a growing, jittered delay
//     before its next try (sweep.go).
//   - A clean window in which the pacer was what held the workers back raises
//     the rate: halfway back to the ceiling at once, then by 5% a window
//     beyond it (probing). Windows in which the workers were not waiting on
//     the pacer (nothing to stop, all slots busy) change nothing, so an idle
//     phase cannot inflate the rate.
//
// Slots are spaced evenly (no credit for idle time), which is what a token
// bucket with a small burst accepts best. A call whose slot would come after
// the time for starting work is refused at once. Measured against the
// emulator (sweep_bench_test.go) this holds 0.99-1.01 of the throttle's rate
// from 50 to 1,000 QPS with about 0.03-0.4 throttled calls per stop. Time is
// the real clock: the pacer must keep working when a test freezes the
// Function's clock (its own now is replaced only by the pacer's unit tests).
type pacer struct {
	mu       sync.Mutex
	now      func() time.Time
	rate     float64 // stops per second; 0 is unpaced (never negative)
	ceiling  float64 // the rate at the last congestion; 0 is none yet
	next     time.Time
	minLat   time.Duration
	win      window
	minWin   time.Duration
	minRate  float64
	slowMult float64
	slowAdd  time.Duration
}

// window counts one measuring window's events.
type window struct {
	start     time.Time
	ok        int           // calls that succeeded (quickly or not)
	pushback  int           // slow calls (throttled ones are counted in throttled)
	calls     int           // every call that ended
	waited    time.Duration // time workers spent waiting for a slot
	throttled int           // calls the client gave up on with Throttling
}

// Outcomes of a call, as the pacer learns them.
type outcome int

const (
	outcomeOK outcome = iota
	outcomeThrottled
	outcomeOther
)

func newPacer() *pacer {
	return &pacer{now: time.Now, minWin: 100 * time.Millisecond, minRate: 0.5, slowMult: 3, slowAdd: 10 * time.Millisecond,
		win: window{start: time.Now()}}
}

// start begins the first measuring window now: the time a sweep spends
// listing before its first stop must not count as a window without stops.
func (p *pacer) start() {
	p.mu.Lock()
	p.win = window{start: p.now()}
	p.mu.Unlock()
}

// wait blocks until the caller may start a call, or ctx ends.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	if p.rate <= 0 {
		p.mu.Unlock()
		return ctx.Err()
	}
	now := p.now()
	slot := p.next
	if slot.Before(now) {
		slot = now
	}
	p.next = slot.Add(time.Duration(float64(time.Second) / p.rate))
	d := slot.Sub(now)
	p.win.waited += d
	p.mu.Unlock()
	if d <= 0 {
		return ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && !dl.After(slot) {
		// The slot comes after the deadline: no use waiting for it.
		return context.DeadlineExceeded
	}
	if !sleep(ctx, d) {
		return ctx.Err()
	}
	return nil
}

// free is when a call asked for at now could start: now when unpaced or
// when a slot is free, else the next slot. It reserves nothing.
func (p *pacer) free(now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rate <= 0 || p.next.Before(now) {
		return now
	}
	return p.next
}

// done reports how a call ended and how long it took.
func (p *pacer) done(o outcome, latency time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.win.calls++
	switch o {
	case outcomeOK:
		p.win.ok++
		if p.minLat == 0 {
			p.minLat = latency
		}
		p.minLat = min(p.minLat, latency)
		if latency > time.Duration(float64(p.minLat)*p.slowMult)+p.slowAdd {
			p.win.pushback++
		}
	case outcomeThrottled:
		p.win.throttled++
	}
	now := p.now()
	length := p.minWin
	if p.rate > 0 {
		// At least about 10 calls a window, so that a rate is a measure, not noise.
		length = max(length, time.Duration(10/p.rate*float64(time.Second)))
	}
	elapsed := now.Sub(p.win.start)
	// A throttling answer the client gave up on is news that cannot wait
	// for the window's end (the callers are retrying at the old rate).
	if elapsed < length && !(o == outcomeThrottled && elapsed >= length/5) {
		return
	}
	p.adjust(elapsed)
	p.win = window{start: now}
}

// adjust ends a window; the caller holds p.mu.
func (p *pacer) adjust(elapsed time.Duration) {
	w := p.win
	secs := elapsed.Seconds()
	okRate := float64(w.ok) / secs
	congested := w.throttled > 0 || (w.pushback > 0 && float64(w.pushback) >= 0.05*float64(w.calls))
	switch {
	case congested:
		old := p.rate
		if old <= 0 {
			old = float64(w.calls) / secs
		}
		p.ceiling = old
		p.rate = math.Max(math.Max(okRate, old/2), p.minRate)
	case p.rate > 0 && w.waited > elapsed/4:
		// The pacer held the workers back and the API did not push back.
		if p.ceiling > p.rate*1.05 {
			p.rate += (p.ceiling - p.rate) / 2
		} else {
			p.rate *= 1.05
		}
	}
}

// throttled is told of every attempt the API throttled, also those the
// client's retries got past: push-back as it happens.
func (p *pacer) throttled() {
	p.done(outcomeThrottled, 0)
}

// current is the pacing rate (0 unpaced), for tests and logs.
func (p *pacer) current() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate
}
