package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/testenv"
)

const (
	secret = "s3cr3t-for-tests"
	token  = "tok-0123456789abcdef0123456789abcdef" // 36 characters
)

var now = time.Unix(1_790_000_000, 0)

func verifier() *Verifier {
	return &Verifier{Secret: secret, Now: func() time.Time { return now }}
}

// independentSignature computes the signature without the package's code.
func independentSignature(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestSign(t *testing.T) {
	body := []byte(`{"InvokeId":"t-abc"}`)
	ts, sig := Sign(secret, now, body)
	if ts != "1790000000" {
		t.Errorf("timestamp = %q", ts)
	}
	if want := independentSignature(secret, ts, body); sig != want {
		t.Errorf("signature = %q, want %q", sig, want)
	}
}

// TestAuthenticateSignature covers signed requests without an
// Authorization header (what VerifyValues checked before bearer tokens).
func TestAuthenticateSignature(t *testing.T) {
	body := []byte(`{"RegionId":"cn-hangzhou","InvokeId":"t-abc"}`)
	ts, sig := Sign(secret, now, body)
	tsAt := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	sigAt := func(d time.Duration) string { _, s := Sign(secret, now.Add(d), body); return s }

	tests := []struct {
		name      string
		verifier  *Verifier
		ts, sig   string
		body      []byte
		wantError string // "" means accepted
	}{
		{name: "valid", ts: ts, sig: sig, body: body},
		{name: "valid upper-case hex", ts: ts, sig: "sha256=" + strings.ToUpper(strings.TrimPrefix(sig, "sha256=")), body: body},
		{name: "valid with surrounding spaces", ts: " " + ts + "\t", sig: " " + sig, body: body},
		{name: "valid at the window's edge, past", ts: tsAt(-300 * time.Second), sig: sigAt(-300 * time.Second), body: body},
		{name: "valid at the window's edge, future", ts: tsAt(300 * time.Second), sig: sigAt(300 * time.Second), body: body},
		{name: "stale", ts: tsAt(-301 * time.Second), sig: sigAt(-301 * time.Second), body: body, wantError: "stale"},
		{name: "future", ts: tsAt(301 * time.Second), sig: sigAt(301 * time.Second), body: body, wantError: "stale"},
		{name: "custom window", verifier: &Verifier{Secret: secret, Window: time.Minute, Now: func() time.Time { return now }},
			ts: tsAt(-61 * time.Second), sig: sigAt(-61 * time.Second), body: body, wantError: "stale"},
		{name: "body changed", ts: ts, sig: sig, body: []byte(`{"RegionId":"cn-hangzhou","InvokeId":"t-abd"}`), wantError: "does not match"},
		{name: "timestamp changed", ts: tsAt(time.Second), sig: sig, body: body, wantError: "does not match"},
		{name: "wrong secret", verifier: &Verifier{Secret: "other", Now: func() time.Time { return now }}, ts: ts, sig: sig, body: body, wantError: "does not match"},
		{name: "missing timestamp", sig: sig, body: body, wantError: "missing X-Stopper-Timestamp"},
		{name: "missing signature", ts: ts, body: body, wantError: "missing X-Stopper-Signature"},
		{name: "missing both", body: body, wantError: "missing X-Stopper-Timestamp"},
		{name: "no prefix", ts: ts, sig: strings.TrimPrefix(sig, "sha256="), body: body, wantError: "malformed X-Stopper-Signature"},
		{name: "other algorithm", ts: ts, sig: "sha1=" + strings.TrimPrefix(sig, "sha256="), body: body, wantError: "malformed X-Stopper-Signature"},
		{name: "non-hex", ts: ts, sig: "sha256=" + strings.Repeat("zz", 32), body: body, wantError: "malformed X-Stopper-Signature"},
		{name: "short", ts: ts, sig: sig[:len(sig)-2], body: body, wantError: "malformed X-Stopper-Signature"},
		{name: "long", ts: ts, sig: sig + "00", body: body, wantError: "malformed X-Stopper-Signature"},
		{name: "two signatures", ts: ts, sig: sig + "," + sig, body: body, wantError: "malformed X-Stopper-Signature"},
		{name: "two timestamps", ts: ts + "," + ts, sig: sig, body: body, wantError: "malformed X-Stopper-Timestamp"},
		{name: "non-integer timestamp", ts: ts + ".5", sig: sig, body: body, wantError: "malformed X-Stopper-Timestamp"},
		{name: "signed timestamp", ts: "+" + ts, sig: sig, body: body, wantError: "malformed X-Stopper-Timestamp"},
		{name: "negative timestamp", ts: "-1", sig: sig, body: body, wantError: "malformed X-Stopper-Timestamp"},
		{name: "huge timestamp", ts: strings.Repeat("9", 30), sig: sig, body: body, wantError: "malformed X-Stopper-Timestamp"},
		{name: "milliseconds are stale", ts: ts + "000", sig: sig, body: body, wantError: "stale"},
		{name: "no secret", verifier: &Verifier{}, ts: ts, sig: sig, body: body, wantError: "no webhook secret or token"},
		{name: "nil verifier", verifier: nil, ts: ts, sig: sig, body: body, wantError: "no webhook secret or token"},
		{name: "insecure without secret accepts anything", verifier: &Verifier{Insecure: true}, body: body},
		{name: "insecure with secret still checks", verifier: &Verifier{Secret: secret, Insecure: true, Now: func() time.Time { return now }},
			ts: ts, sig: sig, body: []byte("x"), wantError: "does not match"},
		{name: "insecure with a token still checks", verifier: &Verifier{Token: token, Insecure: true}, body: body, wantError: "missing credentials"},
		{name: "token only: a signature is refused", verifier: &Verifier{Token: token, Now: func() time.Time { return now }},
			ts: ts, sig: sig, body: body, wantError: "no webhook secret configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.verifier
			if v == nil && tt.name != "nil verifier" {
				v = verifier()
			}
			err := v.Authenticate("", tt.ts, tt.sig, tt.body)
			checkError(t, err, tt.wantError)
		})
	}
}

func checkError(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("accepted, want an error containing %q", want)
	}
	if !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("error %v does not wrap ErrInvalidSignature", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), token) {
		t.Errorf("error %q reveals the secret or the token", err)
	}
}

func TestAuthenticateNeverRevealsExpectedSignature(t *testing.T) {
	body := []byte("{}")
	ts, want := Sign(secret, now, body)
	bad := "sha256=" + strings.Repeat("0", 64)
	err := verifier().Authenticate("", ts, bad, body)
	if err == nil || strings.Contains(err.Error(), strings.TrimPrefix(want, "sha256=")) {
		t.Fatalf("error %v", err)
	}
}

// TestAuthenticateBearer covers the Authorization header alone and beside a
// signature: at least one credential, and every one presented must hold.
func TestAuthenticateBearer(t *testing.T) {
	body := []byte(`{"InvokeId":"t-abc"}`)
	ts, sig := Sign(secret, now, body)
	_, wrongSig := Sign("another secret", now, body)
	both := &Verifier{Secret: secret, Token: token, Now: func() time.Time { return now }}
	tokenOnly := &Verifier{Token: token, Now: func() time.Time { return now }}
	secretOnly := &Verifier{Secret: secret, Now: func() time.Time { return now }}
	wrong := "Bearer " + strings.Repeat("x", len(token))

	tests := []struct {
		name          string
		verifier      *Verifier
		authorization string
		ts, sig       string
		wantError     string
	}{
		{name: "right token", verifier: both, authorization: "Bearer " + token},
		{name: "scheme in lower case", verifier: both, authorization: "bearer " + token},
		{name: "scheme in upper case", verifier: both, authorization: "BEARER " + token},
		{name: "surrounding white space", verifier: both, authorization: " \tBearer " + token + " "},
		{name: "token only, right token", verifier: tokenOnly, authorization: "Bearer " + token},
		{name: "wrong token", verifier: both, authorization: wrong, wantError: "bearer token does not match"},
		{name: "token prefix", verifier: both, authorization: "Bearer " + token[:len(token)-1], wantError: "bearer token does not match"},
		{name: "token extended", verifier: both, authorization: "Bearer " + token + "x", wantError: "bearer token does not match"},
		{name: "token in another case", verifier: both, authorization: "Bearer " + strings.ToUpper(token), wantError: "bearer token does not match"},
		{name: "no token after the scheme", verifier: both, authorization: "Bearer", wantError: "bearer token does not match"},
		{name: "empty token", verifier: both, authorization: "Bearer ", wantError: "bearer token does not match"},
		{name: "two spaces", verifier: both, authorization: "Bearer  " + token, wantError: "bearer token does not match"},
		{name: "tab", verifier: both, authorization: "Bearer\t" + token, wantError: "bearer token does not match"},
		{name: "sent twice, joined", verifier: both, authorization: "Bearer " + token + ", Bearer " + token, wantError: "bearer token does not match"},
		{name: "sent twice, joined without space", verifier: both, authorization: "Bearer " + token + ",Bearer " + token, wantError: "bearer token does not match"},
		{name: "scheme joined", verifier: both, authorization: "Bearer," + token, wantError: "bearer token does not match"},
		{name: "another scheme and a bearer, joined", verifier: both, authorization: "Basic dXNlcjpwYXNz, Bearer " + token, ts: ts, sig: sig, wantError: "bearer token does not match"},
		{name: "SigV4 and a bearer, joined", verifier: both, authorization: "AWS4-HMAC-SHA256 Credential=A/1/r/s/aws4_request, SignedHeaders=host, Signature=00,Bearer " + token, ts: ts, sig: sig, wantError: "bearer token does not match"},
		{name: "no token configured: joined bearer ignored", verifier: secretOnly, authorization: "Basic dXNlcjpwYXNz, Bearer " + token, ts: ts, sig: sig},
		{name: "wrong token, signature right", verifier: both, authorization: wrong, ts: ts, sig: sig, wantError: "bearer token does not match"},
		{name: "right token, signature wrong", verifier: both, authorization: "Bearer " + token, ts: ts, sig: wrongSig, wantError: "does not match the body"},
		{name: "right token, timestamp only", verifier: both, authorization: "Bearer " + token, ts: ts, wantError: "missing X-Stopper-Signature"},
		{name: "right token and right signature", verifier: both, authorization: "Bearer " + token, ts: ts, sig: sig},
		{name: "token only: right token beside a signature", verifier: tokenOnly, authorization: "Bearer " + token, ts: ts, sig: sig, wantError: "no webhook secret configured"},
		{name: "nothing", verifier: both, wantError: "missing credentials: send Authorization: Bearer <token>, or sign"},
		{name: "token only: nothing", verifier: tokenOnly, wantError: "missing credentials: send Authorization: Bearer <token>"},
		{name: "Basic is not ours", verifier: both, authorization: "Basic dXNlcjpwYXNz", wantError: "is not a Bearer token"},
		{name: "Bearerish scheme is not ours", verifier: both, authorization: "Bearerx " + token, wantError: "is not a Bearer token"},
		{name: "SigV4 beside a right signature", verifier: both, authorization: "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=00", ts: ts, sig: sig},
		{name: "no token configured: bearer ignored, unsigned", verifier: secretOnly, authorization: "Bearer " + token, wantError: "no webhook token configured"},
		{name: "no token configured: bearer ignored, signed", verifier: secretOnly, authorization: wrong, ts: ts, sig: sig},
		{name: "no token configured: other scheme, unsigned", verifier: secretOnly, authorization: "Basic dXNlcjpwYXNz", wantError: "missing X-Stopper-Timestamp"},
		{name: "insecure ignores a bearer", verifier: &Verifier{Insecure: true}, authorization: wrong},
		{name: "short configured token refuses every bearer", verifier: &Verifier{Secret: secret, Token: "short"}, authorization: "Bearer short", wantError: "token is unusable"},
		{name: "configured token with a space refuses every bearer", verifier: &Verifier{Token: token + " x"}, authorization: "Bearer " + token + " x", wantError: "token is unusable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Secret: tt.verifier.Secret, Token: tt.verifier.Token, Insecure: tt.verifier.Insecure, Now: tt.verifier.Now}
			err := v.Authenticate(tt.authorization, tt.ts, tt.sig, body)
			checkError(t, err, tt.wantError)
			if err != nil && strings.Contains(err.Error(), token) {
				t.Errorf("error %q echoes the token", err)
			}
		})
	}
}

func TestCheckToken(t *testing.T) {
	for tok, ok := range map[string]bool{
		token:                                                   true,
		strings.Repeat("a", 32):                                 true,
		strings.Repeat("a", 31):                                 false,
		strings.Repeat("A0-._~+/", 4):                           true,
		strings.Repeat("ab", 20) + "==":                         true,
		strings.Repeat("a", 31) + "=":                           true, // 32 characters, as config counts them
		strings.Repeat("=", 40):                                 false,
		strings.Repeat("a", 32) + " b":                          false,
		strings.Repeat("a", 32) + ",b":                          false,
		strings.Repeat("a", 16) + "=" + strings.Repeat("a", 16): false,
		strings.Repeat("é", 32):                                 false,
		"":                                                      false,
	} {
		if err := CheckToken(tok); (err == nil) != ok {
			t.Errorf("CheckToken(%q) = %v, want ok=%v", tok, err, ok)
		}
	}
}

// TestReplay: a signature is accepted once per Verifier, whatever its
// spelling; only verified signatures are remembered.
func TestReplay(t *testing.T) {
	body := []byte(`{"InvokeId":"t-abc"}`)
	ts, sig := Sign(secret, now, body)
	v := verifier()
	if err := v.Authenticate("", ts, "sha256="+strings.Repeat("0", 64), body); err == nil {
		t.Fatal("a wrong signature was accepted")
	}
	if err := v.Authenticate("", ts, sig, body); err != nil {
		t.Fatalf("first use refused after a wrong one: %v", err)
	}
	for _, replay := range []string{sig, " " + sig + " ", "sha256=" + strings.ToUpper(sig[7:])} {
		err := v.Authenticate("", ts, replay, body)
		checkError(t, err, "already used")
		if err != nil && !strings.Contains(err.Error(), "sign every request") {
			t.Errorf("error %q does not say to sign again", err)
		}
	}
	// A bearer beside a replayed signature does not carry it through.
	vt := &Verifier{Secret: secret, Token: token, Now: func() time.Time { return now }}
	if err := vt.Authenticate("Bearer "+token, ts, sig, body); err != nil {
		t.Fatal(err)
	}
	checkError(t, vt.Authenticate("Bearer "+token, ts, sig, body), "already used")
	// Bearer tokens alone are not remembered: they have no one-time part.
	for range 3 {
		if err := vt.Authenticate("Bearer "+token, "", "", body); err != nil {
			t.Fatal(err)
		}
	}
	// Another instance has its own memory.
	if err := verifier().Authenticate("", ts, sig, body); err != nil {
		t.Errorf("a fresh Verifier refused: %v", err)
	}
	// The same body signed at another second is another request.
	ts2, sig2 := Sign(secret, now.Add(time.Second), body)
	if err := v.Authenticate("", ts2, sig2, body); err != nil {
		t.Errorf("re-signed request refused: %v", err)
	}
}

func TestReplayConcurrent(t *testing.T) {
	body := []byte(`{"InvokeId":"t-abc"}`)
	ts, sig := Sign(secret, now, body)
	v := verifier()
	var accepted atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v.Authenticate("", ts, sig, body) == nil {
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d concurrent uses of one signature accepted, want 1", n)
	}
}

// TestReplayMemoryIsBounded: at most RememberedSignatures are kept, the
// oldest forgotten first, and signatures are forgotten once stale.
func TestReplayMemoryIsBounded(t *testing.T) {
	clock := now
	v := &Verifier{Secret: secret, Now: func() time.Time { return clock }}
	type signed struct {
		ts, sig string
		body    []byte
	}
	sign := func(i int) signed {
		body := fmt.Appendf(nil, `{"InvokeId":"t-%08x"}`, i)
		ts, sig := Sign(secret, clock, body)
		return signed{ts, sig, body}
	}
	var all []signed
	for i := range RememberedSignatures + 1 {
		s := sign(i)
		all = append(all, s)
		if err := v.Authenticate("", s.ts, s.sig, s.body); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if n := len(v.seen.expires); n != RememberedSignatures || v.seen.n != RememberedSignatures {
		t.Fatalf("remembers %d (ring %d), want %d", n, v.seen.n, RememberedSignatures)
	}
	// The newest is remembered, the oldest was forgotten to make room.
	last := all[len(all)-1]
	checkError(t, v.Authenticate("", last.ts, last.sig, last.body), "already used")
	if err := v.Authenticate("", all[0].ts, all[0].sig, all[0].body); err != nil {
		t.Errorf("the oldest signature is still remembered past the bound: %v", err)
	}

	// Past the window every remembered signature is stale: the next
	// accepted one is the only one left.
	clock = clock.Add(DefaultWindow + time.Second)
	s := sign(-1)
	if err := v.Authenticate("", s.ts, s.sig, s.body); err != nil {
		t.Fatal(err)
	}
	if n := len(v.seen.expires); n != 1 || v.seen.n != 1 {
		t.Errorf("remembers %d (ring %d) after the window, want 1", n, v.seen.n)
	}
}

// FuzzAuthenticate feeds arbitrary header values and bodies: Authenticate
// never panics, never reveals the secret or the token, and accepts only a
// request whose every credential holds: the configured token, or the
// secret's signature of this body within the window.
func FuzzAuthenticate(f *testing.F) {
	body := []byte(`{"InvokeId":"t-abc"}`)
	ts, sig := Sign(secret, now, body)
	f.Add("", ts, sig, body)
	f.Add("", ts, strings.ToUpper(sig), body)
	f.Add("", "", "", []byte(nil))
	f.Add("", "1790000000", "sha256=", []byte("x"))
	f.Add("", "0x10", "sha256="+strings.Repeat("g", 64), []byte("{}"))
	f.Add("", " 1790000000 ", " "+sig+" ", body)
	f.Add("", "99999999999999999999999", sig, body)
	f.Add("Bearer "+token, "", "", body)
	f.Add("bearer "+token+" ", "", "", body)
	f.Add("Bearer "+token, ts, sig, body)
	f.Add("Bearer "+token+", Bearer "+token, "", "", body)
	f.Add("Bearer  "+token, "", "", body)
	f.Add("Basic "+token, ts, sig, body)
	f.Add("Basic x, Bearer "+token, ts, sig, body)
	// The bodies of the repository's sample webhook events, signed and
	// with the token.
	for _, b := range sampleBodies(f) {
		ts, sig := Sign(secret, now, b)
		f.Add("", ts, sig, b)
		f.Add("Bearer "+token, "", "", b)
	}
	f.Fuzz(func(t *testing.T, authorization, ts, sig string, body []byte) {
		v := &Verifier{Secret: secret, Token: token, Now: func() time.Time { return now }}
		err := v.Authenticate(authorization, ts, sig, body)
		if err != nil {
			if !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("error %v does not wrap ErrInvalidSignature", err)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), token) {
				t.Fatalf("error reveals the secret or the token: %v", err)
			}
			return
		}
		cleanAuth, cleanTS, cleanSig := strings.Trim(authorization, " \t"), strings.Trim(ts, " \t"), strings.Trim(sig, " \t")
		bearer := len(cleanAuth) >= 6 && strings.EqualFold(cleanAuth[:6], "bearer") && (len(cleanAuth) == 6 || strings.ContainsRune(" \t,", rune(cleanAuth[6])))
		if bearer && !(len(cleanAuth) > 7 && strings.EqualFold(cleanAuth[:7], "bearer ") && cleanAuth[7:] == token) {
			t.Fatalf("accepted Authorization %q, which is not the token", authorization)
		}
		if parts := strings.Split(cleanAuth, ","); len(parts) > 1 {
			for _, p := range parts[1:] {
				if p = strings.Trim(p, " \t"); len(p) >= 6 && strings.EqualFold(p[:6], "bearer") && (len(p) == 6 || strings.ContainsRune(" \t", rune(p[6]))) {
					t.Fatalf("accepted Authorization %q, two headers with a Bearer among them", authorization)
				}
			}
		}
		if !bearer && cleanTS == "" && cleanSig == "" {
			t.Fatalf("accepted without credentials: Authorization %q", authorization)
		}
		if cleanTS == "" && cleanSig == "" {
			return // the bearer token alone
		}
		// Signed: the values must be the secret's signature of this body.
		want := independentSignature(secret, cleanTS, body)
		if !strings.EqualFold(cleanSig, want) || !strings.HasPrefix(cleanSig, "sha256=") {
			t.Fatalf("accepted ts=%q sig=%q for body %q; the signature is %q", ts, sig, body, want)
		}
		n, perr := strconv.ParseInt(cleanTS, 10, 64)
		if perr != nil || n < now.Unix()-300 || n > now.Unix()+300 {
			t.Fatalf("accepted timestamp %q outside the window", ts)
		}
		if v.Authenticate(authorization, ts, sig, body) == nil {
			t.Fatalf("accepted the same signature twice")
		}
	})
}

// BenchmarkVerify measures a signed request in steady state: every
// signature new, the replay memory full, so each one evicts the oldest.
func BenchmarkVerify(b *testing.B) {
	type signed struct {
		ts, sig string
		body    []byte
	}
	requests := make([]signed, RememberedSignatures+1)
	for i := range requests {
		body := fmt.Appendf(nil, `{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d577%06d"}`, i)
		ts, sig := Sign(secret, now, body)
		requests[i] = signed{ts, sig, body}
	}
	v := verifier()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := &requests[i]
		if err := v.Authenticate("", r.ts, r.sig, r.body); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(requests) {
			i = 0
		}
	}
}

func BenchmarkBearer(b *testing.B) {
	v := &Verifier{Secret: secret, Token: token}
	body := []byte(`{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76"}`)
	authorization := "Bearer " + token
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Authenticate(authorization, "", "", body); err != nil {
			b.Fatal(err)
		}
	}
}

// While a token is rotated both the new and the previous one are accepted,
// and nothing else is.
func TestBearerRotation(t *testing.T) {
	const next = "next-token-0123456789abcdefghijklmnopqrstuvwxyz"
	v := &Verifier{Token: next, PreviousToken: token}
	for _, tc := range []struct {
		bearer string
		ok     bool
	}{{next, true}, {token, true}, {"another-token-0123456789abcdefghijklmn", false}} {
		err := v.Authenticate("Bearer "+tc.bearer, "", "", []byte(`{}`))
		if (err == nil) != tc.ok {
			t.Errorf("bearer %.8s...: err = %v, want ok=%v", tc.bearer, err, tc.ok)
		}
	}
	if err := (&Verifier{Token: next, PreviousToken: "short"}).Authenticate("Bearer "+next, "", "", nil); err == nil {
		t.Error("an unusable previous token must refuse every bearer")
	}
}

// The fixed refusals are constants; the one that states the token length
// must say what MinTokenLength is.
func TestBadTokenMessageStatesTheMinimum(t *testing.T) {
	if !strings.Contains(errBadToken.Error(), fmt.Sprintf("shorter than %d characters", MinTokenLength)) || !errors.Is(errBadToken, ErrInvalidSignature) {
		t.Fatalf("errBadToken = %q", errBadToken.Error())
	}
}

// The fixed refusals spell the header names out; they must stay the
// headers the function reads.
func TestRefusalsNameTheHeaders(t *testing.T) {
	for _, r := range []refusal{errMissingTimestamp, errBadTimestamp, errReplayed, errNoToken, errNoSecret, errNoCredentialsOrSign, errNotBearerOrSign} {
		if !strings.Contains(string(r), TimestampHeader) {
			t.Errorf("%q does not name %s", r, TimestampHeader)
		}
	}
	for _, r := range []refusal{errMissingSignature, errBadSignature, errNoToken, errNoSecret, errNoCredentialsOrSign, errNotBearerOrSign} {
		if !strings.Contains(string(r), SignatureHeader) {
			t.Errorf("%q does not name %s", r, SignatureHeader)
		}
	}
	for _, r := range []refusal{errNoToken, errNoSecret, errBearerMalformed, errNoCredentials, errNoCredentialsOrSign, errNotBearer, errNotBearerOrSign} {
		if !strings.Contains(string(r), AuthorizationHeader) {
			t.Errorf("%q does not name %s", r, AuthorizationHeader)
		}
	}
	if !strings.Contains(string(errBadSignature), SignaturePrefix) {
		t.Errorf("%q does not name %s", errBadSignature, SignaturePrefix)
	}
}

// Authentication at its bounds: a timestamp exactly a window old, the
// longest timestamp, what a refusal suggests with and without a secret,
// every character a token may hold.
func TestAuthenticateAtItsBounds(t *testing.T) {
	body := []byte(`{"InvokeId":"t-abc"}`)
	// A signature whose timestamp is exactly a window old is still valid,
	// so it is still remembered when another one is accepted at that second.
	v := verifier()
	old := now.Add(-DefaultWindow)
	ts, sig := Sign(secret, old, body)
	if err := v.Authenticate("", ts, sig, body); err != nil {
		t.Fatalf("a timestamp exactly %s old: %v", DefaultWindow, err)
	}
	ts2, sig2 := Sign(secret, now, body)
	if err := v.Authenticate("", ts2, sig2, body); err != nil {
		t.Fatal(err)
	}
	checkError(t, v.Authenticate("", ts, sig, body), "already used")

	// 18 digits are a timestamp (far from now, so stale), 19 are malformed.
	checkError(t, v.Authenticate("", strings.Repeat("1", 18), sig, body), "stale")
	checkError(t, v.Authenticate("", strings.Repeat("1", 19), sig, body), "malformed")

	// A token-only function names only the bearer in its refusal.
	tokenOnly := &Verifier{Token: token}
	err := tokenOnly.Authenticate("Basic dXNlcjpwYXNz", "", "", body)
	checkError(t, err, "is not a Bearer token")
	if err != nil && strings.Contains(err.Error(), "sign the request") {
		t.Errorf("a function without a secret suggests signing: %v", err)
	}
	both := &Verifier{Secret: secret, Token: token, Now: func() time.Time { return now }}
	checkError(t, both.Authenticate("Basic dXNlcjpwYXNz", "", "", body), "or sign the request")

	// Every letter, digit and b64token symbol may be in a token.
	for _, tok := range []string{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef", "abcdefghijklmnopqrstuvwxyz012345", "0123456789-._~+/0123456789-._~+/=="} {
		if err := CheckToken(tok); err != nil {
			t.Errorf("CheckToken(%q): %v", tok, err)
		}
	}
}

// sampleBodies are the requests the repository's sample events carry (an
// HTTP event's body, a timer's payload, a queue message): what a webhook
// signs.
func sampleBodies(f *testing.F) [][]byte {
	var out [][]byte
	for _, ev := range testenv.SampleEvents(f) {
		out = append(out, testenv.CarriedRequests(ev)...)
	}
	if len(out) == 0 {
		f.Fatal("no sample event carries a request")
	}
	return out
}
