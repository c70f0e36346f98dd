package notify

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

func init() {
	formatCases[FormatJSON] = formatCase{
		webhook:   Options{URL: "https://ops.example.com/hooks/ecs-stopper"},
		path:      "/hooks/stopper",
		accepted:  []answer{{204, "", ""}},
		receiver:  func(string) func(*http.Request, []byte) string { return checkJSON },
		inert:     jsonInert,
		published: []window{{time.Minute, 60 + 10}},
	}
}

func checkJSON(r *http.Request, body []byte) string {
	var a stopper.SweepAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.Action != stopper.ActionSweep {
		return "not the sweep's answer: " + string(body)
	}
	return ""
}

// jsonInert: the answer itself, its values as they were.
func jsonInert(t testing.TB, s string, body []byte, _ func() []byte) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("json: %v: %s", err, body)
	}
	valid := string([]rune(s)) // each invalid byte a U+FFFD, as encoding/json writes it
	want := map[string]any{"RegionId": valid, "Message": valid, "DryRun": false, "Pending": float64(1)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("json: %v, want %v", got, want)
	}
}

// A dry run's JSON notification is the answer itself, which says
// WouldStop.
func TestJSONDryRun(t *testing.T) {
	body := render(t, formatCases[FormatJSON].webhook, dryTwoStopSweep())
	if !strings.Contains(string(body), `"WouldStop":[{`) || strings.Contains(string(body), `"Stopped"`) {
		t.Errorf("json: %s", body)
	}
}

// A JSON receiver accepts with any 2xx; a redirect is not followed.
func TestJSONAnswers(t *testing.T) {
	checkAnswers(t, []answerCase{
		{name: "2xx", format: FormatJSON, answers: []answer{{202, "queued", ""}}, requests: 1},
		{name: "redirect is a failure", format: FormatJSON, answers: []answer{{302, "", ""}}, requests: 1, err: "answered HTTP 302"},
	})
}

// A JSON notification is the answer with each string value redacted: valid
// JSON, members in order, numbers and booleans as they were, whatever the
// secrets look like (even "false" or a member name).
func TestJSONBodyFromRedactedValues(t *testing.T) {
	answer := stopper.SweepAnswer{RequestId: "req-1", Action: stopper.ActionSweep, DryRun: false, Scanned: 3,
		Stopped: []stopper.SweptInvoke{{RegionId: "cn-hangzhou", InvokeId: "t-1", CommandName: "curl -H 'x: SECRETVALUE'", Rule: "OlderThan=2h0m0s"}},
		Failed:  []stopper.FailedInvoke{{RegionId: "cn-hangzhou", Code: "Forbidden", Message: `echo "SECRETVALUE" \/ RegionId`}}}
	plain, _ := marshal(answer)
	for _, tc := range []struct {
		name    string
		secrets []string
	}{
		{"no secret", nil},
		{"a token", []string{"SECRETVALUE"}},
		{"secrets that look like JSON", []string{"false", "RegionId", `":`, "3", "DryRun"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := redactor{values: acs.NewRedactor(tc.secrets...)}
			body, err := jsonBody(answer, rd, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(body) {
				t.Fatalf("not JSON: %s", body)
			}
			if tc.secrets == nil && !bytes.Equal(body, plain) {
				t.Fatalf("changed without secrets:\n%s\n%s", body, plain)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, body)
			}
			if got["Scanned"] != float64(3) || got["DryRun"] != false && got[redacted] != false {
				t.Fatalf("a boolean or number was touched: %s", body)
			}
			for _, s := range tc.secrets {
				for k, v := range got {
					if k == s || v == s {
						t.Fatalf("%q kept: %s", s, body)
					}
				}
			}
			if tc.name == "a token" && (strings.Contains(string(body), "SECRETVALUE") || !strings.Contains(string(body), `"RegionId":"cn-hangzhou"`)) {
				t.Fatalf("%s", body)
			}
		})
	}
	body, err := jsonBody(answer, redactor{}, &suppressedMember{Count: 2, Since: testNow.Format(time.RFC3339), Message: "2 notifications were suppressed"})
	if err != nil || !json.Valid(body) || !bytes.HasSuffix(body, []byte(`,"NotificationsSuppressed":{"Count":2,"Since":"2025-06-01T08:30:00Z","Message":"2 notifications were suppressed"}}`)) {
		t.Fatalf("with NotificationsSuppressed: %v %s", err, body)
	}
	if body, err := jsonBody(struct{}{}, redactor{}, &suppressedMember{Count: 1}); err != nil || !json.Valid(body) {
		t.Fatalf("empty answer: %v %s", err, body)
	}
}
