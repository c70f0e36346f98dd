package notify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A sender that asks as often as it can (every 10 ms for 5 minutes, each
// message waiting what the bucket allows) never goes over the service's
// published limits in any window.
func TestBucketWithinPublishedLimits(t *testing.T) {
	for format, c := range formatCases {
		t.Run(format, func(t *testing.T) {
			b := newBucket(formatOf(t, format).rateLimit())
			var sent []time.Time
			for now := testNow; now.Before(testNow.Add(5 * time.Minute)); now = now.Add(10 * time.Millisecond) {
				wait, ok := b.take(now, maxRateWait)
				if ok {
					if wait > maxRateWait {
						t.Fatalf("a wait of %s", wait)
					}
					sent = append(sent, now.Add(wait))
				}
			}
			for _, l := range c.published {
				for i := range sent {
					n := 0
					for j := i; j < len(sent) && sent[j].Sub(sent[i]) < l.span; j++ {
						n++
					}
					if n > l.max {
						t.Fatalf("%d messages within %s from %s (limit %d)", n, l.span, sent[i].Sub(testNow), l.max)
					}
				}
			}
			// And the limit is used, not starved: most of what it allows.
			if perMinute := float64(len(sent)) / 5; perMinute < 0.7*float64(c.published[0].max) {
				t.Fatalf("only %.0f messages a minute", perMinute)
			}
		})
	}
}

// Over the limit, a message is not sent: Notify says so at once, with what
// it would have said, and the next message sent tells how many were
// suppressed and since when.
func TestSuppressedNotificationsAreTold(t *testing.T) {
	for format, c := range formatCases {
		t.Run(format, func(t *testing.T) {
			rc := newReceiver(t, nil, c.accepted[0])
			clock := testNow
			n := newTestNotifier(t, Options{URL: rc.URL + "/robot/send?access_token=" + dingTalkToken, Format: format,
				Now: func() time.Time { return clock }})
			f := formatOf(t, format)
			l := f.rateLimit()
			// All at one instant: the burst, and those whose token is
			// within maxRateWait, are sent; the next two are not.
			sendable := l.burst + int(maxRateWait/l.every)
			for i := range sendable {
				if err := n.Notify(context.Background(), twoStopSweep()); err != nil {
					t.Fatalf("message %d: %v", i+1, err)
				}
			}
			for range 2 {
				start := time.Now()
				err := n.Notify(context.Background(), twoStopSweep())
				if err == nil || !strings.Contains(err.Error(), "suppressed by the rate limit of "+f.service()) ||
					!strings.Contains(err.Error(), `it would have said "ecs-stopper stopped 2 invocations, 1 failure"`) {
					t.Fatalf("over the limit: %v", err)
				}
				if waited := time.Since(start); waited > 100*time.Millisecond {
					t.Fatalf("a suppressed message took %s", waited)
				}
			}
			if got := len(rc.requests(t)); got != sendable {
				t.Fatalf("%d messages sent, want %d", got, sendable)
			}
			clock = clock.Add(time.Minute) // tokens again
			if err := n.Notify(context.Background(), twoStopSweep()); err != nil {
				t.Fatal(err)
			}
			got := rc.requests(t)
			last := string(got[len(got)-1].body)
			want := "2 notifications were suppressed since 2025-06-01T08:30:00Z (rate limit of " + f.service() + ": " + l.said + ")"
			if !strings.Contains(last, want) {
				t.Fatalf("the next message does not say %q:\n%s", want, last)
			}
			if format == FormatJSON {
				var a struct{ NotificationsSuppressed suppressedMember }
				if err := json.Unmarshal([]byte(last), &a); err != nil || a.NotificationsSuppressed.Count != 2 ||
					a.NotificationsSuppressed.Since != "2025-06-01T08:30:00Z" {
					t.Fatalf("NotificationsSuppressed: %v %+v", err, a)
				}
			}
			// Told once: the message after says nothing of them.
			clock = clock.Add(time.Minute)
			if err := n.Notify(context.Background(), twoStopSweep()); err != nil {
				t.Fatal(err)
			}
			if got := rc.requests(t); strings.Contains(string(got[len(got)-1].body), "suppressed") {
				t.Fatalf("told twice: %s", got[len(got)-1].body)
			}
		})
	}
}

// A message that waits for its token waits at most maxRateWait, within the
// notification's bound.
func TestRateLimitWaitIsShort(t *testing.T) {
	rc := newReceiver(t, nil, answer{200, `{"code":0}`, ""})
	n := newTestNotifier(t, Options{URL: rc.URL, Format: FormatLark}) // the clock stands still
	for range formatOf(t, FormatLark).rateLimit().burst {
		if err := n.Notify(context.Background(), twoStopSweep()); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	err := n.Notify(context.Background(), twoStopSweep()) // its token is 700 ms away
	if waited := time.Since(start); err != nil || waited < 600*time.Millisecond || waited > maxRateWait+500*time.Millisecond {
		t.Fatalf("waited %s: %v", waited, err)
	}
	if len(rc.requests(t)) != formatOf(t, FormatLark).rateLimit().burst+1 {
		t.Fatal("the message that waited was not sent")
	}
}

// A count whose message failed is told by the next one that is sent.
func TestSuppressedCountSurvivesAFailedMessage(t *testing.T) {
	ok, refused := answer{200, `{"errcode":0,"errmsg":"ok"}`, ""}, answer{200, `{"errcode":300001,"errmsg":"bad"}`, ""}
	rc := newReceiver(t, nil, ok, ok, ok, ok, refused, ok)
	clock := testNow
	n := newTestNotifier(t, Options{URL: rc.URL, Format: FormatDingTalk, Now: func() time.Time { return clock }})
	for _, step := range []struct {
		advance time.Duration
		err     string
	}{{0, ""}, {0, ""}, {0, ""}, {0, ""}, {0, "suppressed"}, {time.Minute, "errcode 300001"}, {time.Minute, ""}} {
		clock = clock.Add(step.advance)
		err := n.Notify(context.Background(), twoStopSweep())
		if step.err == "" && err != nil || step.err != "" && (err == nil || !strings.Contains(err.Error(), step.err)) {
			t.Fatalf("got %v, want %q", err, step.err)
		}
	}
	got := rc.requests(t)
	if len(got) != 6 {
		t.Fatalf("%d messages", len(got))
	}
	for _, i := range []int{4, 5} {
		if !strings.Contains(string(got[i].body), "1 notification was suppressed since 2025-06-01T08:30:00Z") {
			t.Errorf("message %d does not tell the suppressed one: %s", i+1, got[i].body)
		}
	}
}
