package emulator

import (
	"crypto/hmac"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
)

// clockSkew is how far a request's date may be from the emulator's clock,
// as on the real service.
const clockSkew = 15 * time.Minute

// nonceMemory bounds the nonces remembered against replays; the oldest are
// forgotten first, which is safe because requests older than clockSkew are
// refused anyway at any realistic call rate.
const nonceMemory = 1 << 16

// authenticate verifies the request's signature: V3 when an ACS3
// Authorization header is sent, else V1 when a Signature parameter is.
func (s *Server) authenticate(c *call) *apiError {
	authz := c.r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(authz, "ACS3-"):
		c.signature = "V3"
		return s.verifyV3(c, authz)
	case c.params.Has("Signature"):
		c.signature = "V1"
		return s.verifyV1(c)
	case authz != "":
		return incompleteSignature("unsupported Authorization scheme; send ACS3-HMAC-SHA256 or a V1 Signature parameter")
	default:
		return incompleteSignature("no Authorization header (V3) and no Signature parameter (V1)")
	}
}

func (s *Server) verifyV3(c *call, authz string) *apiError {
	if alg, _, _ := strings.Cut(authz, " "); alg != acs.AlgorithmV3 {
		return incompleteSignature("unsupported signature algorithm " + alg + "; the emulator verifies " + acs.AlgorithmV3)
	}
	a, err := acs.ParseAuthorizationV3(authz)
	if err != nil {
		return incompleteSignature("malformed Authorization header; want ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<a;b>,Signature=<hex>")
	}
	if e := checkSignedHeaders(c, a.SignedHeaders); e != nil {
		return e
	}
	h := c.r.Header
	secret, e := s.credential(c, a.AccessKeyID, h.Get("x-acs-security-token"))
	if e != nil {
		return e
	}
	if e := s.checkDate("x-acs-date", h.Get("x-acs-date")); e != nil {
		return e
	}
	nonce := h.Get("x-acs-signature-nonce")
	if nonce == "" {
		return incompleteSignature("missing x-acs-signature-nonce header")
	}
	hashed := acs.HashHex(c.body)
	if claimed := h.Get("x-acs-content-sha256"); claimed != "" && !strings.EqualFold(claimed, hashed) {
		return newError(http.StatusBadRequest, CodeSignatureDoesNotMatch,
			"The x-acs-content-sha256 header does not match the SHA-256 of the request body.")
	}
	// The client chooses what it signs; canonicalise exactly those headers.
	// Go keeps Host out of r.Header, and several values of one header are
	// joined sorted, as the official SDK does.
	signed := make([]string, 0, len(a.SignedHeaders))
	headers := make(map[string]string, len(a.SignedHeaders))
	for _, name := range a.SignedHeaders {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			return incompleteSignature("empty name in SignedHeaders")
		}
		signed = append(signed, name)
		if name == "host" {
			headers[name] = c.r.Host
			continue
		}
		vals := slices.Clone(h.Values(name))
		for i := range vals {
			vals[i] = strings.TrimSpace(vals[i])
		}
		slices.Sort(vals)
		headers[name] = strings.Join(vals, ",")
	}
	canonical := acs.CanonicalRequestV3(c.r.Method, c.r.URL.EscapedPath(), c.query, headers, signed, hashed)
	want := acs.SignatureV3(secret, canonical)
	if !hmac.Equal([]byte(strings.ToLower(a.Signature)), []byte(want)) {
		// Like the real service, show what was signed so that a client can
		// find its mistake, but with the credential headers' values replaced:
		// the message travels back through callers' logs and answers. The
		// hash is the real one, which the client compares with its own.
		for _, name := range credentialHeaders {
			if _, ok := headers[name]; ok {
				headers[name] = redacted
			}
		}
		shown := acs.CanonicalRequestV3(c.r.Method, c.r.URL.EscapedPath(), redactParams(c.query), headers, signed, hashed)
		return newError(http.StatusBadRequest, CodeSignatureDoesNotMatch,
			"Specified signature is not matched with our calculation. server string to sign is:%s\n%s server canonical request is:%s",
			acs.AlgorithmV3, acs.HashHex([]byte(canonical)), shown)
	}
	return s.useNonce(nonce)
}

func (s *Server) verifyV1(c *call) *apiError {
	p := c.params
	for _, name := range []string{"AccessKeyId", "SignatureMethod", "SignatureNonce", "Timestamp"} {
		if p.Get(name) == "" {
			return incompleteSignature("missing parameter " + name)
		}
	}
	if m := p.Get("SignatureMethod"); m != "HMAC-SHA1" {
		return incompleteSignature("unsupported SignatureMethod " + m + "; the emulator verifies HMAC-SHA1")
	}
	if v := p.Get("SignatureVersion"); v != "" && v != "1.0" {
		return incompleteSignature("unsupported SignatureVersion " + v + "; want 1.0")
	}
	secret, e := s.credential(c, p.Get("AccessKeyId"), p.Get("SecurityToken"))
	if e != nil {
		return e
	}
	if e := s.checkDate("Timestamp", p.Get("Timestamp")); e != nil {
		return e
	}
	sts := acs.StringToSignV1(c.r.Method, p)
	if !hmac.Equal([]byte(p.Get("Signature")), []byte(acs.SignatureV1(secret, sts))) {
		// The string to sign holds every parameter: show it with the
		// credential parameters' values replaced (see verifyV3).
		return newError(http.StatusBadRequest, CodeSignatureDoesNotMatch,
			"Specified signature is not matched with our calculation. server string to sign is:%s",
			acs.StringToSignV1(c.r.Method, redactParams(p)))
	}
	return s.useNonce(p.Get("SignatureNonce"))
}

// checkSignedHeaders refuses a V3 request that signs too little: host and
// every x-acs-* header sent must be signed (the action, the version, the
// date, the nonce, the body's hash and the STS token all travel in them),
// and so must Content-Type when it makes the emulator read the body as form
// parameters. The official SDK signs exactly host, content-type and every
// x-acs-* header (darabonba-openapi v2 utils.getCanonicalHeaders), and so
// does package acs; a client that leaves one out would let anyone on the
// way change what it means.
func checkSignedHeaders(c *call, signedHeaders []string) *apiError {
	signed := make(map[string]bool, len(signedHeaders))
	for _, name := range signedHeaders {
		signed[strings.ToLower(strings.TrimSpace(name))] = true
	}
	need := []string{"host"}
	if c.form {
		need = append(need, "content-type")
	}
	for name := range c.r.Header {
		if lower := strings.ToLower(name); strings.HasPrefix(lower, "x-acs-") {
			need = append(need, lower)
		}
	}
	slices.Sort(need[1:])
	var missing []string
	for _, name := range need {
		if !signed[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return incompleteSignature("SignedHeaders leaves out " + strings.Join(missing, ", ") +
			"; sign host, every x-acs-* header sent and, with a form body, content-type")
	}
	return nil
}

// Credential values never appear in what the emulator answers or logs: the
// STS token and the AccessKey id are replaced by this placeholder.
const redacted = "[redacted]"

// credentialHeaders and credentialParams carry a caller's credentials (the
// secret itself is never sent).
var (
	credentialHeaders = []string{"x-acs-security-token", "x-acs-accesskey-id"}
	credentialParams  = []string{"AccessKeyId", "SecurityToken"}
)

// redactParams is a copy of p with the credential parameters' values replaced.
func redactParams(p url.Values) url.Values {
	out := make(url.Values, len(p))
	for k, v := range p {
		out[k] = v
	}
	for _, name := range credentialParams {
		if vs, ok := out[name]; ok {
			out[name] = slices.Repeat([]string{redacted}, len(vs))
		}
	}
	return out
}

// redact removes the caller's credential values from a message, in every
// encoding a message could carry them (raw, query-escaped, percent-encoded
// once or twice as in a V1 string to sign). The messages that echo a request
// are built redacted already; this is the last guard for any other.
func (c *call) redact(msg string) string {
	var values []string
	for _, name := range credentialHeaders {
		values = append(values, c.r.Header.Values(name)...)
	}
	for _, name := range credentialParams {
		values = append(values, c.params[name]...)
	}
	if a, err := acs.ParseAuthorizationV3(c.r.Header.Get("Authorization")); err == nil {
		values = append(values, a.AccessKeyID)
	}
	for _, v := range values {
		// A value this short would take ordinary words with it; real ids and
		// tokens are far longer.
		if len(v) < 4 {
			continue
		}
		for _, form := range []string{v, url.QueryEscape(v), acs.PercentEncode(v), acs.PercentEncode(acs.PercentEncode(v))} {
			msg = strings.ReplaceAll(msg, form, redacted)
		}
	}
	return msg
}

func keyNotFound() *apiError {
	return newError(http.StatusNotFound, CodeInvalidAccessKeyId, "Specified access key is not found.")
}

// checkDate refuses a missing, malformed or stale request date.
func (s *Server) checkDate(name, v string) *apiError {
	if v == "" {
		return incompleteSignature("missing " + name)
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return newError(http.StatusBadRequest, CodeTimeStampFormat,
			"Specified time stamp or date value is not well formatted: %s must be UTC like 2026-11-20T07:00:00Z.", name)
	}
	if d := s.now().Sub(t); d > clockSkew || d < -clockSkew {
		return newError(http.StatusBadRequest, CodeTimeStampExpired,
			"Specified time stamp or date value is expired: %s is more than %v away from the server's clock.", name, clockSkew)
	}
	return nil
}

func (s *Server) useNonce(nonce string) *apiError {
	if !s.nonces.use(nonce) {
		return newError(http.StatusBadRequest, CodeSignatureNonceUsed, "Specified signature nonce was used already.")
	}
	return nil
}

// nonceCache remembers the last max nonces. It grows as nonces come, so an
// emulator that serves few calls (most tests) stays small.
type nonceCache struct {
	mu   sync.Mutex
	max  int
	seen map[string]struct{}
	ring []string
	next int
}

func newNonceCache(max int) *nonceCache {
	return &nonceCache{max: max, seen: map[string]struct{}{}}
}

// use records a nonce and reports whether it was new.
func (c *nonceCache) use(nonce string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[nonce]; ok {
		return false
	}
	c.seen[nonce] = struct{}{}
	if len(c.ring) < c.max {
		c.ring = append(c.ring, nonce)
		return true
	}
	delete(c.seen, c.ring[c.next])
	c.ring[c.next] = nonce
	c.next = (c.next + 1) % c.max
	return true
}
