package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// A share threshold is exact through the whole wiring: a TaskCompleted
// event through `local invoke` against the emulator, for an invocation over
// 1,000 instances watched at 16.1 % (161 instances). 160 failed instances
// leave it running; 161 stop it. Float arithmetic made the limit 162.
func TestFailFastShareOfAThousandInstances(t *testing.T) {
	const invokeID = "t-hz0share0rollout0a1b2c3d4e5f6"
	for _, tc := range []struct {
		name    string
		tag     string // stopper:max-errors; "" leaves the invocation untagged
		config  string // STOPPER_FAILFAST_MAX_ERRORS
		failed  int
		stopped bool
		reason  string
	}{
		{"tag, 160 failed", "16.1%", "", 160, false, "160 of 1000 instances failed: below max-errors 16.1% (161 of 1000)"},
		{"tag, 161 failed", "16.1%", "", 161, true, "161 of 1000 instances failed: max-errors 16.1% (161 of 1000) reached, the rest stopped"},
		{"configuration, 160 failed", "", "16.1%", 160, false, "below max-errors 16.1% (161 of 1000)"},
		{"configuration, 161 failed", "", "16.1%", 161, true, "max-errors 16.1% (161 of 1000) reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("STOPPER_REGION_ID", "cn-hangzhou")
			t.Setenv("STOPPER_FAILFAST_MAX_ERRORS", tc.config)
			var tags []ca.Tag
			if tc.tag != "" {
				tags = []ca.Tag{{TagKey: stopper.TagMaxErrors, TagValue: tc.tag}}
			}
			emu, err := emulator.Listen("127.0.0.1:0", emulator.Options{AccessKeyID: localAccessKeyID, AccessKeySecret: localAccessKeySecret,
				Fleet: &emulator.Fleet{Invocations: []ca.Invocation{rolloutOf(invokeID, 1000, tc.failed, tags)}}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { emu.Close() })

			code, a := invokeAgainst(t, emu, taskCompletedFor(t, invokeID, "i-share0000"))
			if code != 0 {
				t.Fatalf("exit %d: %v", code, a)
			}
			if a["Action"] != "FailFast" || a["Stopped"] != tc.stopped || a["Failed"] != float64(tc.failed) || a["Instances"] != 1000.0 ||
				a["MaxErrors"] != "16.1%" || !strings.Contains(fmt.Sprint(a["Reason"]), tc.reason) {
				t.Fatalf("answer %v; want Stopped %v with %q", a, tc.stopped, tc.reason)
			}
			if n, want := emu.StopCalls("cn-hangzhou", invokeID), map[bool]int{true: 1}[tc.stopped]; n != want {
				t.Fatalf("%d StopInvocation calls, want %d", n, want)
			}
		})
	}
}

// rolloutOf is a one-time invocation over n instances, the first failed of
// them Failed, one Running and the rest Pending.
func rolloutOf(invokeID string, n, failed int, tags []ca.Tag) ca.Invocation {
	created := time.Now().Add(-15 * time.Minute).UTC().Format(time.RFC3339)
	instances := make([]ca.InvokeInstance, n)
	for i := range instances {
		status := ca.StatusPending
		switch {
		case i < failed:
			status = ca.StatusFailed
		case i == failed:
			status = ca.StatusRunning
		}
		instances[i] = ca.InvokeInstance{InstanceId: fmt.Sprintf("i-share%04d", i), InvocationStatus: status, CreationTime: created}
	}
	return ca.Invocation{RegionId: "cn-hangzhou", InvokeId: invokeID, CommandName: "rollout", RepeatMode: "Once",
		CreationTime: created, Tags: ca.Tags{Tag: tags}, InvokeInstances: ca.InvokeInstances{InvokeInstance: instances}}
}

// taskCompletedFor is the sample TaskCompleted event (events/), for one
// failed run of invokeID on instanceID.
func taskCompletedFor(t *testing.T, invokeID, instanceID string) string {
	t.Helper()
	raw, err := os.ReadFile("../../events/eventbridge-taskcompleted-failed.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	data := ev["data"].(map[string]any)
	data["invokeId"], data["instanceId"], data["invocationStatus"] = invokeID, instanceID, "Failed"
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
