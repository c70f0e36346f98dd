package trigger

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// sourcesAPI is the fake of the event-source benchmarks: every
// invocation read is the same active one, tagged stopper:max-errors=2 with
// two failed instances (so that a TaskCompleted failure event takes the
// whole fail-fast path: read, decide, stop) and holding every instance the
// samples in events/ name. It builds nothing per call but the response.
type sourcesAPI struct{ stops atomic.Int64 }

var sourcesInvocation = func() cloudassistant.Invocation {
	inv := describeAny(cloudassistant.DescribeInvocationsRequest{InvokeId: "t-template"}).Invocations.Invocation[0]
	inv.Tags.Tag = []cloudassistant.Tag{{TagKey: "env", TagValue: "prod"}, {TagKey: stopper.TagMaxErrors, TagValue: "2"}}
	inv.InvokeInstances.InvokeInstance = append(inv.InvokeInstances.InvokeInstance,
		cloudassistant.InvokeInstance{InstanceId: "i-bp1bak0000000000001", InvocationStatus: "Running"},
		cloudassistant.InvokeInstance{InstanceId: "i-bp1agent000000000001", InvocationStatus: "Failed"},
		cloudassistant.InvokeInstance{InstanceId: "i-bp1agent000000000002", InvocationStatus: "Failed"})
	return inv
}()

func (a *sourcesAPI) StopInvocation(ctx context.Context, regionID, invokeID string, instanceIDs []string) error {
	a.stops.Add(1)
	return nil
}

func (a *sourcesAPI) DescribeInvocations(ctx context.Context, req cloudassistant.DescribeInvocationsRequest) (*cloudassistant.DescribeInvocationsResponse, error) {
	resp := &cloudassistant.DescribeInvocationsResponse{RequestId: "upstream"}
	if req.InvokeId == "" || (req.Timed != nil && *req.Timed) {
		return resp, nil
	}
	inv := sourcesInvocation // the slices are shared: the core only reads them
	inv.InvokeId = req.InvokeId
	resp.Invocations.Invocation = []cloudassistant.Invocation{inv}
	return resp, nil
}

// sourceBenches are BenchmarkInvoke's rows for the event sources that
// carry stops (fail-fast events, queues, alerts), each from its sample in
// events/: one TaskCompleted failure event (a
// read and a stop), EventBridge's batch push (5 events: 4 failures, each a
// read and a stop, and a success, which reads nothing), an SQS batch of 2
// records, an SNS message, and an Alertmanager payload behind API Gateway
// v2 with the bearer token (a firing alert, a stop; a resolved one).
func sourceBenches(b *testing.B) []invokeBench {
	b.Helper()
	sample := func(name string) [][]byte {
		p, err := os.ReadFile(filepath.Join("..", "..", "events", name))
		if err != nil {
			b.Fatal(err)
		}
		return [][]byte{p}
	}
	alertmanager := sample("alertmanager-apigw-v2.json")[0]
	var ev map[string]any
	if err := json.Unmarshal(alertmanager, &ev); err != nil {
		b.Fatal(err)
	}
	ev["headers"].(map[string]any)["authorization"] = "Bearer " + testToken
	alertmanager, _ = json.Marshal(ev)
	return []invokeBench{
		{name: "eventbridge", payloads: sample("eventbridge-taskcompleted-failed.json"), sources: true, stops: 1},
		{name: "eventbridge-batch", payloads: sample("eventbridge-taskcompleted-batch.json"), sources: true, stops: 4, events: 5},
		{name: "sqs", payloads: sample("sqs-stop.json"), sources: true, stops: 2, events: 2},
		{name: "sns", payloads: sample("sns-stop.json"), sources: true, stops: 1},
		{name: "alertmanager-apigateway-v2-bearer", payloads: [][]byte{alertmanager}, sources: true, stops: 1, events: 2},
	}
}
