package awssts

import (
	"encoding/xml"
	"strings"
	"testing"
	"unicode/utf8"
)

const tokenAnswer = `<GetWebIdentityTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetWebIdentityTokenResult>
    <WebIdentityToken>eyJraWQiOiJ4In0.eyJzdWIiOiJ4In0.c2ln</WebIdentityToken>
    <Expiration>2025-11-20T10:05:00.123Z</Expiration>
  </GetWebIdentityTokenResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</GetWebIdentityTokenResponse>`

const errorAnswer = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>OutboundWebIdentityFederationDisabledException</Code>
    <Message>Outbound &quot;web identity&quot; federation is disabled &amp; must be enabled &#x2014; &#65;</Message>
  </Error>
  <RequestId>4d6a1ab1-0000-4000-8000-000000000001</RequestId>
</ErrorResponse>`

func TestElement(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		path []string
		want string
		ok   bool
	}{
		{"token", tokenAnswer, []string{"GetWebIdentityTokenResponse", "GetWebIdentityTokenResult", "WebIdentityToken"}, "eyJraWQiOiJ4In0.eyJzdWIiOiJ4In0.c2ln", true},
		{"request id", tokenAnswer, []string{"GetWebIdentityTokenResponse", "ResponseMetadata", "RequestId"}, "c6104cbe-af31-11e0-8154-cbc7ccf896c7", true},
		{"code", errorAnswer, []string{"ErrorResponse", "Error", "Code"}, "OutboundWebIdentityFederationDisabledException", true},
		{"entities", errorAnswer, []string{"ErrorResponse", "Error", "Message"}, `Outbound "web identity" federation is disabled & must be enabled — A`, true},
		{"error's request id, not a nested one", errorAnswer, []string{"ErrorResponse", "RequestId"}, "4d6a1ab1-0000-4000-8000-000000000001", true},
		{"missing element", tokenAnswer, []string{"ErrorResponse", "Error", "Code"}, "", false},
		{"wrong parent", errorAnswer, []string{"GetWebIdentityTokenResponse", "GetWebIdentityTokenResult", "WebIdentityToken"}, "", false},
		{"longer name skipped", `<R><CodeX>no</CodeX><Code>yes</Code></R>`, []string{"R", "Code"}, "yes", true},
		{"self-closing", `<R><Message/></R>`, []string{"R", "Message"}, "", true},
		{"attributes", `<R a="1"><Code b='2'>c</Code></R>`, []string{"R", "Code"}, "c", true},
		{"unclosed", `<R><Code>c</R>`, []string{"R", "Code"}, "", false},
		{"markup inside a leaf", `<R><Code><b>c</b></Code></R>`, []string{"R", "Code"}, "", false},
		{"unknown entity", `<R><Code>&nbsp;</Code></R>`, []string{"R", "Code"}, "", false},
		{"unterminated entity", `<R><Code>a &amp b</Code></R>`, []string{"R", "Code"}, "", false},
		{"bad char ref", `<R><Code>&#xD800;</Code></R>`, []string{"R", "Code"}, "", false},
		{"name at the very end", `<R><Code`, []string{"R", "Code"}, "", false},
		{"empty", ``, []string{"R"}, "", false},
		{"document cut after a name", `<R`, []string{"R"}, "", false},
		{"the largest code point", `<R>&#x10FFFF;</R>`, []string{"R"}, "\U0010FFFF", true},
		{"beyond the largest code point", `<R>&#x110000;</R>`, []string{"R"}, "", false},
		{"empty entity", `<R>a&;b</R>`, []string{"R"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := element(tc.doc, tc.path...)
			if got != tc.want || ok != tc.ok {
				t.Errorf("element = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseAnswers(t *testing.T) {
	tok, err := parseToken(tokenAnswer)
	if err != nil || tok.Token == "" || tok.Expiration.IsZero() || tok.RequestId == "" {
		t.Fatalf("parseToken = %v, %v", tok, err)
	}
	e, ok := parseError(errorAnswer)
	if !ok || e.Code != "OutboundWebIdentityFederationDisabledException" || e.RequestId == "" || e.Message == "" {
		t.Fatalf("parseError = %+v, %v", e, ok)
	}
	if _, ok := parseError(tokenAnswer); ok {
		t.Error("a token answer parsed as an error")
	}
}

// FuzzElement checks the extractor on any input (no panic; text never holds
// markup) and, on documents built from the fuzzed texts, against
// encoding/xml.
func FuzzElement(f *testing.F) {
	f.Add(tokenAnswer, "eyJ.a.b", "Code & <message>")
	f.Add(errorAnswer, "", "\t\r\n")
	f.Add("<R><Code>&#x", "&amp;", "]]>")
	f.Fuzz(func(t *testing.T, doc, token, message string) {
		for _, path := range [][]string{
			{"GetWebIdentityTokenResponse", "GetWebIdentityTokenResult", "WebIdentityToken"},
			{"ErrorResponse", "Error", "Message"},
			{"ErrorResponse", "RequestId"},
		} {
			if got, ok := element(doc, path...); ok && (strings.Contains(got, "<") || !utf8.ValidString(got)) {
				t.Fatalf("element(%q) = %q", doc, got)
			}
		}
		_, _ = parseToken(doc)
		_, _ = parseError(doc)

		var b strings.Builder
		b.WriteString(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Code>`)
		_ = xml.EscapeText(&b, []byte(token))
		b.WriteString("</Code><Message>")
		_ = xml.EscapeText(&b, []byte(message))
		b.WriteString("</Message></Error><RequestId>r</RequestId></ErrorResponse>")
		var want struct {
			Error struct{ Code, Message string }
		}
		if xml.Unmarshal([]byte(b.String()), &want) != nil {
			return
		}
		code, okCode := element(b.String(), "ErrorResponse", "Error", "Code")
		msg, okMsg := element(b.String(), "ErrorResponse", "Error", "Message")
		if !okCode || !okMsg || code != strings.TrimSpace(want.Error.Code) || msg != strings.TrimSpace(want.Error.Message) {
			t.Fatalf("on %q: got %q/%v, %q/%v; encoding/xml reads %q, %q", b.String(), code, okCode, msg, okMsg, want.Error.Code, want.Error.Message)
		}
	})
}
