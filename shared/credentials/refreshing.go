// Package credentials is where the function's Alibaba Cloud credentials
// come from: the sources (an AccessKey in the environment, an OIDC token
// exchanged with STS, an AccessKey kept in AWS Secrets Manager, the aliyun
// CLI's profile), an assumed role on top of any of them, and Resolve, which
// picks the first configured source at start-up without touching the
// network. Temporary credentials are cached and refreshed by Refreshing.
package credentials

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/sts"
)

// RefreshMargin is how long before they expire temporary credentials are
// replaced, so that a call signed with them does not reach the API after
// they lapsed. It never exceeds half the lifetime the credentials were
// issued with (see Refreshing).
const RefreshMargin = 3 * time.Minute

// CodeUnavailable is the code of the error a request gets when no valid
// credentials could be obtained: a transient failure (HTTP 503).
const CodeUnavailable = "Credentials.Unavailable"

// exchangeTimeout bounds one exchange, however long its first caller is
// prepared to wait: other callers wait on the same exchange.
const exchangeTimeout = 30 * time.Second

// retryPause is how long a failed refresh is not retried while the current
// credentials are still valid, so that a failing STS sees one attempt, and
// the logs one warning, per pause rather than per request.
const retryPause = 10 * time.Second

// Exchange obtains a fresh set of credentials: one STS call, a secret read.
// A zero Expiration means the credentials do not expire (an AccessKey).
type Exchange func(ctx context.Context) (sts.Credentials, error)

// Refreshing caches the credentials an Exchange returns and obtains new ones
// when they come close to expiring. It implements acs.CredentialsProvider
// and acs.Invalidator and is safe for concurrent use.
//
// One exchange runs at a time: callers that need fresh credentials while
// one runs wait for its outcome (or their context). Nothing is exchanged
// before the first Credentials call.
type Refreshing struct {
	source   string
	role     string // the assumed role, for errors
	exchange Exchange
	log      *slog.Logger
	now      func() time.Time

	mu        sync.Mutex
	cur       sts.Credentials
	have      bool
	refreshAt time.Time // when cur should be replaced; zero: never
	notBefore time.Time // no new attempt before this, after a failed refresh
	flight    *flight
}

// flight is one exchange in progress; done closes when it ended.
type flight struct {
	done chan struct{}
	got  sts.Credentials
	err  error
}

// NewRefreshing returns a provider that obtains credentials with exchange.
// source names it in logs and errors (oidc-file, secrets-manager, …).
func NewRefreshing(source string, exchange Exchange, logger *slog.Logger) *Refreshing {
	if logger == nil {
		logger = slog.Default()
	}
	return &Refreshing{source: source, exchange: exchange, log: logger, now: time.Now}
}

// Source is the name the provider logs its credentials under.
func (r *Refreshing) Source() string { return r.source }

// String names the provider without its credentials.
func (r *Refreshing) String() string { return "credentials.Refreshing(" + r.source + ")" }

// Credentials returns the cached credentials, or new ones when none are
// cached or the cached ones are due for refresh.
func (r *Refreshing) Credentials(ctx context.Context) (acs.Credentials, error) {
	r.mu.Lock()
	now := r.now()
	if r.have && (r.refreshAt.IsZero() || now.Before(r.refreshAt)) {
		c := r.cur.Pair
		r.mu.Unlock()
		return c, nil
	}
	if r.have && r.valid(now) && now.Before(r.notBefore) {
		c := r.cur.Pair // the last refresh failed moments ago
		r.mu.Unlock()
		return c, nil
	}
	f := r.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		r.flight = f
		go r.run(context.WithoutCancel(ctx), f)
	}
	r.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		return acs.Credentials{}, ctx.Err()
	}
	if f.err == nil {
		return f.got.Pair, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.have && r.valid(r.now()) {
		return r.cur.Pair, nil
	}
	return acs.Credentials{}, unavailable(r.source, r.role, f.err)
}

// valid reports whether the cached credentials have not expired yet.
func (r *Refreshing) valid(now time.Time) bool {
	return r.cur.Expiration.IsZero() || now.Before(r.cur.Expiration)
}

// run performs one exchange and records its outcome. It is detached from
// the caller that started it: others wait on it too.
func (r *Refreshing) run(ctx context.Context, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()
	got, err := r.exchange(ctx)
	if err == nil && !got.Pair.Set() {
		err = errors.New("the exchange returned no AccessKey pair")
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	f.got, f.err = got, err
	r.flight = nil
	now := r.now()
	if err == nil {
		r.cur, r.have, r.notBefore = got, true, time.Time{}
		r.refreshAt = refreshTime(now, got.Expiration)
	} else if r.have && r.valid(now) {
		r.notBefore = now.Add(min(retryPause, r.cur.Expiration.Sub(now)/2))
		r.log.Warn("refreshing the credentials failed; the current ones stay in use until they expire",
			"credentials", r.source, "code", errorCode(err), "expires_in", r.cur.Expiration.Sub(now).Round(time.Second).String())
	}
	close(f.done)
}

// refreshTime is when credentials obtained at now and expiring at exp are
// to be replaced: RefreshMargin before exp, but never earlier than half
// their lifetime. Short-lived credentials (an emulator issuing them for ten
// seconds, a role capped at a short session) would otherwise be due for
// refresh as soon as they arrive, and every call would cost an exchange —
// and STS's per-account quota. Zero exp: never.
func refreshTime(now, exp time.Time) time.Time {
	if exp.IsZero() {
		return time.Time{}
	}
	lifetime := exp.Sub(now)
	return exp.Add(-min(RefreshMargin, max(lifetime, 0)/2))
}

// Invalidate drops the cached credentials when they are c: the API refused
// them (a rotated AccessKey, STS credentials it considers expired). The
// next Credentials call obtains new ones.
func (r *Refreshing) Invalidate(c acs.Credentials) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.have && r.cur.Pair == c {
		r.cur, r.have, r.refreshAt, r.notBefore = sts.Credentials{}, false, time.Time{}, time.Time{}
	}
}

// UnavailableError is the error a request gets when there are no valid
// credentials: the API-shaped Credentials.Unavailable (503, transient) the
// rest of the project answers with, and the exchange's own error, for a
// caller that needs STS's code (errors.As to *sts.Error).
type UnavailableError struct {
	API   *cloudassistant.Error
	Cause error
}

func (e *UnavailableError) Error() string   { return e.API.Error() }
func (e *UnavailableError) Unwrap() []error { return []error{e.API, e.Cause} }

// unavailable is the error a request gets when there are no valid
// credentials: transient (503), naming the source, the upstream code and
// what to check.
func unavailable(source, role string, err error) *UnavailableError {
	code := errorCode(err)
	from := source
	if role != "" {
		from += ", role " + role
	}
	msg := fmt.Sprintf("No valid Alibaba Cloud credentials from %s: ", from)
	if code != "" {
		msg += fmt.Sprintf("the exchange failed with %s (%v). %s", code, err, hint(source, code))
	} else {
		msg += fmt.Sprintf("%v. %s", err, hint(source, ""))
	}
	return &UnavailableError{API: &cloudassistant.Error{Code: CodeUnavailable, HTTPStatus: 503, Message: msg}, Cause: err}
}

// errorCode is the upstream API's error code in err, if it has one.
func errorCode(err error) string {
	var se *sts.Error
	if errors.As(err, &se) {
		return se.Code
	}
	var ce *cloudassistant.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		return coded.ErrorCode()
	}
	return ""
}
