package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

var testNow = time.Date(2025, 6, 1, 8, 30, 0, 0, time.UTC)

// received is one request a test receiver got.
type received struct {
	query map[string][]string
	body  []byte
}

// receiver is a local webhook: it records each request and answers with
// the next of answers (the last one again once they run out).
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	errs []string
}

type answer struct {
	status     int
	body       string
	retryAfter string
}

func newReceiver(t *testing.T, check func(r *http.Request, body []byte) string, answers ...answer) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{query: r.URL.Query(), body: body})
		i := min(len(rc.got), len(answers)) - 1
		if check != nil {
			if msg := check(r, body); msg != "" {
				rc.errs = append(rc.errs, msg)
			}
		}
		rc.mu.Unlock()
		a := answer{status: 200, body: "ok"}
		if i >= 0 {
			a = answers[i]
		}
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests(t *testing.T) []received {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, e := range rc.errs {
		t.Error("receiver: " + e)
	}
	return append([]received(nil), rc.got...)
}

// twoStopSweep is a sweep that stopped two invocations (and failed one).
func twoStopSweep() stopper.Report { return sweepReport(false) }

// dryTwoStopSweep is the same sweep as a dry run: it would stop the two.
func dryTwoStopSweep() stopper.Report { return sweepReport(true) }

func sweepReport(dryRun bool) stopper.Report {
	answer := stopper.SweepAnswer{RequestId: "c0ffee00-1d2e-4f50-8a6b-7c8d9e0f1a2b", Action: stopper.ActionSweep, DryRun: dryRun, Scanned: 42, Matched: 3,
		Spared: []stopper.SparedInvoke{{RegionId: "cn-hangzhou", InvokeId: "t-hz0protect0001", CommandName: "db-migrate", Reason: "stopper:protect"}},
		Failed: []stopper.FailedInvoke{{RegionId: "cn-shanghai", InvokeId: "t-sh09zz8yy7xx6w", Code: "Throttling.User", Message: "Request was denied due to user flow control."}},
	}
	selected := []stopper.SweptInvoke{
		{RegionId: "cn-hangzhou", InvokeId: "t-hz0jdfwd9f7k2a", CommandName: "nightly-backup", CreationTime: "2025-06-01T05:02:11Z", Rule: "OlderThan=2h0m0s", Pending: 1, Running: 2},
		{RegionId: "cn-shanghai", InvokeId: "t-sh01ab2cd3ef4g", CommandName: "warm-cache", CreationTime: "2025-06-01T07:45:00Z", Rule: "stopper:ttl=30m", Running: 1},
	}
	if dryRun {
		answer.WouldStop = selected
	} else {
		answer.Stopped = selected
	}
	r := stopper.NewReport("fc-timer", answer.RequestId, answer, nil)
	r.Matched = map[string]int{"cn-hangzhou": 1, "cn-shanghai": 2} // the answer keeps these unexported
	return r
}

func newTestNotifier(t *testing.T, o Options) *Notifier {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return testNow }
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Each format, signed where the service signs and not, against a
// receiver that checks the signature with the documented scheme and the
// payload's shape, and each answer the service gives to a message it took;
// a sweep that stopped two invocations is one message naming both.
func TestEachFormat(t *testing.T) {
	type run struct {
		name, secret string
		answer       answer
	}
	for format, c := range formatCases {
		runs := []run{}
		for i, a := range c.accepted {
			runs = append(runs, run{fmt.Sprintf("%s unsigned, answer %d", format, i+1), "", a})
		}
		if c.secret != "" {
			runs = append(runs, run{format + " signed", c.secret, c.accepted[0]})
		}
		for _, tc := range runs {
			t.Run(tc.name, func(t *testing.T) {
				rc := newReceiver(t, c.receiver(tc.secret), tc.answer)
				n := newTestNotifier(t, Options{URL: rc.URL + c.path, Format: format, Secret: tc.secret})
				if err := n.Notify(context.Background(), twoStopSweep()); err != nil {
					t.Fatal(err)
				}
				got := rc.requests(t)
				if len(got) != 1 {
					t.Fatalf("%d messages, want 1", len(got))
				}
				for _, id := range []string{"t-hz0jdfwd9f7k2a", "t-sh01ab2cd3ef4g"} {
					if !bytes.Contains(got[0].body, []byte(id)) {
						t.Errorf("the message does not name %s:\n%s", id, got[0].body)
					}
				}
				if c.titles != nil && !bytes.Contains(got[0].body, []byte("ecs-stopper stopped 2 invocations")) {
					t.Errorf("no title (nor keyword) in:\n%s", got[0].body)
				}
			})
		}
	}
}

// Nothing is sent for a report that stopped nothing, nor for a dry run
// that would stop nothing. (Whether a dry run that would stop something is
// told is the function's choice, STOPPER_NOTIFY_DRY_RUN: see
// TestDryRunMessage.)
func TestNothingStoppedSendsNothing(t *testing.T) {
	rc := newReceiver(t, nil)
	n := newTestNotifier(t, Options{URL: rc.URL, Format: FormatSlack})
	for _, r := range []stopper.Report{
		stopper.NewReport("fc-timer", "r1", stopper.SweepAnswer{Action: stopper.ActionSweep, Stopped: []stopper.SweptInvoke{}}, nil),
		stopper.NewReport("direct", "r2", nil, stopper.AsError(stopper.Invalid("InvokeId", "bad"))),
		stopper.NewReport("fc-timer", "r3", stopper.SweepAnswer{Action: stopper.ActionSweep, DryRun: true, WouldStop: []stopper.SweptInvoke{}}, nil),
	} {
		if err := n.Notify(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if got := rc.requests(t); len(got) != 0 {
		t.Fatalf("%d messages sent, want none", len(got))
	}
}

// A dry run that would stop something is sent when the function passes it
// on (STOPPER_NOTIFY_DRY_RUN), saying it is a dry run.
func TestDryRunSent(t *testing.T) {
	rc := newReceiver(t, nil)
	n := newTestNotifier(t, Options{URL: rc.URL, Format: FormatSlack})
	if err := n.Notify(context.Background(), dryTwoStopSweep()); err != nil {
		t.Fatal(err)
	}
	got := rc.requests(t)
	if len(got) != 1 || !strings.Contains(string(got[0].body), `"text":"Dry run: ecs-stopper would stop 2 invocations`) {
		t.Fatalf("%d messages: %s", len(got), got)
	}
}

// A sweep refused by its limit stopped nothing: the message says so and
// what to do (the error's message).
func TestRefusedSweep(t *testing.T) {
	refusal := &stopper.Error{Code: stopper.CodeSweepLimitExceeded,
		Message: "the sweep selected 150 invocations, over STOPPER_SWEEP_MAX_STOPS=100: nothing was stopped; check the selection with a dry run, then raise the limit"}
	r := stopper.NewReport("fc-timer", "req-9", nil, refusal)
	rc := newReceiver(t, checkLark(""), answer{200, `{"code":0}`, ""})
	n := newTestNotifier(t, Options{URL: rc.URL, Format: FormatLark})
	if err := n.Notify(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	got := rc.requests(t)
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	body := string(got[0].body)
	for _, want := range []string{"ecs-stopper refused a sweep: nothing was stopped", "Nothing was stopped. Sweep.LimitExceeded: the sweep selected 150", "raise the limit"} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in %s", want, body)
		}
	}
	if strings.Contains(body, "Failed (") {
		t.Errorf("the refusal is listed as a failure too: %s", body)
	}
}

// A dead receiver (closed port) and a slow one cost at most the bound, and
// return an error.
func TestUnreachableReceiverCostsAtMostTheBound(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/robot/send?access_token=" + dingTalkToken
	l.Close()

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)

	const timeout = 300 * time.Millisecond
	for _, tc := range []struct {
		name, url string
		ctx       func() (context.Context, context.CancelFunc)
		err       string
	}{
		{name: "dead", url: dead, ctx: noDeadline, err: "POST failed"},
		{name: "slow", url: slow.URL + "/robot/send?access_token=" + dingTalkToken, ctx: noDeadline, err: "no answer within the notification's bound"},
		{name: "slow, request deadline first", url: slow.URL + "/robot/send?access_token=" + dingTalkToken,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), deadlineMargin+100*time.Millisecond)
			}, err: "no answer within the notification's bound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			n := newTestNotifier(t, Options{URL: tc.url, Format: FormatDingTalk, Secret: dingSecret, Timeout: timeout,
				Log: slog.New(slog.NewJSONHandler(&logs, nil))})
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			err := n.Notify(ctx, twoStopSweep())
			if elapsed := time.Since(start); elapsed > 2*timeout+time.Second {
				t.Errorf("took %s, bound %s", elapsed, timeout)
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			assertNoSecret(t, err.Error())
			assertNoSecret(t, logs.String())
			if !strings.Contains(err.Error(), "access_token=[redacted]") {
				t.Errorf("the error does not show where: %v", err)
			}
		})
	}
}

func noDeadline() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

// With less than the margin left before the request's deadline, nothing is
// sent: the function must still answer.
func TestDeadlineTooClose(t *testing.T) {
	rc := newReceiver(t, nil)
	n := newTestNotifier(t, Options{URL: rc.URL, Format: FormatSlack})
	ctx, cancel := context.WithTimeout(context.Background(), deadlineMargin/2)
	defer cancel()
	if err := n.Notify(ctx, twoStopSweep()); err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("err = %v", err)
	}
	if got := rc.requests(t); len(got) != 0 {
		t.Fatalf("%d messages sent", len(got))
	}
}

// At most one retry: on a 5xx or a 429 (after its Retry-After when that
// fits the bound), never on another refusal. (Each format's test file
// checks its service's own answers the same way.)
func TestRetryAndServiceAnswers(t *testing.T) {
	checkAnswers(t, []answerCase{
		{name: "500 then 200", format: FormatSlack, answers: []answer{{500, "rollup_error", ""}, {200, "ok", ""}}, requests: 2},
		{name: "429 with a Retry-After that fits", format: FormatSlack, answers: []answer{{429, "", "1"}, {200, "ok", ""}}, requests: 2},
		{name: "503 twice", format: FormatJSON, answers: []answer{{503, "down", ""}}, requests: 2, err: `answered HTTP 503: "down"`},
		{name: "429 with a Retry-After too long", format: FormatSlack, answers: []answer{{429, "", "120"}}, requests: 1,
			err: "not retried: Retry-After 2m0s does not fit"},
		{name: "400 is not retried", format: FormatSlack, answers: []answer{{400, "invalid_payload", ""}}, requests: 1, err: `answered HTTP 400: "invalid_payload"`},
	})
}

// answerCase is a service's answers to one message: how many requests
// they make, and the error they end in ("" for success).
type answerCase struct {
	name     string
	format   string
	answers  []answer
	requests int
	err      string
}

// checkAnswers sends one message per case to a receiver giving its answers;
// the services' own error text is in the error, with a hint naming the
// setting.
func checkAnswers(t *testing.T, cases []answerCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, nil, tc.answers...)
			n := newTestNotifier(t, Options{URL: rc.URL, Format: tc.format, Timeout: 5 * time.Second})
			err := n.Notify(context.Background(), twoStopSweep())
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if got := rc.requests(t); len(got) != tc.requests {
				t.Fatalf("%d requests, want %d", len(got), tc.requests)
			}
		})
	}
}

// No secret of the notifier's reaches a message, an error or a log line,
// not even when the report's own texts echo them (an API message quoting
// a URL, a command named after a token).
func TestNoSecretLeaks(t *testing.T) {
	r := twoStopSweep()
	r.Stopped[0].CommandName = "curl " + "https://oapi.dingtalk.com/robot/send?access_token=" + dingTalkToken
	r.Failed[0].Message = "signature " + dingSecret + " / " + larkSecret + " rejected for hook " + larkToken + " and " + slackPath
	sweep := r.Answer.(stopper.SweepAnswer)
	sweep.Failed[0].Message = r.Failed[0].Message
	r.Answer = sweep
	for _, tc := range []struct {
		name, format, secret, path string
		own                        []string // the notifier's own secrets
	}{
		{"dingtalk", FormatDingTalk, dingSecret, "/robot/send?access_token=" + dingTalkToken, []string{dingSecret, dingTalkToken}},
		{"lark", FormatLark, larkSecret, "/open-apis/bot/v2/hook/" + larkToken, []string{larkSecret, larkToken}},
		{"slack", FormatSlack, "", "/services/" + slackPath, []string{slackPath, "slackHookSecret42xyz"}},
		{"json", FormatJSON, "", "/hook/" + larkToken + "?key=" + dingTalkToken, []string{larkToken, dingTalkToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The receiver answers 500 (with the secrets echoed) then 400:
			// one retry logged, one error returned.
			echo := "bad token " + dingTalkToken + " " + larkToken + " " + slackPath + " " + tc.secret
			rc := newReceiver(t, nil, answer{500, echo, ""}, answer{400, `{"errcode":1,"code":1,"errmsg":"` + echo + `","msg":"` + echo + `"}`, ""})
			var logs bytes.Buffer
			n := newTestNotifier(t, Options{URL: rc.URL + tc.path, Format: tc.format, Secret: tc.secret,
				Log: slog.New(slog.NewJSONHandler(&logs, nil))})
			err := n.Notify(context.Background(), r)
			if err == nil {
				t.Fatal("no error")
			}
			got := rc.requests(t)
			if len(got) != 2 {
				t.Fatalf("%d requests", len(got))
			}
			for _, q := range got {
				body := string(q.body)
				assertNoneOf(t, body, tc.own...)
				if !strings.Contains(body, "redacted") { // [redacted], or ［redacted］ in markdown
					t.Errorf("no %s in %s", redacted, body)
				}
			}
			assertNoneOf(t, err.Error(), tc.own...)
			assertNoneOf(t, logs.String(), tc.own...)
			if !strings.Contains(logs.String(), "notification retry") {
				t.Errorf("no retry logged: %s", logs.String())
			}
		})
	}
}

func assertNoneOf(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for _, secret := range secrets {
		if strings.Contains(s, secret) {
			t.Fatalf("secret %q leaked in:\n%s", secret, s)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		h    string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"-3", 0}, {"2", 2 * time.Second}, {"999999999999", time.Hour}, {"soon", 0},
		{testNow.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second},
		{testNow.Add(-3 * time.Second).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(tc.h, testNow); got != tc.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.h, got, tc.want)
		}
	}
}
