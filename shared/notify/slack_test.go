package notify

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func init() {
	formatCases[FormatSlack] = formatCase{
		webhook:  Options{URL: "https://hooks.slack.com/services/" + slackPath},
		path:     "/services/" + slackPath,
		accepted: []answer{{200, "ok", ""}},
		receiver: func(string) func(*http.Request, []byte) string { return checkSlack },
		limits:   slackLimits,
		titles: func(t testing.TB, body []byte) []string {
			t.Helper()
			var m slackMessage
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			fallback, _, _ := strings.Cut(m.Text, ". ")
			return []string{m.Blocks[0].Text.Text, fallback}
		},
		inert: slackInert,
		// About one a second, short bursts allowed.
		published: []window{{time.Minute, 60 + 3}, {time.Second, 4}},
	}
}

func checkSlack(r *http.Request, body []byte) string {
	var m struct {
		Text   string
		Blocks []struct {
			Type string
			Text struct{ Type, Text string }
		}
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Text == "" || len(m.Blocks) < 2 || m.Blocks[0].Type != "header" {
		return "not a blocks message: " + string(body)
	}
	return ""
}

// slackLimits: blocks, sections, header and fallback within Slack's limits.
func slackLimits(t testing.TB, body []byte) {
	t.Helper()
	var m slackMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Blocks) > slackMaxBlocks || utf16Len(m.Text) > slackMaxFallback || m.Text == "" {
		t.Fatalf("slack: %d blocks, fallback %d", len(m.Blocks), utf16Len(m.Text))
	}
	total := 0
	for i, b := range m.Blocks {
		n := utf16Len(b.Text.Text)
		total += n
		if n == 0 || n > slackMaxSection || b.Type == "header" && (i != 0 || n > slackMaxHeader) {
			t.Fatalf("slack block %d (%s) has %d characters", i, b.Type, n)
		}
	}
	if total > slackMaxBlockText {
		t.Fatalf("slack blocks total %d characters", total)
	}
}

// slackInert: no < or > at all (links, mentions), & only in escapes, and
// emphasis and code only the template's.
func slackInert(t testing.TB, s string, body []byte, twinBody func() []byte) {
	t.Helper()
	var m, w slackMessage
	if json.Unmarshal(body, &m) != nil || json.Unmarshal(twinBody(), &w) != nil {
		t.Fatalf("slack: %s", body)
	}
	all := m.Text
	var sections, twinSections string
	for i, b := range m.Blocks {
		if i == 0 && (b.Type != "header" || b.Text.Type != "plain_text") || i > 0 && (b.Type != "section" || b.Text.Type != "mrkdwn") {
			t.Fatalf("slack: block %d is %s/%s", i, b.Type, b.Text.Type)
		}
		if i > 0 {
			sections += b.Text.Text + "\n"
		}
		all += "\n" + b.Text.Text
	}
	for _, b := range w.Blocks[1:] {
		twinSections += b.Text.Text + "\n"
	}
	// <url|text> links and <!here>, <@U…> mentions need < >; & only
	// as an escape; emphasis * _ ~ and code ` only the template's.
	neverIn(t, FormatSlack, s, all, "<", ">", "://")
	if strings.Count(all, "&") != strings.Count(all, "&amp;")+strings.Count(all, "&lt;")+strings.Count(all, "&gt;") {
		t.Fatalf("slack: a bare & from outside text %q: %s", s, all)
	}
	sameMarkup(t, FormatSlack, s, sections, twinSections, "*~`")
	neverIn(t, FormatSlack, s, m.Text, "*", "~", "`")
	wordUnderscores(t, FormatSlack, all, s)
}

// Slack's answers: HTTP 200 "ok" only; a revoked webhook is named.
func TestSlackAnswers(t *testing.T) {
	checkAnswers(t, []answerCase{
		{name: "webhook revoked", format: FormatSlack, answers: []answer{{404, "channel_not_found", ""}}, requests: 1,
			err: "create a new incoming webhook and set STOPPER_NOTIFY_URL"},
		{name: "200 but not ok", format: FormatSlack, answers: []answer{{200, "maybe", ""}}, requests: 1, err: `answered HTTP 200: "maybe"`},
	})
}

// A cut keeps Slack's entities whole: half of one would leave a bare &.
func TestClipUTF16KeepsEntitiesWhole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 5, "abcd…"},
		{"ab&amp;cdef", 5, "ab…"},
		{"ab&amp;cdef", 8, "ab&amp;…"},
		{"abc&lt;", 6, "abc…"},
		{"a&gt;&gt;", 7, "a&gt;…"},
		{"é&amp;x", 4, "é…"},
	} {
		if got := clipUTF16(tc.in, tc.max); got != tc.want {
			t.Errorf("clipUTF16(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
