package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Which records go back to the queue, and why: failures (but a gone
// invocation), and sweeps that did not finish, never counted as done.
func TestSQSUnhandled(t *testing.T) {
	failed := func(code string) stopper.ItemResult {
		return stopper.ItemResult{Outcome: stopper.OutcomeFailed, Code: code, Message: code + " happened", Err: &stopper.Error{Code: code}}
	}
	dupOfFailed := failed("ServiceUnavailable")
	dupOfFailed.DuplicateOf, dupOfFailed.Reason = "m-1", "duplicate of m-1"
	sweep := func(a stopper.SweepAnswer) stopper.ItemResult {
		return stopper.ItemResult{Outcome: stopper.OutcomeNotStopped, Answer: a}
	}
	for _, tc := range []struct {
		name string
		it   stopper.ItemResult
		why  string // "" is handled
	}{
		{"stopped", stopper.ItemResult{Outcome: stopper.OutcomeStopped, Answer: stopper.StopAnswer{}}, ""},
		{"not stopped", stopper.ItemResult{Outcome: stopper.OutcomeNotStopped, Reason: stopper.ReasonAlreadyStopped}, ""},
		{"duplicate of a stop", stopper.ItemResult{Outcome: stopper.OutcomeNotStopped, DuplicateOf: "m-1"}, ""},
		{"failed", failed("ServiceUnavailable"), "ServiceUnavailable happened"},
		{"duplicate of a failure", dupOfFailed, "ServiceUnavailable happened"},
		{"failed without a message", stopper.ItemResult{Outcome: stopper.OutcomeFailed, Code: "X"}, "X"},
		{"gone", failed(stopper.CodeInvalidInvokeNotFound), ""},
		{"refused sweep", failed(stopper.CodeSweepLimitExceeded), "Sweep.LimitExceeded happened"},
		{"finished sweep", sweep(stopper.SweepAnswer{Stopped: []stopper.SweptInvoke{{InvokeId: "t-a"}}}), ""},
		{"truncated sweep", sweep(stopper.SweepAnswer{Truncated: true}), "truncated"},
		{"sweep with a region not listed", sweep(stopper.SweepAnswer{Failed: []stopper.FailedInvoke{{RegionId: "cn-beijing", Code: "ServiceUnavailable"}}}),
			"region cn-beijing not listed: ServiceUnavailable"},
		{"sweep with a permanent failure on one invocation", sweep(stopper.SweepAnswer{Failed: []stopper.FailedInvoke{{RegionId: "cn-beijing", InvokeId: "t-a", Code: "InvalidCreationTime"}}}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			why := sqsUnhandled(tc.it)
			if tc.why == "" && why != "" || !strings.Contains(why, tc.why) {
				t.Fatalf("sqsUnhandled = %q, want %q", why, tc.why)
			}
			tc.it.Id = "m-2"
			got := sqsAnswer(stopper.BatchAnswer{Results: []stopper.ItemResult{tc.it}})
			if listed := len(got.BatchItemFailures) == 1; listed != (tc.why != "") {
				t.Fatalf("batchItemFailures %v", got.BatchItemFailures)
			}
		})
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
	if len(env.api.Stops()) != 0 {
		t.Errorf("stops %v", env.api.Stops())
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
	if got := env.api.Stops(); len(got) != 1 || got[0].InvokeID != testInvokeID {
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
	env.api.StopErr[testInvokeID] = &cloudassistant.Error{Code: "ServiceUnavailable", HTTPStatus: 503}
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
