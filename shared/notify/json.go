package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// FormatJSON is the request's answer itself, for any other receiver.
const FormatJSON = "json"

// jsonFormat posts the request's answer, redacted, to a receiver of the
// operators' own (a relay, an incident tool): the format of any host no
// other format claims. Any 2xx is an acceptance.
type jsonFormat struct{}

func init() { register(jsonFormat{}) }

func (jsonFormat) name() string    { return FormatJSON }
func (jsonFormat) service() string { return "JSON" }

// hosts: none; formatOfHost falls back to JSON.
func (jsonFormat) hosts() []string { return nil }

// checkURL: a receiver's webhook may be any URL.
func (jsonFormat) checkURL(*url.URL, string) error { return nil }

// redactPath hides a non-empty path: a relay's /hook/7c1e0d2a-… is a
// token; /hooks/ecs-stopper is words, which stay readable in texts that
// mention them (plainValue).
func (jsonFormat) redactPath(u *url.URL) (string, []string) {
	path := u.EscapedPath()
	if path == "" || path == "/" {
		return path, nil
	}
	var secrets []string
	for _, seg := range strings.Split(u.Path, "/") {
		if seg != "" && !plainValue(seg) {
			secrets = append(secrets, seg)
		}
	}
	if len(secrets) > 0 {
		secrets = append(secrets, strings.TrimPrefix(u.Path, "/"), strings.TrimPrefix(path, "/"))
	}
	return "/" + redacted, secrets
}

// rateLimit: receivers publish nothing: 10, then one a second (60 a
// minute).
func (jsonFormat) rateLimit() rateLimit {
	return rateLimit{burst: 10, every: time.Second, said: "60 messages a minute"}
}

// render is the answer as the caller has it; it may still quote an API
// message echoing the notifier's own secrets, hence jsonBody.
func (jsonFormat) render(d draft) ([]byte, error) {
	if d.report.Answer == nil {
		return nil, errors.New("the report carries no answer to post")
	}
	var suppressed *suppressedMember
	if d.untold > 0 {
		suppressed = &suppressedMember{Count: d.untold, Since: d.since.UTC().Format(time.RFC3339), Message: d.notice}
	}
	body, err := jsonBody(d.report.Answer, d.redact, suppressed)
	if err != nil {
		return nil, fmt.Errorf("the answer is not JSON: %w", err)
	}
	return body, nil
}

// check: any 2xx.
func (jsonFormat) check(a reply) string {
	if !a.ok() {
		return a.httpFailure()
	}
	return ""
}

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
