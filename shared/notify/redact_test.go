package notify

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// A JSON receiver's query values are secrets when their name says so or
// they look like a token; plain settings are not, and stay in texts.
func TestQueryValuesThatAreSecrets(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		secret     bool
	}{
		{"async", "false", false}, {"region", "cn-hangzhou", false}, {"region", "ap-southeast-1", false},
		{"timeout", "30", false}, {"mode", "DryRun", false}, {"after", "2h0m0s", false}, {"ts", "1748766600000", false},
		{"format", "json", false}, {"channel", "ops_alerts", false},
		{"access_token", "false", true}, {"key", "cn-hangzhou", true}, {"X-Amz-Signature", "abcd", true}, {"sig", "1234", true},
		{"password", "hunter22", true}, {"code", "blue", true},
		{"k", "a1b2c3d4e5f6a7b8", true}, {"id", "7c1e0d2a-9f3b-4c5d-8e6f-0a1b2c3d4e5f", true},
		{"h", "dGhpcyBpcyBhIHNlY3JldA==", true}, {"h", "abc+def/ghi", true}, {"h", "%2Fabc", true},
		{"h", strings.Repeat("q", 17), true}, {"h", strings.Repeat("7", 14), true}, {"h", strings.Repeat("ab-", 14), true},
	} {
		if got := credentialKey(tc.key) || !plainValue(tc.value); got != tc.secret {
			t.Errorf("%s=%s: secret %v, want %v", tc.key, tc.value, got, tc.secret)
		}
	}
}

// The red team's URL: ?async=false&region=cn-hangzhou garbled every
// "DryRun":false and RegionId of the JSON notification. Plain values (and
// the path's words) are kept in texts; the token is not. The URL as shown
// hides them all.
func TestRedactorKeepsPlainQueryValues(t *testing.T) {
	const token = "tok0123456789abcdefXYZ"
	u, _ := url.Parse("https://ops.example.com/hook?async=false&region=cn-hangzhou&timeout=30&access_token=" + token)
	rd := newRedactor(u, FormatJSON, "")
	if got := rd.Text(`"DryRun":false,"RegionId":"cn-hangzhou","Limit":30, webhook, token ` + token + " " + u.RawQuery); got !=
		`"DryRun":false,"RegionId":"cn-hangzhou","Limit":30, webhook, token [redacted] [redacted]` {
		t.Fatalf("got %s", got)
	}
	if rd.url != "https://ops.example.com/[redacted]?access_token=[redacted]&async=[redacted]&region=[redacted]&timeout=[redacted]" {
		t.Fatalf("shown as %s", rd.url)
	}
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
			json.Unmarshal(body, &got)
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
