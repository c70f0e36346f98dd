package trigger

import (
	"context"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// SNS is an AWS SNS event on Lambda (aws-lambda-go's events.SNSEvent,
// testdata/sns-event.json): {"Records": [{"EventSource": "aws:sns", "Sns":
// {"MessageId", "Message", ...}}]}. Each record's Message is a request.
// SNS invokes Lambda asynchronously: a transient failure is a function
// error, so that Lambda's retries (and the function's on-failure
// destination or dead-letter queue) take over; a malformed message is a
// permanent failure, answered and logged.
const SNS Kind = "sns"

var sns = source{
	kind:   SNS,
	rank:   50,
	detect: detection{equal: []valueAt{{at(fieldRecords, firstElement, "EventSource"), "aws:sns"}}},
	handle: func(h *Handler, ctx context.Context, requestID string, kind Kind, payload []byte) outcome {
		items, err := snsItems(payload)
		return h.items(ctx, requestID, kind, items, err)
	},
}

func init() { register(&sns) }

func snsItems(event []byte) ([]stopper.Item, error) {
	return recordItems(event, "an SNS event", func(record map[string][]byte) (string, []byte, bool) {
		notification, err := eventFields(record["Sns"], "an SNS record's Sns")
		if err != nil {
			return "", nil, false
		}
		id, okID := jsonscan.Unquote(notification["MessageId"])
		msg, okMsg := jsonscan.Unquote(notification["Message"])
		return string(id), msg, okID && okMsg
	})
}
