package webhook

import (
	"context"
	"testing"
	"time"
)

// TestReserveBody: UnverifiedBodies slots, no more; one released is taken
// again; a waiter gets a slot released while it waits, and gives up at the
// end of its wait or of its context.
func TestReserveBody(t *testing.T) {
	v := verifier()
	ctx := context.Background()
	var releases []func()
	for i := range UnverifiedBodies {
		release, ok := v.ReserveBody(ctx, 0)
		if !ok {
			t.Fatalf("slot %d of %d refused", i+1, UnverifiedBodies)
		}
		releases = append(releases, release)
	}
	start := time.Now()
	if _, ok := v.ReserveBody(ctx, 50*time.Millisecond); ok {
		t.Fatalf("a slot beyond the %d", UnverifiedBodies)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("gave up after %s, want the whole wait", waited)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	start = time.Now()
	if _, ok := v.ReserveBody(cancelled, time.Minute); ok || time.Since(start) > 10*time.Second {
		t.Errorf("a cancelled waiter: ok %v after %s, want a prompt refusal", ok, time.Since(start))
	}
	releases[0]()
	release, ok := v.ReserveBody(ctx, 0)
	if !ok {
		t.Fatal("a released slot was not taken again")
	}
	got := make(chan bool)
	go func() {
		_, ok := v.ReserveBody(ctx, time.Minute)
		got <- ok
	}()
	// Time for the waiter to find every slot taken and wait; it gets the
	// slot whether or not it did.
	time.Sleep(20 * time.Millisecond)
	release()
	if !<-got {
		t.Error("a waiter did not get the slot released while it waited")
	}
	// Another Verifier has its own slots.
	if _, ok := verifier().ReserveBody(ctx, 0); !ok {
		t.Error("a second Verifier shares the first one's slots")
	}
}
