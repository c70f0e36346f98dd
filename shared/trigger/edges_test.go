package trigger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// The tests here hold the edges of the README's promises: the exact limits
// (1 MiB, ids, batch sizes), the characters each name may hold, and the
// refusals naming the field. Each limit is tried at the value it allows and
// at the first one it refuses.

// padded is a stop request padded with spaces to exactly n bytes.
func padded(t *testing.T, n int) []byte {
	t.Helper()
	b := bytes.Repeat([]byte(" "), n)
	if copy(b, stopBody) != len(stopBody) {
		t.Fatal("n is shorter than the request")
	}
	return b
}

// TestWebhookBodyOfExactly1MiB: "at most 1 MiB" takes a body of 1 MiB,
// sent plain or base64-encoded, on every webhook path.
func TestWebhookBodyOfExactly1MiB(t *testing.T) {
	body := padded(t, MaxBodyBytes)
	for _, s := range httpShapes {
		for _, b64 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/base64=%v", s.kind, b64), func(t *testing.T) {
				env := newEnv(t)
				c := signed(body, 0)
				c.base64 = b64
				res, err := env.handler.Invoke(context.Background(), testRequestID, s.event(t, c))
				if err != nil || res.Failure != nil {
					t.Fatalf("err %v failure %v, want a 1 MiB body taken", err, res.Failure)
				}
				if a := decodeHTTPAnswer(t, s.kind, res.Payload); a.Status != 200 || len(env.api.stopCalls()) != 1 {
					t.Errorf("answer %d %v, stops %v", a.Status, a.Body, env.api.stopCalls())
				}
			})
		}
	}
	env := newEnv(t)
	w, answer := serve(t, env, signedRequest("POST", body, 0))
	if w.Code != 200 || answer["Action"] != "StopInvocation" || len(env.api.stopCalls()) != 1 {
		t.Errorf("ServeHTTP with 1 MiB: %d %v", w.Code, answer)
	}
}

// TestWebhookBase64SizeBeforeContent: size is checked before the body is
// read, so base64 text longer than any encoding of 1 MiB is a 413 even when
// it is not base64 at all, while text that could still hold 1 MiB is
// decoded (and refused as not base64).
func TestWebhookBase64SizeBeforeContent(t *testing.T) {
	limit := base64.StdEncoding.EncodedLen(MaxBodyBytes)
	for _, tc := range []struct {
		name   string
		length int
		status int
		code   string
	}{
		{"as long as 1 MiB encoded", limit, 400, "InvalidParameter"},
		{"one byte longer", limit + 1, 413, "PayloadTooLarge"},
	} {
		for _, s := range httpShapes {
			t.Run(tc.name+"/"+string(s.kind), func(t *testing.T) {
				env := newEnv(t)
				var ev map[string]any
				c := signed(stopBody, 0)
				c.base64 = true
				if err := json.Unmarshal(s.event(t, c), &ev); err != nil {
					t.Fatal(err)
				}
				ev["body"] = strings.Repeat("!", tc.length)
				event, _ := json.Marshal(ev)
				res, _ := env.handler.Invoke(context.Background(), testRequestID, event)
				checkRefused(t, s.kind, res, tc.status, tc.code)
				if tc.code == "InvalidParameter" && !strings.HasPrefix(res.Failure.Message, "body: ") {
					t.Errorf("message %q does not name the body", res.Failure.Message)
				}
			})
		}
	}
}

// TestWebhookRefusalsQuoteWhatCameCut: a refusal names the header or
// method as sent, cut at 64 bytes so that a hostile value cannot bloat
// the answer and the log line.
func TestWebhookRefusalsQuoteWhatCameCut(t *testing.T) {
	ct64 := "text/" + strings.Repeat("x", 59)
	tests := []struct {
		name, method, contentType string
		status                    int
		message                   string
	}{
		{"missing Content-Type", "POST", "", 415, `Content-Type (missing) is not JSON: send the request as application/json`},
		{"64 bytes", "POST", ct64, 415, `Content-Type "` + ct64 + `" is not JSON`},
		{"65 bytes", "POST", ct64 + "y", 415, `Content-Type "` + ct64 + `..." is not JSON`},
		{"method of 64 bytes", strings.Repeat("M", 64), "application/json", 405, "method " + strings.Repeat("M", 64) + " is not allowed: send the request with POST"},
		{"method of 65 bytes", strings.Repeat("M", 65), "application/json", 405, "method " + strings.Repeat("M", 64) + "... is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			r := signedRequest("POST", stopBody, 0)
			r.Method = tt.method
			r.Header.Del("Content-Type")
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			w, answer := serve(t, env, r)
			msg, _ := answer["Message"].(string)
			if w.Code != tt.status || !strings.HasPrefix(msg, tt.message) {
				t.Errorf("%d %q, want %d %q", w.Code, msg, tt.status, tt.message)
			}
		})
	}
}

// TestWebhookMediaTypeNames: application/<name>+json is JSON for every
// name of RFC 6838 restricted-name characters, and for no other name.
func TestWebhookMediaTypeNames(t *testing.T) {
	for _, tt := range []struct {
		contentType string
		json        bool
	}{
		{"application/vnd.a-z_A.Z^0&9$#!+json", true},
		{"application/!+json", true},
		{"APPLICATION/Z+JSON", true},
		{"application/9+json", true},
		{"application/x`+json", false}, // the byte before a
		{"application/x{+json", false}, // after z
		{"application/x@+json", false}, // before A
		{"application/x[+json", false}, // after Z
		{"application/x/+json", false}, // before 0
		{"application/x:+json", false}, // after 9
		{"application/x\"+json", false},
		{"application/+json", false},
		{"application/json+", false},
		{"application", false},
		{"applicatio/json", false},
	} {
		t.Run(tt.contentType, func(t *testing.T) {
			env := newEnv(t)
			r := signedRequest("POST", stopBody, 0)
			r.Header.Set("Content-Type", tt.contentType)
			w, answer := serve(t, env, r)
			switch {
			case tt.json && (w.Code != 200 || len(env.api.stopCalls()) != 1):
				t.Errorf("%d %v, want it taken as JSON", w.Code, answer)
			case !tt.json && (w.Code != 415 || answer["Code"] != "UnsupportedMediaType" || len(env.api.stopCalls()) != 0):
				t.Errorf("%d %v, want 415 UnsupportedMediaType", w.Code, answer)
			}
		})
	}
}

// TestRequestIDKeepsSaneIDs: a platform's request id of up to 128 letters,
// digits, '-', '_' and '.' is the answer's; anything else is replaced.
func TestRequestIDKeepsSaneIDs(t *testing.T) {
	for _, id := range []string{"azAZ09-_.", "z", "Z", "9", strings.Repeat("a", 128)} {
		if got := RequestID(id); got != id {
			t.Errorf("RequestID(%q) = %q, want it kept", id, got)
		}
	}
	for _, id := range []string{strings.Repeat("a", 129), "a`", "a{", "a@", "a[", "a/", "a:", "a b", "ü"} {
		if got := RequestID(id); got == id || !validRequestID(got) || len(got) != 36 {
			t.Errorf("RequestID(%q) = %q, want a new UUID", id, got)
		}
	}
	env := newEnv(t)
	r := signedRequest("POST", stopBody, 0)
	r.Header.Set("x-fc-request-id", strings.Repeat("a", 128))
	if _, answer := serve(t, env, r); answer["RequestId"] != strings.Repeat("a", 128) {
		t.Errorf("RequestId %v, want the 128-byte platform id", answer["RequestId"])
	}
}

// TestServeHTTPUnreadableBody: a body that breaks off mid-read is a 400
// naming the body, and nothing is stopped.
func TestServeHTTPUnreadableBody(t *testing.T) {
	env := newEnv(t)
	r := signedRequest("POST", stopBody, 0)
	r.Body = io.NopCloser(iotest.ErrReader(errors.New("connection reset by peer")))
	r.ContentLength = -1
	w, answer := serve(t, env, r)
	msg, _ := answer["Message"].(string)
	if w.Code != 400 || answer["Code"] != "InvalidParameter" || !strings.HasPrefix(msg, "body: could not be read") ||
		!strings.Contains(msg, "connection reset by peer") || answer["RequestId"] != testRequestID {
		t.Errorf("%d %v", w.Code, answer)
	}
	if len(env.api.stopCalls()) != 0 {
		t.Errorf("stops %v", env.api.stopCalls())
	}
	checkRefusalLogged(t, env.logs, PlainHTTP, "InvalidParameter")
}

// TestWebhookEventFieldsOfTheWrongType: a webhook event whose HTTP fields
// are not what the platform sends is a 400 naming the field, on every
// webhook path, before anything is authenticated or stopped.
func TestWebhookEventFieldsOfTheWrongType(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(ev map[string]any)
		field string
	}{
		{"body a number", func(ev map[string]any) { ev["body"] = 42 }, "body"},
		{"body an object", func(ev map[string]any) { ev["body"] = map[string]any{"InvokeId": testInvokeID} }, "body"},
		{"headers an array", func(ev map[string]any) { ev["headers"] = []any{"Content-Type"} }, "headers"},
		{"a header's value a number", func(ev map[string]any) {
			for k := range ev["headers"].(map[string]any) {
				if strings.EqualFold(k, "content-type") {
					ev["headers"].(map[string]any)[k] = 1
				}
			}
		}, "headers"},
		{"isBase64Encoded a string", func(ev map[string]any) { ev["isBase64Encoded"] = "true" }, "isBase64Encoded"},
	} {
		for _, s := range httpShapes {
			t.Run(tc.name+"/"+string(s.kind), func(t *testing.T) {
				env := newEnv(t)
				var ev map[string]any
				if err := json.Unmarshal(s.event(t, signed(stopBody, 0)), &ev); err != nil {
					t.Fatal(err)
				}
				tc.edit(ev)
				event, _ := json.Marshal(ev)
				res, err := env.handler.Invoke(context.Background(), testRequestID, event)
				if err != nil {
					t.Fatal(err)
				}
				checkRefused(t, s.kind, res, 400, "InvalidParameter")
				if !strings.HasPrefix(res.Failure.Message, tc.field+": ") {
					t.Errorf("message %q, want it to name %s", res.Failure.Message, tc.field)
				}
				if len(env.api.stopCalls()) != 0 {
					t.Errorf("stops %v", env.api.stopCalls())
				}
				checkRefusalLogged(t, env.logs, s.kind, "InvalidParameter")
			})
		}
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
	if len(env.api.stopCalls()) != 0 || env.api.describe != 0 {
		t.Errorf("a refused event reached the API")
	}
}

// taskCompleted is the sample TaskCompleted event with one edit.
func taskCompleted(t *testing.T, edit func(ev map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readTestdata(t, "eventbridge-taskcompleted.json"), &ev); err != nil {
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
			json.Unmarshal(taskCompleted(t, tc.edit), &ev)
			if status := ev["data"].(map[string]any)["invocationStatus"]; a.EventId != ev["id"] || a.InvocationStatus != status {
				t.Errorf("answer %s, want event %v with status %v", res.Payload, ev["id"], status)
			}
			if a.InvocationStatus != "Failed" && (env.api.describe != 0 || a.Stopped == nil || *a.Stopped) {
				t.Errorf("a status that is no failure cost %d reads (answer %s)", env.api.describe, res.Payload)
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
	if env.api.describe != 0 {
		t.Errorf("%d reads for events that were all refused", env.api.describe)
	}
}

// TestAlertmanagerIDsAndNames: an alert's result is named by its
// fingerprint (up to 64 bytes; else by its place), and its stop by its
// alertname (cut at 64 bytes; "firing alert" when it has none). A bad
// instance_id label fails its alert alone.
func TestAlertmanagerIDsAndNames(t *testing.T) {
	long := strings.Repeat("f", 64)
	alert := func(fingerprint, labels string) string {
		return `{"status":"firing","fingerprint":"` + fingerprint + `","labels":{"invoke_id":"` + testInvokeID + `"` + labels + `}}`
	}
	body := `{"version":"4","alerts":[` + strings.Join([]string{
		// Each names another instance: alerts for the same ones would be one stop.
		alert("", `,"alertname":"CommandRunsTooLong","instance_id":"i-bp1abc"`),
		alert(long, `,"alertname":"","instance_id":"i-bp1def"`),
		alert(long+"f", `,"alertname":"`+strings.Repeat("N", 65)+`","instance_id":"i-bp1xyz"`),
		alert("noname", `,"instance_id":"i-a"`),
		alert("badinstance", `,"instance_id":"vm-1"`),
	}, ",") + `]}`
	env := failFastEnv(t)
	env.api.fleet = nil // every invocation read is an active one
	res, err := env.handler.Invoke(context.Background(), testRequestID, httpShapes[1].event(t, withBearer([]byte(body), "Bearer "+testToken)))
	if err != nil {
		t.Fatal(err)
	}
	a := decodeHTTPAnswer(t, APIGatewayV2, res.Payload)
	raw, _ := json.Marshal(a.Body)
	var b struct {
		Results []struct {
			Id, Outcome, Message string
			Answer               struct{ Alert string }
		}
	}
	if err := json.Unmarshal(raw, &b); err != nil || len(b.Results) != 5 {
		t.Fatalf("answer %d %s", a.Status, raw)
	}
	want := []struct{ id, outcome, alert string }{
		{"#0", "Stopped", "CommandRunsTooLong"},
		{long, "Stopped", "firing alert"},
		{"#2", "Stopped", strings.Repeat("N", 64) + "..."},
		{"noname", "Stopped", "firing alert"},
		{"badinstance", "Failed", ""},
	}
	for i, w := range want {
		r := b.Results[i]
		if r.Id != w.id || r.Outcome != w.outcome || r.Answer.Alert != w.alert {
			t.Errorf("result %d = %s %s alert %q, want %s %s alert %q", i, r.Id, r.Outcome, r.Answer.Alert, w.id, w.outcome, w.alert)
		}
	}
	if msg := b.Results[4].Message; !strings.HasPrefix(msg, "labels.instance_id: ") {
		t.Errorf("message %q does not name labels.instance_id", msg)
	}
	if n := len(env.api.stopCalls()); n != 4 {
		t.Errorf("%d stops, want 4", n)
	}
}

// TestSQSEnvelopeWithARepeatedKey: an SQS event that cannot be read as
// one fails the whole delivery as a function error (retried, then
// dead-lettered), never answered as if every message were done.
func TestSQSEnvelopeWithARepeatedKey(t *testing.T) {
	env := newEnv(t)
	event := `{"Records":[{"eventSource":"aws:sqs","messageId":"m-1","body":"{}"}],"x":1,"x":2}`
	res, err := env.handler.Invoke(context.Background(), testRequestID, []byte(event))
	var e *stopper.Error
	if res.Kind != SQS || !errors.As(err, &e) || !e.Transient || !strings.HasPrefix(e.Message, "x: appears more than once") {
		t.Fatalf("kind %s err %v, want a transient failure naming x", res.Kind, err)
	}
	if len(env.api.stopCalls()) != 0 {
		t.Errorf("stops %v", env.api.stopCalls())
	}
}

// TestAppendJSONStringAtTheASCIIEdge: bytes at the edge of ASCII (0x7f,
// and 0x80, a continuation byte with no lead) are escaped as encoding/json
// escapes them.
func TestAppendJSONStringAtTheASCIIEdge(t *testing.T) {
	for _, s := range []string{"\x7f", "\x80", "a\x80b", "\x7f\x80\xbf\xc0"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}
