package trigger

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// AWS SQS events on Lambda (aws-lambda-go events.SQSEvent, testdata
// sqs-event.json): {"Records": [{"messageId", "body", "eventSource":
// "aws:sqs", ...}]}. Each record's body is a request. The answer is the
// partial batch response (events.SQSEventResponse): every record not
// handled is listed in batchItemFailures, malformed ones included, so the
// queue's redrive policy moves what keeps failing to its dead-letter queue
// and nothing is lost; a record whose invocation no longer exists
// (InvalidInvokeId.NotFound) counts as done. A sweep is handled only when
// it finished: one that answered Truncated, could not list a region or
// failed to stop an invocation transiently goes back too, so that its
// next delivery carries on. A duplicate of a record shares its fate. The
// function needs ReportBatchItemFailures on its event source mapping
// (template.yaml).

// sqsItems decodes the records; a record without a messageId could not be
// named in batchItemFailures, so it fails the whole delivery instead.
func sqsItems(event []byte) ([]stopper.Item, *stopper.Error) {
	return recordItems(event, "an SQS event", func(record map[string][]byte) (string, []byte, bool) {
		id, okID := jsonscan.Unquote(record["messageId"])
		body, okBody := jsonscan.Unquote(record["body"])
		return string(id), body, okID && okBody
	})
}

// recordItems reads the Records of an SQS or SNS event: each record's
// message is a request, decoded on its own.
func recordItems(event []byte, what string, message func(record map[string][]byte) (id string, body []byte, ok bool)) ([]stopper.Item, *stopper.Error) {
	fields, err := eventFields(event, what)
	if err != nil {
		return nil, undeliverable(err.Message)
	}
	var bad *stopper.Error
	items, err := arrayItems(fields["Records"], what+"'s Records", func(i int, raw []byte) stopper.Item {
		record, err := eventFields(raw, what+"'s record")
		if err != nil {
			bad = err
			return stopper.Item{}
		}
		id, body, ok := message(record)
		if !ok || id == "" {
			bad = stopper.Invalid("Records", "record #%d has no message id or body: %s", i, what)
			return stopper.Item{}
		}
		it := stopper.Item{Id: id}
		it.Request, it.Err = decodeRequest(body)
		return it
	})
	if err != nil {
		return nil, undeliverable(err.Message)
	}
	if bad != nil {
		return nil, undeliverable(bad.Message)
	}
	return items, nil
}

// undeliverable fails a whole queue delivery that cannot be answered item
// by item: as a function error, so that the platform retries it and then
// hands it to the dead-letter queue, rather than as an answer, which would
// count every message as done.
func undeliverable(msg string) *stopper.Error {
	return &stopper.Error{Code: stopper.CodeInvalidParameter, Status: http.StatusBadRequest, Transient: true,
		Message: msg + " (the whole delivery is failed, so that it is retried and then dead-lettered, not lost)"}
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
