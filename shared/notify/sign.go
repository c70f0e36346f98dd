package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Signed robots: DingTalk and Lark both sign timestamp+"\n"+secret with
// HMAC-SHA256 and Base64, but not the same way round, nor in the same place.

// dingTalkSign is DingTalk's signature: timestamp in milliseconds (within
// an hour of DingTalk's clock), sign = Base64(HmacSHA256(key=secret,
// message=timestamp+"\n"+secret)), URL-encoded into the webhook's query as
// &timestamp=…&sign=…. Sources: DingTalk "自定义机器人安全设置" (custom
// robot security settings), help.dingtalk.io/open/dingstart/customize-robot-security-settings
// and its copies, e.g. apifox.com/apidoc/docs-site/467052/doc-3550006,
// whose Java and Python samples key the HMAC with the secret;
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
