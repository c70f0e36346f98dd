package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

const (
	// deadlineMargin is left before the request's deadline, so that the
	// function can still answer after a notification that used its bound.
	deadlineMargin = 250 * time.Millisecond
	// retryBackoff is the pause before the one retry when the service
	// gives no Retry-After.
	retryBackoff = 200 * time.Millisecond
	// minAttempt is the least time worth starting an attempt with.
	minAttempt = 200 * time.Millisecond
	// maxAnswer is as much of an answer as is read.
	maxAnswer = 64 << 10
	// maxServiceText caps a service's own error text in errors.
	maxServiceText = 200
)

// Notify posts one message about the report. Only reports with something to
// tell (something was stopped, a sweep was refused by its limit, or a dry
// run selected something: the function passes those on only with
// STOPPER_NOTIFY_DRY_RUN) are sent; the others return nil at once. A
// message over the service's rate limit (ratelimit.go) is not sent: the
// error says so and what it would have said, and the next message sent
// tells how many were suppressed. It retries at most once (a connection
// error, a 5xx or a 429, after the answer's Retry-After when that fits, and
// when the rate limit has room), all within the notifier's timeout and
// ctx's deadline less a margin, and returns what failed, redacted. It never
// panics.
func (n *Notifier) Notify(ctx context.Context, r stopper.Report) (err error) {
	if n == nil {
		return nil // notifications off
	}
	defer func() {
		if p := recover(); p != nil {
			err = n.fail("not sent: %s", n.redact.Text(fmt.Sprint(p)))
		}
	}()
	if !r.Worth(true) {
		return nil
	}
	budget := n.timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) - deadlineMargin; left < budget {
			budget = left
		}
	}
	if budget <= 0 {
		return n.fail("not sent: the request's deadline is less than %s away", deadlineMargin)
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	now := n.now()
	wait, ok := n.bucket.take(now, min(maxRateWait, budget-minAttempt))
	if !ok {
		count, since := n.bucket.suppress(now)
		return n.fail("suppressed by the rate limit of %s (%s): %d not sent since %s; it would have said %q",
			n.format.service(), n.bucket.limit.said, count, since.UTC().Format(time.RFC3339), summarize(r, n.redact).Title)
	}
	if wait > 0 && !sleep(ctx, wait) {
		return n.fail("not sent: no time left after waiting %s for the rate limit of %s", wait.Round(time.Millisecond), n.format.service())
	}
	untold, since := n.bucket.untold()
	sent := false
	defer func() {
		if !sent {
			n.bucket.retell(untold, since) // the next message tells them
		}
	}()
	build, err := n.payload(r, untold, since)
	if err != nil {
		return n.fail("not sent: %v", err)
	}
	for attempt := 1; ; attempt++ {
		target, body, err := build(n.now())
		if err != nil {
			return n.fail("not sent: %v", err)
		}
		a := n.post(ctx, target, body, budget)
		if a == nil {
			sent = true
			attrs := []slog.Attr{slog.String("request_id", r.RequestId), slog.String("format", n.format.name()),
				slog.String("url", n.redact.url), slog.Int("attempts", attempt)}
			if untold > 0 {
				attrs = append(attrs, slog.Int("suppressed_before", untold))
			}
			n.log.LogAttrs(ctx, slog.LevelInfo, "notification sent", attrs...)
			return nil
		}
		if attempt == 2 || !a.retry {
			return n.fail("%s", a.msg)
		}
		wait := retryBackoff
		if a.retryAfter > 0 {
			wait = a.retryAfter
		}
		dl, _ := ctx.Deadline()
		if left := time.Until(dl); left < wait+minAttempt {
			if a.retryAfter > 0 {
				return n.fail("%s; not retried: Retry-After %s does not fit the %s left", a.msg, a.retryAfter, left.Round(time.Millisecond))
			}
			return n.fail("%s; no time left to retry", a.msg)
		}
		n.log.LogAttrs(ctx, slog.LevelWarn, "notification retry", slog.String("request_id", r.RequestId),
			slog.String("format", n.format.name()), slog.String("url", n.redact.url), slog.String("error", a.msg),
			slog.Duration("wait", wait))
		if !sleep(ctx, wait) {
			return n.fail("%s; no time left to retry", a.msg)
		}
		// The retry is one more message to the service's count.
		if _, ok := n.bucket.take(n.now(), 0); !ok {
			return n.fail("%s; not retried: over the rate limit of %s (%s)", a.msg, n.format.service(), n.bucket.limit.said)
		}
	}
}

// sleep waits d, or less when ctx ends first (false then).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// fail is a Notify error: what failed, where (the URL redacted), and the
// text redacted once more in case a service or Go echoed a secret.
func (n *Notifier) fail(format string, args ...any) error {
	return errors.New(n.redact.Text(fmt.Sprintf("notification (%s) to %s: %s", n.format.name(), n.redact.url, fmt.Sprintf(format, args...))))
}

// payload renders the message once, telling of the untold notifications
// the rate limit suppressed since then; the returned function signs it for
// an attempt at the given time (a new timestamp each attempt).
func (n *Notifier) payload(r stopper.Report, untold int, since time.Time) (func(now time.Time) (target string, body []byte, err error), error) {
	u := *n.url
	u.Fragment, u.RawFragment = "", ""
	target := u.String()
	notice := ""
	if untold > 0 {
		notice = suppressionNotice(untold, since, n.format.service(), n.bucket.limit)
	}
	body, err := n.format.render(draft{report: r, redact: n.redact, signed: n.signer != nil, untold: untold, since: since, notice: notice})
	if err != nil {
		return nil, err
	}
	return func(now time.Time) (string, []byte, error) {
		if n.signer == nil {
			return target, body, nil
		}
		return n.signer.sign(target, body, n.secret, now)
	}, nil
}

// attemptError is one attempt's failure, and whether another may help.
type attemptError struct {
	msg        string
	retry      bool
	retryAfter time.Duration
}

func (n *Notifier) post(ctx context.Context, target string, body []byte, budget time.Duration) *attemptError {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &attemptError{msg: "cannot build the request: " + n.redact.Text(unwrapURLError(err).Error())}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "ecs-stopper")
	resp, err := n.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return &attemptError{msg: fmt.Sprintf("no answer within the notification's bound (%s)", budget.Round(time.Millisecond))}
		}
		// Go's error quotes the whole URL, token included: its cause only.
		return &attemptError{msg: "POST failed: " + n.redact.Text(unwrapURLError(err).Error()), retry: true}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil && ctx.Err() != nil {
		return &attemptError{msg: fmt.Sprintf("no whole answer within the notification's bound (%s)", budget.Round(time.Millisecond))}
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return &attemptError{msg: newReply(resp, answer, n.redact).httpFailure(), retry: true, retryAfter: retryAfter(resp.Header.Get("Retry-After"), n.now())}
	}
	if msg := n.format.check(newReply(resp, answer, n.redact)); msg != "" {
		return &attemptError{msg: msg}
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, 3600)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return min(t.Sub(now), time.Hour)
	}
	return 0
}
