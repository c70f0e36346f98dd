package ecs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// ErrNoCredentials is returned, before any network call, by a call made
// without an AccessKey pair.
// It wraps cloudassistant.ErrNoCredentials, which the core answers as a
// permanent configuration error (retrying cannot bring credentials).
var ErrNoCredentials = fmt.Errorf("ecs: %w: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET "+
	"(and ALIBABA_CLOUD_SECURITY_TOKEN for STS credentials), or give the function a role on Function Compute", cloudassistant.ErrNoCredentials)

// IsThrottled reports whether err is, or wraps, a throttling answer of the API
// (Throttling, Throttling.User, Throttling.Api, ...). The client has already
// waited out MaxThrottleRetries such answers (or the deadline came); a caller
// that paces itself (the sweep) uses this to slow down. Options.OnRetry and
// cloudassistant.WithThrottleNotice also report throttling that retries got
// past.
func IsThrottled(err error) bool {
	var api *cloudassistant.Error
	return errors.As(err, &api) && cloudassistant.Throttling(api.Code)
}

// IsRetryable reports whether err is one the client retries: throttling, a
// 5xx answer or a connection-level failure. When a call returns such an error
// its retry budget of that kind ran out (or the deadline came): it is
// transient, not final, and a caller with time left may try again.
func IsRetryable(err error) bool { return retryable(err) }

// StopError is StopInvocation's error: which batch of instances failed and
// which instances were stopped by the batches before it. Err is the batch's
// error; errors.As reaches the *cloudassistant.Error through it.
type StopError struct {
	RegionId, InvokeId string
	// Batch is the failed batch, from 1, out of Batches.
	Batch, Batches int
	// Stopped lists the instances of the batches that succeeded, in order.
	Stopped []string
	// Failed is the failed batch's instances; NotTried the batches after it.
	Failed, NotTried []string
	Err              error
}

func (e *StopError) Error() string {
	if e.Batches <= 1 {
		return fmt.Sprintf("stopping %s in %s: %v", e.InvokeId, e.RegionId, e.Err)
	}
	return fmt.Sprintf("stopping %s in %s: batch %d of %d (%d instances: %s) failed: %v; already stopped: %d instances (%s); not tried: %d",
		e.InvokeId, e.RegionId, e.Batch, e.Batches, len(e.Failed), listIDs(e.Failed),
		e.Err, len(e.Stopped), listIDs(e.Stopped), len(e.NotTried))
}

func (e *StopError) Unwrap() error { return e.Err }

// listIDs shows a few ids: messages end up in logs and answers, and a list of
// hundreds helps nobody; the full lists are in the fields.
func listIDs(ids []string) string {
	const show = 5
	if len(ids) == 0 {
		return "none"
	}
	if len(ids) <= show {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s, … %s", strings.Join(ids[:show-1], ", "), ids[len(ids)-1])
}
