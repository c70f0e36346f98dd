package trigger

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// SQS is an AWS SQS event on Lambda (aws-lambda-go's events.SQSEvent,
// testdata/sqs-event.json): {"Records": [{"messageId", "body",
// "eventSource": "aws:sqs", ...}]}. Each record's body is a request. The
// answer is the partial batch response (events.SQSEventResponse): every record not
// handled is listed in batchItemFailures, malformed ones included, so the
// queue's redrive policy moves what keeps failing to its dead-letter queue
// and nothing is lost; a record whose invocation no longer exists
// (InvalidInvokeId.NotFound) counts as done. A sweep is handled only when
// it finished: one that answered Truncated, could not list a region or
// failed to stop an invocation transiently goes back too, so that its
// next delivery carries on. A duplicate of a record shares its fate. The
// function needs ReportBatchItemFailures on its event source mapping
// (template.yaml).
const SQS Kind = "sqs"

var sqs = source{
	kind: SQS,
	rank: 40,
	// SQS writes eventSource, SNS EventSource: encoding/json alone would
	// decode either as the other.
	detect: detection{equal: []valueAt{{at(fieldRecords, firstElement, "eventSource"), "aws:sqs"}}},
	handle: func(h *Handler, ctx context.Context, requestID string, kind Kind, payload []byte) outcome {
		items, err := sqsItems(payload)
		out := h.items(ctx, requestID, kind, items, err)
		if b, ok := out.answer.(stopper.BatchAnswer); ok {
			logUnhandled(ctx, h.logger(), requestID, b)
		}
		return out
	},
	answer:       sqsAnswerJSON,
	answersItems: true,
}

func init() { register(&sqs) }

// sqsItems decodes the records; a record without a messageId could not be
// named in batchItemFailures, so it fails the whole delivery instead.
func sqsItems(event []byte) ([]stopper.Item, error) {
	return recordItems(event, "an SQS event", func(record map[string][]byte) (string, []byte, bool) {
		id, okID := jsonscan.Unquote(record["messageId"])
		body, okBody := jsonscan.Unquote(record["body"])
		return string(id), body, okID && okBody
	})
}

// sqsAnswerJSON is the partial batch response of a batch the core handled,
// and the answer JSON of a delivery it never saw.
func sqsAnswerJSON(requestID string, out outcome) []byte {
	if b, ok := out.answer.(stopper.BatchAnswer); ok && out.err == nil {
		if body, err := json.Marshal(sqsAnswer(b)); err == nil {
			return body
		}
	}
	return renderAnswer(requestID, out)
}

// sqsResponse is events.SQSEventResponse: the records not handled.
type sqsResponse struct {
	BatchItemFailures []sqsItemFailure `json:"batchItemFailures"`
}

type sqsItemFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

// sqsAnswer lists every item that was not handled.
func sqsAnswer(b stopper.BatchAnswer) sqsResponse {
	r := sqsResponse{BatchItemFailures: []sqsItemFailure{}}
	for _, it := range b.Results {
		if sqsUnhandled(it) != "" {
			r.BatchItemFailures = append(r.BatchItemFailures, sqsItemFailure{ItemIdentifier: it.Id})
		}
	}
	return r
}

// sqsUnhandled says why a record goes back to the queue, "" when it does
// not: it failed, unless its invocation no longer exists (stopping it is
// done, whatever happened to it), or it is a sweep that did not finish.
func sqsUnhandled(it stopper.ItemResult) string {
	if it.Outcome == stopper.OutcomeFailed {
		if it.Code == stopper.CodeInvalidInvokeNotFound {
			return ""
		}
		return cmp.Or(it.Message, it.Code, "failed")
	}
	if a, ok := it.Answer.(stopper.SweepAnswer); ok {
		return a.Unfinished()
	}
	return ""
}

// logUnhandled writes one warning per record that sqsAnswer hands back to
// the queue, naming the message and why: a record that keeps failing ends in
// the dead-letter queue, and its messageId is how an operator finds it there.
func logUnhandled(ctx context.Context, log *slog.Logger, requestID string, b stopper.BatchAnswer) {
	for _, it := range b.Results {
		if why := sqsUnhandled(it); why != "" {
			log.LogAttrs(ctx, slog.LevelWarn, "sqs record not handled: returned in batchItemFailures",
				slog.String("request_id", requestID), slog.String("message_id", it.Id),
				slog.String("code", it.Code), slog.String("error", why))
		}
	}
}
