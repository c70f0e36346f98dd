package webhook

import (
	"context"
	"sync"
	"time"
)

// UnverifiedBodies is how many signed requests one Verifier lets have their
// bodies read at once before their signatures are checked (see
// ReserveBody). Anyone can send well-formed signature headers with the
// current time, so until the MAC over the body is checked such a request
// is unauthenticated, and each may hold a buffer of up to the body limit
// (1 MiB, and what reading it allocates on the way): 8 of them keep a
// flood of forged signatures within a small function's memory (128 MB is
// the smallest Lambda size). A real request is a few hundred bytes, read
// and checked in well under a millisecond, so 8 slots serve thousands of
// them a second, far beyond what one function instance's senders need.
const UnverifiedBodies = 8

// bodySlots is the semaphore behind ReserveBody. Its zero value is ready
// to use.
type bodySlots struct {
	once  sync.Once
	slots chan struct{}
}

// ReserveBody takes one of the UnverifiedBodies slots for reading a signed
// request's body, waiting up to wait for one to be released, and reports
// whether it got one. release gives the slot back; call it once, as soon
// as Verify has answered, so that the slot is not held while the request
// itself runs. Requests that need no body check (Pending.NeedsBody false)
// need no slot.
//
// The slots are the Verifier's, so that every path sharing it (the one
// Verifier of a process) shares the bound.
func (v *Verifier) ReserveBody(ctx context.Context, wait time.Duration) (release func(), ok bool) {
	v.bodies.once.Do(func() { v.bodies.slots = make(chan struct{}, UnverifiedBodies) })
	slots := v.bodies.slots
	release = func() { <-slots }
	select {
	case slots <- struct{}{}:
		return release, true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return release, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}
