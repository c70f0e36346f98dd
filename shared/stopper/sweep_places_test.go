package stopper

import "testing"

// The lister's queue hands out the places of accounts already had first,
// in order, and falls back on the first place when none is ready (a lister
// then waits on that account's role).
func TestPlaceQueuePrefersAccountsAlreadyHad(t *testing.T) {
	a, b, c := &sweepAccount{id: "a"}, &sweepAccount{id: "b"}, &sweepAccount{id: "c"}
	q := &placeQueue{items: []place{{a, "r1"}, {b, "r1"}, {c, "r1"}, {a, "r2"}, {b, "r2"}, {c, "r2"}}}
	take := func() string {
		t.Helper()
		p, ok := q.next()
		if !ok {
			t.Fatal("the queue ran dry early")
		}
		return p.acct.id + "/" + p.region
	}
	if got := take(); got != "a/r1" {
		t.Fatalf("with no account had, next = %s, want the first place a/r1", got)
	}
	c.resolved.Store(true)
	for _, want := range []string{"c/r1", "c/r2", "b/r1"} {
		if got := take(); got != want {
			t.Fatalf("next = %s, want %s", got, want)
		}
	}
	if n := q.len(); n != 2 {
		t.Fatalf("%d places left, want 2", n)
	}
	take()
	take()
	if _, ok := q.next(); ok {
		t.Fatal("an empty queue handed out a place")
	}
}
