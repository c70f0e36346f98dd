package ecs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// do runs a call with retries. It retries throttling answers, 5xx answers and
// connection-level failures; every other answer is final at once. The two
// kinds of retry have their own budgets: a fault (5xx, connection failure,
// per-attempt timeout) spends one of MaxAttempts, a throttling answer one of
// MaxThrottleRetries, so a busy API cannot use up the tries meant for a
// broken one. Between attempts it sleeps with exponential backoff and full
// jitter (at least the API's TimeLeft hint), but never past ctx's deadline:
// when the next sleep would cross it, the last error is returned at once, so
// a caller keeps the time it has left for answering.
//
// The error returned is the last attempt's (a *cloudassistant.Error when the
// API answered), annotated with how many attempts were made, how many of
// them were throttled and how many faulted.
func (c *Client) do(ctx context.Context, cl call) error {
	s, err := c.signer(ctx)
	if err != nil {
		return err
	}
	base, err := c.endpointFor(cl.regionID)
	if err != nil {
		return err
	}
	var (
		last    error
		n       tally
		renewed bool // the provider was told once that the API refused its credentials
	)
	for {
		if err := ctx.Err(); err != nil {
			return stopped(cl.action, n, last, context.Cause(ctx))
		}
		res, err := s.attempt(ctx, base, cl)
		if err == nil {
			return nil
		}
		if inv, ok := c.provider.(acs.Invalidator); ok && !renewed && refusesCredentials(err) {
			// A rotated key or credentials the API already takes for
			// expired: the provider fetches new ones, and the call is made
			// once more at once. A second refusal is final.
			renewed = true
			inv.Invalidate(s.cred)
			if s, err = c.signer(ctx); err != nil {
				return err
			}
			continue
		}
		var api *cloudassistant.Error
		if ctx.Err() != nil && last != nil && !errors.As(err, &api) {
			// The deadline cut this attempt short: what the caller needs to
			// know is what the API said last, not that the clock ran out.
			return stopped(cl.action, n, last, context.Cause(ctx))
		}
		last = err
		n.attempts++
		throttled := IsThrottled(err)
		var retries int // of this kind, before this attempt
		switch {
		case !retryable(err):
			return annotate(cl.action, n, "", err)
		case throttled:
			retries = n.throttled
			n.throttled++
			if limit := c.throttleLimit(ctx); limit < n.throttled {
				return annotate(cl.action, n, fmt.Sprintf("the limit of throttled retries is %d", limit), err)
			}
		default:
			retries = n.faulted
			n.faulted++
			if n.faulted >= c.attempts {
				return annotate(cl.action, n, fmt.Sprintf("the limit of faulted attempts is %d", c.attempts), err)
			}
		}
		delay := max(c.backoff(retries+1), res.timeLeft)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= delay {
			return fmt.Errorf("%w (no retry: the next one would start after the deadline)", annotate(cl.action, n, "", err))
		}
		ev := RetryEvent{Action: cl.action, Attempt: n.attempts, Delay: delay, Err: err, Throttled: throttled}
		if errors.As(err, &api) {
			ev.Code = api.Code
		}
		if throttled {
			cloudassistant.NoticeThrottle(ctx)
		}
		c.log.DebugContext(ctx, "ecs: retrying", "action", cl.action, "region", cl.regionID,
			"attempt", n.attempts, "throttled", n.throttled, "faulted", n.faulted,
			"code", ev.Code, "delay", delay, "error", err.Error())
		if c.onRetry != nil {
			c.onRetry(ev)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return stopped(cl.action, n, last, context.Cause(ctx))
		case <-t.C:
		}
		// Temporary credentials may have been renewed while this call slept.
		if s, err = c.signer(ctx); err != nil {
			return err
		}
	}
}

// refusesCredentials reports an answer that says the credentials, not the
// request, are at fault: an AccessKey that no longer exists (rotated) or a
// security token the API no longer accepts.
func refusesCredentials(err error) bool {
	var api *cloudassistant.Error
	if !errors.As(err, &api) {
		return false
	}
	return api.Code == "InvalidAccessKeyId.NotFound" || strings.HasPrefix(api.Code, "InvalidSecurityToken.")
}

// pacedThrottleRetries bounds the throttled retries of a caller that paces
// itself (cloudassistant.WithPacer): their backoff ceilings stay at 100-400 ms,
// and the caller's pacer, told of each one, slows every worker down instead
// of one call sleeping for seconds. Measured with the sweep against the
// emulator (shared/stopper/sweep_bench_test.go, 50 QPS): the same stop rate
// (0.94-0.97 of the limit) with 0.35 throttled calls per stop, against 0.50
// with the full MaxThrottleRetries.
const pacedThrottleRetries = 3

// throttleLimit is how many throttled retries a call may make.
func (c *Client) throttleLimit(ctx context.Context) int {
	if cloudassistant.HandsBackThrottling(ctx) {
		return 0
	}
	if cloudassistant.Paced(ctx) {
		return min(c.throttles, pacedThrottleRetries)
	}
	return c.throttles
}

// tally counts a call's failed attempts.
type tally struct {
	attempts  int // failed attempts, of every kind
	throttled int // answered Throttling*
	faulted   int // 5xx, connection failure, per-attempt timeout
}

// after is "after N attempts (T throttled, F faulted[: limit])".
func (n tally) after(limit string) string {
	if limit != "" {
		limit = ": " + limit
	}
	return fmt.Sprintf("after %d attempts (%d throttled, %d faulted%s)", n.attempts, n.throttled, n.faulted, limit)
}

// backoff is the full-jitter delay after the given failed attempt (from 1):
// uniform in [0, min(MaxDelay, BaseDelay·2^(attempt-1))]. Full jitter spreads
// concurrent callers that were throttled together instead of retrying them in step.
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.maxDelay
	// An overflowed shift does not give BaseDelay back (a shift past 63
	// gives 0, one into the sign bit a negative d): the cap stays.
	if shift := attempt - 1; c.baseDelay<<shift>>shift == c.baseDelay {
		ceiling = min(ceiling, c.baseDelay<<shift)
	}
	return rand.N(ceiling + 1)
}

// retryable: throttling, 5xx and connection failures that may go away.
func retryable(err error) bool {
	var api *cloudassistant.Error
	if errors.As(err, &api) {
		return api.Retryable()
	}
	var ce *connError
	return errors.As(err, &ce) && ce.retry
}

// retryableConn reports whether a failure below HTTP is worth another try.
// Dial errors, resets, EOFs and timeouts are; a certificate that does not
// verify or a host name that does not exist will not change in a second.
func retryableConn(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		dns      *net.DNSError
	)
	switch {
	case errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return false
	case errors.As(err, &dns):
		return !dns.IsNotFound
	}
	return true
}

// annotate adds the attempt counts to the final error, and the limit that
// ended the retries if one did, keeping the error unwrappable.
func annotate(action string, n tally, limit string, err error) error {
	if n.attempts <= 1 {
		return fmt.Errorf("ecs: %s: %w", action, err)
	}
	return fmt.Errorf("ecs: %s failed %s: %w", action, n.after(limit), err)
}

// stopped is the error when ctx ended: the last API error (if any) and the
// context's cause, both reachable with errors.As / errors.Is.
func stopped(action string, n tally, last, cause error) error {
	if last == nil {
		return fmt.Errorf("ecs: %s: %w", action, cause)
	}
	return fmt.Errorf("ecs: %s gave up %s: %w (%w)", action, n.after(""), last, cause)
}
