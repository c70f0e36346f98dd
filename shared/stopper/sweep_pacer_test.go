package stopper

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// pacerClock is a pacer on a clock the test moves.
func pacerClock() (*pacer, func(time.Duration)) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	p := newPacer()
	p.now = func() time.Time { return now }
	p.start()
	return p, func(d time.Duration) { now = t0.Add(d) }
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestPacerAdjust(t *testing.T) {
	p := newPacer()
	// Unpaced until the API pushes back.
	p.win = window{ok: 50, calls: 50}
	p.adjust(100 * time.Millisecond)
	if p.rate != 0 {
		t.Fatalf("clean window while unpaced: rate %v, want 0", p.rate)
	}
	// Congestion: the successes measure the quota (500/s here).
	p.win = window{ok: 50, calls: 400, pushback: 350, throttled: 1}
	p.adjust(100 * time.Millisecond)
	if p.rate < 1999 || p.rate > 2001 { // bounded below by half the offered 4000/s
		t.Fatalf("first congestion: rate %v, want 2000 (half of 4000)", p.rate)
	}
	p.win = window{ok: 50, calls: 60, pushback: 10}
	p.adjust(100 * time.Millisecond)
	if p.rate < 999 || p.rate > 1001 || p.ceiling != 2000 {
		t.Fatalf("second congestion: rate %v ceiling %v, want 1000 and 2000", p.rate, p.ceiling)
	}
	p.rate, p.ceiling = 500, 520
	p.win = window{ok: 50, calls: 50}
	// A clean window in which the workers did not wait: nothing to learn.
	p.adjust(100 * time.Millisecond)
	if p.rate != 500 {
		t.Fatalf("idle window changed the rate to %v", p.rate)
	}
	// A clean window in which the pacer held the workers back: probe.
	p.win = window{ok: 50, calls: 50, waited: 80 * time.Millisecond}
	p.adjust(100 * time.Millisecond)
	if p.rate != 525 {
		t.Fatalf("probe: rate %v, want 525", p.rate)
	}
	p.rate, p.ceiling = 100, 500
	p.win = window{ok: 10, calls: 10, waited: 80 * time.Millisecond}
	p.adjust(100 * time.Millisecond)
	if p.rate != 300 {
		t.Fatalf("recovery: rate %v, want 300 (halfway to the ceiling)", p.rate)
	}
	// A slow call here and there (under 5%) is noise, not push-back.
	p.win = window{ok: 100, calls: 100, pushback: 2, waited: 80 * time.Millisecond}
	p.adjust(100 * time.Millisecond)
	if p.rate != 400 {
		t.Fatalf("noise: rate %v, want 400", p.rate)
	}
	// The rate never falls below the floor.
	p.rate = 1
	p.win = window{calls: 10, pushback: 10, throttled: 10}
	p.adjust(time.Second)
	if p.rate != p.minRate {
		t.Fatalf("floor: rate %v, want %v", p.rate, p.minRate)
	}
}

func TestPacerSpacesCalls(t *testing.T) {
	p := newPacer()
	p.rate = 1000 // 1 ms apart
	ctx := context.Background()
	var prev time.Time
	for i := range 3 {
		if err := p.wait(ctx); err != nil {
			t.Fatal(err)
		}
		// Each grant moves the next slot at least 1/rate on.
		if i > 0 && p.next.Sub(prev) < time.Millisecond {
			t.Errorf("slots %v apart at 1000/s", p.next.Sub(prev))
		}
		prev = p.next
	}
	// A slot beyond the deadline is refused at once.
	p.rate = 0.5
	p.next = time.Now().Add(time.Hour)
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := p.wait(dctx); err == nil {
		t.Error("a slot after the deadline was granted")
	}
}

// The time a sweep spends listing before its first stop is not a window
// of the pacer's: a window that long with a few stops in it would read as
// a rate of almost nothing at the first throttling answer.
func TestPacerStartsWithTheStops(t *testing.T) {
	p := newPacer()
	p.win.start = time.Now().Add(-time.Minute)
	p.start()
	time.Sleep(30 * time.Millisecond) // past a fifth of the window: a throttling answer ends it
	p.win.ok, p.win.calls = 40, 40
	p.done(outcomeThrottled, 0)
	if p.rate < 10 {
		t.Fatalf("rate %v after 40 stops in a fresh window: the listing time was counted", p.rate)
	}
}

// Unpaced, a window lasts 100 ms: push-back inside it changes nothing
// until it ends, and at its end the successes set the rate.
func TestPacerWindowLength(t *testing.T) {
	p, at := pacerClock()
	at(10 * time.Millisecond)
	p.done(outcomeOK, 10*time.Millisecond)
	p.done(outcomeOK, 100*time.Millisecond) // slow: push-back
	at(99 * time.Millisecond)
	p.done(outcomeOK, 10*time.Millisecond)
	if p.current() != 0 {
		t.Fatalf("rate %v before the window's end", p.current())
	}
	at(100 * time.Millisecond)
	p.done(outcomeOK, 10*time.Millisecond)
	// 4 calls in 0.1 s, one of them slow: congested at 40/s.
	if !near(p.current(), 40) || !near(p.ceiling, 40) {
		t.Fatalf("rate %v ceiling %v at the window's end, want 40 and 40", p.current(), p.ceiling)
	}
}

// Paced, a window holds about 10 calls: at 20/s it lasts 500 ms.
func TestPacerWindowHoldsTenCalls(t *testing.T) {
	p, at := pacerClock()
	p.rate = 20
	p.done(outcomeOK, 10*time.Millisecond)
	at(250 * time.Millisecond)
	p.done(outcomeOK, 100*time.Millisecond) // slow
	if p.current() != 20 {
		t.Fatalf("rate %v halfway through a 500 ms window", p.current())
	}
	at(500 * time.Millisecond)
	p.done(outcomeOK, 10*time.Millisecond)
	// Congested: 3 successes in 0.5 s (6/s), bounded below by half of 20.
	if !near(p.current(), 10) {
		t.Fatalf("rate %v at the window's end, want 10", p.current())
	}
}

// A throttled call ends the window once a fifth of it has passed, not
// before; the successes measure the rate, bounded below by half the rate
// offered (every call, throttled ones included).
func TestPacerThrottledEndsTheWindowEarly(t *testing.T) {
	p, at := pacerClock()
	for range 30 {
		p.done(outcomeOK, time.Millisecond)
	}
	at(19 * time.Millisecond)
	p.done(outcomeThrottled, 0)
	if p.current() != 0 {
		t.Fatalf("rate %v: a throttled call ended the window before a fifth of it", p.current())
	}
	at(20 * time.Millisecond)
	p.done(outcomeThrottled, 0)
	// 30 successes in 0.02 s: 1500/s (half of the 1600/s offered is less).
	if !near(p.current(), 1500) {
		t.Fatalf("rate %v, want 1500", p.current())
	}

	p, at = pacerClock()
	for range 5 {
		p.done(outcomeOK, time.Millisecond)
	}
	for range 15 {
		p.throttled()
	}
	at(20 * time.Millisecond)
	p.throttled()
	// 21 calls in 0.02 s offered 1050/s; 5 successes measure 250/s: half of 1050.
	if !near(p.current(), 525) || !near(p.ceiling, 1050) {
		t.Fatalf("rate %v ceiling %v, want 525 and 1050", p.current(), p.ceiling)
	}
}

// A call is slow (push-back) when it took more than 3 times the fastest
// call plus 10 ms.
func TestPacerSlowCalls(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		latencies []time.Duration
		slow      int
	}{
		{[]time.Duration{10 * ms, 40 * ms}, 0},
		{[]time.Duration{10 * ms, 40*ms + 1}, 1},
		{[]time.Duration{30 * ms, 60 * ms}, 0},
		{[]time.Duration{20 * ms, 20 * ms, 20 * ms}, 0},
		{[]time.Duration{50 * ms, 5 * ms, 30 * ms}, 1}, // the fastest so far is 5 ms
	} {
		p, _ := pacerClock() // the clock stands still: the window never ends
		for _, l := range tc.latencies {
			p.done(outcomeOK, l)
		}
		if p.win.pushback != tc.slow || p.win.calls != len(tc.latencies) {
			t.Errorf("%v: %d slow of %d, want %d", tc.latencies, p.win.pushback, p.win.calls, tc.slow)
		}
	}
}

// Exactly 5 % slow calls is congestion; a rate already at 1/1.05 of the
// ceiling probes by 5 % rather than halving the gap.
func TestPacerAdjustBounds(t *testing.T) {
	p := newPacer()
	p.rate = 100
	p.win = window{ok: 20, calls: 20, pushback: 1}
	p.adjust(time.Second)
	if p.rate != 50 {
		t.Fatalf("1 slow call in 20: rate %v, want 50", p.rate)
	}
	p.rate = 400
	p.ceiling = p.rate * 1.05
	p.win = window{ok: 40, calls: 40, waited: 80 * time.Millisecond}
	p.adjust(100 * time.Millisecond)
	if want := 400 * 1.05; p.rate != want {
		t.Fatalf("probe at the ceiling: rate %v, want %v", p.rate, want)
	}
}

// Slots are exactly 1/rate apart; a slot that is due is granted at once,
// and unpaced calls take no slot.
func TestPacerSlotSpacing(t *testing.T) {
	p, at := pacerClock()
	ctx := context.Background()
	if err := p.wait(ctx); err != nil || !p.next.IsZero() {
		t.Fatalf("unpaced: %v, next slot %v", err, p.next)
	}
	p.rate = 1000
	t0 := p.now()
	if err := p.wait(ctx); err != nil || p.next != t0.Add(time.Millisecond) {
		t.Fatalf("first slot: %v, next at +%v", err, p.next.Sub(t0))
	}
	at(time.Millisecond)
	if err := p.wait(ctx); err != nil || p.next != t0.Add(2*time.Millisecond) || p.win.waited != 0 {
		t.Fatalf("due slot: %v, next at +%v, waited %v", err, p.next.Sub(t0), p.win.waited)
	}
	// Half a slot early: waits the other half.
	at(1500 * time.Microsecond)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.wait(cctx); !errors.Is(err, context.Canceled) || p.win.waited != 500*time.Microsecond {
		t.Fatalf("early: %v, waited %v", err, p.win.waited)
	}
}
