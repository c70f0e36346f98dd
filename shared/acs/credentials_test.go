package acs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

var logCred = Credentials{
	AccessKeyID:     "LTAI5tKeyIdForLogTests01",
	AccessKeySecret: "secret-DO-NOT-LOG-5c1e",
	SecurityToken:   "CAIS+token/DO-NOT-LOG==",
}

// leaks reports which of the secret parts (or the whole key id) appear in out.
func leaks(out string, c Credentials) []string {
	var found []string
	for _, v := range []string{c.AccessKeyID, c.AccessKeySecret, c.SecurityToken, "DO-NOT-LOG"} {
		if v != "" && strings.Contains(out, v) {
			found = append(found, v)
		}
	}
	return found
}

// Credentials rendered every way the project (or a careless caller) could:
// both slog handlers, at the top of an attribute and nested in a struct,
// every fmt verb, encoding/json.
func TestCredentialsNeverRender(t *testing.T) {
	type options struct { // credentials nested in something logged whole
		Endpoint string
		Cred     Credentials
		Ptr      *Credentials
	}
	nested := options{Endpoint: "https://ecs.example", Cred: logCred, Ptr: &logCred}
	var renderings []struct{ how, out string }
	add := func(how, out string) { renderings = append(renderings, struct{ how, out string }{how, out}) }

	for name, newHandler := range map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(newHandler(&buf))
		log.Info("top", "cred", logCred)
		log.Info("pointer", "cred", &logCred)
		log.Info("nested", "opts", nested)
		log.Info("group", slog.Group("g", "cred", logCred))
		log.With("cred", logCred).Info("with")
		add("slog "+name, buf.String())
		if !strings.Contains(buf.String(), "LTAI****ts01") || !strings.Contains(buf.String(), Redacted) {
			t.Errorf("slog %s does not show the masked id and the placeholder:\n%s", name, buf.String())
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%10.3v"} {
		add("fmt "+verb, fmt.Sprintf(verb, logCred))
		add("fmt "+verb+" pointer", fmt.Sprintf(verb, &logCred))
		add("fmt "+verb+" nested", fmt.Sprintf(verb, nested))
		add("fmt "+verb+" slice", fmt.Sprintf(verb, []Credentials{logCred}))
	}
	for _, v := range []any{logCred, &logCred, nested} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		add("json", string(b))
	}
	for _, r := range renderings {
		if l := leaks(r.out, logCred); len(l) > 0 {
			t.Errorf("%s shows %q:\n%s", r.how, l, r.out)
		}
	}
}

func TestCredentialsRendering(t *testing.T) {
	tests := []struct {
		name string
		cred Credentials
		want string
	}{
		{"STS", logCred, `acs.Credentials{AccessKeyID:"LTAI****ts01", AccessKeySecret:"[redacted]", SecurityToken:"[redacted]"}`},
		{"key pair", Credentials{AccessKeyID: "LTAI5tKeyIdForLogTests01", AccessKeySecret: "s"},
			`acs.Credentials{AccessKeyID:"LTAI****ts01", AccessKeySecret:"[redacted]", SecurityToken:""}`},
		{"short id", Credentials{AccessKeyID: "test-ak"}, `acs.Credentials{AccessKeyID:"****", AccessKeySecret:"", SecurityToken:""}`},
		{"empty", Credentials{}, `acs.Credentials{AccessKeyID:"", AccessKeySecret:"", SecurityToken:""}`},
	}
	for _, tt := range tests {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if got := fmt.Sprintf(verb, tt.cred); got != tt.want {
				t.Errorf("%s: %s = %s, want %s", tt.name, verb, got, tt.want)
			}
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})).Info("m", "cred", logCred)
	const want = `{"level":"INFO","msg":"m","cred":{"AccessKeyID":"LTAI****ts01","AccessKeySecret":"[redacted]","SecurityToken":"[redacted]"}}` + "\n"
	if buf.String() != want {
		t.Errorf("JSON handler:\n got %s\nwant %s", buf.String(), want)
	}
}

func TestMaskKeyID(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"a":                         "****",
		"LTAI5tShort15ch":           "****",
		"LTAI5tExactly16c":          "LTAI****y16c",
		"STS.NUgYrLnoC37mZZCNnAbez": "STS.****Abez",
	} {
		if got := MaskKeyID(in); got != want {
			t.Errorf("MaskKeyID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactor(t *testing.T) {
	cred := Credentials{AccessKeyID: "LTAI5tRedactKeyId0001", AccessKeySecret: "redact-secret+/=x", SecurityToken: "CAIS/tok+en=="}
	r := cred.Redactor()
	for _, tt := range []struct{ name, in string }{
		{"raw token", "token CAIS/tok+en== in a message"},
		{"V3 canonical query", "x-acs-security-token:CAIS/tok+en==\nSecurityToken=CAIS%2Ftok%2Ben%3D%3D&"},
		{"lower-case hex", "SecurityToken=CAIS%2ftok%2ben%3d%3d"},
		{"V1 string to sign", "POST&%2F&AccessKeyId%3DLTAI5tRedactKeyId0001%26SecurityToken%3DCAIS%252Ftok%252Ben%253D%253D"},
		{"V1 lower-case", "SecurityToken%3dCAIS%252ftok%252ben%253d%253d"},
		{"query escape", "CAIS%2Ftok%2Ben%3D%3D"},
		{"JSON escaped slash", `{"Message":"CAIS\/tok+en=="}`},
		{"secret", "secret redact-secret+/=x"},
		{"secret encoded", "redact-secret%2B%2F%3Dx"},
		{"key id", "Credential=LTAI5tRedactKeyId0001,"},
	} {
		got := r.Redact(tt.in)
		for _, v := range []string{"CAIS", "redact-secret", "LTAI5tRedactKeyId0001"} {
			if strings.Contains(got, v) {
				t.Errorf("%s: %q still holds %q", tt.name, got, v)
			}
		}
		if !strings.Contains(got, Redacted) {
			t.Errorf("%s: %q has no placeholder", tt.name, got)
		}
	}
	if got := r.Redact("nothing to hide"); got != "nothing to hide" {
		t.Errorf("Redact changed clean text: %q", got)
	}
	if got := (Redactor{}).Redact("x"); got != "x" {
		t.Errorf("zero Redactor changed text: %q", got)
	}
	// A key id that is part of the token does not leave pieces of it.
	nestedCred := Credentials{AccessKeyID: "tok", AccessKeySecret: "s3cr3t", SecurityToken: "abc-tok-xyz"}
	if got := nestedCred.Redactor().Redact("[abc-tok-xyz]"); got != "["+Redacted+"]" {
		t.Errorf("nested values: %q", got)
	}
}

// No value survives redaction, raw or percent-encoded, whatever surrounds it.
// Values are drawn from what credentials are made of (base64 and the
// characters of STS tokens and key ids); a value that is a piece of the
// placeholder itself ("dact") would match its own replacement and is left out.
func FuzzRedactor(f *testing.F) {
	f.Add("SignatureDoesNotMatch: POST\n/\nSecurityToken=", "CAIS/tok+en==", "secret+/=x", "LTAI5tKeyId0001")
	f.Add("%2F%2B%3D%252F", "a/b+c=d", "abcd", "abcdabcd")
	f.Add("", "tokentoken", "token", "oken")
	f.Fuzz(func(t *testing.T, text, token, secret, id string) {
		cred := Credentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: token}
		values := []string{token, secret, id}
		for _, v := range values {
			if len(v) < 4 || strings.Contains(Redacted, v) || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_.") != "" {
				return
			}
		}
		in := text + token + text + PercentEncode(token) + secret + PercentEncode(PercentEncode(secret)) + id + text
		out := cred.Redactor().Redact(in)
		for _, v := range values {
			if strings.Contains(out, v) || strings.Contains(out, PercentEncode(v)) {
				t.Fatalf("%q survives in %q", v, out)
			}
		}
	})
}

// A secret is redacted in every form it takes: written as JSON escapes it,
// and inside a longer secret, whatever order the values come in.
func TestRedactorFindsEveryForm(t *testing.T) {
	// A value JSON writes differently (<, >, & as \u003c ...) is found in its JSON form too.
	r := Credentials{AccessKeyID: "LTAI5tKeyIdForEdgeTests0", AccessKeySecret: "sec<ret>&", SecurityToken: "tok"}.Redactor()
	if got := r.Redact(`{"Message":"sec\u003cret\u003e\u0026"}`); strings.Contains(got, "sec") {
		t.Fatalf("JSON form not redacted: %s", got)
	}
	// A value that contains another goes whole: the longest forms first,
	// whatever order the values come in (token, secret, key id).
	id := "LTAI5tKeyIdForEdgeTests0"
	r = Credentials{AccessKeyID: id, AccessKeySecret: "pre-tok-12345-post", SecurityToken: "tok-12345"}.Redactor()
	if got := r.Redact("secret pre-tok-12345-post"); got != "secret "+Redacted {
		t.Fatalf("Redact = %q: a piece of the secret is left", got)
	}
}

func TestLowerHexEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"%2F%3A": "%2f%3a",
		"%AB%FF": "%ab%ff",
		"a%2Fb":  "a%2fb",
		"x%2":    "x%2", // an escape cut short at the end is left alone
		"%":      "%",
		"plain":  "plain",
	} {
		if got := lowerHexEscapes(in); got != want {
			t.Errorf("lowerHexEscapes(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStaticProviderNeverPrintsTheSecret(t *testing.T) {
	p := Static(Credentials{AccessKeyID: "LTAI1234567890abcdef", AccessKeySecret: "supersecret", SecurityToken: "tok/en+="})
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if s := fmt.Sprintf(verb, p); strings.Contains(s, "supersecret") || strings.Contains(s, "tok/en") {
			t.Errorf("Sprintf(%q) = %s: shows a secret", verb, s)
		}
	}
	got, err := p.Credentials(t.Context())
	if err != nil || got.AccessKeySecret != "supersecret" {
		t.Errorf("Credentials() = %v, %v; want the pair", got, err)
	}
}
