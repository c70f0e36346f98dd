package trigger

import (
	"context"
	"strconv"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Alibaba EventBridge events (CloudEvents 1.0). Cloud Assistant publishes
// ecs:CloudAssistant:TaskCompleted (source acs.ecs) each time an instance's
// run of an invocation ends; the function's fail-fast reads them. The
// envelope and data, from the example on "Use EventBridge and Cloud Monitor
// to subscribe to Cloud Assistant events"
// (https://www.alibabacloud.com/help/zh/ecs/user-guide/subscribe-to-cloud-assistant-events):
//
//	{"id": "...", "source": "acs.ecs", "specversion": "1.0", "subject": "acs.ecs:cn-hangzhou:<account>:215672",
//	 "time": "...", "type": "ecs:CloudAssistant:TaskCompleted", "aliyunaccountid": "...",
//	 "aliyunpublishtime": "...", "aliyuneventbusname": "default", "aliyunregionid": "cn-hangzhou",
//	 "aliyunpublishaddr": "...", "data": {"commandId": "c-...", "commandName": "...", "exitCode": "0",
//	 "finishTime": "...", "instanceId": "i-...", "invocationStatus": "Success", "invokeId": "t-...",
//	 "ownerId": "...", "playerUid": "...", "repeatMode": "Once", "repeats": "1", "startTime": "...",
//	 "errorCode": "0", "errorDesc": ""}}
//
// Every data value is a string. Of the envelope, aliyunaccountid (the
// account the run is in) and aliyunregionid are read; of the data, only
// invokeId, instanceId and invocationStatus: the example is a success, and what errorCode
// and errorDesc hold for a failed run is not documented.
//
// FC's EventBridge trigger for Alibaba Cloud service events runs the
// function once per event (FC 3.0 guide "Configure event triggers for
// Alibaba Cloud services"): acs.ecs events never arrive batched there. A
// JSON array of events, as triggers in event-streaming mode push (RunOptions
// batch windows, for queue and stream sources) or any sender that batches
// events, is still read, event by event. The same bodies arrive over HTTP
// from an EventBridge HTTP target pointed at the webhook URL.

// CloudEvent is one Alibaba EventBridge event (CloudEvents 1.0), as FC's
// EventBridge trigger delivers it: ecs:CloudAssistant:TaskCompleted.
const CloudEvent Kind = "eventbridge"

// CloudEvents is a JSON array of them (EventBridge's batch push).
const CloudEvents Kind = "eventbridge-batch"

var (
	fieldSpecversion = probeField("specversion")
	// Read for no condition, but so that an event that repeats it is Direct,
	// as any payload that repeats a probed key.
	_ = probeField("type")
)

var cloudEvent = source{
	kind:   CloudEvent,
	rank:   30,
	detect: detection{has: []field{fieldSpecversion}},
	handle: (*Handler).handleCloudEvent,
}

func init() { register(&cloudEvent) }

var cloudEventBatch = source{
	kind:   CloudEvents,
	rank:   10, // the only detection of a JSON array
	detect: detection{array: true},
	handle: (*Handler).handleCloudEvents,
}

func init() { register(&cloudEventBatch) }

// The event type fail-fast reads, and its source.
const (
	taskCompletedType   = "ecs:CloudAssistant:TaskCompleted"
	taskCompletedSource = "acs.ecs"
)

// handleCloudEvent hands one EventBridge event, arrived as kind (on its
// own, or as a webhook's body), to the core's fail-fast; it is reported as
// an EventBridge event whichever way it came.
func (h *Handler) handleCloudEvent(ctx context.Context, requestID string, kind Kind, event []byte) outcome {
	req, err := cloudEventRequest(event)
	if err != nil {
		return h.refuse(ctx, requestID, kind, err)
	}
	out := h.handle(ctx, requestID, kind, stopper.Request{FailFast: &req})
	out.trigger = string(CloudEvent)
	return out
}

// handleCloudEvents hands a JSON array of EventBridge events, arrived as
// kind, to the core item by item; it is reported as a batch of them
// whichever way it came.
func (h *Handler) handleCloudEvents(ctx context.Context, requestID string, kind Kind, batch []byte) outcome {
	items, err := cloudEventItems(batch)
	if err != nil {
		return h.refuse(ctx, requestID, kind, err)
	}
	return h.batch(ctx, requestID, string(CloudEvents), items)
}

// cloudEventRequest decodes one TaskCompleted event into a fail-fast
// request. Extension attributes of the envelope (aliyun*, and any the
// platform adds) and data fields other than the three it reads are left
// alone; a repeated attribute is refused, as everywhere else.
func cloudEventRequest(event []byte) (stopper.FailFastRequest, error) {
	var req stopper.FailFastRequest
	fields, err := eventFields(event, "an EventBridge event")
	if err != nil {
		return req, err
	}
	const what = "in an EventBridge event"
	if v := fields["specversion"]; !jsonscan.IsString(v, "1.0") {
		return req, stopper.Invalid("specversion", "must be \"1.0\" %s (CloudEvents 1.0)", what)
	}
	typ, _ := jsonscan.Unquote(fields["type"])
	if string(typ) != taskCompletedType {
		return req, stopper.Invalid("type", "%s is not an event this function reads: route only %s events (source %s) to it",
			strconv.Quote(truncate(string(typ))), taskCompletedType, taskCompletedSource)
	}
	if !jsonscan.IsString(fields["source"], taskCompletedSource) {
		return req, stopper.Invalid("source", "must be %q for %s events", taskCompletedSource, taskCompletedType)
	}
	id, ok := jsonscan.Unquote(fields["id"])
	if !ok || len(id) == 0 || len(id) > 256 {
		return req, stopper.Invalid("id", "must be the event's id, a string %s", what)
	}
	req.EventId = string(id)
	if raw := fields["aliyunaccountid"]; raw != nil {
		// The account the event came from: fail-fast acts there when the
		// function acts in several accounts.
		account, ok := jsonscan.Unquote(raw)
		if !ok || !stopper.ValidAccountID(string(account)) {
			return req, stopper.Invalid("aliyunaccountid", "must be an account id, a string of digits such as \"1234567890123456\", %s", what)
		}
		req.AccountId = string(account)
	}
	if raw := fields["aliyunregionid"]; raw != nil {
		region, ok := jsonscan.Unquote(raw)
		if !ok || !stopper.ValidRegionID(string(region)) {
			return req, stopper.Invalid("aliyunregionid", "must be a region id such as \"cn-hangzhou\" %s", what)
		}
		req.RegionId = string(region)
	}
	data, err := eventFields(fields["data"], "the data of an EventBridge event")
	if err != nil {
		return req, stopper.Invalid("data", "must be an object with invokeId, instanceId and invocationStatus %s", what)
	}
	invokeID, _ := jsonscan.Unquote(data["invokeId"])
	if !stopper.ValidInvokeID(string(invokeID)) {
		return req, stopper.Invalid("data.invokeId", "must be an invocation id such as \"t-1fad2a88...\" %s", what)
	}
	req.InvokeId = string(invokeID)
	if raw := data["instanceId"]; raw != nil {
		instance, _ := jsonscan.Unquote(raw)
		if !stopper.ValidInstanceID(string(instance)) {
			return req, stopper.Invalid("data.instanceId", "must be an instance id such as \"i-bp1...\" %s", what)
		}
		req.InstanceId = string(instance)
	}
	status, ok := jsonscan.Unquote(data["invocationStatus"])
	if !ok || !alphanumericASCII(status) {
		return req, stopper.Invalid("data.invocationStatus", "must be the run's status such as \"Failed\" %s", what)
	}
	req.Status = string(status)
	return req, nil
}

// cloudEventItems decodes a batch push: a JSON array of events (objects),
// each one an item of its own (a bad event fails alone). An array holding
// anything but objects is no batch of events, and is refused whole.
func cloudEventItems(batch []byte) ([]stopper.Item, error) {
	if e, ok := jsonscan.Array(batch, 0); ok {
		for e.Next() {
			if e.Value[0] != '{' {
				return nil, stopper.Invalid("body", "is an array, so it must be a batch of EventBridge events (JSON objects); a request is one JSON object such as {\"InvokeId\": \"t-...\"}")
			}
		}
	}
	return arrayItems(batch, "an EventBridge batch", func(i int, raw []byte) stopper.Item {
		req, err := cloudEventRequest(raw)
		it := stopper.Item{Id: req.EventId, Request: stopper.Request{FailFast: &req}, Err: err}
		if it.Id == "" {
			it.Id = "#" + strconv.Itoa(i)
		}
		return it
	})
}

// alphanumericASCII reports whether s is 1 to 32 ASCII letters and digits
// (statuses such as Failed, Timeout).
func alphanumericASCII(s []byte) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
