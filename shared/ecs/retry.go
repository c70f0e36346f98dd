package ecs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// do runs a call with retries. It retries throttling answers, 5xx answers and
// connection-level failures; every other answer is final at once. Between
// attempts it sleeps with exponential backoff and full jitter (at least the
// API's TimeLeft hint), but never past ctx's deadline: when the next sleep
// would cross it, the last error is returned at once, so a caller keeps the
// time it has left for answering.
//
// The error returned is the last attempt's (a *cloudassistant.Error when the
// API answered), annotated with the number of attempts.
func (c *Client) do(ctx context.Context, cl call) error {
	if !c.cred.Set() {
		return ErrNoCredentials
	}
	base, err := c.endpointFor(cl.regionID)
	if err != nil {
		return err
	}
	var last error
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return stopped(cl.action, attempt-1, last, context.Cause(ctx))
		}
		res, err := c.attempt(ctx, base, cl)
		if err == nil {
			return nil
		}
		var api *cloudassistant.Error
		if ctx.Err() != nil && last != nil && !errors.As(err, &api) {
			// The deadline cut this attempt short: what the caller needs to
			// know is what the API said last, not that the clock ran out.
			return stopped(cl.action, attempt-1, last, context.Cause(ctx))
		}
		last = err
		if !retryable(err) || attempt >= c.attempts {
			return annotate(cl.action, attempt, err)
		}
		delay := max(c.backoff(attempt), res.timeLeft)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= delay {
			return fmt.Errorf("%w (no retry: the next one would start after the deadline)", annotate(cl.action, attempt, err))
		}
		ev := RetryEvent{Action: cl.action, Attempt: attempt, Delay: delay, Err: err}
		if errors.As(err, &api) {
			ev.Code = api.Code
			ev.Throttled = cloudassistant.Throttling(api.Code)
		}
		if ev.Throttled {
			cloudassistant.NoticeThrottle(ctx)
		}
		c.log.DebugContext(ctx, "ecs: retrying", "action", cl.action, "region", cl.regionID,
			"attempt", attempt, "code", ev.Code, "delay", delay, "error", err.Error())
		if c.onRetry != nil {
			c.onRetry(ev)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return stopped(cl.action, attempt, last, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// backoff is the full-jitter delay after the given failed attempt (from 1):
// uniform in [0, min(MaxDelay, BaseDelay·2^(attempt-1))]. Full jitter spreads
// concurrent callers that were throttled together instead of retrying them in step.
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.maxDelay
	if shift := attempt - 1; shift < 62 {
		if d := c.baseDelay << shift; d > 0 && d < ceiling && d>>shift == c.baseDelay {
			ceiling = d
		}
	}
	if ceiling <= 0 {
		return 0
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

// annotate adds the attempt count to the final error, keeping it unwrappable.
func annotate(action string, attempts int, err error) error {
	if attempts <= 1 {
		return fmt.Errorf("ecs: %s: %w", action, err)
	}
	return fmt.Errorf("ecs: %s failed after %d attempts: %w", action, attempts, err)
}

// stopped is the error when ctx ended: the last API error (if any) and the
// context's cause, both reachable with errors.As / errors.Is.
func stopped(action string, attempts int, last, cause error) error {
	if last == nil {
		return fmt.Errorf("ecs: %s: %w", action, cause)
	}
	return fmt.Errorf("ecs: %s gave up after %d attempts: %w (%w)", action, attempts, last, cause)
}
