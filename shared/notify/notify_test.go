package notify

import (
	"strings"
	"testing"
	"time"
)

const (
	dingTalkToken = "d1e2a3d4b5e6e7f8tokenDING0123456789"
	larkToken     = "7c1e0d2a-larkhooktoken-55aa"
	slackPath     = "T0001AAAA/B0002BBBB/slackHookSecret42xyz"
	dingSecret    = "SECdingtalksecret0123456789abcdef"
	larkSecret    = "larkSigningSecret0123"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      Options
		format string // the format in use, or
		err    string // a part of the error
	}{
		{name: "dingtalk inferred", o: Options{URL: "https://oapi.dingtalk.com/robot/send?access_token=" + dingTalkToken}, format: FormatDingTalk},
		{name: "dingtalk international", o: Options{URL: "https://oapi.dingtalk.io/robot/send?access_token=" + dingTalkToken, Secret: dingSecret}, format: FormatDingTalk},
		{name: "feishu inferred", o: Options{URL: "https://open.feishu.cn/open-apis/bot/v2/hook/" + larkToken, Secret: larkSecret}, format: FormatLark},
		{name: "lark inferred", o: Options{URL: "https://open.larksuite.com/open-apis/bot/v2/hook/" + larkToken}, format: FormatLark},
		{name: "slack inferred", o: Options{URL: "https://hooks.slack.com/services/" + slackPath}, format: FormatSlack},
		{name: "other host is json", o: Options{URL: "https://ops.example.com/hooks/stopper"}, format: FormatJSON},
		{name: "format given, case and space", o: Options{URL: "https://hooks.slack.com/services/" + slackPath, Format: " Slack "}, format: FormatSlack},
		{name: "proxy with a chat format", o: Options{URL: "https://relay.example.com/ding", Format: "dingtalk", Secret: dingSecret}, format: FormatDingTalk},
		{name: "local receiver over http", o: Options{URL: "http://127.0.0.1:8080/notify", Format: "lark"}, format: FormatLark},
		{name: "localhost over http", o: Options{URL: "http://localhost:9000/"}, format: FormatJSON},
		{name: "ipv6 loopback over http", o: Options{URL: "http://[::1]:9000/x"}, format: FormatJSON},

		{name: "empty", o: Options{URL: " "}, err: "STOPPER_NOTIFY_URL is empty"},
		{name: "not absolute", o: Options{URL: "oapi.dingtalk.com/robot/send?access_token=" + dingTalkToken}, err: "STOPPER_NOTIFY_URL is not an absolute URL"},
		{name: "not a URL", o: Options{URL: "https://oapi.dingtalk.com/robot/send?access_token=" + dingTalkToken + "%zz\x7f"}, err: "STOPPER_NOTIFY_URL is not an absolute URL"},
		{name: "http to a remote host", o: Options{URL: "http://oapi.dingtalk.com/robot/send?access_token=" + dingTalkToken}, err: "STOPPER_NOTIFY_URL http://oapi.dingtalk.com/robot/send?access_token=[redacted]: use https://"},
		{name: "other scheme", o: Options{URL: "ftp://hooks.slack.com/services/" + slackPath}, err: "STOPPER_NOTIFY_URL ftp://hooks.slack.com/services/[redacted]: the scheme must be https://"},
		{name: "unknown format", o: Options{URL: "https://ops.example.com/x", Format: "teams"}, err: `STOPPER_NOTIFY_FORMAT "teams" is not one of ` + formatNames()},
		{name: "format against the host", o: Options{URL: "https://hooks.slack.com/services/" + slackPath, Format: "json"},
			err: "STOPPER_NOTIFY_FORMAT is json but STOPPER_NOTIFY_URL https://hooks.slack.com/services/[redacted] is a Slack webhook: set STOPPER_NOTIFY_FORMAT=slack"},
		{name: "dingtalk without its token", o: Options{URL: "https://oapi.dingtalk.com/robot/send"}, err: "is not a DingTalk robot webhook"},
		{name: "dingtalk other path", o: Options{URL: "https://oapi.dingtalk.com/robot/sned?access_token=" + dingTalkToken}, err: "is not a DingTalk robot webhook"},
		{name: "lark without its token", o: Options{URL: "https://open.feishu.cn/open-apis/bot/v2/hook/"}, err: "is not a Lark bot webhook"},
		{name: "slack without its path", o: Options{URL: "https://hooks.slack.com/"}, err: "is not a Slack incoming webhook"},
		{name: "secret for slack", o: Options{URL: "https://hooks.slack.com/services/" + slackPath, Secret: larkSecret},
			err: "STOPPER_NOTIFY_SECRET is set, but only " + signingServices() + " robots sign their messages (the format is slack)"},
		{name: "secret for json", o: Options{URL: "https://ops.example.com/x", Secret: larkSecret}, err: "STOPPER_NOTIFY_SECRET is set"},
		{name: "dingtalk secret not SEC", o: Options{URL: "https://oapi.dingtalk.com/robot/send?access_token=" + dingTalkToken, Secret: dingTalkToken},
			err: "STOPPER_NOTIFY_SECRET does not start with SEC"},
		{name: "secret with a newline", o: Options{URL: "https://open.feishu.cn/open-apis/bot/v2/hook/" + larkToken, Secret: larkSecret + "\n"},
			err: "STOPPER_NOTIFY_SECRET has leading or trailing white space"},
		{name: "negative timeout", o: Options{URL: "https://ops.example.com/x", Timeout: -time.Second}, err: "timeout -1s must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := New(tc.o)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("New = %v, want an error containing %q", err, tc.err)
				}
				assertNoSecret(t, err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Format() != tc.format || n.timeout != DefaultTimeout {
				t.Fatalf("format %s timeout %s, want %s %s", n.Format(), n.timeout, tc.format, DefaultTimeout)
			}
			assertNoSecret(t, n.String())
		})
	}
}

func TestRedactedURL(t *testing.T) {
	for _, tc := range []struct{ url, shown string }{
		{"https://oapi.dingtalk.com/robot/send?access_token=" + dingTalkToken, "https://oapi.dingtalk.com/robot/send?access_token=[redacted]"},
		{"https://open.feishu.cn/open-apis/bot/v2/hook/" + larkToken, "https://open.feishu.cn/open-apis/bot/v2/hook/[redacted]"},
		{"https://hooks.slack.com/services/" + slackPath, "https://hooks.slack.com/services/[redacted]"},
		{"https://user:pa55word@ops.example.com/hooks/abc?key=" + dingTalkToken + "#frag", "https://[redacted]@ops.example.com/[redacted]?key=[redacted]#[redacted]"},
		{"https://ops.example.com", "https://ops.example.com"},
		{"https://ops.example.com/", "https://ops.example.com/"},
	} {
		n, err := New(Options{URL: tc.url})
		if err != nil {
			t.Fatal(err)
		}
		if got := n.redact.url; got != tc.shown {
			t.Errorf("%s shown as %s, want %s", tc.url, got, tc.shown)
		}
		// Text that echoes the URL's secret parts loses them.
		got := n.redact.Text("echo " + tc.url + " pa55word, " + dingTalkToken + ", " + larkToken + ", slackHookSecret42xyz")
		for _, secret := range []string{dingTalkToken, larkToken, "slackHookSecret42xyz", "pa55word"} {
			if strings.Contains(tc.url, secret) && strings.Contains(got, secret) {
				t.Errorf("Text kept %s: %s", secret, got)
			}
		}
	}
}

// assertNoSecret fails when s holds any of the tests' secrets.
func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{dingTalkToken, larkToken, "slackHookSecret42xyz", slackPath, dingSecret, larkSecret} {
		if strings.Contains(s, secret) {
			t.Fatalf("secret %q leaked in:\n%s", secret, s)
		}
	}
}
