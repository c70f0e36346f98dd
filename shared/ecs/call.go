package ecs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// call is one API call: an action, its parameters and where to decode the answer.
type call struct {
	action   string
	regionID string
	params   url.Values
	out      any
}

// attemptResult is what one attempt produced besides its error: the wait the
// API asked for (x-ratelimit-* TimeLeft), if any.
type attemptResult struct {
	timeLeft time.Duration
}

// attempt sends one signed request and decodes its answer into call.out.
// It is bounded by ReadTimeout and by ctx.
func (c *Client) attempt(ctx context.Context, base string, cl call) (attemptResult, error) {
	var res attemptResult
	actx, cancel := context.WithTimeout(ctx, c.readTO)
	defer cancel()

	// RPC style as the SDK's V3 path sends it: every parameter in the query,
	// an empty body. The query is written in canonical form so what is sent
	// is byte for byte what was signed.
	req, err := http.NewRequestWithContext(actx, http.MethodPost, base+"/?"+acs.CanonicalQuery(cl.params), http.NoBody)
	if err != nil {
		return res, fmt.Errorf("ecs: %s: building the request: %w", cl.action, err)
	}
	req.Header.Set("x-acs-action", cl.action)
	req.Header.Set("x-acs-version", cloudassistant.Version)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	acs.SignV3(req, nil, c.cred, c.now(), nonce())

	resp, err := c.http.Do(req)
	if err != nil {
		return res, c.transportError(ctx, actx, cl.action, req.URL.Host, err)
	}
	defer drain(resp.Body)
	res.timeLeft = rateLimitWait(resp.Header)

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return res, c.transportError(ctx, actx, cl.action, req.URL.Host, err)
	}
	if len(body) > maxBody {
		return res, c.redactError(&cloudassistant.Error{Code: "InvalidResponse", HTTPStatus: resp.StatusCode,
			RequestId: resp.Header.Get("x-acs-request-id"),
			Message:   fmt.Sprintf("the %s answer is larger than %d bytes", cl.action, maxBody)})
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return res, c.redactError(apiError(resp, body, c.redact))
	}
	if err := json.Unmarshal(body, cl.out); err != nil {
		return res, c.redactError(&cloudassistant.Error{Code: "InvalidResponse", HTTPStatus: resp.StatusCode,
			RequestId: resp.Header.Get("x-acs-request-id"),
			Message:   fmt.Sprintf("the %s answer is not the API's JSON (%v): %s", cl.action, err, quotePrefix(body, c.redact))})
	}
	return res, nil
}

// apiError turns a non-2xx answer into the API's error. Answers that are not
// the API's JSON (a load balancer's HTML 502, a proxy's text) still become a
// *cloudassistant.Error, so callers handle one type and Retryable keeps
// working from the status.
func apiError(resp *http.Response, body []byte, r acs.Redactor) *cloudassistant.Error {
	e := &cloudassistant.Error{}
	if json.Unmarshal(body, e) != nil || e.Code == "" {
		e = &cloudassistant.Error{
			Code:    fmt.Sprintf("HTTP%d", resp.StatusCode),
			Message: fmt.Sprintf("the API answered %s with a body that is not its JSON error: %s", resp.Status, quotePrefix(body, r)),
		}
	}
	e.HTTPStatus = resp.StatusCode
	if e.RequestId == "" {
		e.RequestId = resp.Header.Get("x-acs-request-id")
	}
	return e
}

// redactError removes the call's credentials from every text field of an
// error built from an answer. SignatureDoesNotMatch messages echo the
// server's string to sign, which holds the STS token; a proxy or a broken
// server may echo anything. The Code is cleaned too: callers match on it,
// and no real code contains a credential, so only a hostile one changes.
func (c *Client) redactError(e *cloudassistant.Error) *cloudassistant.Error {
	for _, f := range []*string{&e.Code, &e.Message, &e.Recommend, &e.RequestId, &e.HostId} {
		*f = c.redact.Redact(*f)
	}
	return e
}

// quotePrefix quotes at most 256 bytes of an unexpected body: enough to
// recognise an HTML error page, bounded so a huge page does not end up in
// logs. The credentials are removed from the whole body first, so that the
// cut cannot leave the start of a token behind.
func quotePrefix(b []byte, r acs.Redactor) string {
	const limit = 256
	if len(b) == 0 {
		return "(empty body)"
	}
	s := r.Redact(string(b))
	if len(s) > limit {
		return fmt.Sprintf("%q…", strings.ToValidUTF8(s[:limit], ""))
	}
	return fmt.Sprintf("%q", s)
}

// connError is a failure below HTTP (dial, reset, EOF, per-attempt timeout).
// It carries whether another attempt may help. Its text is redacted: Go's
// transport quotes what a server sent when that is not HTTP ("malformed
// HTTP response ..."), so a server can put anything in it.
type connError struct {
	action, host string
	err          error
	retry        bool
	redact       acs.Redactor
}

func (e *connError) Error() string {
	return e.redact.Redact(fmt.Sprintf("calling %s: %v", e.host, e.err))
}

func (e *connError) Unwrap() error { return e.err }

// transportError classifies an error from sending or reading. The URL in
// *url.Error (which holds every parameter) is dropped: the host is enough.
func (c *Client) transportError(ctx, actx context.Context, action, host string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() != nil {
		// The caller's context ended: not this attempt's fault, and no retry.
		return &connError{action: action, host: host, err: context.Cause(ctx), redact: c.redact}
	}
	if actx.Err() != nil {
		// Deliberately not wrapping context.DeadlineExceeded: callers read
		// that as "my deadline passed", which this is not.
		return &connError{action: action, host: host, retry: true, redact: c.redact,
			err: fmt.Errorf("no answer within ReadTimeout %s", c.readTO)}
	}
	return &connError{action: action, host: host, err: err, retry: retryableConn(err), redact: c.redact}
}

// nonce is 16 random bytes in hex: the API rejects a nonce seen within 15 minutes.
func nonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it aborts the program instead).
	return hex.EncodeToString(b[:])
}

// rateLimitWait reads the TimeLeft hint (milliseconds) of the x-ratelimit-user-api
// and x-ratelimit-user headers, e.g. "Limit:100,Remain:0,TimeLeft:350,Reset:...".
// The larger hint wins; a missing or unreadable one is 0.
func rateLimitWait(h http.Header) time.Duration {
	var wait time.Duration
	for _, name := range []string{"x-ratelimit-user-api", "x-ratelimit-user"} {
		for _, v := range h.Values(name) {
			for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
				k, val, ok := strings.Cut(part, ":")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "TimeLeft") {
					continue
				}
				ms, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
				if err != nil || ms <= 0 {
					continue
				}
				wait = max(wait, time.Duration(min(ms, maxHint.Milliseconds()))*time.Millisecond)
			}
		}
	}
	return wait
}

// maxHint caps a TimeLeft hint so that a bogus header cannot park a call for
// hours when the caller has no deadline.
const maxHint = time.Minute
