package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
)

// suppressedMember is added to a JSON notification's answer when the rate
// limit suppressed notifications before it.
type suppressedMember struct {
	Count   int
	Since   string // RFC 3339, UTC
	Message string // "3 notifications were suppressed since … (rate limit of …)"
}

// jsonBody is the answer as a JSON notification: written from redacted
// values, never redacted as text once written. Every string in the answer,
// member names included, is redacted as a value and then encoded, so that
// removing a secret can neither break the JSON (a "[redacted]" where a
// boolean was) nor touch a number, a boolean or a key's quotes. With
// suppressed set, the top-level object gets a NotificationsSuppressed
// member.
func jsonBody(answer any, rd redactor, suppressed *suppressedMember) ([]byte, error) {
	raw, err := marshal(answer)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers as written: no float rounding
	var out bytes.Buffer
	// One frame per open object or array: whether an object, and how many
	// tokens (names and values) it holds so far.
	type frame struct {
		object bool
		tokens int
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			if d == '}' && len(stack) == 1 && suppressed != nil {
				if stack[0].tokens > 0 {
					out.WriteByte(',')
				}
				m, err := marshal(suppressed)
				if err != nil {
					return nil, err
				}
				out.WriteString(`"NotificationsSuppressed":`)
				out.Write(m)
			}
			stack = stack[:len(stack)-1]
			out.WriteByte(byte(d))
			continue
		}
		if len(stack) > 0 {
			f := &stack[len(stack)-1]
			switch {
			case f.object && f.tokens%2 == 1:
				out.WriteByte(':')
			case f.tokens > 0:
				out.WriteByte(',')
			}
			f.tokens++
		}
		switch t := tok.(type) {
		case json.Delim:
			stack = append(stack, frame{object: t == '{'})
			out.WriteByte(byte(t))
		case string:
			b, err := marshal(rd.Text(t))
			if err != nil {
				return nil, err
			}
			out.Write(b)
		case json.Number:
			out.WriteString(t.String())
		case bool:
			out.WriteString(strconv.FormatBool(t))
		case nil:
			out.WriteString("null")
		default:
			return nil, errors.New("unexpected JSON token")
		}
	}
	return out.Bytes(), nil
}
