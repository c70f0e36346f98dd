package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// The decoder reads invokeId, instanceId and invocationStatus of data, and
// nothing else: the documented example's other fields, present or not,
// whatever their values, change nothing (what errorCode and errorDesc hold
// for a failed run is not documented).
func TestCloudEventReadsOnlyWhatItNeeds(t *testing.T) {
	want := stopper.FailFastRequest{EventId: "45ef4dewdwe1-7c35-447a-bd93-fab0000001", AccountId: "1234567890123456", RegionId: "cn-hangzhou",
		InvokeId: testInvokeID, InstanceId: "i-bp1abc", Status: "Failed"}
	for _, tc := range []struct {
		name  string
		extra map[string]any
	}{
		{"the three fields alone", nil},
		{"the documented example's fields", map[string]any{"commandId": "c-hz0rollout0000001", "commandName": "rollout-agent",
			"exitCode": "1", "finishTime": "2026-11-26T00:45:01Z", "ownerId": "1234567890123456", "playerUid": "256000000000000001",
			"repeatMode": "Once", "repeats": "1", "startTime": "2026-11-26T00:44:31Z", "errorCode": "0", "errorDesc": ""}},
		{"guessed failure values", map[string]any{"errorCode": "ExitCodeNonzero", "errorDesc": "the command exited with 1"}},
		{"values of other types", map[string]any{"errorCode": 1, "errorDesc": nil, "exitCode": 1, "repeats": 1, "extra": map[string]any{"x": []any{1}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := taskCompleted(t, func(ev map[string]any) {
				data := map[string]any{"invokeId": testInvokeID, "instanceId": "i-bp1abc", "invocationStatus": "Failed"}
				for k, v := range tc.extra {
					data[k] = v
				}
				ev["data"] = data
			})
			req, err := cloudEventRequest(body)
			if err != nil || req != want {
				t.Fatalf("%+v, %v; want %+v\n%s", req, err, want, body)
			}
		})
	}
}

// TestCloudEventWebhookRefusal: a signed webhook body that is a CloudEvent
// of the wrong type is refused naming the attribute, and stops nothing.
func TestCloudEventWebhookRefusal(t *testing.T) {
	env := failFastEnv(t)
	body := []byte(`{"specversion":"1.0","type":"ecs:Instance:StateChange","source":"acs.ecs","id":"e-1","data":{}}`)
	w, answer := serve(t, env, signedRequest("POST", body, 0))
	if msg, _ := answer["Message"].(string); w.Code != 400 || answer["Code"] != "InvalidParameter" || !strings.HasPrefix(msg, "type: ") {
		t.Errorf("%d %v, want 400 naming type", w.Code, answer)
	}
	if len(env.api.Stops()) != 0 || env.api.Describes() != 0 {
		t.Errorf("a refused event reached the API")
	}
}

// taskCompleted is the sample TaskCompleted event with one edit.
func taskCompleted(t *testing.T, edit func(ev map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readTestdata(t, "eventbridge-taskcompleted-event.json"), &ev); err != nil {
		t.Fatal(err)
	}
	edit(ev)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCloudEventAttributeLimits: an event id of up to 256 bytes and a
// status of 1 to 32 ASCII letters and digits are read (a status the
// function does not know is no failure: answered, no API call); beyond,
// the event is refused naming the attribute.
func TestCloudEventAttributeLimits(t *testing.T) {
	status := func(s string) func(ev map[string]any) {
		return func(ev map[string]any) { ev["data"].(map[string]any)["invocationStatus"] = s }
	}
	id := func(s string) func(ev map[string]any) { return func(ev map[string]any) { ev["id"] = s } }
	for _, tc := range []struct {
		name  string
		edit  func(ev map[string]any)
		field string // "" when read
	}{
		{"id of 256 bytes", id(strings.Repeat("e", 256)), ""},
		{"id of 257 bytes", id(strings.Repeat("e", 257)), "id"},
		{"empty id", id(""), "id"},
		{"status of every letter and digit", status("azAZ09"), ""},
		{"status of 32 bytes", status(strings.Repeat("Z", 32)), ""},
		{"status of 33 bytes", status(strings.Repeat("Z", 33)), "data.invocationStatus"},
		{"empty status", status(""), "data.invocationStatus"},
		{"status with a hyphen", status("Fail-ed"), "data.invocationStatus"},
		{"status with the byte before a", status("Fail`"), "data.invocationStatus"},
		{"status with the byte after z", status("Fail{"), "data.invocationStatus"},
		{"status with the byte before A", status("Fail@"), "data.invocationStatus"},
		{"status with the byte after Z", status("Fail["), "data.invocationStatus"},
		{"status with the byte before 0", status("Fail/"), "data.invocationStatus"},
		{"status with the byte after 9", status("Fail:"), "data.invocationStatus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := failFastEnv(t)
			res, err := env.handler.Invoke(context.Background(), testRequestID, taskCompleted(t, tc.edit))
			if err != nil {
				t.Fatal(err)
			}
			if tc.field != "" {
				if res.Failure == nil || res.Failure.Code != "InvalidParameter" || !strings.HasPrefix(res.Failure.Message, tc.field+": ") {
					t.Fatalf("failure %v, want InvalidParameter naming %s", res.Failure, tc.field)
				}
				checkRefusalLogged(t, env.logs, CloudEvent, "InvalidParameter")
				return
			}
			var a stopper.FailFastAnswer
			if err := json.Unmarshal(res.Payload, &a); err != nil || res.Failure != nil || a.Action != "FailFast" {
				t.Fatalf("failure %v answer %s, want the event read", res.Failure, res.Payload)
			}
			var ev map[string]any
			if err := json.Unmarshal(taskCompleted(t, tc.edit), &ev); err != nil {
				t.Fatal(err)
			}
			if status := ev["data"].(map[string]any)["invocationStatus"]; a.EventId != ev["id"] || a.InvocationStatus != status {
				t.Errorf("answer %s, want event %v with status %v", res.Payload, ev["id"], status)
			}
			if a.InvocationStatus != "Failed" && (env.api.Describes() != 0 || a.Stopped == nil || *a.Stopped) {
				t.Errorf("a status that is no failure cost %d reads (answer %s)", env.api.Describes(), res.Payload)
			}
		})
	}
}

// TestBatchOfExactlyMaxItems: a delivery of 1000 items is taken, item by
// item (here each one fails alone); 1001 is refused whole (TestCloudEventRefusals).
func TestBatchOfExactlyMaxItems(t *testing.T) {
	env := failFastEnv(t)
	batch := "[" + strings.Repeat(`{"specversion":"0.3"},`, maxBatch-1) + `{"specversion":"0.3"}]`
	res, err := env.handler.Invoke(context.Background(), testRequestID, []byte(batch))
	if err != nil {
		t.Fatal(err)
	}
	var b stopper.BatchAnswer
	if err := json.Unmarshal(res.Payload, &b); err != nil || len(b.Results) != maxBatch {
		t.Fatalf("answer of %d results (%v), want %d", len(b.Results), err, maxBatch)
	}
	if r := b.Results[maxBatch-1]; r.Id != fmt.Sprint("#", maxBatch-1) || r.Outcome != "Failed" || !strings.HasPrefix(r.Message, "specversion: ") {
		t.Errorf("last result %+v", r)
	}
	if env.api.Describes() != 0 {
		t.Errorf("%d reads for events that were all refused", env.api.Describes())
	}
}

// An EventBridge TaskCompleted event, one or a batch, on the direct path
// (FC's EventBridge trigger).
func TestCloudEvents(t *testing.T) {
	env := failFastEnv(t)
	res, err := env.handler.Invoke(context.Background(), testRequestID, readTestdata(t, "eventbridge-taskcompleted-event.json"))
	if err != nil || res.Kind != CloudEvent || res.Failure != nil {
		t.Fatalf("Invoke: kind %s, err %v, failure %v", res.Kind, err, res.Failure)
	}
	var a stopper.FailFastAnswer
	if err := json.Unmarshal(res.Payload, &a); err != nil || a.Action != "FailFast" || a.Stopped == nil || !*a.Stopped || a.WouldStop != nil || a.Failed != 2 || a.Instances != 4 ||
		a.MaxErrors != "2" || a.EventId != "45ef4dewdwe1-7c35-447a-bd93-fab0000001" || a.RegionId != "cn-hangzhou" || a.InstanceId != "i-bp1abc" || a.RequestId != testRequestID {
		t.Fatalf("answer %s", res.Payload)
	}
	if got := env.api.Stops(); len(got) != 1 || got[0].InvokeID != testInvokeID || got[0].InstanceIDs != nil {
		t.Fatalf("stops %v", got)
	}

	env = failFastEnv(t)
	res, err = env.handler.Invoke(context.Background(), testRequestID, readTestdata(t, "eventbridge-taskcompleted-event-batch.json"))
	if err != nil || res.Kind != CloudEvents || res.Failure != nil {
		t.Fatalf("batch: kind %s, err %v, failure %v", res.Kind, err, res.Failure)
	}
	var b stopper.BatchAnswer
	if err := json.Unmarshal(res.Payload, &b); err != nil || len(b.Results) != 2 || b.Results[0].Outcome != "Stopped" ||
		b.Results[1].Outcome != "NotStopped" || !strings.Contains(b.Results[1].Reason, "not in failure") || b.RequestId != testRequestID {
		t.Fatalf("batch answer %s", res.Payload)
	}
	if env.api.Describes() != 1 {
		t.Errorf("%d reads: the success event must cost none", env.api.Describes())
	}
}

func TestCloudEventRefusals(t *testing.T) {
	sample := readTestdata(t, "eventbridge-taskcompleted-event.json")
	edit := func(f func(ev map[string]any)) string {
		var ev map[string]any
		if err := json.Unmarshal(sample, &ev); err != nil {
			t.Fatal(err)
		}
		f(ev)
		b, _ := json.Marshal(ev)
		return string(b)
	}
	for _, tc := range []struct{ name, event, field string }{
		{"other type", edit(func(ev map[string]any) { ev["type"] = "ecs:Instance:StateChange" }), "type"},
		{"other source", edit(func(ev map[string]any) { ev["source"] = "acs.oss" }), "source"},
		{"spec version", edit(func(ev map[string]any) { ev["specversion"] = "0.3" }), "specversion"},
		{"no id", edit(func(ev map[string]any) { delete(ev, "id") }), "id"},
		{"bad region", edit(func(ev map[string]any) { ev["aliyunregionid"] = "CN Hangzhou" }), "aliyunregionid"},
		{"no data", edit(func(ev map[string]any) { delete(ev, "data") }), "data"},
		{"data a string", edit(func(ev map[string]any) { ev["data"] = "{}" }), "data"},
		{"bad invoke id", edit(func(ev map[string]any) { ev["data"].(map[string]any)["invokeId"] = "x" }), "data.invokeId"},
		{"bad instance id", edit(func(ev map[string]any) { ev["data"].(map[string]any)["instanceId"] = "vm-1" }), "data.instanceId"},
		{"no status", edit(func(ev map[string]any) { delete(ev["data"].(map[string]any), "invocationStatus") }), "data.invocationStatus"},
		{"repeated attribute", `{"specversion":"1.0","specversion":"1.0"}`, "specversion"},
		{"batch of non-events", `["t-1fad2a8876de47068cc734d57703aa76"]`, "body"},
		{"batch too large", "[" + strings.Repeat("{},", maxBatch) + "{}]", "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := failFastEnv(t)
			res, err := env.handler.Invoke(context.Background(), testRequestID, []byte(tc.event))
			if err != nil || res.Failure == nil || res.Failure.Code != "InvalidParameter" || !strings.HasPrefix(res.Failure.Message, tc.field) {
				t.Fatalf("err %v, failure %v: want InvalidParameter naming %s", err, res.Failure, tc.field)
			}
			if len(env.api.Stops()) != 0 || env.api.Describes() != 0 {
				t.Fatalf("a refused event reached the API")
			}
		})
	}
}

// An EventBridge HTTP target posts the event itself to the webhook URL.
func TestCloudEventWebhook(t *testing.T) {
	env := failFastEnv(t)
	res, _ := env.handler.Invoke(context.Background(), testRequestID, httpShapes[1].event(t, withBearer(readTestdata(t, "eventbridge-taskcompleted-event.json"), "Bearer "+testToken)))
	a := decodeHTTPAnswer(t, APIGatewayV2, res.Payload)
	if a.Status != 200 || a.Body["Action"] != "FailFast" || a.Body["Stopped"] != true {
		t.Fatalf("answer %d %v", a.Status, a.Body)
	}
	// Unauthenticated: refused before anything is read.
	env = failFastEnv(t)
	res, _ = env.handler.Invoke(context.Background(), testRequestID, httpShapes[1].event(t, webhookCall{method: "POST",
		body: readTestdata(t, "eventbridge-taskcompleted-event.json"), headers: map[string]string{"Content-Type": "application/json"}}))
	if a := decodeHTTPAnswer(t, APIGatewayV2, res.Payload); a.Status != 401 || env.api.Describes() != 0 {
		t.Fatalf("unauthenticated: %d, %d reads", a.Status, env.api.Describes())
	}
}
