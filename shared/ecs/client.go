// Package ecs is the project's Cloud Assistant API client: StopInvocation and
// DescribeInvocations over the ECS RPC protocol (API version 2014-05-26),
// signed with ACS3-HMAC-SHA256, with bounded retries.
//
// It uses the standard library only, on purpose: the official SDK adds about
// 2 MB to every bootstrap, does not retry unless told to, waits forever
// without timeouts and does not honour Network="vpc" for the regions it knows
// (see docs/reference/cloud-assistant-api.md). Everything the project needs
// from it is two actions.
//
// Retries: throttling answers (Throttling*), 5xx answers and connection-level
// failures (dial errors, resets, EOFs, an attempt exceeding ReadTimeout) are
// tried again; other 4xx answers are final at once. Faults and throttling
// have separate budgets: a call gives up at its MaxAttempts-th fault (5xx,
// connection failure, per-attempt timeout), or when the API throttled it
// more than MaxThrottleRetries times, whichever comes first. Throttling
// means "not now", not "broken": four throttled tries and one dropped
// connection must not end a call that is allowed five faults. Between
// attempts the client sleeps a full-jitter exponential backoff (random in
// [0, min(MaxDelay, BaseDelay·2^k)], k counting the retries of the same
// kind) or the API's TimeLeft hint if longer. The caller's deadline bounds
// it all: no sleep runs past it. The error returned is the last one the API
// gave (a *cloudassistant.Error), annotated "failed after N attempts (T
// throttled, F faulted: <the limit reached>)". IsThrottled, IsRetryable,
// Options.OnRetry and cloudassistant.WithThrottleNotice serve callers that
// pace themselves.
//
// Credentials never leave through the client's errors: every text that came
// from the other side (the API's Message, Recommend and other fields, a body
// that is not the API's JSON, a connection error) has the credentials the call
// was signed with removed (acs.Credentials.Redactor) — the API's
// SignatureDoesNotMatch message echoes its string to sign, STS token included.
//
// Endpoint overrides go through CheckEndpoint, which refuses plain http://
// to anything but a loopback host and never prints a URL's user info, query
// or fragment (RedactURL).
//
// A Client is safe for concurrent use. Its fields never change after New;
// WithCredentials and WithMaxAttempts return copies that share the HTTP
// transport, so per-invocation credentials (Function Compute) cost nothing.
package ecs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
)

// Defaults for the zero values of Options.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultReadTimeout    = 10 * time.Second
	DefaultMaxAttempts    = 5
	// DefaultMaxThrottleRetries: at the default delays ten throttled
	// retries back off at most 26 s in all (13 s on average) unless the
	// API's TimeLeft hints ask for more: longer than a burst of throttling
	// lasts, and a caller's deadline cuts them shorter still.
	DefaultMaxThrottleRetries = 10
	DefaultBaseDelay          = 100 * time.Millisecond
	DefaultMaxDelay           = 5 * time.Second
)

// Networks the regional endpoint can be chosen from.
const (
	NetworkPublic = "public"
	NetworkVPC    = "vpc"
)

// Options configure a Client. The zero value of every field means its default.
type Options struct {
	// Provider, when set, yields the credentials each call is signed with
	// (temporary ones, refreshed as they near expiry); it wins over
	// Credentials.
	Provider acs.CredentialsProvider
	// Credentials sign every call. They may be left empty here and supplied
	// per invocation with WithCredentials; a call without them fails before
	// touching the network.
	Credentials acs.Credentials
	// Endpoint, when set, is a full https:// URL used for every region
	// instead of the regional endpoint (STOPPER_ECS_ENDPOINT: a private
	// endpoint, a proxy), or http:// to a loopback host (the emulator).
	// CheckEndpoint says what is refused.
	Endpoint string
	// Network picks the regional endpoint: "public" (default,
	// https://ecs.<region>.aliyuncs.com) or "vpc" (https://ecs-vpc.<region>.aliyuncs.com).
	Network string
	// ConnectTimeout bounds dialing and the TLS handshake (default 5s). It
	// applies to the default transport only.
	ConnectTimeout time.Duration
	// ReadTimeout bounds one attempt, from sending to the last byte of the
	// answer (default 10s). It never extends past the caller's deadline.
	ReadTimeout time.Duration
	// MaxAttempts is how many attempts of one API call may fault (a 5xx
	// answer, a connection failure, no answer within ReadTimeout) before
	// the call gives up, the first try included (default 5; 1: no retry
	// after a fault). Throttled attempts do not count: see
	// MaxThrottleRetries.
	MaxAttempts int
	// MaxThrottleRetries is how many throttling answers (Throttling*) one
	// call waits out and retries, on top of MaxAttempts (default 10;
	// negative: none, a throttling answer is returned at once to a caller
	// that paces itself). Each such retry still calls OnRetry and
	// cloudassistant.NoticeThrottle, and the caller's deadline bounds them.
	MaxThrottleRetries int
	// BaseDelay and MaxDelay shape the backoff between attempts: a random
	// delay in [0, min(MaxDelay, BaseDelay·2^k)], k the number of earlier
	// retries of the same kind (throttled or faulted), or the API's
	// TimeLeft hint if longer (defaults 100ms and 5s).
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// Transport replaces the default transport (tests). The default is an
	// *http.Transport with ConnectTimeout, keep-alives and
	// MaxIdleConnsPerHost 16, shared by every copy of the Client.
	Transport http.RoundTripper
	// Log receives one debug line per retry (action, attempt, throttled,
	// faulted, code, delay, error); nil discards. Credentials are never
	// logged: the error text is redacted like every upstream text.
	Log *slog.Logger
	// Now is the clock the signature's x-acs-date comes from; nil is time.Now.
	Now func() time.Time
	// OnRetry, when set, is called before each retry sleep (from the calling
	// goroutine). A caller that paces itself (the sweep) can use it to learn
	// that the API throttled even when a call finally succeeded.
	OnRetry func(RetryEvent)
}

// RetryEvent describes one failed attempt that is about to be retried.
type RetryEvent struct {
	Action  string
	Attempt int           // the attempt that failed, from 1
	Delay   time.Duration // the sleep before the next attempt
	// Code is the API error code, or "" for a connection-level failure.
	Code string
	// Throttled reports a Throttling* answer.
	Throttled bool
	Err       error
}

// Client calls the Cloud Assistant API. Create it with New.
type Client struct {
	provider acs.CredentialsProvider
	keys     *keyCache // of provider
	// cred and redact are set on the per-call copy that do signs with.
	cred      acs.Credentials
	redact    acs.Redactor // of cred
	endpoint  string       // override, without trailing slash; "" = regional
	network   string
	readTO    time.Duration
	attempts  int // faulted attempts allowed
	throttles int // throttled retries allowed; 0 = none
	baseDelay time.Duration
	maxDelay  time.Duration
	http      *http.Client
	log       *slog.Logger
	now       func() time.Time
	onRetry   func(RetryEvent)
}

// New validates the options and builds a Client. Errors name the option at fault.
func New(opts Options) (*Client, error) {
	c := &Client{
		provider:  opts.Provider,
		keys:      &keyCache{},
		throttles: opts.MaxThrottleRetries,
		readTO:    orDefault(opts.ReadTimeout, DefaultReadTimeout),
		attempts:  opts.MaxAttempts,
		baseDelay: orDefault(opts.BaseDelay, DefaultBaseDelay),
		maxDelay:  orDefault(opts.MaxDelay, DefaultMaxDelay),
		log:       opts.Log,
		now:       opts.Now,
		onRetry:   opts.OnRetry,
	}
	var errs []error
	ep, err := parseEndpoint(opts.Endpoint)
	if err != nil {
		errs = append(errs, fmt.Errorf("ecs: option Endpoint: %w", err))
	}
	c.endpoint = ep
	c.network, err = parseNetwork(opts.Network)
	if err != nil {
		errs = append(errs, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ConnectTimeout", opts.ConnectTimeout}, {"ReadTimeout", opts.ReadTimeout}, {"BaseDelay", opts.BaseDelay}, {"MaxDelay", opts.MaxDelay}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("ecs: option %s must not be negative, got %s", d.name, d.v))
		}
	}
	// A backoff is drawn from [0, MaxDelay]: a bound near the largest
	// duration would overflow the draw, and no wait that long makes sense.
	if opts.MaxDelay > time.Hour || opts.BaseDelay > time.Hour {
		errs = append(errs, fmt.Errorf("ecs: options BaseDelay and MaxDelay must be at most 1h, got %s and %s", opts.BaseDelay, opts.MaxDelay))
	}
	switch {
	case opts.MaxAttempts < 0:
		errs = append(errs, fmt.Errorf("ecs: option MaxAttempts must be at least 1 (0 = default %d), got %d", DefaultMaxAttempts, opts.MaxAttempts))
	case opts.MaxAttempts == 0:
		c.attempts = DefaultMaxAttempts
	}
	switch {
	case opts.MaxThrottleRetries < 0:
		c.throttles = 0
	case opts.MaxThrottleRetries == 0:
		c.throttles = DefaultMaxThrottleRetries
	}
	// When only one of the two is set and it crosses the other's default,
	// the cap wins rather than failing: backoff never exceeds maxDelay.
	if c.baseDelay > c.maxDelay && opts.BaseDelay > 0 && opts.MaxDelay > 0 {
		errs = append(errs, fmt.Errorf("ecs: option BaseDelay (%s) must not exceed MaxDelay (%s)", c.baseDelay, c.maxDelay))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if c.provider == nil {
		c.provider = acs.Static(opts.Credentials)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	rt := opts.Transport
	if rt == nil {
		rt = newTransport(orDefault(opts.ConnectTimeout, DefaultConnectTimeout))
	}
	c.http = &http.Client{
		Transport: rt,
		// A signed RPC call is never legitimately redirected; following one
		// would resend the signed request to another host. The 3xx is
		// reported as an error instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// WithCredentials returns a copy of c that signs with cred. The copy shares
// c's transport and connection pool.
func (c *Client) WithCredentials(cred acs.Credentials) *Client {
	return c.WithProvider(acs.Static(cred))
}

// WithProvider returns a copy of c that asks p for the credentials of each
// call. The copy shares c's transport and connection pool.
func (c *Client) WithProvider(p acs.CredentialsProvider) *Client {
	cp := *c
	cp.provider = p
	cp.keys = &keyCache{}
	return &cp
}

// keyCache remembers the redactor of the credentials last signed with:
// building one encodes each value several ways, and a provider returns the
// same credentials for an hour at a time.
type keyCache struct{ last atomic.Pointer[signingKey] }

type signingKey struct {
	cred   acs.Credentials
	redact acs.Redactor
}

// signer returns a copy of c that signs with the provider's current
// credentials and redacts them from every text it returns.
func (c *Client) signer(ctx context.Context) (*Client, error) {
	cred, err := c.provider.Credentials(ctx)
	if err != nil {
		return nil, err
	}
	if !cred.Set() {
		return nil, ErrNoCredentials
	}
	k := c.keys.last.Load()
	if k == nil || k.cred != cred {
		k = &signingKey{cred: cred, redact: cred.Redactor()}
		c.keys.last.Store(k)
	}
	cp := *c
	cp.cred, cp.redact = k.cred, k.redact
	return &cp, nil
}

// WithMaxAttempts returns a copy of c whose calls give up at their n-th
// faulted attempt (n < 1 is taken as 1), as Options.MaxAttempts. Throttled
// retries keep their own budget (Options.MaxThrottleRetries).
func (c *Client) WithMaxAttempts(n int) *Client {
	cp := *c
	cp.attempts = max(n, 1)
	return &cp
}

// newTransport is the default transport: connect and handshake bounded,
// connections kept alive and enough idle ones per host for a sweep's
// concurrent stops to reuse instead of redialing. KeepAlive and
// IdleConnTimeout are http.DefaultTransport's values; only 30 s of TCP
// silence or 90 s of an idle pool would show them, which no test waits for.
func newTransport(connect time.Duration) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   connect,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ExpectContinueTimeout: time.Second,
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// userAgent names the project so that the API's logs (and the emulator's)
// tell its calls apart from the console's or the CLI's.
const userAgent = "ecs-stopper/1 (+https://github.com/ecs-stopper/stopper)"

// maxBody bounds what is read of an answer: a DescribeInvocations page with
// outputs is large but nowhere near this.
const maxBody = 32 << 20

// drain reads and closes a body so its connection can be reused; it gives up
// after a bound, since closing an unread body only costs the connection.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}
