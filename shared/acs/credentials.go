package acs

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
)

// Credentials are an AccessKey pair, with the STS token when the pair is temporary.
//
// Every way the project renders a value — fmt (any verb, %#v included), slog
// (JSON and text handlers: Credentials is a slog.LogValuer) and
// encoding/json, also when Credentials sit inside another struct — shows the
// key id masked (MaskKeyID) and the secret and the token only as Redacted
// when set or "" when not. Reading the fields directly is the only way to
// the values.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// Set reports whether there is a key pair to sign with.
func (c Credentials) Set() bool { return c.AccessKeyID != "" && c.AccessKeySecret != "" }

// Redacted is what stands in for a credential value in anything the project
// shows: logs, error messages, answers.
const Redacted = "[redacted]"

// MaskKeyID shows enough of an AccessKey id to tell two keys apart (its
// first and last four characters) and hides the rest. An id shorter than 16
// characters is masked whole: with fewer than eight hidden characters the
// mask would hide little. Alibaba Cloud's ids are 24 characters (LTAI…) and
// STS ids longer. The id is not a secret on its own, but together with a
// leaked secret it is the whole key, so the project never prints it in full.
func MaskKeyID(id string) string {
	switch {
	case id == "":
		return ""
	case len(id) < 16:
		return "****"
	}
	return id[:4] + "****" + id[len(id)-4:]
}

func redactedIfSet(v string) string {
	if v == "" {
		return ""
	}
	return Redacted
}

// String is the fmt rendering: the key id masked, the secret and the token
// redacted.
func (c Credentials) String() string {
	return fmt.Sprintf("acs.Credentials{AccessKeyID:%q, AccessKeySecret:%q, SecurityToken:%q}",
		MaskKeyID(c.AccessKeyID), redactedIfSet(c.AccessKeySecret), redactedIfSet(c.SecurityToken))
}

// GoString keeps %#v from printing the fields.
func (c Credentials) GoString() string { return c.String() }

// Format makes every fmt verb use String: without it %d, %x or %t would
// print the fields one by one, since fmt calls String only for %v, %s, %q,
// %x and %X.
func (c Credentials) Format(f fmt.State, verb rune) {
	_, _ = io.WriteString(f, c.String())
}

// LogValue is what slog logs: a group of the three fields, masked and
// redacted. slog's JSON handler would otherwise print the struct's fields
// as they are.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("AccessKeyID", MaskKeyID(c.AccessKeyID)),
		slog.String("AccessKeySecret", redactedIfSet(c.AccessKeySecret)),
		slog.String("SecurityToken", redactedIfSet(c.SecurityToken)),
	)
}

// MarshalJSON writes the masked form, so that Credentials inside a struct
// that is logged or answered as JSON (slog.Any of an options struct) stay
// redacted: slog resolves LogValue only at the top of an attribute.
// There is deliberately no UnmarshalJSON counterpart that would accept the
// masked form back.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		AccessKeyID     string
		AccessKeySecret string
		SecurityToken   string
	}{MaskKeyID(c.AccessKeyID), redactedIfSet(c.AccessKeySecret), redactedIfSet(c.SecurityToken)})
}

// Redactor removes one set of secret values from text. Build it once per set
// with Credentials.Redactor or NewRedactor; the zero value removes nothing. It is safe for
// concurrent use.
type Redactor struct {
	forms []string // longest first
}

// Redactor returns what removes c's values — the key id, the secret and the
// token — from text that came from elsewhere (an API's error message, a body,
// a connection error) before it is logged or answered.
func (c Credentials) Redactor() Redactor {
	return NewRedactor(c.SecurityToken, c.AccessKeySecret, c.AccessKeyID)
}

// NewRedactor returns what removes the values from text, in every form
// below. Other secrets than credentials (a notification webhook's token)
// use it too.
//
// The API's SignatureDoesNotMatch messages echo its string to sign, which
// holds the parameters percent-encoded (V3's canonical query) or encoded
// twice (V1's string to sign), so each value is looked for as it is and in
// those encodings, with upper- and lower-case hex, and as JSON writes it
// ("\/" for '/'). An STS token holds '/', '+' and '='; the other values
// usually encode to themselves.
//
// Every non-empty value is removed, however short: a toy credential such as
// "id" then also disappears from ordinary words in messages, which is the
// safe side. A value the server truncated before echoing cannot be
// recognised.
func NewRedactor(values ...string) Redactor {
	var forms []string
	add := func(f string) {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	for _, v := range values {
		if v == "" {
			continue
		}
		once := PercentEncode(v)
		// Encoded twice, the inner escapes' case survives in the outer ones'
		// text: %2f becomes %252f.
		twiceLower := PercentEncode(lowerHexEscapes(once))
		for _, f := range []string{v, once, PercentEncode(once), twiceLower, url.QueryEscape(v), url.PathEscape(v), strings.ReplaceAll(v, "/", `\/`)} {
			add(f)
			add(lowerHexEscapes(f))
		}
		if b, err := json.Marshal(v); err == nil {
			add(string(b[1 : len(b)-1]))
		}
	}
	// Longest first: removing a token before a key id that happens to be
	// part of it leaves no piece of the token behind.
	slices.SortStableFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return Redactor{forms: forms}
}

// Redact returns s with every form of the credentials replaced by Redacted.
func (r Redactor) Redact(s string) string {
	for _, f := range r.forms {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, Redacted)
		}
	}
	return s
}

// lowerHexEscapes turns the hex digits of every %XX escape in s to lower
// case: servers and proxies differ in which case they write.
func lowerHexEscapes(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			for j := i + 1; j <= i+2; j++ {
				if 'A' <= b[j] && b[j] <= 'F' {
					b[j] += 'a' - 'A'
				}
			}
			i += 2
		}
	}
	return string(b)
}
