package trigger

import (
	"context"
	"slices"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// EventBridgeSchedule is an EventBridge rule's Scheduled Event envelope: a
// sweep with the configured defaults, as the event has no room for settings
// (its detail is always {}).
const EventBridgeSchedule Kind = "eventbridge-schedule"

var (
	fieldSource     = probeField("source")
	fieldDetailType = probeField("detail-type")
)

var scheduledEvent = source{
	kind: EventBridgeSchedule,
	rank: 70,
	detect: detection{equal: []valueAt{
		{at(fieldSource), "aws.events"},
		{at(fieldDetailType), "Scheduled Event"},
	}},
	handle: func(h *Handler, ctx context.Context, requestID string, kind Kind, payload []byte) outcome {
		req, err := scheduledEventRequest(payload)
		return h.request(ctx, requestID, kind, req, err)
	},
}

func init() { register(&scheduledEvent) }

// The keys a Scheduled Event may carry, refused beyond (see onlyEventKeys):
// aws-lambda-go's events.CloudWatchEvent
// (https://github.com/aws/aws-lambda-go/blob/v1.55.1/events/cloudwatch_events.go)
// and its test sample (TestCloudwatchScheduledEventIdempotency).
var scheduledEventKeys = []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}

const ruleHint = `to sweep with other settings, give the rule's target a constant input holding the request, such as {"Action": "Sweep", "DryRun": true}`

func scheduledEventRequest(event []byte) (stopper.Request, error) {
	var values [9][]byte // scheduledEventKeys'
	if err := onlyEventKeys(event, scheduledEventKeys, values[:], "an EventBridge Scheduled Event", ruleHint); err != nil {
		return stopper.Request{}, err
	}
	if detail := values[slices.Index(scheduledEventKeys, "detail")]; detail != nil {
		m, ok := jsonscan.Object(detail, 1)
		if !ok || m.Next() || m.Invalid() {
			return stopper.Request{}, stopper.Invalid("detail", "must be {} in an EventBridge Scheduled Event: %s", ruleHint)
		}
	}
	return sweepDefaults(), nil
}
