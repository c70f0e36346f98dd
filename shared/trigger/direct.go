package trigger

import (
	"bytes"
	"context"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Direct is a StopInvocation or Sweep request object: `aws lambda invoke`,
// `s invoke`, EventBridge Scheduler, a rule with Input, a local sample.
// Every payload that no other source takes is Direct, so the strict request
// decoder names whatever field is unexpected.
const Direct Kind = "direct"

// direct is not registered: it takes what the sources leave.
var direct = source{
	kind:   Direct,
	handle: handleDirect,
}

func handleDirect(h *Handler, ctx context.Context, requestID string, kind Kind, payload []byte) outcome {
	// FC's custom runtime delivers a timer's JSON to /invoke, never an
	// empty body: an empty payload is a direct invocation without a request.
	if len(bytes.TrimSpace(payload)) == 0 {
		return h.refuse(ctx, requestID, kind, stopper.Invalid("body",
			`is empty: invoke the function with a request such as {"RegionId": "cn-hangzhou", "InvokeId": "t-..."} or {"Action": "Sweep"}`))
	}
	req, err := stopper.DecodeRequest(payload)
	return h.request(ctx, requestID, kind, req, err)
}
