package notify

import (
	"net/url"
	"strings"
	"testing"
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

// A URL with ?async=false&region=cn-hangzhou must not garble every
// "DryRun":false and RegionId of the JSON notification: plain values (and
// the path's words) are kept in texts; the token is not. The URL as shown
// hides them all.
func TestRedactorKeepsPlainQueryValues(t *testing.T) {
	const token = "tok0123456789abcdefXYZ"
	u, _ := url.Parse("https://ops.example.com/hook?async=false&region=cn-hangzhou&timeout=30&access_token=" + token)
	rd := newRedactor(u, jsonFormat{}, "")
	if got := rd.Text(`"DryRun":false,"RegionId":"cn-hangzhou","Limit":30, webhook, token ` + token + " " + u.RawQuery); got !=
		`"DryRun":false,"RegionId":"cn-hangzhou","Limit":30, webhook, token [redacted] [redacted]` {
		t.Fatalf("got %s", got)
	}
	if rd.url != "https://ops.example.com/[redacted]?access_token=[redacted]&async=[redacted]&region=[redacted]&timeout=[redacted]" {
		t.Fatalf("shown as %s", rd.url)
	}
}
