package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// FormatDingTalk is a DingTalk custom robot's markdown message.
const FormatDingTalk = "dingtalk"

// dingTalk posts to a DingTalk custom robot
// (docs/reference/chat-services.md): a markdown message, signed in the
// webhook's query, answered {"errcode":0,...}.
type dingTalk struct{}

func init() { register(dingTalk{}) }

func (dingTalk) name() string    { return FormatDingTalk }
func (dingTalk) service() string { return "DingTalk" }

// hosts: oapi.dingtalk.com, and oapi.dingtalk.io in the international docs.
func (dingTalk) hosts() []string { return []string{"oapi.dingtalk.com", "oapi.dingtalk.io"} }

func (dingTalk) checkURL(u *url.URL, shown string) error {
	if u.Path != "/robot/send" || u.Query().Get("access_token") == "" {
		return fmt.Errorf("STOPPER_NOTIFY_URL %s is not a DingTalk robot webhook (https://oapi.dingtalk.com/robot/send?access_token=…): copy it whole from the robot's settings", shown)
	}
	return nil
}

// redactPath: /robot/send is no secret; the token is in the query.
func (dingTalk) redactPath(u *url.URL) (string, []string) { return u.EscapedPath(), nil }

// rateLimit: 20 messages a minute per robot, then a 10-minute pause
// (help.dingtalk.io/open/development/custom-robots-send-group-messages):
// 4 + 60s/4s = 19 a minute.
func (dingTalk) rateLimit() rateLimit {
	return rateLimit{burst: 4, every: 4 * time.Second, said: "20 messages a minute"}
}

// dingTalkMaxBody is below DingTalk's limit: it rejects bodies over 20000
// bytes with errcode 460101 "message too long, exceed 20000 bytes" / "body
// 大小不合法; 请保持大小在 20000bytes 以内" (reported in
// github.com/Le0nsec/SecCrawler/issues/12 and
// github.com/feiyu563/PrometheusAlert/issues/318; older answers said 101002
// "message is too long":
// github.com/timonwong/prometheus-webhook-dingtalk/issues/30).
const dingTalkMaxBody = 19000

type dingTalkMessage struct {
	MsgType  string           `json:"msgtype"`
	Markdown dingTalkMarkdown `json:"markdown"`
}

type dingTalkMarkdown struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// DingTalk markdown: headings (#), quotes (>), emphasis (*, _), links and
// images ([..](..), ![..](..)), HTML tags (<font>, <br>) and entities, and
// @mentions of the "at" member's mobiles or everyone
// (open.dingtalk.com/document/orgapp/message-type). Messages carry no "at"
// member, so no mention is honoured; '@' is changed all the same, in case
// one is ever added. A backslash could escape the markup around the text.
var dingTalkMarkup = markup{lookalike: map[rune]rune{
	'[': '［', ']': '］', '<': '＜', '>': '＞', '*': '＊', '~': '～', '#': '＃',
	'@': '＠', '&': '＆', '\\': '＼', '|': '｜', '`': '\'',
}, underscore: true}

// dingTalkStyle puts outside identifiers in code spans; all outside text
// is escaped, code spans included, since DingTalk documents no code span.
var dingTalkStyle = style{
	code: func(s string) string {
		if s == "" {
			return ""
		}
		return "`" + dingTalkMarkup.escape(s) + "`"
	},
	text: dingTalkMarkup.escape,
	bold: func(s string) string { return "**" + s + "**" },
}

func (dingTalk) render(d draft) ([]byte, error) {
	return fit(d.summary(), func(s summary, n shown) ([]byte, bool) {
		var b strings.Builder
		b.WriteString("#### " + s.Title + "\n\n")
		for _, p := range compose(s, dingTalkStyle, n) {
			for _, l := range p.lines {
				if p.list {
					b.WriteString("- ")
				}
				b.WriteString(l + "\n")
			}
			b.WriteString("\n")
		}
		body, err := marshal(dingTalkMessage{MsgType: "markdown",
			Markdown: dingTalkMarkdown{Title: s.Title, Text: strings.TrimRight(b.String(), "\n")}})
		return body, err == nil && len(body) <= dingTalkMaxBody
	})
}

// checkSecret: DingTalk's docs describe the secret as "the string starting
// with SEC shown under 加签 (Additional Signature) in the robot's security
// settings" (help.dingtalk.io/open/dingstart/customize-robot-security-settings;
// docs/reference/chat-services.md). Anything else cannot sign for it
// (answer 310000 "sign not match" at the first stop); most often it is the
// access_token.
func (dingTalk) checkSecret(secret string) error {
	if !strings.HasPrefix(secret, "SEC") {
		return errors.New("STOPPER_NOTIFY_SECRET does not start with SEC: use the secret shown under Additional Signature (加签) in the DingTalk robot's security settings, not the access_token")
	}
	return nil
}

// sign appends DingTalk's signature to the webhook's query.
func (dingTalk) sign(target string, body []byte, secret string, now time.Time) (string, []byte, error) {
	return dingTalkSignedURL(target, secret, now), body, nil
}

// dingTalkSign is DingTalk's signature: timestamp in milliseconds (within
// an hour of DingTalk's clock), sign = Base64(HmacSHA256(key=secret,
// message=timestamp+"\n"+secret)), URL-encoded into the webhook's query as
// &timestamp=…&sign=…. Lark signs the same string the other way round
// (lark.go). Sources: DingTalk "自定义机器人安全设置" (custom robot
// security settings),
// help.dingtalk.io/open/dingstart/customize-robot-security-settings and its
// copies, e.g. apifox.com/apidoc/docs-site/467052/doc-3550006, whose Java
// and Python samples key the HMAC with the secret;
// docs/reference/chat-services.md.
func dingTalkSign(secret string, now time.Time) (timestamp, sign string) {
	timestamp = strconv.FormatInt(now.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "\n" + secret))
	return timestamp, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// dingTalkSignedURL appends the signature to the webhook's query.
func dingTalkSignedURL(webhook, secret string, now time.Time) string {
	ts, sign := dingTalkSign(secret, now)
	sep := "&"
	if !strings.Contains(webhook, "?") {
		sep = "?"
	}
	return webhook + sep + "timestamp=" + ts + "&sign=" + url.QueryEscape(sign)
}

// check: DingTalk answers {"errcode":0,...} when it took the message.
func (f dingTalk) check(a reply) string {
	var answer struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if json.Unmarshal(a.body, &answer) != nil || answer.ErrCode == nil {
		return a.notOwn(f.service())
	}
	if *answer.ErrCode != 0 {
		return fmt.Sprintf("DingTalk answered errcode %d: %s%s", *answer.ErrCode, a.quote(answer.ErrMsg), dingTalkHint(*answer.ErrCode))
	}
	if !a.ok() {
		return a.httpFailure()
	}
	return ""
}

// dingTalkHint names the setting behind a refusal. Codes
// (docs/reference/chat-services.md): 310000 with "keywords not in
// content", "invalid timestamp", "sign not match" or "ip X not in
// whitelist"; 130101 "send too fast", 20 messages a minute then a
// 10-minute pause; 460101 too long.
func dingTalkHint(code int) string {
	switch code {
	case 310000:
		return " (check the robot's security settings: add the keyword ecs-stopper, set STOPPER_NOTIFY_SECRET to its Additional Signature (加签) secret, or allow the function's egress IP; a signature also fails when the clock is more than an hour off)"
	case 130101:
		return " (the robot takes 20 messages a minute, then pauses for 10 minutes)"
	case 460101:
		return " (message too long)"
	}
	return ""
}
