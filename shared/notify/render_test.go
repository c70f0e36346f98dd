package notify

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

var update = flag.Bool("update", false, "rewrite testdata/ with the rendered samples")

// render is the body Notify would post for r (signed at testNow when the
// options carry a secret).
func render(t testing.TB, o Options, r stopper.Report) []byte {
	t.Helper()
	o.Now = func() time.Time { return testNow }
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	build, err := n.payload(r, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	_, body, err := build(testNow)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// The samples in testdata/ are one two-stop sweep's messages as each
// service receives them, and the same sweep's as a dry run (README
// material): go test -run TestSamples -update.
func TestSamples(t *testing.T) {
	for _, tc := range []struct {
		format, file string
		report       func() stopper.Report
	}{
		{FormatDingTalk, "dingtalk.md", twoStopSweep}, {FormatLark, "lark.json", twoStopSweep},
		{FormatSlack, "slack.json", twoStopSweep}, {FormatJSON, "json.json", twoStopSweep},
		{FormatDingTalk, "dingtalk-dry-run.md", dryTwoStopSweep}, {FormatJSON, "json-dry-run.json", dryTwoStopSweep},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body := render(t, formatCases[tc.format].webhook, tc.report())
			checkLimits(t, tc.format, body)
			var sample []byte
			if tc.format == FormatDingTalk {
				var m dingTalkMessage
				if err := json.Unmarshal(body, &m); err != nil {
					t.Fatal(err)
				}
				sample = []byte(m.Markdown.Text + "\n")
			} else {
				var b bytes.Buffer
				if err := json.Indent(&b, body, "", "  "); err != nil {
					t.Fatal(err)
				}
				sample = append(b.Bytes(), '\n')
			}
			checkSample(t, tc.file, sample)
		})
	}
}

// checkSample compares a rendering with its sample in testdata/, or with
// -update writes it there.
func checkSample(t *testing.T, file string, sample []byte) {
	t.Helper()
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, sample, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestSamples -update)", err)
	}
	if !bytes.Equal(sample, want) {
		t.Errorf("%s changed (go test -run TestSamples -update to accept):\n%s", path, sample)
	}
}

// A dry run's message says so in its title in every format, and speaks of
// what would be stopped, cancelled and killed, never of what was stopped.
// (JSON posts the answer itself: TestJSONDryRun.)
func TestDryRunMessage(t *testing.T) {
	const title = "Dry run: ecs-stopper would stop 2 invocations, 1 failure"
	for format, c := range formatCases {
		if c.titles == nil {
			continue
		}
		t.Run(format, func(t *testing.T) {
			body := render(t, c.webhook, dryTwoStopSweep())
			checkLimits(t, format, body)
			for _, got := range c.titles(t, body) { // every place a title shows
				if got != title {
					t.Errorf("title %q, want %q", got, title)
				}
			}
			for _, want := range []string{"Dry run.", "1 pending (would cancel), 3 running (would possibly kill)", "t-hz0jdfwd9f7k2a", "t-sh01ab2cd3ef4g"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("no %q in %s", want, body)
				}
			}
			if strings.Contains(strings.ToLower(string(body)), "stopped") || strings.Contains(string(body), "killed") || strings.Contains(string(body), "cancelled") {
				t.Errorf("a dry run's message says what was done: %s", body)
			}
		})
	}
}

// Long lists are cut ("and N more"), and long texts too, within each
// service's limits.
func TestLongReportsFit(t *testing.T) {
	long := strings.Repeat("长", 400) // 3 bytes a rune in UTF-8
	r := stopper.Report{RequestId: "req-long", Trigger: "fc-timer", Action: stopper.ActionSweep, Matched: map[string]int{}}
	for i := range 150 {
		r.Stopped = append(r.Stopped, stopper.ReportedStop{RegionId: "cn-hangzhou", InvokeId: fmt.Sprintf("t-%04d-%s", i, long),
			CommandName: long, Why: long, Pending: 1, Running: 1})
		r.Failed = append(r.Failed, stopper.ReportedFailure{RegionId: "cn-hangzhou", InvokeId: fmt.Sprintf("t-f%04d", i), Code: "InternalError", Message: long})
	}
	r.Answer = map[string]int{"Stopped": 150}
	for format, c := range formatCases {
		t.Run(format, func(t *testing.T) {
			o := c.webhook
			o.Secret = c.secret
			body := render(t, o, r)
			checkLimits(t, format, body)
			if c.titles == nil {
				return // the answer itself
			}
			s := string(body)
			for _, want := range []string{"t-0000-", "more invocations", "Failed (150)", "more failures", "Instances: 150 pending (cancelled), 150 running (possibly killed)"} {
				if !strings.Contains(s, want) {
					t.Errorf("no %q in the message", want)
				}
			}
			if strings.Contains(s, "t-0020-") {
				t.Errorf("more than %d stops listed", maxStops)
			}
		})
	}
}

// checkLimits fails when a body is not JSON or breaks its service's limits.
func checkLimits(t testing.TB, format string, body []byte) {
	t.Helper()
	if !json.Valid(body) {
		t.Fatalf("%s: not JSON: %s", format, body)
	}
	if limits := formatCases[format].limits; limits != nil {
		limits(t, body)
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 10, "plain"},
		{"  line\none\r\n\ttwo\u2028three\x00 ", 50, "line one two three"},
		{"abcdefghij", 5, "abcd…"},
		{"长长长长长长", 3, "长长…"},
		{"bad\xffutf8", 20, "bad\uFFFDutf8"},
		{"zero\u200bwidth\u202ertl", 20, "zero width rtl"},
	} {
		if got := clean(tc.in, tc.max); got != tc.want || utf8.RuneCountInString(got) > tc.max {
			t.Errorf("clean(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

// The renderers take any text a report may carry (command names and API
// messages come from outside) and still answer valid JSON within limits.
func FuzzRenderers(f *testing.F) {
	f.Add("t-hz0jdfwd9f7k2a", "nightly-backup", "cn-hangzhou", "OlderThan=2h0m0s", "Throttling.User", "Request was denied", uint8(2))
	f.Add("`]*_<&>", "**bold** [x](http://e) <!channel>", "\n\n# h", "\"\\\u2028", "\x00\xff", strings.Repeat("长", 2000), uint8(41))
	f.Add("", "", "", "", "", "", uint8(0))
	f.Fuzz(checkRenderers)
}

func checkRenderers(t *testing.T, invokeID, command, region, why, code, message string, n uint8) {
	{
		r := stopper.Report{RequestId: invokeID, Trigger: command, Action: why, Matched: map[string]int{region: int(n)}, Answer: map[string]string{"m": message}}
		for i := range int(n%45) + 1 {
			st := stopper.ReportedStop{RegionId: region, InvokeId: invokeID + fmt.Sprint(i), CommandName: command,
				Why: why, Pending: i, Running: int(n)}
			// Real stops, a dry run's selection, or both (a batch).
			switch n % 3 {
			case 1:
				r.WouldStop = append(r.WouldStop, st)
			case 2:
				r.WouldStop = append(r.WouldStop, st)
				fallthrough
			default:
				r.Stopped = append(r.Stopped, st)
			}
		}
		for i := range int(n % 15) {
			r.Failed = append(r.Failed, stopper.ReportedFailure{RegionId: region, InvokeId: invokeID, Item: fmt.Sprint(i), Code: code, Message: message})
		}
		if n%7 == 0 {
			r.Refused = &stopper.Error{Code: code, Message: message}
		}
		for format, c := range formatCases {
			o := c.webhook
			o.Secret = c.secret // signed where the service signs
			checkLimits(t, format, render(t, o, r))
		}
	}
}
