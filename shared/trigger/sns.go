package trigger

import (
	"github.com/ecs-stopper/stopper/shared/jsonscan"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// AWS SNS events on Lambda (aws-lambda-go events.SNSEvent, testdata
// sns-event.json): {"Records": [{"EventSource": "aws:sns", "Sns":
// {"MessageId", "Message", ...}}]}. Each record's Message is a request.
// SNS invokes Lambda asynchronously: a transient failure is a function
// error, so that Lambda's retries (and the function's on-failure
// destination or dead-letter queue) take over; a malformed message is a
// permanent failure, answered and logged.

func snsItems(event []byte) ([]stopper.Item, *stopper.Error) {
	return recordItems(event, "an SNS event", func(record map[string][]byte) (string, []byte, bool) {
		sns, err := eventFields(record["Sns"], "an SNS record's Sns")
		if err != nil {
			return "", nil, false
		}
		id, okID := jsonscan.Unquote(sns["MessageId"])
		msg, okMsg := jsonscan.Unquote(sns["Message"])
		return string(id), msg, okID && okMsg
	})
}
