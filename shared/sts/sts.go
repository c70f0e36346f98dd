// Package sts is the project's Alibaba Cloud STS client (API version
// 2015-04-01, RPC style as ECS): GetCallerIdentity, which says whose
// credentials a key pair is — the account and the principal a caller acts
// as — and the two exchanges for a role's temporary credentials, AssumeRole
// (signed) and AssumeRoleWithOIDC (anonymous, an OIDC token as proof).
// Signed calls use ACS3-HMAC-SHA256 by package acs, as the ECS client signs
// its own, and the emulator answers them on its ECS listener.
//
// Credentials never leave through its errors: every text that came from the
// other side has the call's credentials and the OIDC token removed
// (acs.Redactor), and an exchange's answer is never quoted.
//
// API reference: https://www.alibabacloud.com/help/en/ram/developer-reference/api-sts-2015-04-01-getcalleridentity
package sts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/httpapi"
)

// Version is the STS API version the client speaks.
const Version = "2015-04-01"

// DefaultTimeout bounds one call, from dialing to the last byte of the answer.
const DefaultTimeout = 10 * time.Second

// Options configure a Client.
type Options struct {
	// Endpoint is the STS base URL: https://sts.<region>.aliyuncs.com (see
	// Endpoint), or http:// to a loopback host (the emulator).
	Endpoint string
	// Credentials sign every call.
	Credentials acs.Credentials
	// Timeout bounds one call (default DefaultTimeout).
	Timeout time.Duration
	// RetryDelay is the longest first wait after a throttled or faulted
	// call (default 100 ms); each later wait may be twice as long, up to
	// 2 s.
	RetryDelay time.Duration
	// Transport replaces the default transport (tests).
	Transport http.RoundTripper
	// Now is the clock the signature's date comes from; nil is time.Now.
	Now func() time.Time
}

// Client calls STS. It is safe for concurrent use.
type Client struct {
	endpoint string
	cred     acs.Credentials
	redact   acs.Redactor
	timeout  time.Duration
	delay    time.Duration // RetryDelay
	http     *http.Client
	now      func() time.Time
}

// New checks the options and builds a Client.
func New(o Options) (*Client, error) {
	ep, err := httpapi.CheckEndpoint(o.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("sts: endpoint %w: give a URL such as https://sts.cn-hangzhou.aliyuncs.com", err)
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("sts: option Timeout must not be negative, got %s", o.Timeout)
	}
	c := &Client{endpoint: ep, cred: o.Credentials, redact: o.Credentials.Redactor(), timeout: o.Timeout, delay: o.RetryDelay, now: o.Now}
	if c.delay <= 0 {
		c.delay = 100 * time.Millisecond
	}
	c.delay = min(c.delay, maxRetryDelay) // and a doubling cannot overflow
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.http = httpapi.HTTPClient(o.Transport)
	return c, nil
}

// Endpoint is the regional STS endpoint: https://sts.<region>.aliyuncs.com,
// or https://sts-vpc.<region>.aliyuncs.com with vpc.
func Endpoint(regionID string, vpc bool) string {
	if vpc {
		return "https://sts-vpc." + regionID + ".aliyuncs.com"
	}
	return "https://sts." + regionID + ".aliyuncs.com"
}

// Identity is GetCallerIdentity's answer. IdentityType is "Account" for
// the account's own key (Arn acs:ram::<account>:root), "RAMUser" for a RAM
// user's (…:user/<name>) and "AssumedRoleUser" for STS credentials
// (…:assumed-role/<role>/<session>, with RoleId).
type Identity struct {
	RequestId    string `json:"RequestId"`
	AccountId    string `json:"AccountId"`
	UserId       string `json:"UserId"`
	Arn          string `json:"Arn"`
	IdentityType string `json:"IdentityType"`
	PrincipalId  string `json:"PrincipalId"`
	RoleId       string `json:"RoleId,omitempty"`
}

// GetCallerIdentity asks STS whose credentials the client signs with. It
// reads nothing but the caller's own identity and needs no permission.
func (c *Client) GetCallerIdentity(ctx context.Context) (Identity, error) {
	var id Identity
	if err := c.call(ctx, "GetCallerIdentity", url.Values{}, &id); err != nil {
		return Identity{}, err
	}
	if id.AccountId == "" {
		return Identity{}, &Error{Action: "GetCallerIdentity", Code: "InvalidResponse", RequestId: id.RequestId,
			Message: "the answer names no AccountId"}
	}
	return id, nil
}

// Error is an STS error answer, or an answer that is not STS's JSON (Code
// HTTP<status> or InvalidResponse). Its texts are redacted of the call's
// credentials.
type Error struct {
	Action     string `json:"-"`
	RequestId  string `json:"RequestId"`
	HostId     string `json:"HostId"`
	Code       string `json:"Code"`
	Message    string `json:"Message"`
	Recommend  string `json:"Recommend,omitempty"`
	HTTPStatus int    `json:"-"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("sts: %s: %s: %s", e.Action, e.Code, e.Message)
	if e.HTTPStatus != 0 || e.RequestId != "" {
		s += fmt.Sprintf(" (HTTP %d, RequestId %s)", e.HTTPStatus, e.RequestId)
	}
	return s
}

// ErrNoCredentials is returned, before any network call, by a signed call
// made without a key pair.
var ErrNoCredentials = errors.New("sts: no AccessKey pair to sign with: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET")

// maxBody bounds what is read of an answer; STS answers are a few hundred bytes.
const maxBody = 1 << 20

// call sends one signed RPC call, as the ECS client does (every parameter in
// the canonical query, an empty body), and decodes its answer into out.
func (c *Client) call(ctx context.Context, action string, params url.Values, out any) error {
	body, requestID, status, err := c.signed(ctx, action, params)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return c.redactError(&Error{Action: action, Code: "InvalidResponse", HTTPStatus: status, RequestId: requestID,
			Message: fmt.Sprintf("the answer is not STS's JSON (%v): %s", err, httpapi.QuotePrefix(body))}, c.redact)
	}
	return nil
}

// signed sends one call signed with the client's credentials and returns
// the body of a 2xx answer, retrying while STS throttles or faults.
func (c *Client) signed(ctx context.Context, action string, params url.Values) (body []byte, requestID string, status int, err error) {
	if !c.cred.Set() {
		return nil, "", 0, ErrNoCredentials
	}
	return c.retry(ctx, func() ([]byte, string, int, error) {
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/?"+acs.CanonicalQuery(params), http.NoBody)
		if err != nil {
			return nil, "", 0, fmt.Errorf("sts: %s: building the request: %w", action, err)
		}
		setHeaders(req, action)
		acs.SignV3(req, nil, c.cred, c.now(), nonce())
		return c.send(req, action, c.redact)
	})
}

// maxAttempts bounds the tries of one call: STS's quota is 100 calls a
// second per region and account, which a sweep assuming the roles of
// hundreds of accounts at once can reach.
const maxAttempts = 6

// maxRetryDelay is the longest wait between two tries.
const maxRetryDelay = 2 * time.Second

// retry makes attempt until it succeeds, fails for good (any answer but
// throttling or a 5xx), maxAttempts are spent, or the next wait would
// pass ctx's deadline; between tries it waits a random time up to
// RetryDelay · 2^try, at most 2 s.
func (c *Client) retry(ctx context.Context, attempt func() ([]byte, string, int, error)) ([]byte, string, int, error) {
	for n := 1; ; n++ {
		body, requestID, status, err := attempt()
		if err == nil || n >= maxAttempts || ctx.Err() != nil || !retryable(err) {
			return body, requestID, status, err
		}
		delay := time.Duration(mrand.Int64N(int64(min(maxRetryDelay, c.delay<<n)) + 1))
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= delay {
			return body, requestID, status, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return body, requestID, status, err
		case <-t.C:
		}
	}
}

// retryable reports a failure worth another try: throttling, a server
// fault, or no answer at all.
func retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Code == "Throttling" || strings.HasPrefix(e.Code, "Throttling.") || e.HTTPStatus >= 500
	}
	return !errors.Is(err, ErrNoCredentials)
}

func setHeaders(req *http.Request, action string) {
	req.Header.Set("x-acs-action", action)
	req.Header.Set("x-acs-version", Version)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
}

// send sends req and returns the body of a 2xx answer; every other outcome
// is an error whose texts have r's secrets removed.
func (c *Client) send(req *http.Request, action string, r acs.Redactor) (body []byte, requestID string, status int, err error) {
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL repeats the query: the host is enough
		}
		return nil, "", 0, fmt.Errorf("sts: %s: calling %s: %s", action, req.URL.Host, r.Redact(err.Error()))
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, "", resp.StatusCode, fmt.Errorf("sts: %s: reading the answer from %s: %s", action, req.URL.Host, r.Redact(err.Error()))
	}
	requestID = resp.Header.Get("x-acs-request-id")
	switch {
	case len(body) > maxBody:
		return nil, requestID, resp.StatusCode, c.redactError(&Error{Action: action, Code: "InvalidResponse", HTTPStatus: resp.StatusCode, RequestId: requestID,
			Message: fmt.Sprintf("the answer is larger than %d bytes", maxBody)}, r)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		e := &Error{}
		if json.Unmarshal(body, e) != nil || e.Code == "" {
			e = &Error{Code: fmt.Sprintf("HTTP%d", resp.StatusCode),
				Message: fmt.Sprintf("the endpoint answered %s with a body that is not STS's JSON error: %s", resp.Status, httpapi.QuotePrefix(body))}
		}
		e.Action, e.HTTPStatus = action, resp.StatusCode
		if e.RequestId == "" {
			e.RequestId = requestID
		}
		return nil, requestID, resp.StatusCode, c.redactError(e, r)
	}
	return body, requestID, resp.StatusCode, nil
}

// redactError removes secrets from every text of an error:
// SignatureDoesNotMatch messages echo the string to sign, STS token
// included, and OIDC errors may quote the token.
func (c *Client) redactError(e *Error, r acs.Redactor) *Error {
	for _, f := range []*string{&e.Code, &e.Message, &e.Recommend, &e.RequestId, &e.HostId} {
		*f = r.Redact(*f)
	}
	return e
}

// nonce is 16 random bytes in hex: the API refuses a nonce seen within 15 minutes.
func nonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// userAgent names the project in the API's logs, as the ECS client does.
const userAgent = "ecs-stopper/1 (+https://github.com/ecs-stopper/stopper)"
