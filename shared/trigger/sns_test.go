package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

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
	env.api.StopErr[testInvokeID] = &cloudassistant.Error{Code: "ServiceUnavailable", HTTPStatus: 503}
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
