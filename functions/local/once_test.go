package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Each stop once, each count exact, through the whole wiring: `local serve`
// (one function instance, as FC runs it, taking concurrent events) and
// `local invoke` against an emulator whose stops let running work finish
// (the documented behaviour, under which a stopped invocation still reads
// as stoppable while its running instances run on).

const onceRegion = "cn-hangzhou"

// startOnceEmulator serves fleet, stops as documented.
func startOnceEmulator(t *testing.T, fleet []ca.Invocation, opts emulator.Options) *emulator.Running {
	t.Helper()
	t.Setenv("STOPPER_REGION_ID", onceRegion)
	opts.AccessKeyID, opts.AccessKeySecret = localAccessKeyID, localAccessKeySecret
	opts.Fleet, opts.StopMode = &emulator.Fleet{Invocations: fleet}, emulator.StopModeDocumented
	emu, err := emulator.Listen("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

// serveAgainst runs `local serve` on emu and returns its /invoke URL.
func serveAgainst(t *testing.T, emu *emulator.Running) string {
	t.Helper()
	base, _ := startServe(t, "-endpoint", emu.URL, "-access-key-id", localAccessKeyID, "-access-key-secret", localAccessKeySecret)
	return base + "/invoke"
}

// postAll posts every body at once and returns the answers in order.
func postAll(t *testing.T, url string, bodies []string) []map[string]any {
	t.Helper()
	answers := make([]map[string]any, len(bodies))
	var wg sync.WaitGroup
	for i, body := range bodies {
		wg.Go(func() {
			status, a := postTo(t, url, body, map[string]string{"Content-Type": "application/json"})
			if status != 200 {
				t.Errorf("%s: status %d, %v", body, status, a)
			}
			answers[i] = a
		})
	}
	wg.Wait()
	return answers
}

// bigRollout is a one-time invocation on 2,000 instances tagged
// stopper:max-errors=5: 5 failed, 95 running, the rest pending.
func bigRollout(now time.Time) ca.Invocation {
	created := now.Add(-15 * time.Minute).UTC().Format(time.RFC3339)
	inv := ca.Invocation{RegionId: onceRegion, InvokeId: "t-hz0bigrollout0a1b2c3d4e5f6a7b", CommandName: "rollout-agent",
		RepeatMode: "Once", CreationTime: created, Tags: ca.Tags{Tag: []ca.Tag{{TagKey: stopper.TagMaxErrors, TagValue: "5"}}}}
	for i := range 2000 {
		status := ca.StatusPending
		switch {
		case i < 5:
			status = ca.StatusFailed
		case i < 100:
			status = ca.StatusRunning
		}
		inv.InvokeInstances.InvokeInstance = append(inv.InvokeInstances.InvokeInstance,
			ca.InvokeInstance{InstanceId: fmt.Sprintf("i-bp1big%013d", i), InvocationStatus: status, CreationTime: created})
	}
	return inv
}

// taskCompleted is an EventBridge TaskCompleted event of a failed run.
func taskCompleted(eventID, invokeID, instanceID string) string {
	return fmt.Sprintf(`{"id":%q,"source":"acs.ecs","specversion":"1.0","type":"ecs:CloudAssistant:TaskCompleted",`+
		`"aliyunregionid":%q,"data":{"invokeId":%q,"instanceId":%q,"invocationStatus":"Failed","repeatMode":"Once"}}`,
		eventID, onceRegion, invokeID, instanceID)
}

// 50 TaskCompleted events of one rollout at once, then 20 of them again:
// one StopInvocation, one answer that says Stopped, every other one
// "already stopped" (so not notified).
func TestFailFastEventsStopOnce(t *testing.T) {
	rollout := bigRollout(time.Now())
	emu := startOnceEmulator(t, []ca.Invocation{rollout}, emulator.Options{Latency: 5 * time.Millisecond})
	// DingTalk, whose robot allows 20 messages a minute: the flood must reach it as one.
	rc := chatReceiver(t, "dingtalk")
	url := serveAgainst(t, emu)
	var events []string
	for i := range 50 {
		events = append(events, taskCompleted(fmt.Sprintf("ev-%02d", i), rollout.InvokeId, rollout.InvokeInstances.InvokeInstance[i%5].InstanceId))
	}
	for round, batch := range [][]string{events, events[:20]} {
		stopped := 0
		for i, a := range postAll(t, url, batch) {
			switch {
			case a["Action"] != "FailFast":
				t.Fatalf("round %d, event %d: %v", round, i, a)
			case a["Stopped"] == true:
				stopped++
			case a["Stopped"] != false || a["Reason"] != stopper.ReasonAlreadyStopped:
				t.Errorf("round %d, event %d: Stopped %v, Reason %q; want false, %q", round, i, a["Stopped"], a["Reason"], stopper.ReasonAlreadyStopped)
			}
		}
		if want := map[int]int{0: 1, 1: 0}[round]; stopped != want {
			t.Errorf("round %d: %d answers say Stopped, want %d", round, stopped, want)
		}
	}
	if n := emu.StopCalls(onceRegion, rollout.InvokeId); n != 1 {
		t.Fatalf("%d StopInvocation calls for one rollout, want 1", n)
	}
	rc.mu.Lock()
	messages, bad := len(rc.bodies), rc.bad
	rc.mu.Unlock()
	if messages != 1 || len(bad) != 0 {
		t.Fatalf("%d DingTalk messages for the flood and its replays (want 1); failed checks %v", messages, bad)
	}
	// The stop let the 95 running runs finish: the invocation still reads
	// as stoppable, and only the ledger keeps it from being stopped again.
	got, _ := emu.Invocation(onceRegion, rollout.InvokeId)
	running := 0
	for _, in := range got.InvokeInstances.InvokeInstance {
		if in.InvocationStatus == ca.StatusRunning {
			running++
		}
	}
	if running != 95 {
		t.Fatalf("%d instances still running after the stop, want 95", running)
	}
}

// A long job a sweep stopped (its running instances run on, nothing
// pending) is not stopped again by the next sweep or by a request naming
// it, within StopMemory: Spared "already stopped", and answered so.
func TestSweepLeavesAJobItStoppedAlone(t *testing.T) {
	now := time.Now()
	created := now.Add(-3 * time.Hour).UTC().Format(time.RFC3339)
	job := ca.Invocation{RegionId: onceRegion, InvokeId: "t-hz0longjob0a1b2c3d4e5f6a7b8c9d", CommandName: "backup", RepeatMode: "Once", CreationTime: created,
		InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{
			{InstanceId: "i-bp1longjob000000001", InvocationStatus: ca.StatusRunning, CreationTime: created},
			{InstanceId: "i-bp1longjob000000002", InvocationStatus: ca.StatusRunning, CreationTime: created},
			{InstanceId: "i-bp1longjob000000003", InvocationStatus: ca.StatusPending, CreationTime: created}}}}
	emu := startOnceEmulator(t, []ca.Invocation{job}, emulator.Options{})
	url := serveAgainst(t, emu)
	sweep := `{"triggerTime":"2026-11-26T07:50:00Z","triggerName":"sweep","payload":""}`

	first := postAll(t, url, []string{sweep})[0]
	if stopped, _ := first["Stopped"].([]any); len(stopped) != 1 {
		t.Fatalf("first sweep: %v", first)
	}
	second := postAll(t, url, []string{sweep})[0]
	spared, _ := second["Spared"].([]any)
	if stopped, _ := second["Stopped"].([]any); len(stopped) != 0 || len(spared) != 1 ||
		spared[0].(map[string]any)["Reason"] != stopper.ReasonAlreadyStopped || second["Matched"] != 0.0 {
		t.Fatalf("second sweep: %v; want nothing stopped, the job Spared %q", second, stopper.ReasonAlreadyStopped)
	}
	direct := postAll(t, url, []string{`{"InvokeId":"` + job.InvokeId + `"}`})[0]
	if direct["Stopped"] != false || direct["Reason"] != stopper.ReasonAlreadyStopped || direct["Running"] != 2.0 || direct["Pending"] != 0.0 {
		t.Fatalf("a stop naming it: %v", direct)
	}
	if n := emu.StopCalls(onceRegion, job.InvokeId); n != 1 {
		t.Fatalf("%d StopInvocation calls, want 1", n)
	}
}

// Two timer sweeps at once over 80 stale invocations: they take turns, and
// no invocation is stopped twice.
func TestOverlappingSweepsStopEachOnce(t *testing.T) {
	t.Setenv("STOPPER_SWEEP_MAX_STOPS", "100")
	fleet := safetyFleet(time.Now()) // 80 stale of 140
	emu := startOnceEmulator(t, fleet, emulator.Options{Latency: 2 * time.Millisecond})
	url := serveAgainst(t, emu)
	sweep := `{"triggerTime":"2026-11-26T07:50:00Z","triggerName":"sweep","payload":""}`
	answers := postAll(t, url, []string{sweep, sweep})
	total, already := 0, 0
	for _, a := range answers {
		stopped, _ := a["Stopped"].([]any)
		total += len(stopped)
		spared, _ := a["Spared"].([]any)
		for _, s := range spared {
			if s.(map[string]any)["Reason"] == stopper.ReasonAlreadyStopped {
				already++
			}
		}
		if a["Truncated"] != false {
			t.Errorf("a sweep was truncated: %v", a)
		}
	}
	if total != 80 || already != 80 {
		t.Errorf("the sweeps stopped %d and spared %d as already stopped; want 80 and 80", total, already)
	}
	calls := 0
	for _, inv := range fleet {
		n := emu.StopCalls(onceRegion, inv.InvokeId)
		if n > 1 {
			t.Errorf("%s stopped %d times", inv.InvokeId, n)
		}
		calls += n
	}
	if calls != 80 {
		t.Fatalf("%d StopInvocation calls, want 80", calls)
	}
}

// invokeOnce runs `local invoke` on event against emu and returns the exit
// code, stdout and stderr.
func invokeOnce(t *testing.T, emu *emulator.Running, event string) (int, string, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(file, []byte(event), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"invoke", "-event", file, "-endpoint", emu.URL,
		"-access-key-id", localAccessKeyID, "-access-key-secret", localAccessKeySecret}, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// 1,000 firing alerts naming one invocation in one Alertmanager payload
// are one stop, one result that says Stopped, and a message that counts
// one invocation.
func TestAlertmanagerDuplicatesAreOneStop(t *testing.T) {
	t.Setenv("STOPPER_WEBHOOK_SECRET", "once-test-webhook-secret-0123456789")
	now := time.Now()
	created := now.Add(-7 * time.Hour).UTC().Format(time.RFC3339)
	job := ca.Invocation{RegionId: onceRegion, InvokeId: "t-hz0alerted0a1b2c3d4e5f6a7b8c9d", CommandName: "backup", RepeatMode: "Once", CreationTime: created,
		InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{
			{InstanceId: "i-bp1alerted000000001", InvocationStatus: ca.StatusRunning, CreationTime: created},
			{InstanceId: "i-bp1alerted000000002", InvocationStatus: ca.StatusPending, CreationTime: created}}}}
	emu := startOnceEmulator(t, []ca.Invocation{job}, emulator.Options{})
	rc := chatReceiver(t, "slack")
	var alerts []string
	for i := range 1000 {
		alerts = append(alerts, fmt.Sprintf(`{"status":"firing","fingerprint":"fp%04d","labels":{"alertname":"CommandRunsTooLong","invoke_id":%q,"region_id":%q}}`,
			i, job.InvokeId, onceRegion))
	}
	body := `{"version":"4","status":"firing","alerts":[` + strings.Join(alerts, ",") + `]}`
	event, _ := json.Marshal(map[string]any{"version": "2.0", "routeKey": "POST /stop", "rawPath": "/stop",
		"headers":        map[string]string{"content-type": "application/json", "user-agent": "Alertmanager/0.28.1"},
		"requestContext": map[string]any{"http": map[string]string{"method": "POST", "path": "/stop"}},
		"body":           body, "isBase64Encoded": false})

	code, stdout, stderr := invokeOnce(t, emu, string(event))
	var resp struct{ StatusCode int }
	_ = json.Unmarshal([]byte(stdout), &resp) // not JSON: status 0, which the check refuses
	var out map[string]any
	_ = json.Unmarshal([]byte(stdout), &out)
	var answer stopper.BatchAnswer
	bodyText, _ := out["body"].(string)
	if code != 0 || resp.StatusCode != 200 || json.Unmarshal([]byte(bodyText), &answer) != nil || len(answer.Results) != 1000 {
		t.Fatalf("exit %d, status %d: %.500s\n%.2000s", code, resp.StatusCode, stdout, stderr)
	}
	stopped := 0
	for i, r := range answer.Results {
		switch {
		case r.Outcome == stopper.OutcomeStopped:
			stopped++
		case r.Outcome != stopper.OutcomeNotStopped || r.DuplicateOf != "fp0000" || r.Reason != "duplicate of fp0000":
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if stopped != 1 || answer.Results[0].Outcome != stopper.OutcomeStopped {
		t.Fatalf("%d results say Stopped, want the first only", stopped)
	}
	if n := emu.StopCalls(onceRegion, job.InvokeId); n != 1 || emu.Calls("DescribeInvocations") != 1 {
		t.Fatalf("%d stops and %d reads, want one each", n, emu.Calls("DescribeInvocations"))
	}
	if !strings.Contains(stderr, `"stopped":1,`) || !strings.Contains(stderr, `"duplicates":999`) {
		t.Errorf("the batch's log line does not count one stop and 999 duplicates:\n%.3000s", stderr)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bodies) != 1 || !strings.Contains(rc.bodies[0], "stopped 1 invocation") || strings.Contains(rc.bodies[0], "1000") {
		t.Fatalf("%d messages: %.1000v", len(rc.bodies), rc.bodies)
	}
}

// sqsOf is an SQS event whose records carry bodies, with message ids m-0, m-1, ...
func sqsOf(bodies ...string) string {
	var records []map[string]any
	for i, b := range bodies {
		records = append(records, map[string]any{"messageId": fmt.Sprintf("m-%d", i), "receiptHandle": "h", "body": b,
			"eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:stops", "awsRegion": "us-east-1"})
	}
	event, _ := json.Marshal(map[string]any{"Records": records})
	return string(event)
}

// A queued sweep that could not list its region (the API kept failing)
// goes back to the queue: it is in batchItemFailures, and logged so.
func TestQueuedSweepThatFailedIsRedelivered(t *testing.T) {
	t.Setenv("STOPPER_MAX_ATTEMPTS", "1")
	emu := startOnceEmulator(t, safetyFleet(time.Now()), emulator.Options{FailFirst: 1000})
	code, stdout, stderr := invokeOnce(t, emu, sqsOf(`{"Action":"Sweep"}`))
	if code != 0 || strings.TrimSpace(stdout) != `{"batchItemFailures":[{"itemIdentifier":"m-0"}]}` {
		t.Fatalf("exit %d, answer %s\n%.3000s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "sqs record not handled") || !strings.Contains(stderr, "region cn-hangzhou not listed: ServiceUnavailable") {
		t.Fatalf("no line says why the record went back:\n%.3000s", stderr)
	}
	if n := emu.Calls("StopInvocation"); n != 0 {
		t.Fatalf("%d stops", n)
	}
}

// A sweep refused by its limit inside an SQS or SNS batch is told as a
// direct one is: one message that says nothing was stopped, and why.
func TestQueuedSweepRefusedIsNotified(t *testing.T) {
	sns := func(message string) string {
		event, _ := json.Marshal(map[string]any{"Records": []map[string]any{{"EventVersion": "1.0", "EventSource": "aws:sns",
			"Sns": map[string]any{"MessageId": "sns-1", "Type": "Notification", "Message": message}}}})
		return string(event)
	}
	for _, tc := range []struct{ name, event string }{
		{"sqs", sqsOf(`{"Action":"Sweep"}`)},
		{"sns", sns(`{"Action":"Sweep"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("STOPPER_SWEEP_MAX_STOPS", "50")
			emu := startOnceEmulator(t, safetyFleet(time.Now()), emulator.Options{})
			rc := chatReceiver(t, "slack")
			code, stdout, stderr := invokeOnce(t, emu, tc.event)
			if tc.name == "sqs" && strings.TrimSpace(stdout) != `{"batchItemFailures":[{"itemIdentifier":"m-0"}]}` {
				t.Errorf("answer %s", stdout)
			}
			if emu.Calls("StopInvocation") != 0 {
				t.Fatalf("a refused sweep stopped something")
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if len(rc.bodies) != 1 || !strings.Contains(rc.bodies[0], stopper.CodeSweepLimitExceeded) || !strings.Contains(rc.bodies[0], "Nothing was stopped") {
				t.Fatalf("exit %d, %d messages: %.1000v\n%.2000s", code, len(rc.bodies), rc.bodies, stderr)
			}
		})
	}
}
