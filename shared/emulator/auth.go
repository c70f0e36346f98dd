package emulator

import (
	"crypto/hmac"
	"net/http"
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
	if a.AccessKeyID != s.keyID {
		return keyNotFound()
	}
	h := c.r.Header
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
	want := acs.SignatureV3(s.secret, canonical)
	if !hmac.Equal([]byte(strings.ToLower(a.Signature)), []byte(want)) {
		return newError(http.StatusBadRequest, CodeSignatureDoesNotMatch,
			"Specified signature is not matched with our calculation. server string to sign is:%s\n%s server canonical request is:%s",
			acs.AlgorithmV3, acs.HashHex([]byte(canonical)), canonical)
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
	if p.Get("AccessKeyId") != s.keyID {
		return keyNotFound()
	}
	if e := s.checkDate("Timestamp", p.Get("Timestamp")); e != nil {
		return e
	}
	sts := acs.StringToSignV1(c.r.Method, p)
	if !hmac.Equal([]byte(p.Get("Signature")), []byte(acs.SignatureV1(s.secret, sts))) {
		return newError(http.StatusBadRequest, CodeSignatureDoesNotMatch,
			"Specified signature is not matched with our calculation. server string to sign is:%s", sts)
	}
	return s.useNonce(p.Get("SignatureNonce"))
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
