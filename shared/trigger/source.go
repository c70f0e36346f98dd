package trigger

import (
	"cmp"
	"context"
	"slices"
)

// A source is one trigger a payload can come from, declared in a file of its
// own: how its events are recognised, what they ask of the core, and how
// the answer goes back.
type source struct {
	kind Kind
	// rank is the source's place in the detection order, lowest first, and
	// unique. Only sources whose detections both hold on one payload need a
	// particular order, and then the one whose detection narrows the other's
	// (holds all its conditions, and more) ranks first, or it would never be
	// reached: functionURL before apiGatewayV2, sqs and sns before
	// otherRecords. No event a platform sends matches two sources otherwise:
	// for those the order decides only for payloads made to.
	// TestSourceOrder holds the ranks to this, over every sample, and logs
	// the order. Ranks are spaced by 10, leaving room for new sources.
	rank int
	// detect marks the source's events among all payloads.
	detect detection
	// Exactly one of webhook and handle is set.
	//
	// webhook is set for an HTTP request delivered as an event: it is
	// authenticated (signed, or a bearer token), its body handled as any
	// webhook's, and its answer wrapped in the trigger's HTTP response.
	webhook *httpEvent
	// handle decodes an event of any other source and hands what it asks
	// for to the core.
	handle func(h *Handler, ctx context.Context, requestID string, kind Kind, payload []byte) outcome
	// answer is the bytes the platform gets back; nil means the answer JSON
	// (renderAnswer).
	answer func(requestID string, out outcome) []byte
	// answersItems is set when the answer names the items to deliver again
	// (SQS's partial batch response): a batch's transient failures are then
	// no function error.
	answersItems bool
}

// httpEvent is how a webhook source's events carry the HTTP request, and
// how its response is shaped. Both are the source's own: no source borrows
// another's response.
type httpEvent struct {
	// method is where the request's method is.
	method path
	// appendResponse appends the response's fields that follow statusCode
	// and headers, body among them (appendJSONString), in the order of the
	// platform's own response type, which json.Marshal keeps.
	appendResponse func(dst, body []byte) []byte
}

// sources are the registered sources in rank order: the first whose
// detection holds takes the payload; a payload that none takes is Direct.
var sources []*source

// register adds a source to sources at its rank. Each source's file calls it
// from init, so that adding a source touches no other file.
func register(s *source) {
	i, _ := slices.BinarySearchFunc(sources, s.rank, func(e *source, rank int) int { return cmp.Compare(e.rank, rank) })
	sources = slices.Insert(sources, i, s)
}

// IsWebhook reports whether the kind is an HTTP request from a webhook
// caller, which must be authenticated (signed, or a bearer token).
func (k Kind) IsWebhook() bool {
	if k == PlainHTTP {
		return true
	}
	for _, s := range sources {
		if s.kind == k {
			return s.webhook != nil
		}
	}
	return false
}
