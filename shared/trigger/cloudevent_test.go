package trigger

import (
	"testing"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// The decoder reads invokeId, instanceId and invocationStatus of data, and
// nothing else: the documented example's other fields, present or not,
// whatever their values, change nothing (what errorCode and errorDesc hold
// for a failed run is not documented).
func TestCloudEventReadsOnlyWhatItNeeds(t *testing.T) {
	want := stopper.FailFastRequest{EventId: "45ef4dewdwe1-7c35-447a-bd93-fab0000001", RegionId: "cn-hangzhou",
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
