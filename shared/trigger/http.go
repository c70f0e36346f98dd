package trigger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// MaxBodyBytes bounds a webhook's body: a request is well under 1 KiB, so
// anything near this is not one.
const MaxBodyBytes = 1 << 20

// eventWebhook handles an HTTP request that arrived as an event.
func (h *Handler) eventWebhook(ctx context.Context, requestID string, kind Kind, p *probe) outcome {
	r, err := p.webhookRequest(kind)
	if err != nil {
		return h.refuse(ctx, requestID, kind, err)
	}
	return h.webhook(ctx, requestID, kind, &r)
}

// webhook runs the checks every webhook passes, in DESIGN's order: method,
// size, media type, credentials (signature or bearer token); then the
// request's own rules in the core. Nothing reaches the Cloud Assistant API
// unless the credentials hold.
func (h *Handler) webhook(ctx context.Context, requestID string, kind Kind, r *webhookRequest) outcome {
	if r.method != http.MethodPost {
		return h.refuse(ctx, requestID, kind, &stopper.Error{Code: stopper.CodeMethodNotAllowed, Status: http.StatusMethodNotAllowed,
			Message: "method " + truncate(r.method) + " is not allowed: send the request with POST"})
	}
	if err := r.decodeBase64(); err != nil {
		return h.refuse(ctx, requestID, kind, err)
	}
	if r.tooLarge || len(r.body) > MaxBodyBytes {
		return h.refuse(ctx, requestID, kind, &stopper.Error{Code: stopper.CodePayloadTooLarge, Status: http.StatusRequestEntityTooLarge,
			Message: "the body is larger than 1 MiB; a request is a small JSON object"})
	}
	if !isJSONMediaType(r.contentType) {
		return h.refuse(ctx, requestID, kind, &stopper.Error{Code: stopper.CodeUnsupportedMediaType, Status: http.StatusUnsupportedMediaType,
			Message: "Content-Type " + quoteOrMissing(r.contentType) + " is not JSON: send the request as application/json"})
	}
	if err := h.Webhook.Authenticate(r.authorization, r.timestamp, r.signature, r.body); err != nil {
		return h.refuse(ctx, requestID, kind, &stopper.Error{Code: stopper.CodeInvalidSignature, Status: http.StatusUnauthorized,
			Message: err.Error()})
	}
	return h.webhookBody(ctx, requestID, kind, r.body)
}

// webhookBody handles an authenticated webhook's body: a request, or what a
// sender that cannot speak it posts — an Alertmanager payload, an
// EventBridge event or a batch of them (an HTTP target).
func (h *Handler) webhookBody(ctx context.Context, requestID string, kind Kind, body []byte) outcome {
	if _, ok := jsonscan.Array(body, 0); ok {
		return h.cloudEventBatch(ctx, requestID, kind, body)
	}
	// A body whose keys cannot be read falls through to the request
	// decoder, which says what is wrong with it.
	if fields, err := eventFields(body, "the body"); err == nil {
		switch {
		case fields["specversion"] != nil:
			return h.cloudEvent(ctx, requestID, kind, body)
		case isAlertmanager(fields):
			items, err := alertmanagerItems(fields)
			if err != nil {
				return h.refuse(ctx, requestID, kind, err)
			}
			h.logTruncatedAlerts(ctx, requestID, fields)
			return h.batch(ctx, requestID, "alertmanager", items)
		}
	}
	req, err := decodeRequest(body)
	if err != nil {
		return h.refuse(ctx, requestID, kind, err)
	}
	return h.handle(ctx, requestID, kind, req)
}

// ServeHTTP handles a webhook arriving as a plain HTTP request (FC custom
// runtime, local serve). It never reads more than MaxBodyBytes+1 bytes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := RequestID(r.Header.Get("x-fc-request-id"))
	req := webhookRequest{
		method:        r.Method,
		contentType:   headerValue(r.Header, "Content-Type"),
		timestamp:     headerValue(r.Header, webhook.TimestampHeader),
		signature:     headerValue(r.Header, webhook.SignatureHeader),
		authorization: headerValue(r.Header, webhook.AuthorizationHeader),
	}
	var out outcome
	if r.Method == http.MethodPost { // other methods are refused unread
		var err *stopper.Error
		req.body, req.tooLarge, err = readBody(w, r)
		if err != nil {
			out = h.refuse(r.Context(), requestID, PlainHTTP, err)
		}
	}
	if out.err == nil {
		out = h.webhook(r.Context(), requestID, PlainHTTP, &req)
	}
	h.finish(r.Context(), requestID, out)
	header := w.Header()
	header.Set("Content-Type", "application/json")
	if out.err != nil && out.err.Code == stopper.CodeMethodNotAllowed {
		header.Set("Allow", http.MethodPost)
	}
	w.WriteHeader(out.status())
	w.Write(renderAnswer(requestID, out))
}

// headerValue is a header's values joined with a comma, as FC and API
// Gateway v2 join a repeated header in their events: a header sent twice
// is then malformed and refused, rather than its first value picked.
func headerValue(h http.Header, name string) string {
	switch vs := h.Values(name); len(vs) {
	case 0:
		return ""
	case 1:
		return vs[0]
	default:
		return strings.Join(vs, ",")
	}
}

// readBody reads at most MaxBodyBytes+1 bytes; tooLarge reports a body
// beyond the limit, which is then not read further. A declared
// Content-Length over the limit is refused unread; below it, the buffer
// grows with the bytes that arrive, never ahead of them: the length is the
// client's claim, and sizing memory by it let unauthenticated clients that
// claimed 1 MiB and sent a byte hold 1 MiB each.
func readBody(w http.ResponseWriter, r *http.Request) (body []byte, tooLarge bool, err *stopper.Error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, true, nil
	}
	body, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(rerr, &tooBig):
		return nil, true, nil
	case rerr != nil:
		return nil, false, stopper.Invalid("body", "could not be read: %v", rerr)
	}
	return body, false, nil
}

// RequestID is the platform's request id when it is a sane one, else a new
// random id: every answer and log line needs one, and a caller-chosen header
// must not put odd bytes into them.
func RequestID(platformID string) string {
	if validRequestID(platformID) {
		return platformID
	}
	return newRequestID()
}

// validRequestID accepts FC's request ids (and anything similar) and
// keeps a caller-chosen header from putting odd bytes into answers and logs.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// newRequestID returns a random UUID (version 4) for requests no platform named.
func newRequestID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}

// isJSONMediaType accepts application/json and application/<name>+json,
// with or without parameters, in any case; a missing Content-Type is not JSON.
func isJSONMediaType(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.Trim(mediaType, " \t")
	const prefix, suffix = "application/", "+json"
	if !strings.EqualFold(mediaType[:min(len(mediaType), len(prefix))], prefix) {
		return false
	}
	subtype := mediaType[len(prefix):]
	if strings.EqualFold(subtype, "json") {
		return true
	}
	// name is what precedes the last five bytes, which must be +json.
	name := subtype[:max(0, len(subtype)-len(suffix))]
	return strings.EqualFold(subtype[len(name):], suffix) && name != "" && isSubtypeName(name)
}

// isSubtypeName reports whether s uses only RFC 6838 restricted-name characters.
func isSubtypeName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&-^_.+", c) >= 0) {
			return false
		}
	}
	return true
}

func quoteOrMissing(s string) string {
	if s == "" {
		return "(missing)"
	}
	return `"` + truncate(s) + `"`
}

// truncate keeps hostile header values from bloating answers and logs.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
