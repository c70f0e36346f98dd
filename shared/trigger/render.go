package trigger

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// renderAnswer is the answer JSON: the success answer, or
// {"RequestId", "Code", "Message"}.
func renderAnswer(requestID string, out outcome) []byte {
	var b []byte
	var err error
	if out.err != nil {
		b, err = json.Marshal(out.err.Answer(requestID))
	} else {
		b, err = json.Marshal(out.answer)
	}
	if err != nil { // the answer types always marshal; stay an answer if one ever does not
		b, _ = json.Marshal(stopper.ErrorAnswer{RequestId: requestID, Code: "InternalError",
			Message: "the answer could not be encoded: " + err.Error()})
	}
	return b
}

// appendJSONString appends s as a JSON string, escaped exactly as
// encoding/json escapes strings (HTML-safe, U+2028/U+2029 escaped,
// invalid UTF-8 replaced).
func appendJSONString(dst, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if !jsonEscaped[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // other control characters, and <, >, & for HTML safety
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonEscaped marks the ASCII bytes encoding/json escapes in strings.
var jsonEscaped = func() (t [utf8.RuneSelf]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'], t['<'], t['>'], t['&'] = true, true, true, true, true
	return t
}()
