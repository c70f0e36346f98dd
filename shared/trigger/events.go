package trigger

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// webhookRequest is what the webhook checks need from any HTTP trigger:
// the method, the four headers that matter, and the body.
type webhookRequest struct {
	method        string
	contentType   string
	timestamp     string // X-Stopper-Timestamp
	signature     string // X-Stopper-Signature
	authorization string
	body          []byte
	// base64 is set while body still holds the event's base64 text.
	base64 bool
	// tooLarge is set when the body was cut off at MaxBodyBytes.
	tooLarge bool
}

// webhookRequest pulls the HTTP request out of an event of a webhook kind.
// Platform events are well-formed; a field of the wrong type is answered
// as a 400 naming it.
func (p *probe) webhookRequest(kind Kind) (webhookRequest, *stopper.Error) {
	var r webhookRequest
	method := p.httpMethod // API Gateway v1 has it at the top level
	if kind != APIGatewayV1 {
		httpInfo, _ := member(p.requestContext, "http")
		method, _ = member(httpInfo, "method")
	}
	if m, ok := jsonscan.Unquote(method); ok {
		r.method = string(m)
	}
	if err := p.readHeaders(&r); err != nil {
		return r, err
	}
	if p.body != nil && !jsonscan.IsNull(p.body) {
		b, ok := jsonscan.Unquote(p.body)
		if !ok {
			return r, stopper.Invalid("body", "must be a string in a %s event", kind)
		}
		r.body = b
	}
	if p.isBase64Encoded != nil && !jsonscan.IsNull(p.isBase64Encoded) {
		switch string(p.isBase64Encoded) {
		case "true":
			r.base64 = true
		case "false":
		default:
			return r, stopper.Invalid("isBase64Encoded", "must be true or false in a %s event", kind)
		}
	}
	return r, nil
}

// readHeaders finds the four headers that matter in the event's headers
// object, by name in any case: API Gateway v1 keeps the client's spelling,
// v2, Function URLs and FC send lower case. One header under two
// spellings is joined with a comma, as FC joins repeated headers, so that
// an ambiguous credential or content type is refused rather than picked.
func (p *probe) readHeaders(r *webhookRequest) *stopper.Error {
	if p.headers == nil || jsonscan.IsNull(p.headers) {
		return nil
	}
	m, ok := jsonscan.Object(p.headers, 1)
	if !ok {
		return stopper.Invalid("headers", "must be an object of header names and values")
	}
	for m.Next() {
		var slot *string
		switch {
		case jsonscan.EqualFoldASCII(m.Key, "content-type"):
			slot = &r.contentType
		case jsonscan.EqualFoldASCII(m.Key, webhook.TimestampHeader):
			slot = &r.timestamp
		case jsonscan.EqualFoldASCII(m.Key, webhook.SignatureHeader):
			slot = &r.signature
		case jsonscan.EqualFoldASCII(m.Key, webhook.AuthorizationHeader):
			slot = &r.authorization
		default:
			continue
		}
		v, ok := jsonscan.Unquote(m.Value)
		if !ok {
			return stopper.Invalid("headers", "%s must be a string", m.Key)
		}
		if *slot != "" {
			*slot += "," + string(v)
		} else {
			*slot = string(v)
		}
	}
	return nil
}

// decodeBase64 replaces a base64 body by its bytes. Text longer than the
// encoding of MaxBodyBytes is refused unread, before it is decoded (or
// found not to be base64): it cannot hold a body within the limit. Text
// within it decodes to at most MaxBodyBytes+2 bytes, which the size check
// after it refuses.
func (r *webhookRequest) decodeBase64() *stopper.Error {
	if !r.base64 {
		return nil
	}
	r.base64 = false
	enc := base64.StdEncoding
	if len(r.body) > enc.EncodedLen(MaxBodyBytes) {
		r.tooLarge = true
		return nil
	}
	out := make([]byte, enc.DecodedLen(len(r.body)))
	n, err := enc.Decode(out, r.body)
	if err != nil {
		return stopper.Invalid("body", "is marked isBase64Encoded but is not valid base64")
	}
	r.body = out[:n]
	return nil
}

// The keys a schedule's event may carry. Anything else is refused, never
// ignored: {"triggerTime": ..., "triggerName": ..., "DryRun": true} once ran
// a real sweep, and a request's keys beside an event's must not become a
// request that skipped the payload's rules either.
var (
	// FC's timer event (reference/function-compute.md, "Event shapes").
	timerKeys = []string{"triggerTime", "triggerName", "payload"}
	// An EventBridge rule's Scheduled Event: aws-lambda-go v1.55.1's
	// events.CloudWatchEvent (events/cloudwatch_events.go) and its test
	// sample (TestCloudwatchScheduledEventIdempotency).
	scheduledEventKeys = []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
)

const (
	timerHint = `put the request in the timer trigger's payload (a string), such as {"Action": "Sweep", "DryRun": true}, or leave the payload empty to sweep with the configured defaults`
	ruleHint  = `to sweep with other settings, give the rule's target a constant input holding the request, such as {"Action": "Sweep", "DryRun": true}`
)

// timerRequest is the request an FC timer's payload asks for: empty, a
// sweep with the configured defaults; otherwise the JSON request it holds
// (a scheduled stop, or a sweep with its own settings).
func (p *probe) timerRequest(event []byte) (stopper.Request, *stopper.Error) {
	if _, err := onlyEventKeys(event, timerKeys, "", "an FC timer event", timerHint); err != nil {
		return stopper.Request{}, err
	}
	if _, ok := jsonscan.Unquote(p.triggerTime); !ok {
		return stopper.Request{}, stopper.Invalid("triggerTime", "must be a string in an FC timer event")
	}
	if _, ok := jsonscan.Unquote(p.triggerName); !ok {
		return stopper.Request{}, stopper.Invalid("triggerName", "must be a string in an FC timer event")
	}
	if p.payload == nil || jsonscan.IsNull(p.payload) {
		return sweepDefaults(), nil
	}
	s, ok := jsonscan.Unquote(p.payload)
	if !ok {
		return stopper.Request{}, stopper.Invalid("payload", "must be a string: the timer trigger's payload, empty or a JSON request")
	}
	s = bytes.TrimSpace(s)
	if len(s) == 0 {
		return sweepDefaults(), nil
	}
	if s[0] != '{' || !json.Valid(s) {
		return stopper.Request{}, stopper.Invalid("payload",
			`is not a JSON request: set the timer's payload to a request such as {"Action": "StopInvocation", "InvokeId": "t-..."} or {"Action": "Sweep"}, or leave it empty to sweep with the configured defaults`)
	}
	return decodeRequest(s)
}

// scheduledEventRequest is the request of an EventBridge rule's Scheduled
// Event: a sweep with the configured defaults, as the event has no room for
// settings (its detail is always {}).
func scheduledEventRequest(event []byte) (stopper.Request, *stopper.Error) {
	detail, err := onlyEventKeys(event, scheduledEventKeys, "detail", "an EventBridge Scheduled Event", ruleHint)
	if err != nil {
		return stopper.Request{}, err
	}
	if detail != nil {
		m, ok := jsonscan.Object(detail, 1)
		if !ok || m.Next() || m.Invalid() {
			return stopper.Request{}, stopper.Invalid("detail", "must be {} in an EventBridge Scheduled Event: %s", ruleHint)
		}
	}
	return sweepDefaults(), nil
}

// onlyEventKeys refuses the first key of event outside allowed, or
// repeated, naming it and what the event may carry, as the request decoder
// does; it returns the raw value of the key named want (nil if absent).
func onlyEventKeys(event []byte, allowed []string, want, what, hint string) ([]byte, *stopper.Error) {
	// Detection found the event a well-formed object.
	m, _ := jsonscan.Object(event, 0)
	var seen uint64 // bit i: allowed[i] was seen
	var value []byte
	for m.Next() {
		i := slices.Index(allowed, string(m.Key))
		switch {
		case i < 0:
			return nil, stopper.Invalid(truncate(string(m.Key)), "is not a field of %s, which carries only %s (names are case-sensitive): %s",
				what, strings.Join(allowed, ", "), hint)
		case seen&(1<<i) != 0:
			return nil, stopper.Invalid(allowed[i], "appears more than once in %s", what)
		}
		seen |= 1 << i
		if allowed[i] == want {
			value = m.Value
		}
	}
	return value, nil
}

// sweepDefaults is the request of a schedule that says nothing more.
func sweepDefaults() stopper.Request {
	return stopper.Request{Sweep: &stopper.SweepRequest{}}
}

func decodeRequest(body []byte) (stopper.Request, *stopper.Error) {
	req, err := stopper.DecodeRequest(body)
	if err != nil {
		return stopper.Request{}, stopper.AsError(err)
	}
	return req, nil
}
