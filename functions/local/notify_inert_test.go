package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Messages are inert and bounded, through the whole wiring: `local invoke`
// and `local serve` with STOPPER_NOTIFY_* pointing at a loopback receiver.
// Outside text (a queue message's field names, a stopper:ttl tag's value)
// cannot make links, images or mentions in chat; a JSON notification is
// the answer with its values redacted, not its text; and a flood of stops
// is held within the service's rate limit.

// injected is what the red team put into a queue message's field name and
// a stopper:ttl tag's value.
const injected = "[Re-run the job](https://evil.example/x) ![](https://evil.example/t.png) <!here> <@U012AB3CD> @all"

// inertFleet writes a fleet of stale invocations t-inert0… (one instance
// each, running), with tags on the first ones as given.
func inertFleet(t *testing.T, n int, tags ...[]ca.Tag) string {
	t.Helper()
	created := time.Now().Add(-3 * time.Hour).UTC().Format(time.RFC3339)
	var f emulator.Fleet
	for i := range n {
		inv := ca.Invocation{RegionId: "cn-hangzhou", InvokeId: fmt.Sprintf("t-inert%d", i), CommandName: "nightly-job",
			RepeatMode: "Once", CreationTime: created,
			InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{{InstanceId: fmt.Sprintf("i-inert%d", i), InvocationStatus: "Running"}}}}
		if i < len(tags) {
			inv.Tags.Tag = tags[i]
		}
		f.Invocations = append(f.Invocations, inv)
	}
	file := filepath.Join(t.TempDir(), "fleet.json")
	b, _ := json.Marshal(f)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// invokeOn runs `local invoke` on the event against the fleet.
func invokeOn(t *testing.T, fleet, event string) (int, map[string]any, string) {
	t.Helper()
	code, stdout, stderr := invokeEvent(t, event, "-fleet", fleet)
	var a map[string]any
	_ = json.Unmarshal([]byte(stdout), &a) // not JSON: a nil answer, which the checks refuse
	return code, a, stderr
}

// sqsEvent is an SQS batch of the given message bodies.
func sqsEvent(bodies ...string) string {
	type record struct {
		MessageId   string `json:"messageId"`
		Body        string `json:"body"`
		EventSource string `json:"eventSource"`
	}
	var e struct {
		Records []record `json:"Records"`
	}
	for i, b := range bodies {
		e.Records = append(e.Records, record{MessageId: fmt.Sprintf("m-%d", i), Body: b, EventSource: "aws:sqs"})
	}
	out, _ := json.Marshal(e)
	return string(out)
}

// The red team's queue message and tag, in each chat format: the message
// shows their text, and none of it is a link, an image or a mention.
func TestNotificationOutsideTextIsInert(t *testing.T) {
	cases := []struct {
		name, event string
		tags        [][]ca.Tag
		// echoed is where the injected text must show (so that it is
		// escaped, not dropped).
		echoed string
	}{
		{name: "queue message field name", echoed: "InvalidParameter",
			event: sqsEvent(`{"RegionId":"cn-hangzhou","InvokeId":"t-inert0"}`, `{"`+strings.ReplaceAll(injected, `"`, `\"`)+`": 1}`)},
		{name: "stopper:ttl tag value", echoed: "InvalidTag", event: `{"Action":"Sweep","OlderThan":"2h"}`,
			tags: [][]ca.Tag{nil, {{TagKey: stopper.TagTTL, TagValue: injected}}}},
	}
	for _, format := range []string{"dingtalk", "lark", "slack"} {
		for _, tc := range cases {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				rc := chatReceiver(t, format)
				_, _, logs := invokeOn(t, inertFleet(t, 2, tc.tags...), tc.event)
				if !strings.Contains(logs, `"code":"`+tc.echoed+`"`) {
					t.Fatalf("no %s:\n%s", tc.echoed, logs)
				}
				rc.mu.Lock()
				defer rc.mu.Unlock()
				if len(rc.bodies) != 1 || len(rc.bad) != 0 {
					t.Fatalf("%d messages, failed checks %v\n%s", len(rc.bodies), rc.bad, logs)
				}
				texts := chatTexts(t, format, rc.bodies[0])
				all := strings.Join(texts, "\n")
				if !strings.Contains(all, "Re-run the job") || !strings.Contains(all, tc.echoed) {
					t.Fatalf("the outside text is not shown:\n%s", all)
				}
				// DingTalk markdown links and images need [ ], Slack links and
				// mentions < >, HTML < >, DingTalk mentions @; a bare URL
				// needs ://.
				bad := map[string][]string{"dingtalk": {"[", "]", "<", ">", "@", "://"}, "lark": {"<", ">", "://"}, "slack": {"<", ">", "://"}}
				for _, b := range bad[format] {
					if strings.Contains(all, b) {
						t.Fatalf("%q from outside text reached the message:\n%s", b, all)
					}
				}
				// The keyword a keyword-secured robot looks for, in the text.
				if !strings.Contains(texts[0], "ecs-stopper") {
					t.Fatalf("no ecs-stopper in the first text: %q", texts[0])
				}
			})
		}
	}
}

// chatTexts is every text of a chat message that its service renders, the
// one a keyword check reads first: DingTalk's markdown text; Lark's
// paragraphs (failing on any element but text); Slack's fallback and
// blocks.
func chatTexts(t *testing.T, format, body string) []string {
	t.Helper()
	var texts []string
	switch format {
	case "dingtalk":
		var m map[string]json.RawMessage
		var d struct{ Markdown struct{ Title, Text string } }
		if json.Unmarshal([]byte(body), &m) != nil || json.Unmarshal([]byte(body), &d) != nil || m["at"] != nil {
			t.Fatalf("not a markdown message without mentions: %s", body)
		}
		texts = []string{d.Markdown.Text}
	case "lark":
		var m struct {
			Content struct {
				Post map[string]struct {
					Content [][]map[string]string `json:"content"`
				} `json:"post"`
			} `json:"content"`
		}
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Content.Post["zh_cn"].Content {
			for _, e := range p {
				if e["tag"] != "text" {
					t.Fatalf("a %q element: %s", e["tag"], body)
				}
				texts = append(texts, e["text"])
			}
		}
	case "slack":
		var m struct {
			Text   string
			Blocks []struct{ Text struct{ Text string } }
		}
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, m.Text)
		for _, b := range m.Blocks {
			texts = append(texts, b.Text.Text)
		}
	}
	if len(texts) == 0 {
		t.Fatalf("no text in %s", body)
	}
	return texts
}

// With ?async=false&region=cn-hangzhou in the receiver's URL, the JSON
// notification is still valid JSON with every RegionId and DryRun intact,
// and the URL's token appears nowhere, though a command name echoes it.
func TestJSONNotificationFromRedactedValues(t *testing.T) {
	const token = "tok7f3c9e1a0b2d4c6e8f"
	rc := &receiver{format: "json"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	t.Setenv("STOPPER_NOTIFY_URL", srv.URL+"/hook?async=false&region=cn-hangzhou&access_token="+token)
	t.Setenv("STOPPER_NOTIFY_FORMAT", "json")
	fleet := inertFleet(t, 2)
	b, _ := os.ReadFile(fleet)
	if err := os.WriteFile(fleet, bytes.ReplaceAll(b, []byte(`"nightly-job"`), []byte(`"deploy --token `+token+`"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, a, logs := invokeOn(t, fleet, `{"Action":"Sweep","OlderThan":"2h"}`)
	if code != 0 || len(a["Stopped"].([]any)) != 2 {
		t.Fatalf("sweep: exit %d %v\n%s", code, a, logs)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bodies) != 1 {
		t.Fatalf("%d messages", len(rc.bodies))
	}
	body := rc.bodies[0]
	var got struct {
		DryRun  *bool
		Stopped []struct{ RegionId, CommandName string }
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.DryRun == nil || *got.DryRun {
		t.Fatalf("not the answer as JSON (%v): %s", err, body)
	}
	for _, s := range got.Stopped {
		if s.RegionId != "cn-hangzhou" || s.CommandName != "deploy --token [redacted]" {
			t.Fatalf("stop %+v in %s", s, body)
		}
	}
	if len(got.Stopped) != 2 || strings.Contains(body, token) || strings.Contains(logs, token) {
		t.Fatalf("the token leaked, or stops were lost: %s\n%s", body, logs)
	}
}

// A flood of stops reaches DingTalk within its 20 messages a minute: the
// first few are sent, the rest are logged as suppressed at once (the
// requests do not wait), and the next message sent says how many were.
func TestNotificationFloodWithinRateLimit(t *testing.T) {
	rc := &receiver{format: "dingtalk"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	t.Setenv("STOPPER_NOTIFY_URL", srv.URL+"/robot/send?access_token=dingtalk-token-0123456789")
	t.Setenv("STOPPER_NOTIFY_FORMAT", "dingtalk")
	t.Setenv("STOPPER_NOTIFY_SECRET", dingTalkSecret)
	base, stderr := startServe(t, "-fleet", inertFleet(t, 9))
	header := map[string]string{"Content-Type": "application/json"}
	stop := func(i int) {
		t.Helper()
		start := time.Now()
		status, a := postTo(t, base+"/invoke", fmt.Sprintf(`{"RegionId":"cn-hangzhou","InvokeId":"t-inert%d"}`, i), header)
		if status != 200 || a["Stopped"] != true {
			t.Fatalf("stop %d: %d %v", i, status, a)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("stop %d took %s", i, took)
		}
	}
	for i := range 8 {
		stop(i)
	}
	sent := func() []string {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if len(rc.bad) != 0 {
			t.Fatalf("failed checks: %v", rc.bad)
		}
		return append([]string(nil), rc.bodies...)
	}
	if got := len(sent()); got != 4 {
		t.Fatalf("%d of 8 messages sent, want 4 (then 1 every 4 s)", got)
	}
	var suppressed int
	for _, line := range strings.Split(stderr.String(), "\n") {
		var l struct{ Level, Msg, Error string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "notification not sent" {
			if l.Level != "WARN" || jsonField(line, "request_id") == "" || !strings.Contains(l.Error, "suppressed by the rate limit of DingTalk (20 messages a minute)") ||
				!strings.Contains(l.Error, `it would have said "ecs-stopper stopped 1 invocation"`) {
				t.Fatalf("suppression logged as %s", line)
			}
			suppressed++
		}
	}
	if suppressed != 4 {
		t.Fatalf("%d suppressions logged, want 4:\n%s", suppressed, stderr.String())
	}
	time.Sleep(4 * time.Second) // DingTalk's bucket: one more message
	stop(8)
	got := sent()
	if len(got) != 5 || !strings.Contains(got[4], "4 notifications were suppressed since ") ||
		!strings.Contains(got[4], "(rate limit of DingTalk: 20 messages a minute)") {
		t.Fatalf("the next message does not tell the suppressed ones: %d %v", len(got), got)
	}
}

// jsonField is one string member of a JSON log line.
func jsonField(line, name string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(line), &m) // not JSON: no field
	s, _ := m[name].(string)
	return s
}
