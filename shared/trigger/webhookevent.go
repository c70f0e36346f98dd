package trigger

import (
	"encoding/base64"
	"strconv"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// HTTP requests delivered as events (API Gateway, Function URLs, FC's HTTP
// trigger): what their envelopes share. Each webhook source's file says
// where its method is and how its response is shaped (httpEvent).

// The fields of the envelopes that detection and the webhook checks read.
var (
	fieldVersion         = probeField("version")
	fieldRequestContext  = probeField("requestContext")
	fieldHeaders         = probeField("headers")
	fieldBody            = probeField("body")
	fieldIsBase64Encoded = probeField("isBase64Encoded")
)

// methodInRequestContext is where payload format 2.0 and FC put the method.
var methodInRequestContext = at(fieldRequestContext, "http", "method")

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

// webhookRequest pulls the HTTP request out of an event of a webhook
// source. Platform events are well-formed; a field of the wrong type is
// answered as a 400 naming it.
func (p *probe) webhookRequest(src *source) (webhookRequest, error) {
	var r webhookRequest
	kind := src.kind
	if m, ok := jsonscan.Unquote(p.lookup(src.webhook.method)); ok {
		r.method = string(m)
	}
	if err := p.readHeaders(&r); err != nil {
		return r, err
	}
	if body := p.values[fieldBody]; body != nil && !jsonscan.IsNull(body) {
		b, ok := jsonscan.Unquote(body)
		if !ok {
			return r, stopper.Invalid("body", "must be a string in a %s event", kind)
		}
		r.body = b
	}
	if b64 := p.values[fieldIsBase64Encoded]; b64 != nil && !jsonscan.IsNull(b64) {
		switch string(b64) {
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
func (p *probe) readHeaders(r *webhookRequest) error {
	headers := p.values[fieldHeaders]
	if headers == nil || jsonscan.IsNull(headers) {
		return nil
	}
	m, ok := jsonscan.Object(headers, 1)
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
func (r *webhookRequest) decodeBase64() error {
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

// renderHTTPEvent wraps the answer in the response of the webhook source
// the event came from.
//
// The envelopes are written directly rather than by json.Marshal of the
// platforms' types (which costs a reflection walk and a sorted map on every
// webhook); TestRenderMatchesEventTypes holds the bytes to what json.Marshal
// of the types produces.
func renderHTTPEvent(e *httpEvent, requestID string, out outcome) []byte {
	body := renderAnswer(requestID, out)
	allowPost := out.err != nil && out.err.Code == stopper.CodeMethodNotAllowed
	// Room for the escapes and the envelope, so that one allocation holds
	// the response.
	dst := make([]byte, 0, len(body)+len(body)/8+160)
	return appendHTTPResponse(dst, e, out.status(), allowPost, body)
}

// appendHTTPResponse appends the response every envelope starts with,
// {"statusCode", "headers"} (keys in the order json.Marshal sorts a map's
// keys), then the source's own fields.
func appendHTTPResponse(dst []byte, e *httpEvent, status int, allowPost bool, body []byte) []byte {
	dst = append(dst, `{"statusCode":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	if allowPost {
		dst = append(dst, `,"headers":{"Allow":"POST","Content-Type":"application/json"}`...)
	} else {
		dst = append(dst, `,"headers":{"Content-Type":"application/json"}`...)
	}
	dst = e.appendResponse(dst, body)
	return append(dst, '}')
}
