package trigger

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// FCTimer is a Function Compute timer trigger event:
// {"triggerTime", "triggerName", "payload"}, see
// docs/reference/function-compute.md#event-shapes. Its payload, a
// string, is empty for a sweep with the configured defaults, or holds the
// JSON request (a scheduled stop, or a sweep with its own settings).
const FCTimer Kind = "fc-timer"

var (
	fieldTriggerTime = probeField("triggerTime")
	fieldTriggerName = probeField("triggerName")
	// Read for no condition, but so that an event that repeats it is Direct,
	// as any payload that repeats a probed key.
	_ = probeField("payload")
)

var fcTimer = source{
	kind: FCTimer,
	rank: 20,
	// FC omits "payload" when the trigger has none configured.
	detect: detection{has: []field{fieldTriggerTime, fieldTriggerName}},
	handle: func(h *Handler, ctx context.Context, requestID string, kind Kind, payload []byte) outcome {
		req, err := timerRequest(payload)
		return h.request(ctx, requestID, kind, req, err)
	},
}

func init() { register(&fcTimer) }

// The keys a timer's event may carry: anything else is refused, never
// ignored (see onlyEventKeys).
var timerKeys = []string{"triggerTime", "triggerName", "payload"}

const timerHint = `put the request in the timer trigger's payload (a string), such as {"Action": "Sweep", "DryRun": true}, or leave the payload empty to sweep with the configured defaults`

// timerRequest is the request an FC timer's payload asks for.
func timerRequest(event []byte) (stopper.Request, error) {
	var values [3][]byte // timerKeys'
	if err := onlyEventKeys(event, timerKeys, values[:], "an FC timer event", timerHint); err != nil {
		return stopper.Request{}, err
	}
	triggerTime, triggerName, payload := values[0], values[1], values[2]
	if _, ok := jsonscan.Unquote(triggerTime); !ok {
		return stopper.Request{}, stopper.Invalid("triggerTime", "must be a string in an FC timer event")
	}
	if _, ok := jsonscan.Unquote(triggerName); !ok {
		return stopper.Request{}, stopper.Invalid("triggerName", "must be a string in an FC timer event")
	}
	if payload == nil || jsonscan.IsNull(payload) {
		return sweepDefaults(), nil
	}
	s, ok := jsonscan.Unquote(payload)
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
	return stopper.DecodeRequest(s)
}
