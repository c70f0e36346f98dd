package trigger

import (
	"encoding/json"
	"strconv"
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

// renderEvent is the answer an event's platform gets: the answer JSON, or
// for SQS the partial batch response.
func renderEvent(kind Kind, requestID string, out outcome) []byte {
	if b, ok := out.answer.(stopper.BatchAnswer); ok && kind == SQS && out.err == nil {
		if body, err := json.Marshal(sqsAnswer(b)); err == nil {
			return body
		}
	}
	return renderAnswer(requestID, out)
}

// renderHTTPEvent wraps the answer in the response shape of the trigger the
// event came from: aws-lambda-go's events.APIGatewayProxyResponse (v1),
// events.APIGatewayV2HTTPResponse (v2), events.LambdaFunctionURLResponse
// (Function URLs), and FC's {"statusCode", "headers", "isBase64Encoded",
// "body"}.
//
// The envelopes are written directly rather than by json.Marshal of those
// types (which costs a reflection walk, a sorted map and four allocations on
// every webhook); TestRenderMatchesEventTypes holds the bytes to what
// json.Marshal of the types produces.
func renderHTTPEvent(kind Kind, requestID string, out outcome) []byte {
	body := renderAnswer(requestID, out)
	allowPost := out.err != nil && out.err.Code == stopper.CodeMethodNotAllowed
	// Capacity only: room for the escapes and the envelope, so that one
	// allocation holds the response (any other size gives the same bytes).
	dst := make([]byte, 0, len(body)+len(body)/8+160)
	return appendHTTPResponse(dst, kind, out.status(), allowPost, body)
}

func appendHTTPResponse(dst []byte, kind Kind, status int, allowPost bool, body []byte) []byte {
	dst = append(dst, `{"statusCode":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	// Keys in the order json.Marshal sorts a map's keys.
	if allowPost {
		dst = append(dst, `,"headers":{"Allow":"POST","Content-Type":"application/json"}`...)
	} else {
		dst = append(dst, `,"headers":{"Content-Type":"application/json"}`...)
	}
	// Each shape's remaining fields, in its struct's order.
	switch kind {
	case APIGatewayV1:
		dst = append(dst, `,"multiValueHeaders":null,"body":`...)
		dst = appendJSONString(dst, body)
	case APIGatewayV2:
		dst = append(dst, `,"multiValueHeaders":null,"body":`...)
		dst = appendJSONString(dst, body)
		dst = append(dst, `,"cookies":null`...)
	case FunctionURL:
		dst = append(dst, `,"body":`...)
		dst = appendJSONString(dst, body)
		dst = append(dst, `,"isBase64Encoded":false,"cookies":null`...)
	default: // FCHTTP
		dst = append(dst, `,"isBase64Encoded":false,"body":`...)
		dst = appendJSONString(dst, body)
	}
	return append(dst, '}')
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
