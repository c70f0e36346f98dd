package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const secret = "s3cr3t-for-tests"

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

func TestVerify(t *testing.T) {
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
		{name: "no prefix", ts: ts, sig: strings.TrimPrefix(sig, "sha256="), body: body, wantError: "malformed X-Stopper-Signature"},
		{name: "other algorithm", ts: ts, sig: "sha1=" + strings.TrimPrefix(sig, "sha256="), body: body, wantError: "malformed X-Stopper-Signature"},
		{name: "non-hex", ts: ts, sig: "sha256=" + strings.Repeat("zz", 32), body: body, wantError: "malformed X-Stopper-Signature"},
		{name: "short", ts: ts, sig: sig[:len(sig)-2], body: body, wantError: "malformed X-Stopper-Signature"},
		{name: "long", ts: ts, sig: sig + "00", body: body, wantError: "malformed X-Stopper-Signature"},
		{name: "two signatures", ts: ts, sig: sig + "," + sig, body: body, wantError: "malformed X-Stopper-Signature"},
		{name: "non-integer timestamp", ts: ts + ".5", sig: sig, body: body, wantError: "malformed X-Stopper-Timestamp"},
		{name: "signed timestamp", ts: "+" + ts, sig: sig, body: body, wantError: "malformed X-Stopper-Timestamp"},
		{name: "negative timestamp", ts: "-1", sig: sig, body: body, wantError: "malformed X-Stopper-Timestamp"},
		{name: "huge timestamp", ts: strings.Repeat("9", 30), sig: sig, body: body, wantError: "malformed X-Stopper-Timestamp"},
		{name: "milliseconds are stale", ts: ts + "000", sig: sig, body: body, wantError: "stale"},
		{name: "no secret", verifier: &Verifier{}, ts: ts, sig: sig, body: body, wantError: "no webhook secret"},
		{name: "nil verifier", verifier: nil, ts: ts, sig: sig, body: body, wantError: "no webhook secret"},
		{name: "insecure without secret accepts anything", verifier: &Verifier{Insecure: true}, body: body},
		{name: "insecure with secret still checks", verifier: &Verifier{Secret: secret, Insecure: true, Now: func() time.Time { return now }},
			ts: ts, sig: sig, body: []byte("x"), wantError: "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.verifier
			if v == nil && tt.name != "nil verifier" {
				v = verifier()
			}
			err := v.VerifyValues(tt.ts, tt.sig, tt.body)
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
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q reveals the secret", err)
	}
}

func TestVerifyNeverRevealsExpectedSignature(t *testing.T) {
	body := []byte("{}")
	ts, want := Sign(secret, now, body)
	bad := "sha256=" + strings.Repeat("0", 64)
	err := verifier().VerifyValues(ts, bad, body)
	if err == nil || strings.Contains(err.Error(), strings.TrimPrefix(want, "sha256=")) {
		t.Fatalf("error %v", err)
	}
}

func TestVerifyHeaderNamesAnyCase(t *testing.T) {
	body := []byte(`{"InvokeId":"t-abc"}`)
	ts, sig := Sign(secret, now, body)
	spellings := [][2]string{
		{"X-Stopper-Timestamp", "X-Stopper-Signature"},
		{"x-stopper-timestamp", "x-stopper-signature"},
		{"X-STOPPER-TIMESTAMP", "x-Stopper-signature"},
	}
	for _, names := range spellings {
		t.Run(names[0], func(t *testing.T) {
			m := map[string]string{names[0]: ts, names[1]: sig, "Content-Type": "application/json"}
			if err := verifier().VerifyHeaders(m, body); err != nil {
				t.Errorf("map: %v", err)
			}
			// An http.Header built by hand from an event map keeps the
			// event's spelling; Verify still finds it.
			h := http.Header{names[0]: {ts}, names[1]: {sig}}
			if err := verifier().Verify(h, body); err != nil {
				t.Errorf("http.Header: %v", err)
			}
			h = http.Header{}
			h.Set(names[0], ts)
			h.Set(names[1], sig)
			if err := verifier().Verify(h, body); err != nil {
				t.Errorf("canonical http.Header: %v", err)
			}
		})
	}
}

func TestHeaderValue(t *testing.T) {
	tests := []struct {
		headers map[string]string
		want    string
	}{
		{map[string]string{"X-Stopper-Timestamp": "1"}, "1"},
		{map[string]string{"x-stopper-timestamp": "2"}, "2"},
		{map[string]string{"x-STOPPER-timestamp": "3"}, "3"},
		{map[string]string{"X-Stopper-Timestamp": "4", "x-stopper-timestamp": "5"}, "4"},
		{map[string]string{"X-STOPPER-TIMESTAMP": "7", "x-Stopper-Timestamp": "6"}, "6"},
		{map[string]string{"X-Stopper-Timestamps": "8"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		for range 5 { // map order must not matter
			if got := HeaderValue(tt.headers, TimestampHeader); got != tt.want {
				t.Errorf("HeaderValue(%v) = %q, want %q", tt.headers, got, tt.want)
			}
		}
	}
}

// FuzzVerify feeds arbitrary header values and bodies: Verify never panics,
// and accepts only what the secret signed.
func FuzzVerify(f *testing.F) {
	body := []byte(`{"InvokeId":"t-abc"}`)
	ts, sig := Sign(secret, now, body)
	f.Add(ts, sig, body)
	f.Add(ts, strings.ToUpper(sig), body)
	f.Add("", "", []byte(nil))
	f.Add("1790000000", "sha256=", []byte("x"))
	f.Add("0x10", "sha256="+strings.Repeat("g", 64), []byte("{}"))
	f.Add(" 1790000000 ", " "+sig+" ", body)
	f.Add("99999999999999999999999", sig, body)
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		err := verifier().VerifyValues(ts, sig, body)
		if err != nil {
			if !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("error %v does not wrap ErrInvalidSignature", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error reveals the secret: %v", err)
			}
			return
		}
		// Accepted: the values must be the secret's signature of this body.
		cleanTS := strings.Trim(ts, " \t")
		want := independentSignature(secret, cleanTS, body)
		if !strings.EqualFold(strings.Trim(sig, " \t"), want) || !strings.HasPrefix(strings.Trim(sig, " \t"), "sha256=") {
			t.Fatalf("accepted ts=%q sig=%q for body %q; the signature is %q", ts, sig, body, want)
		}
		n, perr := strconv.ParseInt(cleanTS, 10, 64)
		if perr != nil || n < now.Unix()-300 || n > now.Unix()+300 {
			t.Fatalf("accepted timestamp %q outside the window", ts)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	body := []byte(`{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76"}`)
	ts, sig := Sign(secret, now, body)
	v := verifier()
	b.ReportAllocs()
	for b.Loop() {
		if err := v.VerifyValues(ts, sig, body); err != nil {
			b.Fatal(err)
		}
	}
}
