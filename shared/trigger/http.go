package trigger

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// PlainHTTP is a webhook arriving as an HTTP request (ServeHTTP: FC custom
// runtime, local serve). Invoke never returns it.
const PlainHTTP Kind = "http"

// MaxBodyBytes bounds a webhook's body: a request is well under 1 KiB, so
// anything near this is not one.
const MaxBodyBytes = 1 << 20

// eventWebhook handles an HTTP request that arrived as an event. The
// platform has read the body already; still, everything that the headers
// decide is checked before any work on the body (base64 decoding, the MAC
// over it), as on the plain HTTP path.
func (h *Handler) eventWebhook(ctx context.Context, requestID string, src *source, p *probe) outcome {
	kind := src.kind
	r, err := p.webhookRequest(src)
	if err != nil {
		return h.refuse(ctx, requestID, kind, err)
	}
	pending, err := h.admit(&r)
	if err == nil {
		err = r.verifyBody(pending)
	}
	if err != nil {
		return h.refuse(ctx, requestID, kind, err)
	}
	return h.webhookBody(ctx, requestID, kind, r.body)
}

// admit runs the checks every webhook passes that its headers decide, in the
// documented order: method, declared size, media type, credentials (the
// bearer token, the signature headers and the timestamp). A request
// refused here is refused before its body is read or decoded. What remains
// is the body's: its real size and the signature over it (verifyBody).
func (h *Handler) admit(r *webhookRequest) (webhook.Pending, error) {
	if r.method != http.MethodPost {
		return webhook.Pending{}, &stopper.Error{Code: stopper.CodeMethodNotAllowed,
			Message: "method " + truncate(r.method) + " is not allowed: send the request with POST"}
	}
	if r.tooLarge || r.longerThanLimit() {
		return webhook.Pending{}, payloadTooLarge()
	}
	if !isJSONMediaType(r.contentType) {
		return webhook.Pending{}, &stopper.Error{Code: stopper.CodeUnsupportedMediaType,
			Message: "Content-Type " + quoteOrMissing(r.contentType) + " is not JSON: send the request as application/json"}
	}
	pending, err := h.Webhook.CheckHeaders(r.authorization, r.timestamp, r.signature)
	if err != nil {
		return webhook.Pending{}, invalidSignature(err)
	}
	return pending, nil
}

// verifyBody runs the checks of an admitted webhook that need its body:
// base64 decoding, the size of what was sent, the signature over it.
// Nothing reaches the core, nor the Cloud Assistant API, unless the
// credentials hold.
func (r *webhookRequest) verifyBody(pending webhook.Pending) error {
	if err := r.decodeBase64(); err != nil {
		return err
	}
	if r.tooLarge || len(r.body) > MaxBodyBytes {
		return payloadTooLarge()
	}
	if err := pending.Verify(r.body); err != nil {
		return invalidSignature(err)
	}
	return nil
}

// longerThanLimit says, from the body's length alone, whether it is beyond
// MaxBodyBytes: base64 text longer than any encoding of 1 MiB is, whatever
// it decodes to.
func (r *webhookRequest) longerThanLimit() bool {
	if r.base64 {
		return len(r.body) > base64.StdEncoding.EncodedLen(MaxBodyBytes)
	}
	return len(r.body) > MaxBodyBytes
}

func payloadTooLarge() error {
	return &stopper.Error{Code: stopper.CodePayloadTooLarge,
		Message: "the body is larger than 1 MiB; a request is a small JSON object"}
}

func invalidSignature(err error) error {
	return &stopper.Error{Code: stopper.CodeInvalidSignature, Message: err.Error()}
}

// webhookBody handles an authenticated webhook's body: a request, or what a
// sender that cannot speak it posts — an Alertmanager payload, an
// EventBridge event or a batch of them (an HTTP target).
func (h *Handler) webhookBody(ctx context.Context, requestID string, kind Kind, body []byte) outcome {
	if _, ok := jsonscan.Array(body, 0); ok {
		return h.handleCloudEvents(ctx, requestID, kind, body)
	}
	// A body whose keys cannot be read falls through to the request
	// decoder, which says what is wrong with it.
	if fields, err := eventFields(body, "the body"); err == nil {
		switch {
		case fields["specversion"] != nil:
			return h.handleCloudEvent(ctx, requestID, kind, body)
		case isAlertmanager(fields):
			items, err := alertmanagerItems(fields)
			if err != nil {
				return h.refuse(ctx, requestID, kind, err)
			}
			h.logTruncatedAlerts(ctx, requestID, fields)
			return h.batch(ctx, requestID, "alertmanager", items)
		}
	}
	req, err := stopper.DecodeRequest(body)
	if err != nil {
		return h.refuse(ctx, requestID, kind, err)
	}
	return h.handle(ctx, requestID, kind, req)
}

// How the plain HTTP path reads the bodies of signed requests, which are
// unauthenticated until the MAC over the body is checked. At most
// webhook.UnverifiedBodies of them are read at once (the Verifier's
// slots). A request that finds them all taken waits up to
// bodySlotWait for one, then is answered 503 ServiceUnavailable with
// Retry-After: a burst of real requests, each read and checked in well
// under a millisecond, is absorbed by the wait, while a flood of forged
// ones costs at most the slots' buffers and is told when to come back.
// A slot's holder must deliver its whole body within unverifiedBodyTime,
// so that slow senders cannot hold the slots for the server's whole
// ReadTimeout; a real request's body arrives in one round trip.
const (
	bodySlotWait       = time.Second
	unverifiedBodyTime = 10 * time.Second
	retryAfterSeconds  = "1"
)

// ServeHTTP handles a webhook arriving as a plain HTTP request (FC custom
// runtime, local serve). Everything its headers decide, credentials
// included, is checked before its body is read (admit): a request refused
// there is answered with its body unread and the connection closed, so
// that the server does not drain it either. It never reads more than
// MaxBodyBytes+1 bytes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := RequestID(r.Header.Get("x-fc-request-id"))
	req := webhookRequest{
		method:        r.Method,
		contentType:   headerValue(r.Header, "Content-Type"),
		timestamp:     headerValue(r.Header, webhook.TimestampHeader),
		signature:     headerValue(r.Header, webhook.SignatureHeader),
		authorization: headerValue(r.Header, webhook.AuthorizationHeader),
		// A declared length over the limit is refused unread.
		tooLarge: r.ContentLength > MaxBodyBytes,
	}
	ctx := r.Context()
	read, err := h.readWebhook(w, r, &req)
	var out outcome
	if err != nil {
		out = h.refuse(ctx, requestID, PlainHTTP, err)
	} else {
		out = h.webhookBody(ctx, requestID, PlainHTTP, req.body)
	}
	h.finish(ctx, requestID, out)
	header := w.Header()
	header.Set("Content-Type", "application/json")
	if !read && r.ContentLength != 0 {
		// Go's server would otherwise read up to 256 KiB of the unread
		// body before answering, to keep the connection: waiting, for a
		// client that sent its headers and holds back its body.
		header.Set("Connection", "close")
	}
	if out.err != nil {
		switch out.err.Code {
		case stopper.CodeMethodNotAllowed:
			header.Set("Allow", http.MethodPost)
		case stopper.CodeServiceUnavailable:
			header.Set("Retry-After", retryAfterSeconds)
		}
	}
	w.WriteHeader(out.status())
	w.Write(renderAnswer(requestID, out))
}

// readWebhook admits req from its headers, then reads its body and
// verifies it; read reports whether the body was read. The body of a
// signed request is read under one of the Verifier's slots, held until its
// signature is checked.
func (h *Handler) readWebhook(w http.ResponseWriter, r *http.Request, req *webhookRequest) (read bool, err error) {
	pending, err := h.admit(req)
	if err != nil {
		return false, err
	}
	if pending.NeedsBody() {
		release, ok := h.Webhook.ReserveBody(r.Context(), bodySlotWait)
		if !ok {
			return false, &stopper.Error{Code: stopper.CodeServiceUnavailable, Transient: true,
				Message: "too many signed webhooks are being checked at once; retry after " + retryAfterSeconds +
					" s (the signature stays valid until it is accepted, within its 300 s window)"}
		}
		defer release()
		// Errors mean the writer cannot set deadlines (a test's recorder):
		// the server's ReadTimeout still bounds the read.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(unverifiedBodyTime))
		// Lifted once the body is in: a deadline left set would fire in the
		// server's background read while the request runs, and cancel it.
		defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	}
	req.body, req.tooLarge, err = readBody(w, r)
	if err != nil {
		return true, err
	}
	return true, req.verifyBody(pending)
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
// Content-Length over the limit is not read at all; below it, the buffer
// grows with the bytes that arrive, never ahead of them: the length is the
// client's claim, and sizing memory by it let unauthenticated clients that
// claimed 1 MiB and sent a byte hold 1 MiB each.
func readBody(w http.ResponseWriter, r *http.Request) (body []byte, tooLarge bool, err error) {
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
	const prefix = "application/"
	if len(mediaType) <= len(prefix) || !strings.EqualFold(mediaType[:len(prefix)], prefix) {
		return false
	}
	subtype := mediaType[len(prefix):]
	if strings.EqualFold(subtype, "json") {
		return true
	}
	name, found := cutSuffixFold(subtype, "+json")
	return found && name != "" && isSubtypeName(name)
}

// cutSuffixFold is strings.CutSuffix with the suffix matched as
// strings.EqualFold matches.
func cutSuffixFold(s, suffix string) (before string, found bool) {
	if len(s) < len(suffix) || !strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s, false
	}
	return s[:len(s)-len(suffix)], true
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
