package stopper

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// One function instance serves many requests at once (FC's instance
// concurrency, the TaskCompleted events of one rollout's instances, a
// webhook retried while its first delivery still runs, timers that
// overlap). Stops are idempotent, but a second StopInvocation is not free:
// when the first let the running instances finish, the invocation still
// reads as stoppable, so the second is another stop, another notification
// and another count. The ledger is what one instance remembers of its own
// stops, so that each invocation is stopped once:
//
//   - One stop in flight per key (account, region, invocation,
//     instances; the same invocation id in two accounts is two stops):
//     a request that comes to stop a key another request is stopping waits
//     for it (as long as its context allows), then finds it stopped.
//   - A stop is remembered for StopMemory. A request for a key stopped
//     within that time is answered "already stopped", without a stop, when
//     the invocation it read has no Pending or Scheduled instance left among
//     those it targets, or when its read began before that stop ended
//     (whatever it saw pending, the stop cancelled). A stop of every
//     instance covers a request for some of them.
//   - Sweeps run one at a time.
//
// It is one instance's memory only: another instance, or this one after
// StopMemory, reads the invocation and may stop it again.

// StopMemory is how long an instance remembers a stop it sent.
const StopMemory = 10 * time.Minute

// ReasonAlreadyStopped is the Reason of a request answered without a stop
// because this instance stopped the invocation within StopMemory and
// nothing is pending on its targeted instances.
const ReasonAlreadyStopped = "already stopped"

// maxLedgerStops bounds the stops remembered; past it the oldest are
// forgotten first (a forgotten stop only costs a possible second stop).
const maxLedgerStops = 10000

// StopLedger is one function instance's memory of its stops, and its turn
// for sweeps (see above). Build it once per instance with NewStopLedger and
// share it by pointer: every copy of a Function must see the same one. A
// nil *StopLedger remembers nothing and lets sweeps overlap.
type StopLedger struct {
	// now is the real clock, never Function.Now (which tests freeze): it
	// orders reads and stops.
	now    func() time.Time
	sweeps chan struct{} // holds a token while a sweep runs

	mu      sync.Mutex
	flights map[ledgerKey]chan struct{} // closed when the stop in flight ends
	stopped map[ledgerKey]time.Time     // when each remembered stop ended
	order   []ledgerStop                // stopped, oldest first (a key may repeat)
}

// ledgerKey names what a stop targets; account is "" for the credentials'
// own account when the function acts in no other (Function.Accounts nil),
// instances the sorted instance ids joined by commas, "" for every instance.
type ledgerKey struct {
	account, region, invokeID, instances string
}

type ledgerStop struct {
	key ledgerKey
	at  time.Time
}

// NewStopLedger returns an empty ledger.
func NewStopLedger() *StopLedger {
	return &StopLedger{now: time.Now, sweeps: make(chan struct{}, 1),
		flights: map[ledgerKey]chan struct{}{}, stopped: map[ledgerKey]time.Time{}}
}

// keyOf is the ledger's key of a stop of invokeID on instances (every
// instance when there are none) in the function's only account.
func keyOf(region, invokeID string, instances []string) ledgerKey {
	return accountKeyOf("", region, invokeID, instances)
}

// accountKeyOf is keyOf in account.
func accountKeyOf(account, region, invokeID string, instances []string) ledgerKey {
	sorted := slices.Clone(instances)
	slices.Sort(sorted)
	return ledgerKey{account: account, region: region, invokeID: invokeID, instances: strings.Join(slices.Compact(sorted), ",")}
}

// covering is the keys whose stop covers k: k, and the stop of every
// instance of the same invocation.
func (k ledgerKey) covering() []ledgerKey {
	if k.instances == "" {
		return []ledgerKey{k}
	}
	all := k
	all.instances = ""
	return []ledgerKey{k, all}
}

// clock is the time a read begins, for alreadyStopped and claim.
func (l *StopLedger) clock() time.Time {
	if l == nil {
		return time.Time{}
	}
	return l.now()
}

// alreadyStopped reports whether a request need not stop k: a remembered
// stop covers it and either ended after the request's read began or left
// nothing pending (pending is whether the read found Pending or Scheduled
// instances among the targeted ones). Dry runs ask this without claiming.
func (l *StopLedger) alreadyStopped(k ledgerKey, read time.Time, pending bool) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.coveredLocked(k, read, pending)
}

func (l *StopLedger) coveredLocked(k ledgerKey, read time.Time, pending bool) bool {
	l.forgetLocked()
	for _, c := range k.covering() {
		if at, ok := l.stopped[c]; ok && (!pending || at.After(read)) {
			return true
		}
	}
	return false
}

// claim makes the caller the one request stopping k, after waiting for any
// stop of k (or of every instance) in flight; already is true instead when
// a remembered stop covers k (see alreadyStopped), the one waited for
// included. The caller must call done with whether its stop was sent. err
// is ctx's when it ended while waiting.
func (l *StopLedger) claim(ctx context.Context, k ledgerKey, read time.Time, pending bool) (already bool, done func(stopped bool), err error) {
	if l == nil {
		return false, func(bool) {}, nil
	}
	l.mu.Lock()
	for {
		if l.coveredLocked(k, read, pending) {
			l.mu.Unlock()
			return true, nil, nil
		}
		var wait chan struct{}
		for _, c := range k.covering() {
			if ch, ok := l.flights[c]; ok {
				wait = ch
				break
			}
		}
		if wait == nil {
			break
		}
		l.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return false, nil, ctx.Err()
		}
		l.mu.Lock()
	}
	flight := make(chan struct{})
	l.flights[k] = flight
	l.mu.Unlock()
	return false, func(stopped bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.flights, k)
		close(flight)
		if stopped {
			at := l.now()
			l.stopped[k] = at
			l.order = append(l.order, ledgerStop{key: k, at: at})
			l.forgetLocked()
		}
	}, nil
}

// forgetLocked drops the stops older than StopMemory, and the oldest past
// maxLedgerStops; the caller holds l.mu.
func (l *StopLedger) forgetLocked() {
	horizon := l.now().Add(-StopMemory)
	n := 0
	for n < len(l.order) && (len(l.order)-n > maxLedgerStops || !l.order[n].at.After(horizon)) {
		old := l.order[n]
		if l.stopped[old.key].Equal(old.at) {
			delete(l.stopped, old.key)
		}
		n++
	}
	if n > 0 {
		l.order = slices.Delete(l.order, 0, n)
	}
}

// sweepTurn waits until no other sweep of this instance runs, or ctx ends
// (false). The caller must call the returned release once it is done.
func (l *StopLedger) sweepTurn(ctx context.Context) (release func(), ok bool) {
	if l == nil {
		return func() {}, true
	}
	select {
	case l.sweeps <- struct{}{}:
		return func() { <-l.sweeps }, true
	case <-ctx.Done():
		return nil, false
	}
}
