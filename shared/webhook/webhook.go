// Package webhook authenticates webhook requests, by either of two credentials:
//   - a signature: X-Stopper-Timestamp and
//     X-Stopper-Signature: sha256=hex(HMAC-SHA256(secret, timestamp + "." + body)),
//     accepted once per function instance within its window;
//   - a bearer token, for senders that can only send a static credential
//     (Prometheus Alertmanager, EventBridge HTTP targets):
//     Authorization: Bearer <token>.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The credential headers. Header names are case-insensitive: net/http
// canonicalises them, while FC HTTP-trigger events and API Gateway v2 deliver
// them lower-case and API Gateway v1 as the client spelled them.
const (
	TimestampHeader     = "X-Stopper-Timestamp"
	SignatureHeader     = "X-Stopper-Signature"
	AuthorizationHeader = "Authorization"
	// SignaturePrefix names the algorithm, so that another one can be added
	// later without ambiguity.
	SignaturePrefix = "sha256="
	// DefaultWindow is how far a timestamp may be from now when Window is 0.
	DefaultWindow = 300 * time.Second
	// MinTokenLength is the shortest bearer token a Verifier accepts, in
	// characters: 32 random characters are beyond guessing over HTTP.
	MinTokenLength = 32
	// RememberedSignatures bounds the replay cache of one Verifier (about
	// 300 KiB when full). Past it, the oldest signatures are forgotten
	// first; only signatures that verified are remembered, so only senders
	// holding the secret can fill it.
	RememberedSignatures = 4096
)

// Verifier authenticates webhook requests. With neither Secret nor Token
// set it refuses every request unless Insecure is set (local use). A nil
// *Verifier refuses every request, so a Handler built without one fails
// closed.
//
// A Verifier remembers the signatures it accepted (see Authenticate), so it
// must be shared by pointer and not copied after first use; it is safe for
// concurrent use.
type Verifier struct {
	// Secret is the HMAC key of signed requests; empty: signatures are refused.
	Secret string
	// Token, when set, is also accepted as "Authorization: Bearer <Token>".
	// It must pass CheckToken; a Token that does not is refused, not ignored.
	Token string
	// PreviousToken, when set, is accepted as well as Token: while a token
	// is rotated, senders move from the old one to the new one at their own
	// pace, and no request is refused on the way.
	PreviousToken string
	// Insecure accepts unauthenticated requests, but only while neither
	// Secret nor Token is set.
	Insecure bool
	// Window is how far the timestamp may be from now; 0 means 300 s.
	Window time.Duration
	Now    func() time.Time

	seen   seenSignatures
	bodies bodySlots
}

// ErrInvalidSignature is the cause of every refusal; the wrapped message says which check failed.
var ErrInvalidSignature = errors.New(invalid)

const invalid = "invalid webhook signature"

// refusal is a refusal whose message is fixed: a constant, so that the
// dozen of them cost nothing at start-up, where errors built with
// fmt.Errorf would (docs/performance.md, start-to-ready). It wraps
// ErrInvalidSignature.
type refusal string

func (r refusal) Error() string { return invalid + ": " + string(r) }
func (r refusal) Unwrap() error { return ErrInvalidSignature }

// Authenticate checks a request's credentials: the values of its
// Authorization, X-Stopper-Timestamp and X-Stopper-Signature headers (""
// when absent; a header sent twice must arrive joined with a comma, as FC
// and API Gateway v2 join them, so that it is refused rather than picked)
// and its raw body (after any base64 decoding: the bytes the client sent).
// It is CheckHeaders, then the returned Pending's Verify.
//
// The rule: at least one credential, and every credential presented must
// hold. A request carrying a wrong credential is an attack or a
// misconfigured sender, and either way is refused and logged rather than
// let through on the other credential; this also keeps the signature's
// replay check on every signed request. Authorization headers of other
// schemes (Basic, AWS SigV4 of an IAM-authorised Function URL) are not
// credentials of this function and are ignored, and so is a Bearer when
// Token is unset.
//
// A signature is accepted once per Verifier (per function instance): a
// replay within the window is refused. Another instance, which has its own
// memory, may accept it once more; stops are idempotent. A bearer token has
// no such protection: whoever holds or overhears it may send anything.
func (v *Verifier) Authenticate(authorization, timestamp, signature string, body []byte) error {
	p, err := v.CheckHeaders(authorization, timestamp, signature)
	if err != nil {
		return err
	}
	return p.Verify(body)
}

// CheckHeaders is every check of Authenticate that needs no body, so that a
// request refused by it is refused before its body is read: the bearer
// token, and the signature headers' presence, form and timestamp, and
// whether that signature was already accepted. What remains, the
// signature over the body, is the returned Pending's to check; a request
// accepted on its token alone, or by an Insecure Verifier, has nothing
// left to check.
func (v *Verifier) CheckHeaders(authorization, timestamp, signature string) (Pending, error) {
	if v == nil {
		return Pending{}, errNotConfigured
	}
	if v.Secret == "" && v.Token == "" {
		if v.Insecure {
			return Pending{state: accepted}, nil
		}
		return Pending{}, errNotConfigured
	}
	authorization, timestamp, signature = trimOWS(authorization), trimOWS(timestamp), trimOWS(signature)
	signed := timestamp != "" || signature != ""
	bearer := isBearer(authorization)
	if !bearer && v.Token != "" && hasJoinedBearer(authorization) {
		return Pending{}, errBearerMalformed // another scheme's header and a Bearer, sent together
	}
	if bearer && v.Token != "" {
		if err := v.checkBearer(authorization); err != nil {
			return Pending{}, err
		}
		if !signed {
			return Pending{state: accepted}, nil
		}
		// Signed as well: the signature must hold too.
	}
	if !signed {
		switch {
		case v.Token == "" && bearer:
			return Pending{}, errNoToken
		case v.Token == "":
			// Signatures only: the check names the missing header.
		default:
			return Pending{}, v.noBearer(authorization)
		}
	}
	return v.checkSignatureHeaders(timestamp, signature)
}

// noBearer is the refusal of an unsigned request without a bearer token,
// to a function that has one: it says what to send, and that signing would
// do as well when a secret is configured.
func (v *Verifier) noBearer(authorization string) refusal {
	if authorization == "" {
		if v.Secret != "" {
			return errNoCredentialsOrSign
		}
		return errNoCredentials
	}
	if v.Secret != "" {
		return errNotBearerOrSign
	}
	return errNotBearer
}

// Pending is what remains to authenticate of a request whose headers
// CheckHeaders accepted. Its zero value refuses every body.
type Pending struct {
	v     *Verifier
	state pendingState
	// Of a signed request: the timestamp as sent (the MAC covers its
	// spelling), the signature, and the Unix second after which the
	// timestamp is stale.
	timestamp string
	sum       [sha256.Size]byte
	expires   int64
}

type pendingState uint8

const (
	refused  pendingState = iota // the zero Pending
	accepted                     // by the bearer token, or Insecure
	signed                       // the signature over the body is still to check
)

// NeedsBody reports whether the body must be read to finish authenticating:
// the request is signed, and only the MAC over its body can tell whether
// the signature holds. A request that does not need it may be read as
// authenticated.
func (p Pending) NeedsBody() bool { return p.state == signed }

// Verify finishes authenticating with the request's raw body: of a signed
// request it checks the signature over the body, then remembers it so that
// it is accepted once. The timestamp was judged by CheckHeaders, when the
// headers arrived, however long the body took since.
func (p Pending) Verify(body []byte) error {
	switch p.state {
	case accepted:
		return nil
	case signed:
		return p.v.verifyMAC(&p, body)
	}
	return errNotConfigured
}

// checkSignatureHeaders checks the two signature headers: present, well
// formed, within the window and not already accepted.
func (v *Verifier) checkSignatureHeaders(timestamp, signature string) (Pending, error) {
	if v.Secret == "" {
		return Pending{}, errNoSecret
	}
	if timestamp == "" {
		return Pending{}, errMissingTimestamp
	}
	if signature == "" {
		return Pending{}, errMissingSignature
	}
	ts, ok := parseTimestamp(timestamp)
	if !ok {
		return Pending{}, errBadTimestamp
	}
	p := Pending{v: v, state: signed, timestamp: timestamp}
	if !parseSignature(signature, &p.sum) {
		return Pending{}, errBadSignature
	}
	// Staleness first: it is cheap, and bounds how long a signature must be
	// remembered.
	now, window := v.now().Unix(), v.windowSeconds()
	if skew := now - ts; skew > window || skew < -window {
		return Pending{}, fmt.Errorf("%w: stale %s: %d s from the function's clock, at most %d s allowed",
			ErrInvalidSignature, TimestampHeader, skew, window)
	}
	// A signature already accepted is refused whatever the body: either it
	// is a replay, or it does not match this body.
	if v.seen.has(p.sum) {
		return Pending{}, errReplayed
	}
	p.expires = ts + window
	return p, nil
}

// verifyMAC checks p's signature over body, then remembers it so that it
// is accepted once.
func (v *Verifier) verifyMAC(p *Pending, body []byte) error {
	var want [sha256.Size]byte
	mac(v.Secret, p.timestamp, body, &want)
	if !hmac.Equal(p.sum[:], want[:]) {
		return errMismatch
	}
	// The MAC covers the timestamp, so the same MAC is the same request
	// whatever the spelling of its hex digits or the white space around it.
	// Two requests with the same signature may both have passed
	// CheckHeaders while their bodies were read: only the first is added.
	if !v.seen.add(p.sum, p.expires, v.now().Unix()) {
		return errReplayed
	}
	return nil
}

// checkBearer compares "Bearer <token>" with the configured Token in
// constant time: the digests are compared, so the time taken depends on
// neither the position of the first difference nor the token's length.
func (v *Verifier) checkBearer(authorization string) error {
	if CheckToken(v.Token) != nil || (v.PreviousToken != "" && CheckToken(v.PreviousToken) != nil) {
		return errBadToken // fail closed: config refuses such a token at start-up
	}
	// RFC 7235: the scheme is case-insensitive; RFC 6750 allows 1*SP before
	// the token, but every known sender writes one, and one spelling is
	// simpler to reason about.
	got, ok := strings.CutPrefix(authorization[len("Bearer"):], " ")
	if !ok || !isToken68(got) {
		return errBearerMalformed
	}
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(v.Token))
	match := subtle.ConstantTimeCompare(g[:], w[:])
	if v.PreviousToken != "" {
		// Both are compared whichever matches, so that timing does not tell
		// which token a sender holds.
		p := sha256.Sum256([]byte(v.PreviousToken))
		match |= subtle.ConstantTimeCompare(g[:], p[:])
	}
	if match != 1 {
		return errBearerMismatch
	}
	return nil
}

// CheckToken says whether token can be a Verifier's Token: at least
// MinTokenLength characters of RFC 6750's b64token (letters, digits,
// "-._~+/", then any "=" padding), so that it fits in one header value
// unchanged and a comma can only mean two headers joined. For example
// `openssl rand -hex 32` prints one.
func CheckToken(token string) error {
	if len(token) < MinTokenLength {
		return fmt.Errorf("the webhook token has %d characters; use at least %d random ones (e.g. openssl rand -hex 32)", len(token), MinTokenLength)
	}
	if !isToken68(token) {
		return errors.New(`the webhook token may hold only letters, digits and "-._~+/" (then "=" padding), as a bearer token does`)
	}
	return nil
}

// isBearer reports whether an Authorization value's scheme is Bearer
// (case-insensitive), whatever follows it.
func isBearer(authorization string) bool {
	scheme := authorization
	if i := strings.IndexAny(authorization, " \t,"); i >= 0 {
		scheme = authorization[:i]
	}
	return strings.EqualFold(scheme, "Bearer")
}

// hasJoinedBearer reports whether a comma-joined Authorization value holds
// a Bearer after its first element: two headers, the second a Bearer.
func hasJoinedBearer(authorization string) bool {
	_, rest, joined := strings.Cut(authorization, ",")
	for joined {
		var part string
		part, rest, joined = strings.Cut(rest, ",")
		if isBearer(trimOWS(part)) {
			return true
		}
	}
	return false
}

// isToken68 reports whether s is RFC 6750's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	end := len(strings.TrimRight(s, "="))
	if end == 0 {
		return false
	}
	for i := 0; i < end; i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

// Sign returns the two header values that authenticate body at time ts:
// for clients, tests and the local runner.
func Sign(secret string, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	var sum [sha256.Size]byte
	mac(secret, timestamp, body, &sum)
	return timestamp, SignaturePrefix + hex.EncodeToString(sum[:])
}

func mac(secret, timestamp string, body []byte, sum *[sha256.Size]byte) {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	m.Sum(sum[:0])
}

// seenSignatures remembers accepted signatures until their timestamp goes
// stale, at most RememberedSignatures of them, forgetting the oldest first.
// Its zero value is ready to use.
type seenSignatures struct {
	mu sync.Mutex
	// expires maps a signature to the Unix second after which its
	// timestamp is stale (and the signature refused anyway).
	expires map[[sha256.Size]byte]int64
	// ring holds the same signatures in the order they were accepted:
	// n of them from head on, wrapping around.
	ring    [][sha256.Size]byte
	head, n int
}

// has reports whether sum is remembered.
func (s *seenSignatures) has(sum [sha256.Size]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, seen := s.expires[sum]
	return seen
}

// add remembers sum unless it is already remembered, and reports whether it
// was new. Signatures whose expiry has passed are forgotten from the oldest
// on; when the memory is full, the oldest is forgotten whatever its expiry.
func (s *seenSignatures) add(sum [sha256.Size]byte, expires, now int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.expires[sum]; seen {
		return false
	}
	if s.ring == nil {
		s.expires = make(map[[sha256.Size]byte]int64)
		s.ring = make([][sha256.Size]byte, RememberedSignatures)
	}
	for s.n > 0 && (s.n == len(s.ring) || s.expires[s.ring[s.head]] < now) {
		delete(s.expires, s.ring[s.head])
		s.head = (s.head + 1) % len(s.ring)
		s.n--
	}
	s.ring[(s.head+s.n)%len(s.ring)] = sum
	s.n++
	s.expires[sum] = expires
	return true
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
