package fcruntime

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// The sample fleet's rollouts (shared/emulator/sample-fleet.json), which
// the EventBridge samples in events/ name.
const (
	agentInvoke     = "t-hz0rolloutagent0a1b2c3d4e5f6a" // stopper:max-errors=2, two of five Failed
	canaryInvoke    = "t-hz0rolloutcanary0a1b2c3d4e5f6" // stopper:max-errors=3, one Failed
	untaggedInvoke  = "t-hz0rolloutuntagged0a1b2c3d4e5" // no tag, one Failed
	protectedInvoke = "t-hz0rolloutprotected0a1b2c3d4e" // stopper:protect and max-errors=1, two Failed

	// bearerToken is STOPPER_WEBHOOK_TOKEN: at least 32 characters.
	bearerToken = "eventbridge-http-target-token-0123456789"
)

// fcTransport is one way FC hands an event to the function: it starts the
// function against the emulator at url and returns how to invoke it, the
// answer being the body FC reads back (a successful invocation's result).
type fcTransport struct {
	name  string
	start func(t *testing.T) (invoke func(t *testing.T, id string, event []byte) []byte)
}

var fcTransports = []fcTransport{
	{"go1 runtime API", func(t *testing.T) func(*testing.T, string, []byte) []byte {
		fc := newFakeFC(t)
		startLoop(t, fc, nil)
		return func(t *testing.T, id string, event []byte) []byte {
			t.Helper()
			fc.push(id, fcHeaders(), event)
			a := fc.wait(t, id)
			if a.kind != "response" || a.contentType != "application/json" {
				t.Fatalf("answer = %s (%s) %s, want a JSON response", a.kind, a.contentType, a.body)
			}
			return a.body
		}
	}},
	{"custom runtime", func(t *testing.T) func(*testing.T, string, []byte) []byte {
		base, _ := startCustom(t, "")
		return func(t *testing.T, id string, event []byte) []byte {
			t.Helper()
			resp, body := send(t, http.MethodPost, base+"/invoke", invokeHeaders(id), event)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("x-fc-status") != "200" {
				t.Fatalf("POST /invoke = %d x-fc-status=%q %s, want an answer", resp.StatusCode, resp.Header.Get("x-fc-status"), body)
			}
			return body
		}
	}},
}

// batchEvent is one event of events/eventbridge-taskcompleted-batch.json,
// as FC's EventBridge trigger delivers it alone.
func batchEvent(t *testing.T, i int) []byte {
	t.Helper()
	var batch []json.RawMessage
	if err := json.Unmarshal(e2e.ReadEvent(t, "eventbridge-taskcompleted-batch.json"), &batch); err != nil || i >= len(batch) {
		t.Fatalf("batch sample: %v", err)
	}
	return batch[i]
}

// instanceState is an instance of the sample fleet and the state it must be in.
type instanceState struct{ invoke, instance, want string }

// untouched is every pending instance of the rollouts that fail-fast must
// leave alone.
var untouched = []instanceState{
	{canaryInvoke, "i-bp1canary00000000003", "Pending"},
	{canaryInvoke, "i-bp1canary00000000004", "Pending"},
	{untaggedInvoke, "i-bp1untag000000000002", "Pending"},
	{untaggedInvoke, "i-bp1untag000000000003", "Pending"},
	{protectedInvoke, "i-bp1protect0000000003", "Pending"},
}

// agentStopped is the max-errors=2 rollout after its stop: pending
// instances Cancelled, the running one left running (a one-time
// invocation's started runs keep running).
var agentStopped = []instanceState{
	{agentInvoke, "i-bp1agent000000000004", "Cancelled"},
	{agentInvoke, "i-bp1agent000000000005", "Cancelled"},
	{agentInvoke, "i-bp1agent000000000003", "Running"},
}

func checkStates(t *testing.T, emu *emulator.Server, states ...[]instanceState) {
	t.Helper()
	for _, list := range states {
		for _, s := range list {
			if got := e2e.InstanceStatus(t, emu, sampleRegion, s.invoke, s.instance); got != s.want {
				t.Errorf("%s of %s is %s, want %s", s.instance, s.invoke, got, s.want)
			}
		}
	}
}

// A TaskCompleted event from FC's EventBridge trigger, on both protocols:
// a failure of the invocation tagged stopper:max-errors=2 (two of its five
// instances failed) stops its pending instances; failures of the canary
// (below its threshold), the untagged and the protected rollouts stop
// nothing, and a success costs no API call.
func TestEventBridgeFailFast(t *testing.T) {
	type want struct {
		stopped   bool
		maxErrors string
		failed    int
		reason    string // a part of the answer's Reason
	}
	for _, tr := range fcTransports {
		for _, tc := range []struct {
			name  string
			event func(t *testing.T) []byte
			want  want
			// reads is how many DescribeInvocations the event may cost.
			reads int
		}{
			{"max-errors reached", func(t *testing.T) []byte { return e2e.ReadEvent(t, "eventbridge-taskcompleted-failed.json") },
				want{true, "2", 2, "the rest stopped"}, 1},
			{"canary below its threshold", func(t *testing.T) []byte { return batchEvent(t, 0) }, want{false, "3", 1, "below max-errors 3"}, 1},
			{"untagged", func(t *testing.T) []byte { return batchEvent(t, 1) }, want{false, "", 1, "not watched"}, 1},
			{"protected", func(t *testing.T) []byte { return batchEvent(t, 2) }, want{false, "1", 2, "stopper:protect"}, 1},
			{"success", func(t *testing.T) []byte { return batchEvent(t, 4) }, want{false, "", 0, "not in failure"}, 0},
		} {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				emu, url := newEmulator(t, emulator.Options{})
				setEnv(t, url)
				invoke := tr.start(t)
				id := "req-" + strings.ReplaceAll(tc.name, " ", "-")
				got := e2e.DecodeObject(t, invoke(t, id, tc.event(t)))
				reason, _ := got["Reason"].(string)
				if got["Action"] != "FailFast" || got["RequestId"] != id || got["Stopped"] != tc.want.stopped ||
					got["MaxErrors"] != tc.want.maxErrors || got["Failed"] != float64(tc.want.failed) || !strings.Contains(reason, tc.want.reason) {
					t.Fatalf("answer = %v, want Stopped %v, MaxErrors %q, Failed %d, a reason saying %q",
						got, tc.want.stopped, tc.want.maxErrors, tc.want.failed, tc.want.reason)
				}
				if n := emu.Calls("DescribeInvocations"); n != tc.reads {
					t.Errorf("%d DescribeInvocations, want %d", n, tc.reads)
				}
				if tc.want.stopped {
					if got["Pending"] != 2.0 || got["Running"] != 1.0 || got["Instances"] != 5.0 {
						t.Errorf("answer = %v, want Pending 2, Running 1 of 5 instances", got)
					}
					checkStates(t, emu, agentStopped, untouched)
					if n := emu.StopCalls(sampleRegion, agentInvoke); n != 1 || emu.Calls("StopInvocation") != 1 {
						t.Fatalf("StopInvocation calls = %d on %s, %d in all; want 1", n, agentInvoke, emu.Calls("StopInvocation"))
					}
					return
				}
				checkStates(t, emu, untouched)
				if n := emu.Calls("StopInvocation"); n != 0 {
					t.Fatalf("%d StopInvocation calls, want none", n)
				}
			})
		}

		// EventBridge's batch push: a JSON array, answered event by event.
		t.Run(tr.name+"/batch", func(t *testing.T) {
			emu, url := newEmulator(t, emulator.Options{})
			setEnv(t, url)
			invoke := tr.start(t)
			got := e2e.DecodeObject(t, invoke(t, "req-batch", e2e.ReadEvent(t, "eventbridge-taskcompleted-batch.json")))
			var results []string
			list, _ := got["Results"].([]any)
			for _, r := range list {
				m, _ := r.(map[string]any)
				answer, _ := m["Answer"].(map[string]any)
				results = append(results, strings.Join([]string{str(m["Id"]), str(m["Outcome"]), str(answer["InvokeId"])}, " "))
			}
			want := []string{
				"4f2c9a1e-8b7d-4c3a-9e21-0b5d7c1a0002 NotStopped " + canaryInvoke,
				"4f2c9a1e-8b7d-4c3a-9e21-0b5d7c1a0003 NotStopped " + untaggedInvoke,
				"4f2c9a1e-8b7d-4c3a-9e21-0b5d7c1a0004 NotStopped " + protectedInvoke,
				"4f2c9a1e-8b7d-4c3a-9e21-0b5d7c1a0005 Stopped " + agentInvoke,
				"4f2c9a1e-8b7d-4c3a-9e21-0b5d7c1a0006 NotStopped " + agentInvoke,
			}
			if got["RequestId"] != "req-batch" || strings.Join(results, "\n") != strings.Join(want, "\n") {
				t.Fatalf("results:\n%s\nwant:\n%s\nanswer: %v", strings.Join(results, "\n"), strings.Join(want, "\n"), got)
			}
			checkStates(t, emu, agentStopped, untouched)
			if n := emu.Calls("StopInvocation"); n != 1 || emu.StopCalls(sampleRegion, agentInvoke) != 1 {
				t.Fatalf("%d StopInvocation calls, want 1 (on %s)", n, agentInvoke)
			}
			// Four failure events read their invocation; the success reads nothing.
			if n := emu.Calls("DescribeInvocations"); n != 4 {
				t.Errorf("%d DescribeInvocations, want 4", n)
			}
		})
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// An EventBridge HTTP target posts the event to the webhook URL with a
// bearer token (it cannot sign): through the custom runtime's HTTP path it
// fails fast; without credentials, or with a wrong token, it is a 401 and
// nothing is read.
func TestCustomCloudEventWebhook(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	t.Setenv("STOPPER_WEBHOOK_TOKEN", bearerToken)
	base, out := startCustom(t, "")
	event := e2e.ReadEvent(t, "eventbridge-taskcompleted-failed.json")
	headers := func(id string) map[string]string {
		return with(fcHeaders(), "x-fc-request-id", id, "x-fc-control-path", "/http-invoke", "Content-Type", "application/json")
	}

	for name, h := range map[string]map[string]string{
		"no credentials": headers("req-no-credentials"),
		"wrong token":    with(headers("req-wrong-token"), "Authorization", "Bearer "+strings.Repeat("0", len(bearerToken))),
		"token as basic": with(headers("req-basic"), "Authorization", "Basic "+bearerToken),
	} {
		resp, b := send(t, http.MethodPost, base+"/events", h, event)
		if resp.StatusCode != http.StatusUnauthorized || e2e.DecodeObject(t, b)["Code"] != "InvalidSignature" {
			t.Fatalf("%s: POST /events = %d %s, want 401 InvalidSignature", name, resp.StatusCode, b)
		}
	}
	if n, m := emu.Calls("DescribeInvocations"), emu.Calls("StopInvocation"); n != 0 || m != 0 {
		t.Fatalf("an unauthenticated event reached the API: %d reads, %d stops", n, m)
	}
	checkStates(t, emu, []instanceState{{agentInvoke, "i-bp1agent000000000004", "Pending"}})

	resp, b := send(t, http.MethodPost, base+"/events", with(headers("req-bearer"), "Authorization", "Bearer "+bearerToken), event)
	got := e2e.DecodeObject(t, b)
	if resp.StatusCode != http.StatusOK || got["Action"] != "FailFast" || got["Stopped"] != true || got["InvokeId"] != agentInvoke {
		t.Fatalf("with the token: POST /events = %d %s, want 200 and the FailFast answer, Stopped", resp.StatusCode, b)
	}
	checkStates(t, emu, agentStopped, untouched)

	// The batch, as an EventBridge HTTP target with batch push sends it.
	emu2, url2 := newEmulator(t, emulator.Options{})
	setEnv(t, url2)
	t.Setenv("STOPPER_WEBHOOK_TOKEN", bearerToken)
	base2, _ := startCustom(t, "")
	resp, b = send(t, http.MethodPost, base2+"/events", with(headers("req-bearer-batch"), "Authorization", "Bearer "+bearerToken),
		e2e.ReadEvent(t, "eventbridge-taskcompleted-batch.json"))
	results, _ := e2e.DecodeObject(t, b)["Results"].([]any)
	if resp.StatusCode != http.StatusOK || len(results) != 5 {
		t.Fatalf("batch with the token: POST /events = %d %s, want 200 and five results", resp.StatusCode, b)
	}
	checkStates(t, emu2, agentStopped, untouched)
	if strings.Contains(out.String(), bearerToken) {
		t.Fatal("the log shows the bearer token")
	}
}

// The same through FC's HTTP trigger on the go1 runtime (an event holding
// the request): the bearer token is read from the event's headers.
func TestRuntimeAPICloudEventWebhook(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	t.Setenv("STOPPER_WEBHOOK_TOKEN", bearerToken)
	fc := newFakeFC(t)
	out := startLoop(t, fc, nil)
	event := fcHTTPEvent(t, e2e.ReadEvent(t, "eventbridge-taskcompleted-failed.json"), "")

	fc.push("req-no-credentials", fcHeaders(), event)
	if r := httpResponse(t, fc.wait(t, "req-no-credentials")); r.StatusCode != http.StatusUnauthorized || r.Body["Code"] != "InvalidSignature" {
		t.Fatalf("without credentials = %+v, want 401 InvalidSignature", r)
	}
	if n, m := emu.Calls("DescribeInvocations"), emu.Calls("StopInvocation"); n != 0 || m != 0 {
		t.Fatalf("an unauthenticated event reached the API: %d reads, %d stops", n, m)
	}

	fc.push("req-bearer", fcHeaders(), fcHTTPEvent(t, e2e.ReadEvent(t, "eventbridge-taskcompleted-failed.json"), "Bearer "+bearerToken))
	r := httpResponse(t, fc.wait(t, "req-bearer"))
	if r.StatusCode != http.StatusOK || r.Body["Action"] != "FailFast" || r.Body["Stopped"] != true {
		t.Fatalf("with the token = %+v, want 200 and the FailFast answer, Stopped", r)
	}
	checkStates(t, emu, agentStopped, untouched)
	if strings.Contains(out.String(), bearerToken) {
		t.Fatal("the log shows the bearer token")
	}
}

// fcHTTPEvent is events/fc-http-stop.json carrying body instead, with an
// Authorization header unless authorization is empty.
func fcHTTPEvent(t *testing.T, body []byte, authorization string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(e2e.ReadEvent(t, "fc-http-stop.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev["body"], ev["isBase64Encoded"] = string(body), false
	headers, _ := ev["headers"].(map[string]any)
	if headers == nil {
		headers = map[string]any{}
	}
	if authorization != "" {
		headers["authorization"] = authorization
	}
	ev["headers"] = headers
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
