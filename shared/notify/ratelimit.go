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
// b + T/every messages in any span T, which sets each service's numbers:
//   - DingTalk: 20 messages a minute per robot, then a 10-minute pause
//     (help.dingtalk.io/open/development/custom-robots-send-group-messages):
//     4 + 60s/4s = 19 a minute.
//   - Lark / Feishu: 100 a minute and 5 a second per bot
//     (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot):
//     3 + 1s/700ms < 5 a second, 3 + 60s/700ms < 89 a minute.
//   - Slack: about one a second per webhook, with short bursts
//     (api.slack.com/docs/rate-limits): 3, then one a second.
//   - JSON receivers publish nothing: 10, then one a second (60 a minute).
type rateLimit struct {
	burst int
	every time.Duration
	// said is the limit in words, for messages and logs.
	said string
}

var rateLimits = map[string]rateLimit{
	FormatDingTalk: {burst: 4, every: 4 * time.Second, said: "20 messages a minute"},
	FormatLark:     {burst: 3, every: 700 * time.Millisecond, said: "100 messages a minute and 5 a second"},
	FormatSlack:    {burst: 3, every: time.Second, said: "about 1 message a second"},
	FormatJSON:     {burst: 10, every: time.Second, said: "60 messages a minute"},
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
