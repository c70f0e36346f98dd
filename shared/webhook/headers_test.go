package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestCheckHeadersRefusesWithoutTheBody: every refusal the headers decide
// comes from CheckHeaders, before any body exists; only a signed request
// that passes them needs its body.
func TestCheckHeadersRefusesWithoutTheBody(t *testing.T) {
	body := []byte(`{"InvokeId":"t-abc"}`)
	ts, sig := Sign(secret, now, body)
	staleTS, staleSig := Sign(secret, now.Add(-DefaultWindow-time.Second), body)
	futureTS, futureSig := Sign(secret, now.Add(DefaultWindow+time.Second), body)
	wrong := "Bearer " + strings.Repeat("x", len(token))
	both := func() *Verifier { return &Verifier{Secret: secret, Token: token, Now: func() time.Time { return now }} }
	tests := []struct {
		name          string
		verifier      *Verifier
		authorization string
		ts, sig       string
		wantError     string // "" when the headers pass
		needsBody     bool
	}{
		{name: "nil verifier", verifier: nil, ts: ts, sig: sig, wantError: "accepts no webhooks"},
		{name: "nothing configured", verifier: &Verifier{}, ts: ts, sig: sig, wantError: "accepts no webhooks"},
		{name: "insecure", verifier: &Verifier{Insecure: true}},
		{name: "no credentials", verifier: both(), wantError: "missing credentials"},
		{name: "right token", verifier: both(), authorization: "Bearer " + token},
		{name: "wrong token", verifier: both(), authorization: wrong, wantError: "bearer token does not match"},
		{name: "wrong token beside a right signature", verifier: both(), authorization: wrong, ts: ts, sig: sig, wantError: "bearer token does not match"},
		{name: "right token and a signature", verifier: both(), authorization: "Bearer " + token, ts: ts, sig: sig, needsBody: true},
		{name: "other scheme", verifier: both(), authorization: "Basic dXNlcjpwYXNz", wantError: "is not a Bearer token"},
		{name: "signed", verifier: both(), ts: ts, sig: sig, needsBody: true},
		{name: "signed, token unset", verifier: verifier(), ts: ts, sig: sig, needsBody: true},
		{name: "timestamp only", verifier: both(), ts: ts, wantError: "missing X-Stopper-Signature"},
		{name: "signature only", verifier: both(), sig: sig, wantError: "missing X-Stopper-Timestamp"},
		{name: "stale", verifier: both(), ts: staleTS, sig: staleSig, wantError: "stale"},
		{name: "future", verifier: both(), ts: futureTS, sig: futureSig, wantError: "stale"},
		{name: "timestamp not digits", verifier: both(), ts: "17e8", sig: sig, wantError: "malformed X-Stopper-Timestamp"},
		{name: "signature without its prefix", verifier: both(), ts: ts, sig: sig[len(SignaturePrefix):], wantError: "malformed X-Stopper-Signature"},
		{name: "signature too short", verifier: both(), ts: ts, sig: sig[:len(sig)-1], wantError: "malformed X-Stopper-Signature"},
		{name: "signature not hex", verifier: both(), ts: ts, sig: SignaturePrefix + strings.Repeat("g", 64), wantError: "malformed X-Stopper-Signature"},
		{name: "signed, secret unset", verifier: &Verifier{Token: token}, ts: ts, sig: sig, wantError: "no webhook secret configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.verifier.CheckHeaders(tt.authorization, tt.ts, tt.sig)
			checkError(t, err, tt.wantError)
			if p.NeedsBody() != tt.needsBody {
				t.Errorf("NeedsBody = %v, want %v", p.NeedsBody(), tt.needsBody)
			}
			if err != nil {
				// What the headers refused, Authenticate refuses the same
				// way whatever the body.
				if aerr := tt.verifier.Authenticate(tt.authorization, tt.ts, tt.sig, body); aerr == nil || aerr.Error() != err.Error() {
					t.Errorf("Authenticate: %v, want %v", aerr, err)
				}
				if p.Verify(body) == nil {
					t.Error("the Pending of a refusal accepts a body")
				}
				return
			}
			if !tt.needsBody {
				// Accepted on the headers alone: no body is looked at.
				if err := p.Verify(nil); err != nil {
					t.Errorf("Verify without a body: %v", err)
				}
				return
			}
			checkError(t, p.Verify([]byte(`{"InvokeId":"t-other"}`)), "does not match the body")
			checkError(t, p.Verify(body), "")
		})
	}
}

// The zero Pending refuses: a caller that skipped CheckHeaders fails closed.
func TestZeroPendingRefuses(t *testing.T) {
	var p Pending
	if p.NeedsBody() {
		t.Error("the zero Pending needs a body")
	}
	if err := p.Verify([]byte(`{}`)); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("Verify = %v, want a refusal", err)
	}
}

// A signature already accepted is refused by the headers alone, before its
// body is read; two requests with the same signature that both passed the
// headers while their bodies were read are accepted once.
func TestReplayRefusedBeforeTheBody(t *testing.T) {
	body := []byte(`{"InvokeId":"t-abc"}`)
	ts, sig := Sign(secret, now, body)
	v := verifier()
	first, err := v.CheckHeaders("", ts, sig)
	checkError(t, err, "")
	second, err := v.CheckHeaders("", ts, sig[:7]+strings.ToUpper(sig[7:]))
	checkError(t, err, "")
	checkError(t, first.Verify(body), "")
	checkError(t, second.Verify(body), "already used")
	_, err = v.CheckHeaders("", " "+ts, sig)
	checkError(t, err, "already used")
	// A signature that did not verify is not remembered.
	other := []byte(`{"InvokeId":"t-other"}`)
	ots, osig := Sign(secret, now, other)
	p, err := v.CheckHeaders("", ots, osig)
	checkError(t, err, "")
	checkError(t, p.Verify(body), "does not match the body")
	checkError(t, v.Authenticate("", ots, osig, other), "")
}

// The timestamp is judged when the headers arrive: a body that takes a
// while is not refused because the clock moved on meanwhile, and it is
// remembered until its timestamp goes stale.
func TestTimestampJudgedAtTheHeaders(t *testing.T) {
	body := []byte(`{"InvokeId":"t-abc"}`)
	clock := now
	v := &Verifier{Secret: secret, Now: func() time.Time { return clock }}
	ts, sig := Sign(secret, now.Add(-DefaultWindow), body)
	p, err := v.CheckHeaders("", ts, sig)
	checkError(t, err, "")
	clock = now.Add(10 * time.Second)
	checkError(t, p.Verify(body), "")
	if got, want := v.seen.expires[p.sum], now.Unix(); got != want {
		t.Errorf("remembered until %d, want %d (the timestamp plus the window)", got, want)
	}
	_, err = v.CheckHeaders("", ts, sig)
	checkError(t, err, "stale")
}

// FuzzCheckHeaders: the header check never panics, and agrees with
// Authenticate whatever the body: what it refuses is refused, what it
// accepts without a body is accepted with any body, and a signed request
// is accepted only with the body it signs.
func FuzzCheckHeaders(f *testing.F) {
	body := []byte(`{"InvokeId":"t-abc"}`)
	ts, sig := Sign(secret, now, body)
	f.Add("", ts, sig, body)
	f.Add("", ts, strings.ToUpper(sig), []byte("x"))
	f.Add("", "", "", []byte(nil))
	f.Add("", "1790000300", sig, body)
	f.Add("", "1790000301", sig, body)
	f.Add("", "0001790000000", "sha256="+strings.Repeat("0", 64), body)
	f.Add("Bearer "+token, "", "", body)
	f.Add("Bearer "+token, ts, sig, body)
	f.Add("Basic x, Bearer "+token, "", "", body)
	f.Add("Bearer "+token+"=", " "+ts, sig+" ", body)
	f.Fuzz(func(t *testing.T, authorization, ts, sig string, body []byte) {
		v := &Verifier{Secret: secret, Token: token, Now: func() time.Time { return now }}
		p, err := v.CheckHeaders(authorization, ts, sig)
		fresh := &Verifier{Secret: secret, Token: token, Now: func() time.Time { return now }}
		aerr := fresh.Authenticate(authorization, ts, sig, body)
		switch {
		case err != nil:
			if !errors.Is(err, ErrInvalidSignature) || p.NeedsBody() {
				t.Fatalf("refusal %v (NeedsBody %v)", err, p.NeedsBody())
			}
			if aerr == nil || aerr.Error() != err.Error() {
				t.Fatalf("headers refused with %v, Authenticate answered %v", err, aerr)
			}
		case !p.NeedsBody():
			if aerr != nil || p.Verify(body) != nil {
				t.Fatalf("accepted on the headers, then refused: %v", aerr)
			}
		default:
			verr := p.Verify(body)
			if (verr == nil) != (aerr == nil) {
				t.Fatalf("Verify %v, Authenticate %v", verr, aerr)
			}
			if verr == nil && !strings.EqualFold(strings.Trim(sig, " \t"), independentSignature(secret, strings.Trim(ts, " \t"), body)) {
				t.Fatalf("accepted ts=%q sig=%q for body %q", ts, sig, body)
			}
		}
	})
}
