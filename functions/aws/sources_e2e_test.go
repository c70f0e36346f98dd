package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// Invocations and instances of the sample fleet (shared/emulator/sample-fleet.json)
// that the event-source samples in events/ name.
const (
	stuckRegion   = "cn-shanghai"
	stuckInvoke   = "t-sh0stuck9a8b7c6d5e4f3a2b1c0d9e8f"
	stuckInstance = "i-uf6stuck000000000001"
	longInvoke    = "t-hz0longrun5e6f7a8b9c0d1e2f3a4b"
	longInstance  = "i-bp1bak0000000000001"
	agentInvoke   = "t-hz0rolloutagent0a1b2c3d4e5f6a" // stopper:max-errors=2, two Failed
)

// killMode makes the emulator kill running work on a stop (Stopping, and
// Terminated only after an hour), so that a stop of an invocation whose
// instances all run shows in their states.
var killMode = emulator.Options{StopMode: emulator.StopModeKill, KillDelay: time.Hour}

// testRIEEventSources runs the queue, topic and webhook event sources through the
// bootstrap under the RIE: SQS and SNS (with AWS's own samples from
// aws-lambda-go's events/testdata, copied in shared/trigger/testdata),
// Alertmanager behind API Gateway with a bearer token, and an EventBridge
// HTTP target behind a Function URL. One invoke at a time, as the RIE needs.
func testRIEEventSources(t *testing.T, fn *rieFunction, fresh func(*testing.T) *rieFunction, ca *switchableEmulator) {
	t.Run("SQS batch with a malformed record", func(t *testing.T) {
		emu := ca.reset(t, emulator.Options{})
		const malformed = "7b2e5c1d-0a9f-4e3b-8c6d-5f4e3d2c1b0a"
		event := withSQSRecord(t, e2e.ReadEvent(t, "sqs-stop.json"), malformed, "stop t-1fad2a8876de47068cc734d57703aa76 please")
		got := string(fn.invoke(t, "req-sqs", event))
		if want := `{"batchItemFailures":[{"itemIdentifier":"` + malformed + `"}]}`; got != want {
			t.Fatalf("answer = %s, want %s", got, want)
		}
		// Record 1 names one pending instance of the sample invocation,
		// record 2 the stuck invocation in another region.
		for _, c := range []struct{ region, invoke, instance, want string }{
			{sampleRegion, sampleInvoke, samplePendingA, "Cancelled"},
			{sampleRegion, sampleInvoke, samplePendingB, "Pending"},
			{sampleRegion, sampleInvoke, sampleRunning, "Running"},
			{stuckRegion, stuckInvoke, stuckInstance, "Cancelled"},
		} {
			if s := e2e.InstanceStatus(t, emu, c.region, c.invoke, c.instance); s != c.want {
				t.Errorf("%s of %s is %s, want %s", c.instance, c.invoke, s, c.want)
			}
		}
		if n, m := emu.StopCalls(sampleRegion, sampleInvoke), emu.StopCalls(stuckRegion, stuckInvoke); n != 1 || m != 1 {
			t.Fatalf("StopInvocation calls = %d and %d, want 1 each", n, m)
		}
		if n := emu.Calls("StopInvocation"); n != 2 {
			t.Fatalf("%d StopInvocation calls, want 2: the malformed record stopped something", n)
		}
	})

	t.Run("SQS AWS sample is listed, nothing stopped", func(t *testing.T) {
		emu := ca.reset(t, emulator.Options{})
		got := string(fn.invoke(t, "req-sqs-aws", readAWSSample(t, "sqs-event.json")))
		if want := `{"batchItemFailures":[{"itemIdentifier":"MessageID_1"}]}`; got != want {
			t.Fatalf("answer = %s, want %s", got, want)
		}
		noAPICalls(t, emu)
	})

	t.Run("SNS message stops its invocation", func(t *testing.T) {
		emu := ca.reset(t, killMode)
		// It stops every instance of the invocation the Alertmanager
		// subtest stops one of (see fresh).
		got := fresh(t).answer(t, "req-sns", e2e.ReadEvent(t, "sns-stop.json"))
		r := onlyResult(t, got)
		if got["RequestId"] != "req-sns" || got["errorType"] != nil || r["Id"] != "95df01b4-ee98-5cb9-9903-4c221d41eb5e" || r["Outcome"] != "Stopped" {
			t.Fatalf("answer = %v, want the message's result Stopped", got)
		}
		if s := e2e.InstanceStatus(t, emu, sampleRegion, longInvoke, longInstance); s != "Stopping" {
			t.Fatalf("%s is %s, want Stopping", longInstance, s)
		}
		if n := emu.StopCalls(sampleRegion, longInvoke); n != 1 || emu.Calls("StopInvocation") != 1 {
			t.Fatalf("StopInvocation calls = %d on %s, %d in all; want 1", n, longInvoke, emu.Calls("StopInvocation"))
		}
	})

	t.Run("SNS AWS sample is a permanent failure", func(t *testing.T) {
		emu := ca.reset(t, emulator.Options{})
		got := fn.answer(t, "req-sns-aws", readAWSSample(t, "sns-event.json"))
		r := onlyResult(t, got)
		// An answer, not a function error: Lambda must not retry a message
		// that will never be a request.
		if got["errorType"] != nil || r["Outcome"] != "Failed" || r["Code"] != "InvalidParameter" || r["Id"] != "95df01b4-ee98-5cb9-9903-4c221d41eb5e" {
			t.Fatalf("answer = %v, want the message's result Failed with InvalidParameter", got)
		}
		noAPICalls(t, emu)
	})

	alertmanager := e2e.ReadEvent(t, "alertmanager-apigw-v2.json")
	t.Run("Alertmanager over API Gateway v2 with the bearer token", func(t *testing.T) {
		emu := ca.reset(t, killMode)
		resp := fn.httpAnswer(t, "req-alertmanager", withHeader(t, alertmanager, "authorization", "Bearer "+hookToken))
		if resp.StatusCode != http.StatusOK || resp.Body["RequestId"] != "req-alertmanager" {
			t.Fatalf("answer = %+v, want 200", resp)
		}
		if got := outcomes(resp.Body); got != "5f4c1b2a9e8d7c6b:Stopped 0a1b2c3d4e5f6a7b:Ignored" {
			t.Fatalf("results = %s, want the firing alert Stopped and the resolved one Ignored: %v", got, resp.Body)
		}
		if s := e2e.InstanceStatus(t, emu, sampleRegion, longInvoke, longInstance); s != "Stopping" {
			t.Errorf("%s (the firing alert's) is %s, want Stopping", longInstance, s)
		}
		if s := e2e.InstanceStatus(t, emu, stuckRegion, stuckInvoke, stuckInstance); s != "Pending" {
			t.Errorf("%s (the resolved alert's) is %s, want Pending", stuckInstance, s)
		}
		if n, m := emu.StopCalls(sampleRegion, longInvoke), emu.StopCalls(stuckRegion, stuckInvoke); n != 1 || m != 0 {
			t.Fatalf("StopInvocation calls = %d on the firing alert's invocation, %d on the resolved one's; want 1 and 0", n, m)
		}
	})

	t.Run("Alertmanager with a wrong token is refused", func(t *testing.T) {
		emu := ca.reset(t, killMode)
		for name, event := range map[string][]byte{
			"wrong token":      withHeader(t, alertmanager, "authorization", "Bearer "+strings.Repeat("x", len(hookToken))),
			"token one short":  withHeader(t, alertmanager, "authorization", "Bearer "+hookToken[:len(hookToken)-1]),
			"no authorization": alertmanager,
		} {
			resp := fn.httpAnswer(t, "req-alertmanager-refused", event)
			if resp.StatusCode != http.StatusUnauthorized || resp.Body["Code"] != "InvalidSignature" {
				t.Fatalf("%s: answer = %+v, want 401 InvalidSignature", name, resp)
			}
		}
		noAPICalls(t, emu)
		if s := e2e.InstanceStatus(t, emu, sampleRegion, longInvoke, longInstance); s != "Running" {
			t.Fatalf("%s is %s, want Running", longInstance, s)
		}
	})

	t.Run("EventBridge HTTP target over a Function URL fails fast", func(t *testing.T) {
		emu := ca.reset(t, emulator.Options{})
		event := withBody(t, e2e.ReadEvent(t, "function-url-stop.json"), e2e.ReadEvent(t, "eventbridge-taskcompleted-failed.json"))
		resp := fn.httpAnswer(t, "req-eventbridge-refused", event)
		if resp.StatusCode != http.StatusUnauthorized || emu.Calls("DescribeInvocations") != 0 {
			t.Fatalf("without credentials: answer = %+v, %d reads; want 401 and none", resp, emu.Calls("DescribeInvocations"))
		}
		resp = fn.httpAnswer(t, "req-eventbridge", withHeader(t, event, "authorization", "Bearer "+hookToken))
		if resp.StatusCode != http.StatusOK || resp.Body["Action"] != "FailFast" || resp.Body["Stopped"] != true || resp.Body["MaxErrors"] != "2" {
			t.Fatalf("answer = %+v, want the FailFast answer, Stopped", resp)
		}
		for _, c := range []struct{ instance, want string }{
			{"i-bp1agent000000000004", "Cancelled"},
			{"i-bp1agent000000000005", "Cancelled"},
			{"i-bp1agent000000000003", "Running"},
		} {
			if s := e2e.InstanceStatus(t, emu, sampleRegion, agentInvoke, c.instance); s != c.want {
				t.Errorf("%s is %s, want %s", c.instance, s, c.want)
			}
		}
	})
}

// readAWSSample reads one of AWS's own sample events (aws-lambda-go's
// events/testdata, as copied into the trigger's testdata).
func readAWSSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "shared", "trigger", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withSQSRecord appends to an SQS event a copy of its first record with
// another messageId and body.
func withSQSRecord(t *testing.T, event []byte, messageID, body string) []byte {
	t.Helper()
	var ev struct {
		Records []map[string]any `json:"Records"`
	}
	if err := json.Unmarshal(event, &ev); err != nil || len(ev.Records) == 0 {
		t.Fatalf("not an SQS event (%v): %s", err, event)
	}
	r := map[string]any{}
	for k, v := range ev.Records[0] {
		r[k] = v
	}
	r["messageId"], r["body"], r["receiptHandle"] = messageID, body, "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...malformed"
	ev.Records = append(ev.Records, r)
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// editEvent decodes an HTTP event, lets f change it, and encodes it again.
func editEvent(t *testing.T, event []byte, f func(ev map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatal(err)
	}
	f(ev)
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withHeader sets one header of an HTTP event (payload 2.0: lower-case names).
func withHeader(t *testing.T, event []byte, name, value string) []byte {
	t.Helper()
	return editEvent(t, event, func(ev map[string]any) {
		headers, _ := ev["headers"].(map[string]any)
		if headers == nil {
			headers = map[string]any{}
		}
		headers[name] = value
		ev["headers"] = headers
	})
}

// withBody replaces an HTTP event's body.
func withBody(t *testing.T, event, body []byte) []byte {
	t.Helper()
	return editEvent(t, event, func(ev map[string]any) {
		ev["body"], ev["isBase64Encoded"] = string(body), false
	})
}

// onlyResult is the one result of a batch answer.
func onlyResult(t *testing.T, answer map[string]any) map[string]any {
	t.Helper()
	results, _ := answer["Results"].([]any)
	if len(results) != 1 {
		t.Fatalf("answer = %v, want a batch answer with one result", answer)
	}
	r, _ := results[0].(map[string]any)
	return r
}

// outcomes lists a batch answer's results as "Id:Outcome ...".
func outcomes(answer map[string]any) string {
	results, _ := answer["Results"].([]any)
	var out []string
	for _, r := range results {
		m, _ := r.(map[string]any)
		id, _ := m["Id"].(string)
		outcome, _ := m["Outcome"].(string)
		out = append(out, id+":"+outcome)
	}
	return strings.Join(out, " ")
}

// noAPICalls fails when anything reached the Cloud Assistant API.
func noAPICalls(t *testing.T, emu *emulator.Server) {
	t.Helper()
	if n, m := emu.Calls("StopInvocation"), emu.Calls("DescribeInvocations"); n != 0 || m != 0 {
		t.Fatalf("the API was called: %d StopInvocation, %d DescribeInvocations; want none", n, m)
	}
}
