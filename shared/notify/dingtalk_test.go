package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func init() {
	formatCases[FormatDingTalk] = formatCase{
		webhook:  Options{URL: "https://oapi.dingtalk.com/robot/send?access_token=" + dingTalkToken},
		path:     "/robot/send?access_token=" + dingTalkToken,
		secret:   dingSecret,
		accepted: []answer{{200, `{"errcode":0,"errmsg":"ok"}`, ""}},
		receiver: checkDingTalk,
		limits: func(t testing.TB, body []byte) {
			t.Helper()
			if len(body) > dingTalkMaxBody {
				t.Fatalf("dingtalk body %d bytes", len(body))
			}
		},
		titles: func(t testing.TB, body []byte) []string {
			t.Helper()
			var m dingTalkMessage
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(m.Markdown.Text, "\n")
			return []string{m.Markdown.Title, strings.TrimPrefix(first, "#### ")}
		},
		inert:     dingTalkInert,
		published: []window{{time.Minute, 20}},
	}
}

// checkDingTalk verifies a DingTalk request as DingTalk documents it: the
// signature recomputed from the query's timestamp (ms) with the secret as
// the HMAC key, and a markdown body.
func checkDingTalk(secret string) func(*http.Request, []byte) string {
	return func(r *http.Request, body []byte) string {
		if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" || r.Method != http.MethodPost {
			return "method " + r.Method + " content type " + ct
		}
		q := r.URL.Query()
		if q.Get("access_token") != dingTalkToken {
			return "access_token lost: " + r.URL.RawQuery
		}
		if secret != "" {
			ts := q.Get("timestamp")
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write([]byte(ts + "\n" + secret))
			if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); q.Get("sign") != want {
				return "sign " + q.Get("sign") + " want " + want
			}
			if ts != strconv.FormatInt(testNow.UnixMilli(), 10) {
				return "timestamp " + ts + " is not the clock's milliseconds"
			}
		} else if q.Has("sign") || q.Has("timestamp") {
			return "signed without a secret"
		}
		var m struct {
			MsgType  string `json:"msgtype"`
			Markdown struct{ Title, Text string }
		}
		if err := json.Unmarshal(body, &m); err != nil || m.MsgType != "markdown" || m.Markdown.Title == "" || m.Markdown.Text == "" {
			return "not a markdown message: " + string(body)
		}
		return ""
	}
}

// dingTalkInert: a markdown message without mentions, whose markup is the
// template's only.
func dingTalkInert(t testing.TB, s string, body []byte, twinBody func() []byte) {
	t.Helper()
	var m map[string]json.RawMessage
	var d dingTalkMessage
	if json.Unmarshal(body, &m) != nil || json.Unmarshal(body, &d) != nil || len(m) != 2 || m["at"] != nil {
		t.Fatalf("dingtalk: not a markdown message without mentions: %s", body)
	}
	var w dingTalkMessage
	if err := json.Unmarshal(twinBody(), &w); err != nil {
		t.Fatal(err)
	}
	// Links and images need [ ], HTML < >, entities &, headings #,
	// emphasis * ~, code `, mentions @, escapes \, tables |.
	sameMarkup(t, FormatDingTalk, s, d.Markdown.Text, w.Markdown.Text, "[]<>&#*~`@\\|")
	neverIn(t, FormatDingTalk, s, d.Markdown.Text, "://")
	wordUnderscores(t, FormatDingTalk, d.Markdown.Text, s)
	if !strings.HasPrefix(d.Markdown.Text, "#### ecs-stopper ") || d.Markdown.Title != w.Markdown.Title {
		t.Fatalf("dingtalk: the title is not the text's heading: %s", body)
	}
}

// DingTalk's answers: errcode 0 is the only acceptance, whatever the
// status; its refusals come with a hint.
func TestDingTalkAnswers(t *testing.T) {
	checkAnswers(t, []answerCase{
		{name: "keyword missing", format: FormatDingTalk, answers: []answer{{200, `{"errcode":310000,"errmsg":"keywords not in content, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}`, ""}},
			requests: 1, err: `DingTalk answered errcode 310000: "keywords not in content`},
		{name: "throttled", format: FormatDingTalk, answers: []answer{{200, `{"errcode":130101,"errmsg":"send too fast"}`, ""}}, requests: 1,
			err: "20 messages a minute"},
		{name: "not its answer", format: FormatDingTalk, answers: []answer{{200, `hello`, ""}}, requests: 1, err: "(not DingTalk's answer)"},
	})
}
