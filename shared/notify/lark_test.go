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
	formatCases[FormatLark] = formatCase{
		webhook: Options{URL: "https://open.feishu.cn/open-apis/bot/v2/hook/" + larkToken},
		path:    "/open-apis/bot/v2/hook/" + larkToken,
		secret:  larkSecret,
		accepted: []answer{{200, `{"code":0,"msg":"success","data":{}}`, ""},
			{200, `{"Extra":null,"StatusCode":0,"StatusMessage":"success"}`, ""}}, // the legacy answer
		receiver: checkLark,
		limits: func(t testing.TB, body []byte) {
			t.Helper()
			if len(body) > larkMaxBody {
				t.Fatalf("lark body %d bytes", len(body))
			}
		},
		titles: func(t testing.TB, body []byte) []string {
			t.Helper()
			var m larkMessage
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			return []string{m.Content.Post["zh_cn"].Title}
		},
		inert:     larkInert,
		published: []window{{time.Minute, 100}, {time.Second, 5}},
	}
}

// checkLark verifies a Lark request: the signature recomputed from the
// body's timestamp (seconds) with timestamp+"\n"+secret as the HMAC key over
// no data, and a post body.
func checkLark(secret string) func(*http.Request, []byte) string {
	return func(r *http.Request, body []byte) string {
		var m struct {
			Timestamp *string `json:"timestamp"`
			Sign      *string `json:"sign"`
			MsgType   string  `json:"msg_type"`
			Content   struct {
				Post map[string]struct {
					Title   string
					Content [][]struct{ Tag, Text string }
				}
			}
		}
		if err := json.Unmarshal(body, &m); err != nil {
			return "not JSON: " + string(body)
		}
		if secret != "" {
			if m.Timestamp == nil || m.Sign == nil {
				return "unsigned: " + string(body)
			}
			mac := hmac.New(sha256.New, []byte(*m.Timestamp+"\n"+secret))
			if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); *m.Sign != want {
				return "sign " + *m.Sign + " want " + want
			}
			if *m.Timestamp != strconv.FormatInt(testNow.Unix(), 10) {
				return "timestamp " + *m.Timestamp + " is not the clock's seconds"
			}
		} else if m.Timestamp != nil || m.Sign != nil {
			return "signed without a secret"
		}
		p, ok := m.Content.Post["zh_cn"]
		if m.MsgType != "post" || !ok || p.Title == "" || len(p.Content) == 0 || p.Content[0][0].Tag != "text" {
			return "not a post message: " + string(body)
		}
		return ""
	}
}

// larkInert: text elements only, and the keyword first.
func larkInert(t testing.TB, s string, body []byte, _ func() []byte) {
	t.Helper()
	var m larkMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Content struct {
			Post map[string]struct {
				Content [][]map[string]any `json:"content"`
			} `json:"post"`
		} `json:"content"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	paras := raw.Content.Post["zh_cn"].Content
	for _, p := range paras {
		// Only text elements: never "a", "at" or "img".
		if len(p) != 1 || p[0]["tag"] != "text" || len(p[0]) != 2 {
			t.Fatalf("lark: an element that is not plain text: %v", p)
		}
		neverIn(t, FormatLark, s, p[0]["text"].(string), "<", ">", "://")
	}
	if len(paras) == 0 || !strings.HasPrefix(paras[0][0]["text"].(string), "ecs-stopper") {
		t.Fatalf("lark: the first paragraph does not start with the keyword: %s", body)
	}
}

// The signature's members come first in a signed body, the rest as
// rendered.
func TestLarkSignedBody(t *testing.T) {
	body, err := lark{}.render(draft{report: twoStopSweep(), signed: true})
	if err != nil {
		t.Fatal(err)
	}
	_, signed, err := lark{}.sign("https://open.feishu.cn/x", body, larkSecret, testNow)
	if err != nil {
		t.Fatal(err)
	}
	ts, sign := larkSign(larkSecret, testNow)
	if want := `{"timestamp":"` + ts + `","sign":"` + sign + `",` + string(body[1:]); string(signed) != want || !json.Valid(signed) {
		t.Fatalf("signed body\n%s\nwant\n%s", signed, want)
	}
}

// Lark's answers: code 0 is the only acceptance, whatever the status; its
// refusals come with a hint.
func TestLarkAnswers(t *testing.T) {
	checkAnswers(t, []answerCase{
		{name: "signature", format: FormatLark, answers: []answer{{200, `{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`, ""}},
			requests: 1, err: "Lark answered code 19021: \"sign match fail"},
		{name: "bad request with 400", format: FormatLark, answers: []answer{{400, `{"code":9499,"msg":"Bad Request","data":{}}`, ""}}, requests: 1,
			err: `Lark answered code 9499: "Bad Request"`},
	})
}
