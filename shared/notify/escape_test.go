package notify

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Each format's escaper turns its markup into look-alikes (or Slack's
// entities), breaks URLs, and leaves everything else as it is.
func TestEscapers(t *testing.T) {
	for _, tc := range []struct {
		name, in, dingTalk, slack, lark string
	}{
		{"plain", "nightly-backup t-hz0jdfwd9f7k2a", "nightly-backup t-hz0jdfwd9f7k2a", "nightly-backup t-hz0jdfwd9f7k2a", "nightly-backup t-hz0jdfwd9f7k2a"},
		{"link and image", "[Re-run the job](https://evil.example/x) ![](https://evil.example/t.png)",
			"［Re-run the job］(https：//evil.example/x) !［］(https：//evil.example/t.png)",
			"[Re-run the job](https：//evil.example/x) ![](https：//evil.example/t.png)",
			"[Re-run the job](https：//evil.example/x) ![](https：//evil.example/t.png)"},
		{"slack link and mentions", "<https://evil.example|Re-run> <!here> <@U012AB3CD> <!channel>",
			"＜https：//evil.example｜Re-run＞ ＜!here＞ ＜＠U012AB3CD＞ ＜!channel＞",
			"&lt;https：//evil.example|Re-run&gt; &lt;!here&gt; &lt;@U012AB3CD&gt; &lt;!channel&gt;",
			"＜https：//evil.example|Re-run＞ ＜!here＞ ＜@U012AB3CD＞ ＜!channel＞"},
		{"html and entities", `<font color=red>x</font> &lt;b&gt;`, "＜font color=red＞x＜/font＞ ＆lt;b＆gt;",
			"&lt;font color=red&gt;x&lt;/font&gt; &amp;lt;b&amp;gt;", "＜font color=red＞x＜/font＞ &lt;b&gt;"},
		{"lark mention", `<at user_id="all">everyone</at>`, `＜at user_id="all"＞everyone＜/at＞`,
			`&lt;at user_id="all"&gt;everyone&lt;/at&gt;`, `＜at user_id="all"＞everyone＜/at＞`},
		{"emphasis and code", "*bold* _it_ ~gone~ `code` \\*", "＊bold＊ ＿it＿ ～gone～ 'code' ＼＊", "＊bold＊ ＿it＿ ～gone～ 'code' \\＊", "*bold* _it_ ~gone~ `code` \\*"},
		{"snake case stays", "nightly_backup_job", "nightly_backup_job", "nightly_backup_job", "nightly_backup_job"},
		{"heading and mention", "# @13800000000 @all | x", "＃ ＠13800000000 ＠all ｜ x", "# @13800000000 @all | x", "# @13800000000 @all | x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []struct {
				name      string
				m         markup
				got, want string
			}{
				{"dingtalk", dingTalkMarkup, dingTalkMarkup.escape(tc.in), tc.dingTalk},
				{"slack", slackMarkup, slackMarkup.escape(tc.in), tc.slack},
				{"lark", larkMarkup, larkMarkup.escape(tc.in), tc.lark},
			} {
				if f.got != f.want {
					t.Errorf("%s: %q\n got %q\nwant %q", f.name, tc.in, f.got, f.want)
				}
			}
		})
	}
}

// Links and mentions sent through a queue, as the message they made: the
// field name echoed by InvalidParameter, and a stopper:ttl tag value
// echoed by InvalidTag.
func TestOutsideTextInMessages(t *testing.T) {
	const injected = "[Re-run the job](https://evil.example/x) ![](https://evil.example/t.png) <!here> <@U012AB3CD> @all"
	report := func(s string) stopper.Report {
		r := twoStopSweep()
		r.Failed = append(r.Failed,
			stopper.ReportedFailure{Item: "1", Code: "InvalidParameter", Message: "unknown field " + s},
			stopper.ReportedFailure{Item: "2", Code: "InvalidTag", Message: "stopper:ttl=" + s + " is not a duration"})
		r.Stopped[0].CommandName = s
		return r
	}
	for format, c := range formatCases {
		if c.titles == nil {
			continue // the answer itself
		}
		t.Run(format, func(t *testing.T) {
			body := render(t, c.webhook, report(injected))
			checkInert(t, format, injected, report)
			if !strings.Contains(string(body), "Re-run the job") || !strings.Contains(string(body), "evil.example/t.png") {
				t.Errorf("the outside text is not shown at all: %s", body)
			}
		})
	}
}

// The fuzz target's oracle, for one input: no link, image, mention or
// markup of the input survives in any format's message.
func FuzzOutsideTextInert(f *testing.F) {
	for _, seed := range []string{
		"[Re-run the job](https://evil.example/x) ![](https://evil.example/t.png)",
		"<https://evil.example|Re-run> <!here> <@U012AB3CD> <!subteam^S0614TZR7>",
		`<at user_id="all">所有人</at> @all @13800000000`, "*bold* _it_ ~s~ `c` ``` \\` x_", "# h\n> q\n- l\n1. n",
		"<font color=red>x</font> &lt;img src=x&gt; &#60;", "a_b _c d_ __e__ 长_长", "\x00\xff\u202e\u2028",
		"www.evil.example HTTPS://EVIL.EXAMPLE", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 64 {
			s = s[:64] // within every size limit: the same items are listed as for the twin
		}
		for format := range formatCases {
			checkInert(t, format, s, outsideReport)
		}
	})
}

// outsideReport is a report whose every outside text is s: a batch with a
// stop, a dry-run selection, a failure and a refusal.
func outsideReport(s string) stopper.Report {
	line := stopper.ReportedStop{RegionId: s, InvokeId: s, CommandName: s, Why: s, Pending: 1, Running: 2}
	return stopper.Report{Action: s, Trigger: s, RequestId: s, Matched: map[string]int{s: 1},
		Stopped: []stopper.ReportedStop{line}, WouldStop: []stopper.ReportedStop{line},
		Failed:  []stopper.ReportedFailure{{RegionId: s, Code: s, Message: s}},
		Refused: &stopper.Error{Code: s + "!", Message: s},
		Answer:  map[string]any{"RegionId": s, "Message": s, "DryRun": false, "Pending": 1}}
}

// twin is s with every visible rune an 'x': the same message layout (clean
// keeps the same runs of spaces, caps and emptiness) without any markup.
func twin(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r) {
			return r
		}
		return 'x'
	}, s)
}

// checkInert fails when the message of report(s) lets markup of the
// outside text s through (each format's inert says how it would show):
// every markup character of the format appears exactly as often as in the
// message of report(twin(s)) (the template's own), '_' only between letters
// or digits, and nothing the format would read as a link, image or mention
// appears at all.
func checkInert(t *testing.T, format, s string, report func(string) stopper.Report) {
	t.Helper()
	c := formatCases[format]
	o := c.webhook
	o.Secret = c.secret // signed where the service signs
	body := render(t, o, report(s))
	checkLimits(t, format, body)
	c.inert(t, s, body, func() []byte { return render(t, o, report(twin(s))) })
}

// sameMarkup fails when got holds any of chars another number of times
// than want, the twin's.
func sameMarkup(t testing.TB, format, s, got, want, chars string) {
	t.Helper()
	for _, c := range chars {
		if g, w := strings.Count(got, string(c)), strings.Count(want, string(c)); g != w {
			t.Fatalf("%s: %d %q where the template has %d: outside text %q made markup:\n%s", format, g, c, w, s, got)
		}
	}
}

// neverIn fails when text holds any of what.
func neverIn(t testing.TB, format, s, text string, what ...string) {
	t.Helper()
	for _, w := range what {
		if strings.Contains(text, w) {
			t.Fatalf("%s: %q from outside text %q:\n%s", format, w, s, text)
		}
	}
}

// wordUnderscores fails on an underscore that could open or close
// emphasis: one not between two letters or digits.
func wordUnderscores(t testing.TB, format, text, s string) {
	t.Helper()
	for i, r := range text {
		if r != '_' {
			continue
		}
		before, _ := utf8.DecodeLastRuneInString(text[:i])
		after, _ := utf8.DecodeRuneInString(text[i+1:])
		if !wordRune(before) || !wordRune(after) {
			t.Fatalf("%s: an underscore that may be emphasis, from outside text %q:\n%s", format, s, text)
		}
	}
}
