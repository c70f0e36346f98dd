package awssts

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The Query API answers in a small, fixed XML shape. A full XML decoder
// would be the largest thing this package links; reading a few elements by
// name is all the client needs:
//
//	<GetWebIdentityTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
//	  <GetWebIdentityTokenResult>
//	    <WebIdentityToken>eyJ…</WebIdentityToken>
//	    <Expiration>2025-11-20T10:05:00Z</Expiration>
//	  </GetWebIdentityTokenResult>
//	  <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
//	</GetWebIdentityTokenResponse>
//
//	<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
//	  <Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error>
//	  <RequestId>…</RequestId>
//	</ErrorResponse>

// element finds the element reached by path (outermost first) and returns
// its text content, entities decoded. Each step looks for the first element
// of that name inside the previous one, at any depth; that is enough for
// the shapes above, whose names do not repeat. Attributes (xmlns) are
// skipped. ok is false when an element of the path is missing, unclosed,
// or its text is not well-formed (a stray '<', an unknown entity).
func element(doc string, path ...string) (text string, ok bool) {
	inner := doc
	for _, name := range path {
		inner, ok = child(inner, name)
		if !ok {
			return "", false
		}
	}
	return unescape(inner)
}

// child returns the raw content of the first <name …>…</name> in s, or ""
// for <name/>.
func child(s, name string) (string, bool) {
	for from := 0; ; {
		i := strings.Index(s[from:], "<"+name)
		if i < 0 {
			return "", false
		}
		start := from + i + 1 + len(name)
		from = start
		if start >= len(s) {
			return "", false
		}
		switch s[start] {
		case '>', ' ', '\t', '\r', '\n', '/':
		default:
			continue // a longer name that starts with this one
		}
		end := strings.IndexByte(s[start:], '>')
		if end < 0 {
			return "", false
		}
		if s[start+end-1] == '/' {
			return "", true
		}
		body := s[start+end+1:]
		j := strings.Index(body, "</"+name+">")
		if j < 0 {
			return "", false
		}
		return body[:j], true
	}
}

// unescape decodes the five predefined entities and character references,
// and trims the surrounding whitespace an indenting server adds. Text with
// markup left in it is not a leaf's text.
func unescape(s string) (string, bool) {
	if strings.ContainsRune(s, '<') || !utf8.ValidString(s) {
		return "", false
	}
	if !strings.Contains(s, "&") {
		return strings.TrimSpace(s), true
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return strings.TrimSpace(b.String()), true
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		j := strings.IndexByte(s, ';')
		if j < 0 {
			return "", false
		}
		ref := s[:j]
		s = s[j+1:]
		switch ref {
		case "lt":
			b.WriteByte('<')
		case "gt":
			b.WriteByte('>')
		case "amp":
			b.WriteByte('&')
		case "quot":
			b.WriteByte('"')
		case "apos":
			b.WriteByte('\'')
		default:
			r, ok := charRef(ref)
			if !ok {
				return "", false
			}
			b.WriteRune(r)
		}
	}
}

// charRef decodes "#65" or "#x41".
func charRef(ref string) (rune, bool) {
	digits, base := strings.CutPrefix(ref, "#")
	if !base {
		return 0, false
	}
	b := 10
	if hex, ok := strings.CutPrefix(digits, "x"); ok {
		digits, b = hex, 16
	}
	if digits == "" || digits[0] == '+' || digits[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, b, 32)
	if err != nil || n == 0 || n > utf8.MaxRune || !utf8.ValidRune(rune(n)) {
		return 0, false
	}
	return rune(n), true
}
