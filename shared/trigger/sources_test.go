package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// rollout is an invocation whose instances have the given statuses.
func rollout(id string, maxErrors string, statuses ...string) cloudassistant.Invocation {
	inv := cloudassistant.Invocation{InvokeId: id, CommandName: "rollout", RepeatMode: "Once"}
	if maxErrors != "" {
		inv.Tags.Tag = []cloudassistant.Tag{{TagKey: stopper.TagMaxErrors, TagValue: maxErrors}}
	}
	for i, st := range statuses {
		inv.InvokeInstances.InvokeInstance = append(inv.InvokeInstances.InvokeInstance,
			cloudassistant.InvokeInstance{InstanceId: fmt.Sprintf("i-%s%d", id[2:], i), InvocationStatus: st})
	}
	return inv
}

func failFastEnv(t *testing.T) *testEnv {
	env := newEnv(t)
	env.api.fleet = map[string]cloudassistant.Invocation{
		testInvokeID:    rollout(testInvokeID, "2", "Failed", "Failed", "Running", "Pending"),
		"t-belowlimit1": rollout("t-belowlimit1", "3", "Failed", "Pending"),
	}
	return env
}

// An EventBridge TaskCompleted event, one or a batch, on the direct path
// (FC's EventBridge trigger).
func TestCloudEvents(t *testing.T) {
	env := failFastEnv(t)
	res, err := env.handler.Invoke(context.Background(), testRequestID, readTestdata(t, "eventbridge-taskcompleted.json"))
	if err != nil || res.Kind != CloudEvent || res.Failure != nil {
		t.Fatalf("Invoke: kind %s, err %v, failure %v", res.Kind, err, res.Failure)
	}
	var a stopper.FailFastAnswer
	if err := json.Unmarshal(res.Payload, &a); err != nil || a.Action != "FailFast" || a.Stopped == nil || !*a.Stopped || a.WouldStop != nil || a.Failed != 2 || a.Instances != 4 ||
		a.MaxErrors != "2" || a.EventId != "45ef4dewdwe1-7c35-447a-bd93-fab0000001" || a.RegionId != "cn-hangzhou" || a.InstanceId != "i-bp1abc" || a.RequestId != testRequestID {
		t.Fatalf("answer %s", res.Payload)
	}
	if got := env.api.stopCalls(); len(got) != 1 || got[0].InvokeID != testInvokeID || got[0].InstanceIDs != nil {
		t.Fatalf("stops %v", got)
	}

	env = failFastEnv(t)
	res, err = env.handler.Invoke(context.Background(), testRequestID, readTestdata(t, "eventbridge-taskcompleted-batch.json"))
	if err != nil || res.Kind != CloudEvents || res.Failure != nil {
		t.Fatalf("batch: kind %s, err %v, failure %v", res.Kind, err, res.Failure)
	}
	var b stopper.BatchAnswer
	if err := json.Unmarshal(res.Payload, &b); err != nil || len(b.Results) != 2 || b.Results[0].Outcome != "Stopped" ||
		b.Results[1].Outcome != "NotStopped" || !strings.Contains(b.Results[1].Reason, "not in failure") || b.RequestId != testRequestID {
		t.Fatalf("batch answer %s", res.Payload)
	}
	if env.api.describe != 1 {
		t.Errorf("%d reads: the success event must cost none", env.api.describe)
	}
}

func TestCloudEventRefusals(t *testing.T) {
	sample := readTestdata(t, "eventbridge-taskcompleted.json")
	edit := func(f func(ev map[string]any)) string {
		var ev map[string]any
		json.Unmarshal(sample, &ev)
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
			if len(env.api.stopCalls()) != 0 || env.api.describe != 0 {
				t.Fatalf("a refused event reached the API")
			}
		})
	}
}

// SQS: each record's body is a request; the answer lists every record not
// handled (malformed ones included), and a gone invocation counts as done.
func TestSQS(t *testing.T) {
	env := failFastEnv(t)
	event := sqsEvent(map[string]string{
		"m-ok":      `{"InvokeId":"` + testInvokeID + `"}`,
		"m-bad":     `stop it please`,
		"m-gone":    `{"InvokeId":"t-gone0000"}`,
		"m-unknown": `{"InvokeId":"t-x","Force":true}`,
	}, "m-ok", "m-bad", "m-gone", "m-unknown")
	res, err := env.handler.Invoke(context.Background(), testRequestID, event)
	if err != nil || res.Kind != SQS {
		t.Fatalf("kind %s err %v", res.Kind, err)
	}
	if got := string(res.Payload); got != `{"batchItemFailures":[{"itemIdentifier":"m-bad"},{"itemIdentifier":"m-unknown"}]}` {
		t.Fatalf("answer %s", got)
	}
	if got := env.api.stopCalls(); len(got) != 1 || got[0].InvokeID != testInvokeID {
		t.Fatalf("stops %v", got)
	}
	// Each record handed back is logged once at warn, named, with why.
	unhandled := map[string]string{}
	for _, l := range env.logs.lines(t) {
		if l["msg"] == "sqs record not handled: returned in batchItemFailures" {
			id, _ := l["message_id"].(string)
			if _, twice := unhandled[id]; twice || l["level"] != "WARN" || l["request_id"] != testRequestID {
				t.Errorf("log line %v", l)
			}
			unhandled[id] = l["code"].(string) + ": " + l["error"].(string)
		}
	}
	if len(unhandled) != 2 || !strings.HasPrefix(unhandled["m-bad"], "InvalidParameter: ") ||
		!strings.Contains(unhandled["m-unknown"], "Force") {
		t.Errorf("unhandled records logged: %v; want m-bad and m-unknown with their reasons", unhandled)
	}

	// Transient failures are listed too (the queue redelivers them), never a function error.
	env = failFastEnv(t)
	env.api.stopErr = &cloudassistant.Error{Code: "ServiceUnavailable", HTTPStatus: 503}
	res, err = env.handler.Invoke(context.Background(), testRequestID, sqsEvent(map[string]string{"m-1": `{"InvokeId":"` + testInvokeID + `"}`}, "m-1"))
	if err != nil || string(res.Payload) != `{"batchItemFailures":[{"itemIdentifier":"m-1"}]}` {
		t.Fatalf("transient: err %v answer %s", err, res.Payload)
	}

	// AWS's own sample: its body is no request, so it is listed, not lost.
	env = failFastEnv(t)
	res, err = env.handler.Invoke(context.Background(), testRequestID, readTestdata(t, "sqs-event.json"))
	if err != nil || string(res.Payload) != `{"batchItemFailures":[{"itemIdentifier":"MessageID_1"}]}` {
		t.Fatalf("aws sample: err %v answer %s", err, res.Payload)
	}

	// A record that cannot be named fails the whole delivery.
	env = failFastEnv(t)
	_, err = env.handler.Invoke(context.Background(), testRequestID, []byte(`{"Records":[{"eventSource":"aws:sqs","body":"{}"}]}`))
	var e *stopper.Error
	if !errors.As(err, &e) || !e.Transient {
		t.Fatalf("unnamed record: err %v, want a function error", err)
	}
}

func sqsEvent(bodies map[string]string, order ...string) []byte {
	var records []map[string]any
	for _, id := range order {
		records = append(records, map[string]any{"messageId": id, "receiptHandle": "h", "body": bodies[id],
			"eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:stops", "awsRegion": "us-east-1"})
	}
	b, _ := json.Marshal(map[string]any{"Records": records})
	return b
}

func TestSNS(t *testing.T) {
	env := failFastEnv(t)
	event := fmt.Sprintf(`{"Records":[{"EventVersion":"1.0","EventSource":"aws:sns","Sns":{"MessageId":"sns-1","Type":"Notification","Message":%q}}]}`,
		`{"InvokeId":"`+testInvokeID+`","RegionId":"cn-hangzhou"}`)
	res, err := env.handler.Invoke(context.Background(), testRequestID, []byte(event))
	if err != nil || res.Kind != SNS || res.Failure != nil {
		t.Fatalf("kind %s err %v failure %v", res.Kind, err, res.Failure)
	}
	var b stopper.BatchAnswer
	if json.Unmarshal(res.Payload, &b) != nil || len(b.Results) != 1 || b.Results[0].Id != "sns-1" || b.Results[0].Outcome != "Stopped" {
		t.Fatalf("answer %s", res.Payload)
	}
	// Transient: a function error, so Lambda's async retries apply.
	env = failFastEnv(t)
	env.api.stopErr = &cloudassistant.Error{Code: "ServiceUnavailable", HTTPStatus: 503}
	if _, err := env.handler.Invoke(context.Background(), testRequestID, []byte(event)); err == nil {
		t.Fatal("a transient failure must be a function error")
	}
	// AWS's own sample: not a request, a permanent failure, answered.
	env = failFastEnv(t)
	res, err = env.handler.Invoke(context.Background(), testRequestID, readTestdata(t, "sns-event.json"))
	if err != nil || res.Failure == nil || res.Failure.Code != "InvalidParameter" {
		t.Fatalf("aws sample: err %v failure %v", err, res.Failure)
	}
}

const alertmanagerBody = `{"version":"4","groupKey":"{}:{alertname=\"CommandRunsTooLong\"}","truncatedAlerts":0,"status":"firing","receiver":"stopper",
 "groupLabels":{"alertname":"CommandRunsTooLong"},"commonLabels":{"alertname":"CommandRunsTooLong"},"commonAnnotations":{},"externalURL":"http://alertmanager:9093",
 "alerts":[
  {"status":"firing","labels":{"alertname":"CommandRunsTooLong","invoke_id":"t-1fad2a8876de47068cc734d57703aa76","region_id":"cn-hangzhou","instance_id":"i-1fad2a8876de47068cc734d57703aa762"},"annotations":{},"startsAt":"2026-11-26T07:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"a1"},
  {"status":"resolved","labels":{"alertname":"CommandRunsTooLong","invoke_id":"t-belowlimit1"},"annotations":{},"startsAt":"2026-11-26T07:00:00Z","endsAt":"2026-11-26T07:10:00Z","generatorURL":"","fingerprint":"a2"},
  {"status":"firing","labels":{"alertname":"DiskFull"},"annotations":{},"startsAt":"2026-11-26T07:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"a3"}]}`

// Alertmanager posts with a bearer token: firing alerts naming an
// invocation stop it, the others are ignored, each one answered.
func TestAlertmanagerWebhook(t *testing.T) {
	for _, s := range httpShapes {
		t.Run(string(s.kind), func(t *testing.T) {
			env := failFastEnv(t)
			res, err := env.handler.Invoke(context.Background(), testRequestID, s.event(t, withBearer([]byte(alertmanagerBody), "Bearer "+testToken)))
			if err != nil {
				t.Fatal(err)
			}
			a := decodeHTTPAnswer(t, s.kind, res.Payload)
			results, _ := a.Body["Results"].([]any)
			var got []string
			for _, r := range results {
				m := r.(map[string]any)
				got = append(got, fmt.Sprint(m["Id"], ":", m["Outcome"]))
			}
			if a.Status != 200 || strings.Join(got, " ") != "a1:Stopped a2:Ignored a3:Ignored" {
				t.Fatalf("answer %d %v", a.Status, a.Body)
			}
			if stops := env.api.stopCalls(); len(stops) != 1 || stops[0].InvokeID != testInvokeID || fmt.Sprint(stops[0].InstanceIDs) != "[i-1fad2a8876de47068cc734d57703aa762]" {
				t.Fatalf("stops %v", stops)
			}

			// A wrong token: 401, nothing stopped.
			env = failFastEnv(t)
			res, _ = env.handler.Invoke(context.Background(), testRequestID, s.event(t, withBearer([]byte(alertmanagerBody), "Bearer "+strings.Repeat("x", 40))))
			if a := decodeHTTPAnswer(t, s.kind, res.Payload); a.Status != 401 || len(env.api.stopCalls()) != 0 {
				t.Fatalf("wrong token: %d, stops %v", a.Status, env.api.stopCalls())
			}
		})
	}
}

func TestAlertmanagerRefusals(t *testing.T) {
	for _, tc := range []struct{ name, body, field string }{
		{"version", `{"version":"3","alerts":[]}`, "version"},
		{"alerts not a list", `{"version":"4","alerts":{}}`, "body"},
	} {
		env := failFastEnv(t)
		res, _ := env.handler.Invoke(context.Background(), testRequestID, httpShapes[1].event(t, withBearer([]byte(tc.body), "Bearer "+testToken)))
		if res.Failure == nil || res.Failure.Code != "InvalidParameter" || !strings.HasPrefix(res.Failure.Message, tc.field) {
			t.Errorf("%s: failure %v", tc.name, res.Failure)
		}
	}
	// Alert by alert: a bad label fails its alert alone.
	env := failFastEnv(t)
	body := `{"version":"4","alerts":[{"status":"resolved","fingerprint":"nolabels"},{"status":"firing","labels":{"invoke_id":"x"},"fingerprint":"bad"},{"status":"maybe","labels":{},"fingerprint":"odd"},{"status":"firing","labels":{"invoke_id":"` + testInvokeID + `","region_id":"CN"},"fingerprint":"region"}]}`
	res, _ := env.handler.Invoke(context.Background(), testRequestID, httpShapes[1].event(t, withBearer([]byte(body), "Bearer "+testToken)))
	var b stopper.BatchAnswer
	a := decodeHTTPAnswer(t, APIGatewayV2, res.Payload)
	raw, _ := json.Marshal(a.Body)
	json.Unmarshal(raw, &b)
	var got []string
	for _, r := range b.Results {
		got = append(got, r.Id+":"+r.Outcome+":"+r.Code)
	}
	if strings.Join(got, " ") != "nolabels:Ignored: bad:Failed:InvalidParameter odd:Failed:InvalidParameter region:Failed:InvalidParameter" || len(env.api.stopCalls()) != 0 {
		t.Fatalf("results %v", got)
	}
}

// An EventBridge HTTP target posts the event itself to the webhook URL.
func TestCloudEventWebhook(t *testing.T) {
	env := failFastEnv(t)
	res, _ := env.handler.Invoke(context.Background(), testRequestID, httpShapes[1].event(t, withBearer(readTestdata(t, "eventbridge-taskcompleted.json"), "Bearer "+testToken)))
	a := decodeHTTPAnswer(t, APIGatewayV2, res.Payload)
	if a.Status != 200 || a.Body["Action"] != "FailFast" || a.Body["Stopped"] != true {
		t.Fatalf("answer %d %v", a.Status, a.Body)
	}
	// Unauthenticated: refused before anything is read.
	env = failFastEnv(t)
	res, _ = env.handler.Invoke(context.Background(), testRequestID, httpShapes[1].event(t, webhookCall{method: "POST",
		body: readTestdata(t, "eventbridge-taskcompleted.json"), headers: map[string]string{"Content-Type": "application/json"}}))
	if a := decodeHTTPAnswer(t, APIGatewayV2, res.Payload); a.Status != 401 || env.api.describe != 0 {
		t.Fatalf("unauthenticated: %d, %d reads", a.Status, env.api.describe)
	}
}
