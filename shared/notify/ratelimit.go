package notify

import (
	"strconv"
	"sync"
	"time"
)

// Each chat service throttles a webhook that posts too often, and DingTalk
// then pauses the robot for 10 minutes: the operators would lose sight of
// the stops exactly when many happen. So every Notifier (one per process,
// shared by every request the instance serves) posts through a token
// bucket within the service's published limit, and a message over it is
// suppressed rather than sent: counted, and told by the next message sent.
//
// A bucket of burst b refilled one token per every lets through at most
// b + T/every messages in any span T: each format sets its numbers from
// its service's published limit (rateLimit).
type rateLimit struct {
	burst int
	every time.Duration
	// said is the limit in words, for messages and logs.
	said string
}

// maxRateWait is the longest a message waits for the bucket: a request is
// never held longer for its notification's sake (and the notification's
// own bound applies too). A message that would wait longer is suppressed.
const maxRateWait = time.Second

// bucket is a Notifier's token bucket and its count of suppressed messages.
// It is safe for concurrent use.
type bucket struct {
	limit rateLimit

	mu     sync.Mutex
	tokens float64   // may go below 0: messages waiting for their token
	at     time.Time // when tokens was last brought up to date
	// suppressed messages since the first of them, not yet told.
	suppressed int
	since      time.Time
}

func newBucket(l rateLimit) *bucket { return &bucket{limit: l, tokens: float64(l.burst)} }

// take reserves a token for a message to send at now: ok with how long to
// wait for it (0: at once), or not ok, taking nothing, when the token would
// come later than maxWait.
func (b *bucket) take(now time.Time, maxWait time.Duration) (wait time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.at.IsZero() && now.After(b.at) {
		b.tokens = min(float64(b.limit.burst), b.tokens+float64(now.Sub(b.at))/float64(b.limit.every))
	}
	if b.at.IsZero() || now.After(b.at) {
		b.at = now
	}
	if b.tokens < 1 {
		wait = time.Duration((1 - b.tokens) * float64(b.limit.every))
		if wait > maxWait {
			return 0, false
		}
	}
	b.tokens--
	return wait, true
}

// suppress counts a message the bucket refused, and returns the count not
// yet told and since when.
func (b *bucket) suppress(now time.Time) (int, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.suppressed == 0 {
		b.since = now
	}
	b.suppressed++
	return b.suppressed, b.since
}

// untold hands over the suppressed count for the message about to be sent
// (0 when none), and clears it.
func (b *bucket) untold() (int, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, since := b.suppressed, b.since
	b.suppressed, b.since = 0, time.Time{}
	return n, since
}

// retell gives back a count whose message was not sent after all, so that
// the next one tells it.
func (b *bucket) retell(n int, since time.Time) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.suppressed == 0 || since.Before(b.since) {
		b.since = since
	}
	b.suppressed += n
}

// suppressionNotice is what the next message says of n suppressed ones.
func suppressionNotice(n int, since time.Time, service string, l rateLimit) string {
	what := "notifications were"
	if n == 1 {
		what = "notification was"
	}
	return strconv.Itoa(n) + " " + what + " suppressed since " + since.UTC().Format(time.RFC3339) +
		" (rate limit of " + service + ": " + l.said + ")"
}
