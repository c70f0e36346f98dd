package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// An Alertmanager receiver's max_alerts leaves alerts out of a
// notification and counts them in truncatedAlerts: the function logs one
// warning naming the count and saying they arrive later, and handles the
// alerts it was sent as usual. Nothing is logged when nothing was left out.
func TestAlertmanagerTruncatedAlerts(t *testing.T) {
	const truncatedLine = "out of this notification (max_alerts)"
	for _, tc := range []struct {
		name      string
		truncated string // the member as sent; "" leaves it out
		warned    float64
	}{
		{"three left out", `"truncatedAlerts":3,`, 3},
		{"none left out", `"truncatedAlerts":0,`, 0},
		{"no member", "", 0},
		{"not a count", `"truncatedAlerts":"3",`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := failFastEnv(t)
			body := strings.Replace(alertmanagerBody, `"truncatedAlerts":0,`, tc.truncated, 1)
			res, err := env.handler.Invoke(context.Background(), testRequestID, httpShapes[1].event(t, withBearer([]byte(body), "Bearer "+testToken)))
			if err != nil {
				t.Fatal(err)
			}
			if a := decodeHTTPAnswer(t, httpShapes[1].kind, res.Payload); a.Status != 200 || len(env.api.Stops()) != 1 {
				t.Fatalf("answer %d %v, stops %v", a.Status, a.Body, env.api.Stops())
			}
			var warnings []map[string]any
			for _, line := range env.logs.lines(t) {
				if msg, _ := line["msg"].(string); strings.Contains(msg, truncatedLine) {
					warnings = append(warnings, line)
				}
			}
			if tc.warned == 0 {
				if len(warnings) != 0 {
					t.Fatalf("logged %v", warnings)
				}
				return
			}
			if len(warnings) != 1 {
				t.Fatalf("%d truncation warnings: %v", len(warnings), warnings)
			}
			w := warnings[0]
			msg := w["msg"].(string)
			if w["level"] != "WARN" || w["truncated_alerts"] != tc.warned || w["request_id"] != testRequestID ||
				!strings.Contains(msg, "left 3 alerts out") || !strings.Contains(msg, "arrive in later notifications") || !strings.Contains(msg, "max_alerts") {
				t.Fatalf("warning %v", w)
			}
		})
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
	env.api.Fleet, env.api.Unlisted = nil, &anyInvocation // every invocation read is an active one
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
	if n := len(env.api.Stops()); n != 4 {
		t.Errorf("%d stops, want 4", n)
	}
}

const alertmanagerBody = `{"version":"4","groupKey":"{}:{alertname=\"CommandRunsTooLong\"}","truncatedAlerts":0,"status":"firing","receiver":"stopper",
 "groupLabels":{"alertname":"CommandRunsTooLong"},"commonLabels":{"alertname":"CommandRunsTooLong"},"commonAnnotations":{},"externalURL":"http://alertmanager:9093",
 "alerts":[
  {"status":"firing","labels":{"alertname":"CommandRunsTooLong","invoke_id":"t-1fad2a8876de47068cc734d57703aa76","region_id":"cn-hangzhou","instance_id":"i-1fad2a8876de47068cc734d57703aa762"},"annotations":{},"startsAt":"2026-11-26T07:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"a1"},
  {"status":"resolved","labels":{"alertname":"CommandRunsTooLong","invoke_id":"t-belowlimit1"},"annotations":{},"startsAt":"2026-11-26T07:00:00Z","endsAt":"2026-11-26T07:10:00Z","generatorURL":"","fingerprint":"a2"},
  {"status":"firing","labels":{"alertname":"DiskFull"},"annotations":{},"startsAt":"2026-11-26T07:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"a3"}]}`

// Alertmanager posts with a bearer token: firing alerts naming an
// invocation stop it, the others are ignored, each one answered.
func TestAlertmanagerWebhook(t *testing.T) {
	for _, s := range httpShapes {
		t.Run(string(s.kind), func(t *testing.T) {
			env := failFastEnv(t)
			res, err := env.handler.Invoke(context.Background(), testRequestID, s.event(t, withBearer([]byte(alertmanagerBody), "Bearer "+testToken)))
			if err != nil {
				t.Fatal(err)
			}
			a := decodeHTTPAnswer(t, s.kind, res.Payload)
			results, _ := a.Body["Results"].([]any)
			var got []string
			for _, r := range results {
				m := r.(map[string]any)
				got = append(got, fmt.Sprint(m["Id"], ":", m["Outcome"]))
			}
			if a.Status != 200 || strings.Join(got, " ") != "a1:Stopped a2:Ignored a3:Ignored" {
				t.Fatalf("answer %d %v", a.Status, a.Body)
			}
			if stops := env.api.Stops(); len(stops) != 1 || stops[0].InvokeID != testInvokeID || fmt.Sprint(stops[0].InstanceIDs) != "[i-1fad2a8876de47068cc734d57703aa762]" {
				t.Fatalf("stops %v", stops)
			}

			// A wrong token: 401, nothing stopped.
			env = failFastEnv(t)
			res, _ = env.handler.Invoke(context.Background(), testRequestID, s.event(t, withBearer([]byte(alertmanagerBody), "Bearer "+strings.Repeat("x", 40))))
			if a := decodeHTTPAnswer(t, s.kind, res.Payload); a.Status != 401 || len(env.api.Stops()) != 0 {
				t.Fatalf("wrong token: %d, stops %v", a.Status, env.api.Stops())
			}
		})
	}
}

func TestAlertmanagerRefusals(t *testing.T) {
	for _, tc := range []struct{ name, body, field string }{
		{"version", `{"version":"3","alerts":[]}`, "version"},
		{"alerts not a list", `{"version":"4","alerts":{}}`, "body"},
	} {
		env := failFastEnv(t)
		res, _ := env.handler.Invoke(context.Background(), testRequestID, httpShapes[1].event(t, withBearer([]byte(tc.body), "Bearer "+testToken)))
		if res.Failure == nil || res.Failure.Code != "InvalidParameter" || !strings.HasPrefix(res.Failure.Message, tc.field) {
			t.Errorf("%s: failure %v", tc.name, res.Failure)
		}
	}
	// Alert by alert: a bad label fails its alert alone.
	env := failFastEnv(t)
	body := `{"version":"4","alerts":[{"status":"resolved","fingerprint":"nolabels"},{"status":"firing","labels":{"invoke_id":"x"},"fingerprint":"bad"},{"status":"maybe","labels":{},"fingerprint":"odd"},{"status":"firing","labels":{"invoke_id":"` + testInvokeID + `","region_id":"CN"},"fingerprint":"region"}]}`
	res, _ := env.handler.Invoke(context.Background(), testRequestID, httpShapes[1].event(t, withBearer([]byte(body), "Bearer "+testToken)))
	var b stopper.BatchAnswer
	a := decodeHTTPAnswer(t, APIGatewayV2, res.Payload)
	raw, _ := json.Marshal(a.Body)
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range b.Results {
		got = append(got, r.Id+":"+r.Outcome+":"+r.Code)
	}
	if strings.Join(got, " ") != "nolabels:Ignored: bad:Failed:InvalidParameter odd:Failed:InvalidParameter region:Failed:InvalidParameter" || len(env.api.Stops()) != 0 {
		t.Fatalf("results %v", got)
	}
}
