package notify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FormatLark is a Lark / Feishu custom bot's rich text ("post") message.
const FormatLark = "lark"

// lark posts to a Lark or Feishu custom bot
// (docs/reference/chat-services.md): a rich text message, signed in the
// body, answered {"code":0,...}.
type lark struct{}

func init() { register(lark{}) }

func (lark) name() string    { return FormatLark }
func (lark) service() string { return "Lark" }

// hosts: Feishu open.feishu.cn, Lark open.larksuite.com.
func (lark) hosts() []string { return []string{"open.feishu.cn", "open.larksuite.com"} }

const larkHookPath = "/open-apis/bot/v2/hook/"

func (lark) checkURL(u *url.URL, shown string) error {
	if !strings.HasPrefix(u.Path, larkHookPath) || len(u.Path) == len(larkHookPath) {
		return fmt.Errorf("STOPPER_NOTIFY_URL %s is not a Lark bot webhook (https://open.feishu.cn/open-apis/bot/v2/hook/…): copy it whole from the bot's settings", shown)
	}
	return nil
}

// redactPath: the hook token is the path's last segment.
func (lark) redactPath(u *url.URL) (string, []string) {
	return larkHookPath + redacted, []string{strings.TrimPrefix(u.Path, larkHookPath)}
}

// rateLimit: 100 messages a minute and 5 a second per bot
// (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot):
// 3 + 1s/700ms < 5 a second, 3 + 60s/700ms < 89 a minute.
func (lark) rateLimit() rateLimit {
	return rateLimit{burst: 3, every: 700 * time.Millisecond, said: "100 messages a minute and 5 a second"}
}

// The request body must not exceed 20 KB (docs/reference/chat-services.md;
// error 9499 Bad Request otherwise). The signature's "timestamp" and
// "sign" members are added when sending, within larkSignReserve.
const (
	larkMaxBody     = 19000
	larkSignReserve = 128
)

// Lark: a rich text ("post") message, one paragraph per line, each a
// single "text" element: no "a", "at" or "img" element is ever made, so
// outside text cannot become a link, mention or image. The body shape
// follows the official guide's post example
// (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot). The first
// paragraph starts with "ecs-stopper", for bots secured by keyword.

type larkMessage struct {
	MsgType string      `json:"msg_type"`
	Content larkContent `json:"content"`
}

// larkSignature is the signature's members of a signed message's body.
type larkSignature struct {
	Timestamp string `json:"timestamp"`
	Sign      string `json:"sign"`
}

type larkContent struct {
	Post map[string]larkPost `json:"post"`
}

type larkPost struct {
	Title   string           `json:"title"`
	Content [][]larkTextNode `json:"content"`
}

type larkTextNode struct {
	Tag  string `json:"tag"`
	Text string `json:"text"`
}

// Lark post messages carry outside text only in "text" elements, which
// the client shows as they are; < and > change all the same, so that no
// <at user_id="all"> could ever be read as a mention (the "text" message
// type reads it so).
var larkMarkup = markup{lookalike: map[rune]rune{'<': '＜', '>': '＞'}}

var larkStyle = style{code: larkMarkup.escape, text: larkMarkup.escape, bold: same}

// larkKeyword starts the first paragraph: a keyword-secured bot may not
// look for its keyword in the title.
const larkKeyword = "ecs-stopper: "

// render leaves room for the signature, which sign adds per attempt.
func (lark) render(d draft) ([]byte, error) {
	limit := larkMaxBody
	if d.signed {
		limit -= larkSignReserve
	}
	return fit(d.summary(), func(s summary, n shown) ([]byte, bool) {
		var paras [][]larkTextNode
		for i, p := range compose(s, larkStyle, n) {
			for _, l := range p.lines {
				if p.list {
					l = "• " + l
				}
				if i == 0 {
					l = larkKeyword + l
				}
				paras = append(paras, []larkTextNode{{Tag: "text", Text: l}})
			}
		}
		body, err := marshal(larkMessage{MsgType: "post", Content: larkContent{Post: map[string]larkPost{
			"zh_cn": {Title: s.Title, Content: paras}}}})
		return body, err == nil && len(body) <= limit
	})
}

// checkSecret: any secret may be a Lark bot's.
func (lark) checkSecret(string) error { return nil }

// sign puts the signature's "timestamp" and "sign" members first in the
// body's object: {"timestamp":…,"sign":…,"msg_type":…}.
func (lark) sign(target string, body []byte, secret string, now time.Time) (string, []byte, error) {
	var sig larkSignature
	sig.Timestamp, sig.Sign = larkSign(secret, now)
	head, err := marshal(sig)
	if err != nil || !bytes.HasPrefix(body, []byte(`{"`)) {
		return "", nil, errors.New("cannot sign the Lark message")
	}
	return target, slices.Concat(head[:len(head)-1], []byte(","), body[1:]), nil
}

// larkSign is Lark's signature: timestamp in SECONDS (within an hour),
// sign = Base64(HmacSHA256(key=timestamp+"\n"+secret, message="")) — the
// string DingTalk signs is Lark's key, and the message is empty — sent as
// the JSON body's "timestamp" and "sign" members, not in the URL. Sources:
// the official guide's "签名校验" (signature verification) section,
// open.feishu.cn/document/client-docs/bot-v3/add-custom-bot, whose Go
// sample is hmac.New(sha256.New, []byte(timestamp+"\n"+secret)) over no
// data and whose request example carries "timestamp": "1599360473" as a
// string; third-party copies with the same code (github.com/3vilive/larkbot
// signature.go, github.com/electricbubble/feishu-bot-api api.go genSign);
// docs/reference/chat-services.md.
func larkSign(secret string, now time.Time) (timestamp, sign string) {
	timestamp = strconv.FormatInt(now.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(timestamp+"\n"+secret))
	return timestamp, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// check: Lark answers {"code":0,...} (legacy {"StatusCode":0,...}) when it
// took the message.
func (f lark) check(a reply) string {
	var answer struct {
		Code          *int   `json:"code"`
		Msg           string `json:"msg"`
		StatusCode    *int   `json:"StatusCode"`
		StatusMessage string `json:"StatusMessage"`
	}
	if json.Unmarshal(a.body, &answer) != nil || (answer.Code == nil && answer.StatusCode == nil) {
		return a.notOwn(f.service())
	}
	code, msg := answer.Code, answer.Msg
	if code == nil {
		code, msg = answer.StatusCode, answer.StatusMessage
	}
	if *code != 0 {
		return fmt.Sprintf("Lark answered code %d: %s%s", *code, a.quote(msg), larkHint(*code))
	}
	if !a.ok() {
		return a.httpFailure()
	}
	return ""
}

// larkHint names the setting behind a refusal. Codes
// (docs/reference/chat-services.md): 19021 signature, 19022 IP, 19024
// keyword, 11232 throttled, 9499 bad request.
func larkHint(code int) string {
	switch code {
	case 19021:
		return " (STOPPER_NOTIFY_SECRET must be the bot's signature verification secret, and the clock within an hour)"
	case 19022:
		return " (allow the function's egress IP in the bot's IP allowlist)"
	case 19024:
		return " (add the keyword ecs-stopper to the bot's keywords)"
	case 11232:
		return " (the bot takes 100 messages a minute and 5 a second)"
	}
	return ""
}
