package stopper

import (
	"context"
	"slices"
	"sync"
	"time"
)

// lanes hands a sweep's selected invocations to its workers: one lane per
// account, in the order the selection found them, and the accounts in
// turns. A worker passes over an account whose pacer has no slot free yet
// and takes another's invocation; only when no account has one does it
// wait, until the soonest slot. With one lane left it takes that lane's
// next invocation at once and waits in the pacer, as a sweep of one
// account always did.
type lanes struct {
	mu    sync.Mutex
	queue []*lane
	turn  int // the lane asked first next time
}

type lane struct {
	acct *sweepAccount
	jobs []candidate
}

func newLanes(selected []candidate) *lanes {
	l := &lanes{}
	byAccount := map[*sweepAccount]*lane{}
	for _, c := range selected {
		ln := byAccount[c.acct]
		if ln == nil {
			ln = &lane{acct: c.acct}
			byAccount[c.acct] = ln
			l.queue = append(l.queue, ln)
		}
		ln.jobs = append(ln.jobs, c)
	}
	return l
}

// next is the next invocation to handle; false when none is left or ctx
// ended first (left() says whether any was left).
func (l *lanes) next(ctx context.Context) (candidate, bool) {
	for {
		if ctx.Err() != nil {
			return candidate{}, false
		}
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.mu.Unlock()
			return candidate{}, false
		}
		now := time.Now()
		var soonest time.Time
		for k := range len(l.queue) {
			i := (l.turn + k) % len(l.queue)
			ln := l.queue[i]
			at := now
			if len(l.queue) > 1 {
				at = ln.acct.pace.free(now)
			}
			if at.After(now) {
				if soonest.IsZero() || at.Before(soonest) {
					soonest = at
				}
				continue
			}
			c := ln.jobs[0]
			ln.jobs[0] = candidate{}
			ln.jobs = ln.jobs[1:]
			l.turn = i + 1
			if len(ln.jobs) == 0 {
				l.queue = slices.Delete(l.queue, i, i+1)
				l.turn = i
			}
			l.mu.Unlock()
			return c, true
		}
		l.mu.Unlock()
		if !sleep(ctx, soonest.Sub(now)) {
			return candidate{}, false
		}
	}
}

// left is how many invocations no worker took.
func (l *lanes) left() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ln := range l.queue {
		n += len(ln.jobs)
	}
	return n
}
