// Package webhook authenticates webhook requests: X-Stopper-Timestamp and
// X-Stopper-Signature: sha256=hex(HMAC-SHA256(secret, timestamp + "." + body)).
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The signature headers. Header names are case-insensitive: net/http
// canonicalises them, while FC HTTP-trigger events and API Gateway v2 deliver
// them lower-case and API Gateway v1 as the client spelled them.
const (
	TimestampHeader = "X-Stopper-Timestamp"
	SignatureHeader = "X-Stopper-Signature"
	// SignaturePrefix names the algorithm, so that another one can be added
	// later without ambiguity.
	SignaturePrefix = "sha256="
	// DefaultWindow is how far a timestamp may be from now when Window is 0.
	DefaultWindow = 300 * time.Second
)

// Verifier checks webhook signatures. With an empty Secret it refuses every
// request unless Insecure is set (local use). A nil *Verifier refuses every
// request, so a Handler built without one fails closed.
type Verifier struct {
	Secret   string
	Insecure bool
	// Window is how far the timestamp may be from now; 0 means 300 s.
	Window time.Duration
	Now    func() time.Time
}

// ErrInvalidSignature is the cause of every refusal; the wrapped message says which check failed.
var ErrInvalidSignature = errors.New("invalid webhook signature")

// The refusals with a fixed message are built once: verification is on
// every webhook's path. None of them carries the secret or the expected
// signature, only what the caller sent wrong.
var (
	errNoSecret         = fmt.Errorf("%w: the function has no webhook secret configured, so it accepts no webhooks", ErrInvalidSignature)
	errMissingTimestamp = fmt.Errorf("%w: missing %s header", ErrInvalidSignature, TimestampHeader)
	errMissingSignature = fmt.Errorf("%w: missing %s header", ErrInvalidSignature, SignatureHeader)
	errBadTimestamp     = fmt.Errorf("%w: malformed %s header: expected Unix seconds", ErrInvalidSignature, TimestampHeader)
	errBadSignature     = fmt.Errorf("%w: malformed %s header: expected %s followed by 64 hex digits", ErrInvalidSignature, SignatureHeader, SignaturePrefix)
	errMismatch         = fmt.Errorf("%w: signature does not match the body and timestamp", ErrInvalidSignature)
)

// Verify checks the signature headers of a request with the given raw body
// (after any base64 decoding: the bytes the client sent).
func (v *Verifier) Verify(h http.Header, body []byte) error {
	return v.VerifyValues(headerValue(h, TimestampHeader), headerValue(h, SignatureHeader), body)
}

// VerifyHeaders is Verify for headers delivered as a JSON map (FC
// HTTP-trigger events, API Gateway and Function URL events), whose names
// may have any case.
func (v *Verifier) VerifyHeaders(headers map[string]string, body []byte) error {
	return v.VerifyValues(HeaderValue(headers, TimestampHeader), HeaderValue(headers, SignatureHeader), body)
}

// VerifyValues checks the two header values already looked up; an empty
// value means the header is missing.
func (v *Verifier) VerifyValues(timestamp, signature string, body []byte) error {
	if v == nil {
		return errNoSecret
	}
	if v.Secret == "" {
		if v.Insecure {
			return nil
		}
		return errNoSecret
	}
	timestamp, signature = trimOWS(timestamp), trimOWS(signature)
	if timestamp == "" {
		return errMissingTimestamp
	}
	if signature == "" {
		return errMissingSignature
	}
	ts, ok := parseTimestamp(timestamp)
	if !ok {
		return errBadTimestamp
	}
	var got [sha256.Size]byte
	if !parseSignature(signature, &got) {
		return errBadSignature
	}
	// Staleness first: it is cheap, and a replayed request is refused
	// whatever its signature.
	if skew, window := v.now().Unix()-ts, v.windowSeconds(); skew > window || skew < -window {
		return fmt.Errorf("%w: stale %s: %d s from the function's clock, at most %d s allowed",
			ErrInvalidSignature, TimestampHeader, skew, window)
	}
	var want [sha256.Size]byte
	mac(v.Secret, timestamp, body, &want)
	if !hmac.Equal(got[:], want[:]) {
		return errMismatch
	}
	return nil
}

// Sign returns the two header values that authenticate body at time ts:
// for clients, tests and the local runner.
func Sign(secret string, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	var sum [sha256.Size]byte
	mac(secret, timestamp, body, &sum)
	return timestamp, SignaturePrefix + hex.EncodeToString(sum[:])
}

// HeaderValue looks a header up by name in any case. An exact or canonical
// spelling wins over other spellings, so the answer does not depend on map
// order in the (unusual) case of one header under two spellings.
func HeaderValue(headers map[string]string, name string) string {
	if v, ok := headers[name]; ok {
		return v
	}
	if v, ok := headers[strings.ToLower(name)]; ok {
		return v
	}
	var found string
	for k, v := range headers {
		if strings.EqualFold(k, name) && (found == "" || v < found) {
			found = v // the smallest value: deterministic whatever the map order
		}
	}
	return found
}

// headerValue is http.Header.Get that also finds non-canonical keys, as
// http.Header values built from event maps may have.
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if len(vs) > 0 && strings.EqualFold(k, name) {
			return vs[0]
		}
	}
	return ""
}

func mac(secret, timestamp string, body []byte, sum *[sha256.Size]byte) {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	m.Sum(sum[:0])
}

// parseTimestamp accepts only decimal digits: no sign, no fraction, no
// exponent, so that one instant has one spelling.
func parseTimestamp(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 { // 18 digits cannot overflow int64
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseSignature reads "sha256=" and 64 hex digits (either case) into sum.
func parseSignature(s string, sum *[sha256.Size]byte) bool {
	hexDigits, ok := strings.CutPrefix(s, SignaturePrefix)
	if !ok || len(hexDigits) != 2*sha256.Size {
		return false
	}
	for i := range sum {
		hi, ok1 := fromHex(hexDigits[2*i])
		lo, ok2 := fromHex(hexDigits[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		sum[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// trimOWS drops the optional white space HTTP allows around a header value.
func trimOWS(s string) string { return strings.Trim(s, " \t") }

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) windowSeconds() int64 {
	if v.Window <= 0 {
		return int64(DefaultWindow / time.Second)
	}
	return int64(v.Window / time.Second)
}
