package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// Fuzz targets for the decoders of the event sources that carry stops:
// EventBridge TaskCompleted events (one, or a batch push), Alertmanager
// payloads in a webhook body, SQS and SNS events. Each is seeded with the real samples
// (testdata, copied from aws-lambda-go's events/testdata and the ECS
// guide, and the repository's events/) and checks, besides never
// panicking, that what a decoder takes is what the input holds, read by
// encoding/json as an independent oracle.

// readSamples is every JSON sample of testdata/ and of the repository's
// events/ whose name starts with one of prefixes (all with none).
func readSamples(tb testing.TB, prefixes ...string) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, file := range samplePaths(tb) {
		if len(prefixes) > 0 && !hasAnyPrefix(filepath.Base(file), prefixes) {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		tb.Fatalf("no samples named %v", prefixes)
	}
	return out
}

// samplePaths is every JSON sample of testdata/ and of the repository's events/.
func samplePaths(tb testing.TB) []string {
	tb.Helper()
	var files []string
	for _, dir := range []string{"testdata", filepath.Join("..", "..", "events")} {
		m, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, m...)
	}
	return files
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// eventBody is the body an HTTP event sample carries (its webhook body).
func eventBody(f *testing.F, event []byte) []byte {
	f.Helper()
	var ev struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(event, &ev); err != nil || ev.Body == "" {
		f.Fatalf("no body in %s", event)
	}
	return []byte(ev.Body)
}

// fuzzAPI is a Cloud Assistant for the source fuzzers: any invocation
// exists and is active (describeAny), except that one whose id contains
// "gone" does not exist (InvalidInvokeId.NotFound, which an SQS record
// counts as done) and one whose id contains "busy" fails transiently
// (which an SQS record must list, and an SNS delivery retry). It only
// counts stops.
type fuzzAPI struct{ stops atomic.Int64 }

func (a *fuzzAPI) StopInvocation(ctx context.Context, regionID, invokeID string, instanceIDs []string) error {
	a.stops.Add(1)
	return nil
}

func (a *fuzzAPI) DescribeInvocations(ctx context.Context, req cloudassistant.DescribeInvocationsRequest) (*cloudassistant.DescribeInvocationsResponse, error) {
	switch {
	case strings.Contains(req.InvokeId, "busy"):
		return nil, &cloudassistant.Error{Code: "ServiceUnavailable", HTTPStatus: http.StatusServiceUnavailable, Message: "busy"}
	case strings.Contains(req.InvokeId, "gone"):
		return &cloudassistant.DescribeInvocationsResponse{RequestId: "upstream"}, nil
	}
	return describeAny(req), nil
}

// lastAnswer is a Metrics that keeps the last request's answer: how the
// fuzzers see each item's outcome behind an SQS answer that lists only
// the failed ones.
type lastAnswer struct{ answer any }

func (l *lastAnswer) Record(ctx context.Context, r stopper.Report) { l.answer = r.Answer }

// sourcesHandler is a handler over api whose webhooks take testToken.
func sourcesHandler(api stopper.CloudAssistant, metrics stopper.Metrics) *Handler {
	discard := slog.New(slog.DiscardHandler)
	f := &stopper.Function{API: api, RegionId: "cn-hangzhou", Log: discard, Metrics: metrics, Now: func() time.Time { return testNow }}
	f.Sweep.RegionIds = []string{"cn-hangzhou"}
	return &Handler{
		Function: f,
		Webhook:  &webhook.Verifier{Secret: testSecret, Token: testToken, Now: func() time.Time { return testNow }},
		Log:      discard,
	}
}

// checkFailFastRequest holds a decoded TaskCompleted event to the rules
// of its fields.
func checkFailFastRequest(t *testing.T, req stopper.FailFastRequest) {
	t.Helper()
	switch {
	case !stopper.ValidInvokeID(req.InvokeId):
		t.Fatalf("decoded InvokeId %q is not valid", req.InvokeId)
	case req.EventId == "" || len(req.EventId) > 256:
		t.Fatalf("decoded EventId %q", req.EventId)
	case req.RegionId != "" && !stopper.ValidRegionID(req.RegionId):
		t.Fatalf("decoded RegionId %q is not valid", req.RegionId)
	case req.InstanceId != "" && !stopper.ValidInstanceID(req.InstanceId):
		t.Fatalf("decoded InstanceId %q is not valid", req.InstanceId)
	case !alphanumericASCII([]byte(req.Status)):
		t.Fatalf("decoded Status %q", req.Status)
	case req.DryRun != nil:
		t.Fatalf("an event set DryRun")
	}
}

// checkRequest holds a decoded request (an SQS body, an SNS message) to
// the same rule: a stop names a valid invocation.
func checkRequest(t *testing.T, req stopper.Request) {
	t.Helper()
	n := 0
	if req.Stop != nil {
		n++
		if !stopper.ValidInvokeID(req.Stop.InvokeId) {
			t.Fatalf("decoded InvokeId %q is not valid", req.Stop.InvokeId)
		}
	}
	if req.Sweep != nil {
		n++
	}
	if req.FailFast != nil {
		n++
		checkFailFastRequest(t, *req.FailFast)
	}
	if n != 1 {
		t.Fatalf("a decoded request asks for %d things, want 1: %+v", n, req)
	}
}

func addAll(f *testing.F, seeds [][]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
}

// FuzzCloudEvent decodes one EventBridge event (cloudEventRequest): a
// decoded event is valid JSON and its fields keep their rules.
func FuzzCloudEvent(f *testing.F) {
	addAll(f, readSamples(f, "eventbridge-taskcompleted"))
	for _, s := range []string{`{}`, `{"specversion":"1.0"}`, `{"specversion":"1.0","specversion":"1.0"}`,
		`{"specversion":"1.0","type":"ecs:CloudAssistant:TaskCompleted","source":"acs.ecs","id":"e","data":{"invokeId":"t-a","invocationStatus":"Failed"}}`,
		`{"specversion":"1.0","type":"ecs:CloudAssistant:TaskCompleted","source":"acs.ecs","id":"e","aliyunregionid":"cn-x","data":{"invokeId":"t-a","instanceId":"i-1","invocationStatus":"Failed","invokeId":"t-b"}}`,
		`{"specversion":"1.0","type":"ecs:CloudAssistant:TaskCompleted","source":"acs.ecs","id":"e","data":{"invokeId":"t-\u0061","invocationStatus":"F"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, event []byte) {
		req, err := withError(cloudEventRequest(event))
		if err != nil {
			if err.Code != stopper.CodeInvalidParameter || err.Transient {
				t.Fatalf("refused with %+v, want a permanent InvalidParameter", err)
			}
			return
		}
		if !json.Valid(event) {
			t.Fatalf("decoded an event that is not JSON: %q", event)
		}
		checkFailFastRequest(t, req)
		// The oracle: encoding/json reads the same invocation.
		var ev struct {
			Data map[string]json.RawMessage `json:"data"`
		}
		var invokeID string
		if json.Unmarshal(event, &ev) != nil || json.Unmarshal(ev.Data["invokeId"], &invokeID) != nil || invokeID != req.InvokeId {
			t.Fatalf("decoded InvokeId %q, encoding/json reads %q from %q", req.InvokeId, invokeID, event)
		}
	})
}

// FuzzCloudEventBatch decodes a batch push (cloudEventItems): no more
// items than the array holds, each the decoding of its own element.
func FuzzCloudEventBatch(f *testing.F) {
	samples := readSamples(f, "eventbridge-taskcompleted")
	addAll(f, samples)
	for _, s := range samples {
		f.Add(append(append([]byte("["), bytes.TrimSpace(s)...), ']'))
	}
	for _, s := range []string{`[]`, `[{}]`, `[{},1]`, `[1]`, ` [ {} , {"id":"x"} ] `, `[{}]]`, `[{"a":[{}]}]`, `[` + strings.Repeat(`{},`, maxBatch) + `{}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, batch []byte) {
		items, err := withError(cloudEventItems(batch))
		if err != nil {
			if err.Code != stopper.CodeInvalidParameter || err.Transient {
				t.Fatalf("refused with %+v, want a permanent InvalidParameter", err)
			}
			return
		}
		var elements []json.RawMessage
		if err := json.Unmarshal(batch, &elements); err != nil {
			t.Fatalf("decoded a batch encoding/json refuses (%v): %q", err, batch)
		}
		if len(items) > len(elements) || len(items) > maxBatch {
			t.Fatalf("%d items from an array of %d", len(items), len(elements))
		}
		for i, it := range items {
			if it.Id == "" {
				t.Fatalf("item %d has no id", i)
			}
			if it.Err != nil {
				continue
			}
			if it.Request.FailFast == nil || it.Request.Stop != nil || it.Request.Sweep != nil || it.Ignored != "" {
				t.Fatalf("item %d is not one fail-fast request: %+v", i, it)
			}
			checkFailFastRequest(t, *it.Request.FailFast)
			alone, err := cloudEventRequest(elements[i])
			if err != nil || alone != *it.Request.FailFast || it.Id != alone.EventId {
				t.Fatalf("item %d decoded as %+v (id %q), alone as %+v (%v)", i, *it.Request.FailFast, it.Id, alone, err)
			}
		}
	})
}

// alertOracle is what encoding/json reads of an Alertmanager payload's
// alerts: each one's status and invoke_id label ("" when absent).
func alertOracle(body []byte) (status, invokeID []string, ok bool) {
	var top map[string]json.RawMessage
	var alerts []json.RawMessage
	if json.Unmarshal(body, &top) != nil || json.Unmarshal(top["alerts"], &alerts) != nil {
		return nil, nil, false
	}
	for _, raw := range alerts {
		var s, id string
		var a, labels map[string]json.RawMessage
		_ = json.Unmarshal(raw, &a) // an alert that is no object has neither
		_ = json.Unmarshal(a["status"], &s)
		if json.Unmarshal(a["labels"], &labels) == nil {
			_ = json.Unmarshal(labels[labelInvokeID], &id)
		}
		status, invokeID = append(status, s), append(invokeID, id)
	}
	return status, invokeID, true
}

// FuzzAlertmanager sends a webhook body (Alertmanager payloads, and
// anything else) with the bearer token: the decoder's items are no more
// than the alerts, only a firing alert naming a valid invocation becomes a
// stop, the answer is JSON, and no more stops reach the API than there are
// such alerts.
func FuzzAlertmanager(f *testing.F) {
	seeds := [][]byte{[]byte(alertmanagerBody)}
	for _, ev := range readSamples(f, "alertmanager") {
		seeds = append(seeds, eventBody(f, ev))
	}
	seeds = append(seeds, readSamples(f, "eventbridge-taskcompleted")...)
	addAll(f, seeds)
	for _, s := range []string{`{"version":"4","alerts":[]}`, `{"version":"3","alerts":[]}`, `{"version":"4","alerts":{}}`,
		`{"version":"4","alerts":[{"status":"firing","labels":{"invoke_id":"t-busy1"}},{"status":"firing","labels":{"invoke_id":"t-gone1","region_id":"cn-x"}}]}`,
		`{"version":"4","alerts":[{"status":"resolved","labels":{"invoke_id":"t-a"}},{"status":"firing","labels":{"invoke_id":"t-a","invoke_id":"t-b"}}]}`,
		`{"version":"4","alerts":[{"status":"firing","labels":{"invoke_id":"t-a","instance_id":"i-bp1abc","alertname":"X"},"fingerprint":"f"}]}`,
		`{"version":"4","alerts":[{"status":"firing"},null,1,[]]}`,
		`{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		stopItems := -1 // unknown: not an Alertmanager payload
		// As webhookBody routes it: an array or a CloudEvent is no Alertmanager payload.
		if fields, err := eventFields(body, "the body"); err == nil && fields["specversion"] == nil && isAlertmanager(fields) {
			items, err := withError(alertmanagerItems(fields))
			if err != nil {
				if err.Code != stopper.CodeInvalidParameter {
					t.Fatalf("refused with %+v, want InvalidParameter", err)
				}
			} else {
				status, invokeIDs, ok := alertOracle(body)
				if !ok {
					t.Fatalf("decoded alerts encoding/json refuses: %q", body)
				}
				if len(items) > len(status) {
					t.Fatalf("%d items from %d alerts", len(items), len(status))
				}
				stopItems = 0
				for i, it := range items {
					if it.Id == "" {
						t.Fatalf("alert %d has no id", i)
					}
					if it.Request.Stop == nil {
						if it.Err == nil && it.Ignored == "" {
							t.Fatalf("alert %d is neither a stop, a failure nor ignored: %+v", i, it)
						}
						continue
					}
					stopItems++
					checkRequest(t, it.Request)
					if it.Err != nil || it.Ignored != "" || status[i] != "firing" || invokeIDs[i] != it.Request.Stop.InvokeId {
						t.Fatalf("alert %d (status %q, invoke_id %q) became a stop of %q", i, status[i], invokeIDs[i], it.Request.Stop.InvokeId)
					}
				}
			}
		}

		// The body as an authenticated webhook's (authentication itself is
		// FuzzDetect's): what it stops, and its answer.
		api := &fuzzAPI{}
		out := sourcesHandler(api, nil).webhookBody(context.Background(), testRequestID, PlainHTTP, body)
		if answer := renderAnswer(testRequestID, out); !json.Valid(answer) {
			t.Fatalf("answer is not JSON: %q", answer)
		}
		if status := out.status(); status != http.StatusOK && status < 400 {
			t.Fatalf("status %d", status)
		}
		if stopItems >= 0 && api.stops.Load() > int64(stopItems) {
			t.Fatalf("%d stops from %d firing alerts naming an invocation", api.stops.Load(), stopItems)
		}
	})
}

// recordOracle is what encoding/json reads of an SQS or SNS event: each
// record's message id ("" when absent or not a string).
func recordOracle(event []byte, id func(record map[string]json.RawMessage) json.RawMessage) ([]string, bool) {
	var top map[string]json.RawMessage
	var records []map[string]json.RawMessage
	if json.Unmarshal(event, &top) != nil || json.Unmarshal(top["Records"], &records) != nil {
		return nil, false
	}
	ids := make([]string, len(records))
	for i, r := range records {
		_ = json.Unmarshal(id(r), &ids[i])
	}
	return ids, true
}

func sqsMessageID(r map[string]json.RawMessage) json.RawMessage { return r["messageId"] }

func snsMessageID(r map[string]json.RawMessage) json.RawMessage {
	var sns map[string]json.RawMessage
	_ = json.Unmarshal(r["Sns"], &sns)
	return sns["MessageId"]
}

// checkRecordItems holds decoded records to the oracle: one item per
// record, in order, named by its message id, each request valid.
func checkRecordItems(t *testing.T, items []stopper.Item, ids []string) {
	t.Helper()
	if len(items) != len(ids) {
		t.Fatalf("%d items from %d records", len(items), len(ids))
	}
	for i, it := range items {
		if it.Id == "" || asJSON(it.Id) != ids[i] {
			t.Fatalf("item %d is named %q, its record %q", i, it.Id, ids[i])
		}
		if it.Err == nil {
			checkRequest(t, it.Request)
		}
	}
}

// asJSON is s as a JSON string renders it: invalid UTF-8 becomes U+FFFD,
// as encoding/json, the oracle, reads it (and as the answer names it).
func asJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// transientOnly fails unless err is nil or a transient *stopper.Error:
// a refused delivery must go back to the platform, never be answered.
func transientOnly(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *stopper.Error
	if !errors.As(err, &e) || !e.Transient {
		t.Fatalf("error %v is not a transient *stopper.Error: the platform would not retry the delivery", err)
	}
}

func addRecordSeeds(f *testing.F, prefix string, event func(ids, bodies []string) []byte) {
	addAll(f, readSamples(f, prefix))
	for _, s := range []string{`{"Records":[]}`, `{"Records":null}`, `{"Records":[{}]}`, `{"Records":[1]}`, `{"Records":{}}`, `{"records":[]}`} {
		f.Add([]byte(s))
	}
	stop := func(id string) string { return `{"RegionId":"cn-hangzhou","InvokeId":"` + id + `"}` }
	f.Add(event([]string{"m-1", "m-2", "m-3", "m-4"}, []string{stop(testInvokeID), stop("t-gone1"), stop("t-busy1"), "stop it"}))
	f.Add(event([]string{"m-1", "m-1", ""}, []string{stop(testInvokeID), "x", stop(testInvokeID)}))
	f.Add(event([]string{"m-1"}, []string{`{"Action":"Sweep","DryRun":true}`}))
	f.Add(event([]string{"m-1"}, []string{`{"InvokeId":"` + testInvokeID + `","InstanceIds":["i-bp1abc","i-nope"]}`}))
}

// FuzzSQS decodes SQS events (sqsItems) and runs them through Invoke:
// nothing is lost. Either the whole delivery fails as a function error
// (the queue redelivers it), or the answer is a partial batch response
// in which every record that was not handled is listed (a gone invocation
// counts as handled) and nothing else.
func FuzzSQS(f *testing.F) {
	addRecordSeeds(f, "sqs", func(ids, bodies []string) []byte {
		var records []map[string]any
		for i := range ids {
			records = append(records, map[string]any{"messageId": ids[i], "receiptHandle": "h", "body": bodies[i], "eventSource": "aws:sqs"})
		}
		b, _ := json.Marshal(map[string]any{"Records": records})
		return b
	})
	f.Fuzz(func(t *testing.T, event []byte) {
		items, err := sqsItems(event)
		if err != nil {
			transientOnly(t, err)
			if Detect(event) == SQS {
				// Invoke refuses it the same way, as a function error.
				_, ierr := sourcesHandler(&fuzzAPI{}, nil).Invoke(context.Background(), testRequestID, event)
				if ierr == nil {
					t.Fatalf("sqsItems refused the event (%v) but Invoke answered it", err)
				}
				transientOnly(t, ierr)
			}
			return
		}
		ids, ok := recordOracle(event, sqsMessageID)
		if !ok {
			t.Fatalf("decoded records encoding/json refuses: %q", event)
		}
		checkRecordItems(t, items, ids)
		if Detect(event) != SQS {
			return
		}

		metrics := &lastAnswer{}
		res, ierr := sourcesHandler(&fuzzAPI{}, metrics).Invoke(context.Background(), testRequestID, event)
		transientOnly(t, ierr)
		if ierr != nil {
			return // the whole delivery is retried: nothing lost
		}
		var resp sqsResponse
		dec := json.NewDecoder(bytes.NewReader(res.Payload))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&resp); err != nil || resp.BatchItemFailures == nil {
			t.Fatalf("answer is not a partial batch response (%v): %s", err, res.Payload)
		}
		b, ok := metrics.answer.(stopper.BatchAnswer)
		if !ok || len(b.Results) != len(ids) {
			t.Fatalf("the core saw %v, want one result per record (%d)", metrics.answer, len(ids))
		}
		notHandled := map[string]bool{}
		for i, r := range b.Results {
			id := asJSON(r.Id)
			if id != ids[i] {
				t.Fatalf("result %d is named %q, its record %q", i, r.Id, ids[i])
			}
			if r.Outcome == stopper.OutcomeFailed && r.Code != stopper.CodeInvalidInvokeNotFound {
				notHandled[id] = true
			}
		}
		listed := map[string]bool{}
		for _, fl := range resp.BatchItemFailures {
			if !notHandled[fl.ItemIdentifier] {
				t.Fatalf("%q is listed but was handled: %s", fl.ItemIdentifier, res.Payload)
			}
			listed[fl.ItemIdentifier] = true
		}
		for id := range notHandled {
			if !listed[id] {
				t.Fatalf("record %q was not handled and is not listed: it would be lost: %s", id, res.Payload)
			}
		}
	})
}

// FuzzSNS decodes SNS events (snsItems) and runs them through Invoke:
// a refused delivery is a function error (Lambda retries it, then its
// on-failure destination takes it), and an answered one has one result
// per message.
func FuzzSNS(f *testing.F) {
	addRecordSeeds(f, "sns", func(ids, bodies []string) []byte {
		var records []map[string]any
		for i := range ids {
			records = append(records, map[string]any{"EventSource": "aws:sns", "Sns": map[string]any{"MessageId": ids[i], "Message": bodies[i], "Type": "Notification"}})
		}
		b, _ := json.Marshal(map[string]any{"Records": records})
		return b
	})
	f.Fuzz(func(t *testing.T, event []byte) {
		items, err := snsItems(event)
		var ids []string
		if err != nil {
			transientOnly(t, err)
		} else {
			var ok bool
			if ids, ok = recordOracle(event, snsMessageID); !ok {
				t.Fatalf("decoded records encoding/json refuses: %q", event)
			}
			checkRecordItems(t, items, ids)
		}
		if Detect(event) != SNS {
			return
		}

		metrics := &lastAnswer{}
		res, ierr := sourcesHandler(&fuzzAPI{}, metrics).Invoke(context.Background(), testRequestID, event)
		transientOnly(t, ierr)
		if !json.Valid(res.Payload) {
			t.Fatalf("answer is not JSON: %q", res.Payload)
		}
		if err != nil && ierr == nil {
			t.Fatalf("snsItems refused the event (%v) but Invoke answered it: %s", err, res.Payload)
		}
		if ierr != nil {
			return
		}
		b, ok := metrics.answer.(stopper.BatchAnswer)
		if !ok || len(b.Results) != len(ids) {
			t.Fatalf("the core saw %v, want one result per message (%d)", metrics.answer, len(ids))
		}
		if b.Transient() != nil {
			t.Fatalf("a transient failure was answered, not retried: %s", res.Payload)
		}
	})
}
