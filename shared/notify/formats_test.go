package notify

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// formatCase is what the tests shared by every format (TestEachFormat,
// TestSamples, TestDryRunMessage, TestLongReportsFit, the renderers' and
// escapers' fuzz targets, the rate limit's tests) need to know of one
// format. Each format's test file registers its own in formatCases.
type formatCase struct {
	// webhook is the service's webhook as operators configure it, unsigned.
	webhook Options
	// path is the webhook's path and query, on a local receiver.
	path string
	// secret is a secret the service signs with ("" when it signs not).
	secret string
	// accepted are the service's answers to a message it took.
	accepted []answer
	// receiver checks a request as the service would: its signature with
	// secret (none when ""), its body's shape. It returns what is wrong.
	receiver func(secret string) func(r *http.Request, body []byte) string
	// limits fails when a body (valid JSON) breaks the service's limits.
	limits func(t testing.TB, body []byte)
	// titles are every place the message shows its title; nil for a
	// format that posts no summary (JSON posts the answer).
	titles func(t testing.TB, body []byte) []string
	// inert fails when body, the message of a report whose outside text is
	// s, lets markup of s through; twin is the message of the same report
	// with twin(s).
	inert func(t testing.TB, s string, body []byte, twin func() []byte)
	// published are the service's published rate limits: at most max
	// messages in any window.
	published []window
}

type window struct {
	span time.Duration
	max  int
}

// formatCases holds every format's case, by name.
var formatCases = map[string]formatCase{}

// formatOf is the registered format of a name.
func formatOf(t testing.TB, name string) format {
	t.Helper()
	f, ok := formatNamed(name)
	if !ok {
		t.Fatalf("no format %s", name)
	}
	return f
}

// The registry: every format is tested (has its case), claims its hosts
// alone, and is named in the errors that list them.
func TestFormats(t *testing.T) {
	if len(formats) != len(formatCases) {
		t.Errorf("%d formats, %d cases", len(formats), len(formatCases))
	}
	for _, f := range formats {
		if _, ok := formatCases[f.name()]; !ok {
			t.Errorf("format %s has no case in its test file (formatCases)", f.name())
		}
		if f.name() != strings.ToLower(f.name()) {
			t.Errorf("format %s: not lower case", f.name())
		}
		for _, h := range f.hosts() {
			if got, claimed := formatOfHost(strings.ToUpper(h) + "."); !claimed || got.name() != f.name() {
				t.Errorf("host %s is %s's, claimed %v", h, got.name(), claimed)
			}
		}
	}
	if got, claimed := formatOfHost("ops.example.com"); claimed || got.name() != FormatJSON {
		t.Errorf("another host is %s, claimed %v", got.name(), claimed)
	}
	// JSON first, then the others by name; the signing services by name.
	var names, signing []string
	for name, c := range formatCases {
		if name != FormatJSON {
			names = append(names, name)
		}
		if c.secret != "" {
			signing = append(signing, formatOf(t, name).service())
		}
	}
	slices.Sort(names)
	slices.Sort(signing)
	if got, want := formatNames(), strings.Join(append([]string{FormatJSON}, names...), ", "); got != want {
		t.Errorf("formatNames = %q, want %q", got, want)
	}
	if got, want := signingServices(), strings.Join(signing[:len(signing)-1], ", ")+" and "+signing[len(signing)-1]; got != want {
		t.Errorf("signingServices = %q, want %q", got, want)
	}
	for _, f := range []format{dingTalk{}, otherSlack{}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("registered %s twice", f.name())
				}
			}()
			register(f)
		}()
	}
}

// A new format is one type registered by its file: New infers it from its
// host, Notify renders, signs and posts it and reads its answer, with no
// other change to the package. testChat is such a format, for a made-up
// service; docs/development.md walks through adding one.
func TestAFormatIsOneFile(t *testing.T) {
	saved := formats
	t.Cleanup(func() { formats = saved })
	formats = slices.Clone(formats)
	register(testChat{})

	rc := newReceiver(t, func(r *http.Request, body []byte) string {
		if r.URL.Query().Get("signed") != "2025-06-01T08:30:00Z" || !strings.HasPrefix(string(body), "ecs-stopper stopped 2 invocations") {
			return "not the test chat's message: " + r.URL.RawQuery + " " + string(body)
		}
		return ""
	}, answer{200, "accepted", ""})
	n := newTestNotifier(t, Options{URL: rc.URL + "/post", Format: "TestChat", Secret: "s3cret"})
	if err := n.Notify(context.Background(), twoStopSweep()); err != nil {
		t.Fatal(err)
	}
	if got := rc.requests(t); len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	if _, err := New(Options{URL: "https://chat.example.net/x"}); err == nil || !strings.Contains(err.Error(), "is not a Test Chat webhook") {
		t.Fatalf("host not inferred: %v", err)
	}
	names := formatNames()
	if _, err := New(Options{URL: "https://ops.example.com/x", Format: "teams"}); err == nil ||
		!strings.Contains(names, ", testchat") || !strings.Contains(err.Error(), `"teams" is not one of `+names) {
		t.Fatalf("not listed: %v", err)
	}
}

// testChat is a made-up service's format, as a new format's file would
// write it: plain text with < and > escaped, signed in the query,
// answered "accepted".
type testChat struct{}

func (testChat) name() string    { return "testchat" }
func (testChat) service() string { return "Test Chat" }
func (testChat) hosts() []string { return []string{"chat.example.net"} }

func (testChat) checkURL(u *url.URL, shown string) error {
	if u.Path != "/post" {
		return fmt.Errorf("STOPPER_NOTIFY_URL %s is not a Test Chat webhook", shown)
	}
	return nil
}

func (testChat) redactPath(u *url.URL) (string, []string) { return u.EscapedPath(), nil }

func (testChat) rateLimit() rateLimit {
	return rateLimit{burst: 1, every: time.Second, said: "1 message a second"}
}

var testChatMarkup = markup{lookalike: map[rune]rune{'<': '＜', '>': '＞'}}

func (testChat) render(d draft) ([]byte, error) {
	st := style{code: testChatMarkup.escape, text: testChatMarkup.escape, bold: same}
	return fit(d.summary(), func(s summary, n shown) ([]byte, bool) {
		var b strings.Builder
		b.WriteString(s.Title + "\n")
		for _, p := range compose(s, st, n) {
			for _, l := range p.lines {
				b.WriteString(l + "\n")
			}
		}
		return []byte(b.String()), b.Len() <= 4000
	})
}

func (testChat) check(a reply) string {
	if !a.ok() || string(a.body) != "accepted" {
		return a.httpFailure()
	}
	return ""
}

func (testChat) checkSecret(string) error { return nil }

func (testChat) sign(target string, body []byte, _ string, now time.Time) (string, []byte, error) {
	return target + "?signed=" + now.UTC().Format(time.RFC3339), body, nil
}

// otherSlack claims a host Slack has.
type otherSlack struct{ testChat }

func (otherSlack) name() string    { return "otherslack" }
func (otherSlack) hosts() []string { return []string{"hooks.slack.com"} }
