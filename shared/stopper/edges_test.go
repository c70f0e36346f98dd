package stopper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// throttledLister throttles the first n listings, as a busy API does to a
// client that does not retry.
type throttledLister struct {
	*fakeAPI
	mu sync.Mutex
	n  int
}

func (l *throttledLister) DescribeInvocations(ctx context.Context, req ca.DescribeInvocationsRequest) (*ca.DescribeInvocationsResponse, error) {
	l.mu.Lock()
	if l.n > 0 {
		l.n--
		l.mu.Unlock()
		return nil, &ca.Error{Code: "Throttling.User", Message: "Request was denied due to user flow control.", HTTPStatus: 400}
	}
	l.mu.Unlock()
	return l.fakeAPI.DescribeInvocations(ctx, req)
}

// Throttled listings are waited out, not counted as faults: a sweep that
// lists first cannot do without its listing.
func TestSweepWaitsOutThrottledListings(t *testing.T) {
	var fleet []ca.Invocation
	for i := range 60 {
		fleet = append(fleet, inv(fmt.Sprintf("t-%03d", i), 3*time.Hour, ca.StatusRunning))
	}
	api := &throttledLister{fakeAPI: newFake(fleet...), n: listRetries + 2}
	a, err := testFunction(api, &bytes.Buffer{}).RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil || len(a.Stopped) != 60 || len(a.Failed) != 0 || a.Truncated {
		t.Fatalf("err %v, %d stopped, Failed %v, Truncated %v", err, len(a.Stopped), a.Failed, a.Truncated)
	}
}

// The request rules hold at their exact bounds: the largest value allowed
// is accepted and the next one refused, naming the field.
func TestDecodeRequestBounds(t *testing.T) {
	sweep := func(fields string) string { return `{"Action":"Sweep",` + fields + `}` }
	quoted := func(n int) string { return `"` + strings.Repeat("a", n) + `"` }
	tags := func(n int) string {
		var kv []string
		for i := range n {
			kv = append(kv, fmt.Sprintf(`"k%02d":"v"`, i))
		}
		return `{` + strings.Join(kv, ",") + `}`
	}
	regions := func(n int) string {
		var ids []string
		for i := range n {
			ids = append(ids, fmt.Sprintf(`"cn-r%02d"`, i))
		}
		return `[` + strings.Join(ids, ",") + `]`
	}
	nested := func(depth int) string { // a body nesting depth levels, the innermost a Tags value
		return sweep(`"Tags":{"a":` + strings.Repeat("[", depth-2) + `1` + strings.Repeat("]", depth-2) + `}`)
	}
	for _, tc := range []struct {
		name, body string
		err        string // "" accepted; else the start of the error message
		check      func(Request) bool
	}{
		{"OlderThan 1ns", sweep(`"OlderThan":"1ns"`), "", func(r Request) bool { return r.Sweep.OlderThan == 1 }},
		{"OlderThan 0s", sweep(`"OlderThan":"0s"`), "OlderThan: ", nil},
		{"CommandName of 128", sweep(`"CommandName":` + quoted(128)), "", func(r Request) bool { return len(r.Sweep.CommandName) == 128 }},
		{"CommandName of 129", sweep(`"CommandName":` + quoted(129)), "CommandName: ", nil},
		{"MaxStops 1", sweep(`"MaxStops":1`), "", func(r Request) bool { return r.Sweep.MaxStops == 1 }},
		{"MaxStops 90", sweep(`"MaxStops":90`), "", func(r Request) bool { return r.Sweep.MaxStops == 90 }},
		{"MaxStops 109", sweep(`"MaxStops":109`), "", func(r Request) bool { return r.Sweep.MaxStops == 109 }},
		{"MaxStops of 9 digits", sweep(`"MaxStops":987654321`), "", func(r Request) bool { return r.Sweep.MaxStops == 987654321 }},
		{"MaxStops of 10 digits", sweep(`"MaxStops":1000000000`), "MaxStops: ", nil},
		{"MaxStops 0", sweep(`"MaxStops":0`), "MaxStops: ", nil},
		{"MaxStops with a leading 0", sweep(`"MaxStops":07`), "body: ", nil},
		{"MaxStops negative", sweep(`"MaxStops":-1`), "MaxStops: ", nil},
		{"MaxStops fraction", sweep(`"MaxStops":1.5`), "MaxStops: ", nil},
		{"MaxStops exponent", sweep(`"MaxStops":1e3`), "MaxStops: ", nil},
		{"MaxStops string", sweep(`"MaxStops":"5"`), "MaxStops: ", nil},
		{"tag key of 128", sweep(`"Tags":{` + quoted(128) + `:"v"}`), "", func(r Request) bool { return r.Sweep.Tags[strings.Repeat("a", 128)] == "v" }},
		{"tag key of 129", sweep(`"Tags":{` + quoted(129) + `:"v"}`), "Tags: tag keys", nil},
		{"tag value of 128", sweep(`"Tags":{"k":` + quoted(128) + `}`), "", func(r Request) bool { return len(r.Sweep.Tags["k"]) == 128 }},
		{"tag value of 129", sweep(`"Tags":{"k":` + quoted(129) + `}`), `Tags: the value of "k"`, nil},
		{"20 tags", sweep(`"Tags":` + tags(MaxTags)), "", func(r Request) bool { return len(r.Sweep.Tags) == MaxTags }},
		{"21 tags", sweep(`"Tags":` + tags(MaxTags+1)), "Tags: has more than 20", nil},
		{"50 regions", sweep(`"RegionIds":` + regions(MaxRegions)), "", func(r Request) bool { return len(r.Sweep.RegionIds) == MaxRegions }},
		{"51 regions", sweep(`"RegionIds":` + regions(MaxRegions+1)), "RegionIds: has 51 entries", nil},
		// MaxNesting levels pass the nesting check (and fail on the field);
		// one more is refused before any field is read.
		{"nesting 8", nested(MaxNesting), "Tags: ", nil},
		{"nesting 9", nested(MaxNesting + 1), "body: nests deeper than 8", nil},
		{"InstanceIds string nesting 9", `{"InvokeId":"t-1","InstanceIds":"` + strings.Repeat("[", 9) + strings.Repeat("]", 9) + `"}`,
			"InstanceIds: must be a JSON array", nil},
		{"not JSON says where", `{"InvokeId": }`, "body: is not valid JSON: invalid character '}'", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := DecodeRequest([]byte(tc.body))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err == "" && !tc.check(r):
				t.Fatalf("decoded as %+v", r.Sweep)
			case tc.err != "" && (err == nil || !strings.HasPrefix(AsError(err).Message, tc.err) || AsError(err).Code != CodeInvalidParameter):
				t.Fatalf("err = %v, want a message starting %q", err, tc.err)
			}
		})
	}
}

// Ids and region ids: every letter and digit at the ends of their ranges,
// and the longest id accepted.
func TestIDFormBounds(t *testing.T) {
	for _, tc := range []struct {
		valid func(string) bool
		id    string
		want  bool
	}{
		{ValidRegionID, "z-1", true},
		{ValidRegionID, "cn-r0", true},
		{ValidRegionID, "cn-r9", true},
		{ValidRegionID, "cn-r/", false},
		{ValidRegionID, "cn-r:", false},
		{ValidRegionID, "{n-hangzhou", false},
		{ValidRegionID, strings.Repeat("a", 64), true},
		{ValidRegionID, strings.Repeat("a", 65), false},
		{ValidInvokeID, "t-" + strings.Repeat("a", 64), true},
		{ValidInvokeID, "t-z", true},
		{ValidInvokeID, "t-Z", true},
		{ValidInvokeID, "t-09", true},
		{ValidInvokeID, "t-{", false},
		{ValidInvokeID, "t-[", false},
		{ValidInstanceID, "i-" + strings.Repeat("Z", 64), true},
		{ValidInstanceID, "i-" + strings.Repeat("z", 65), false},
	} {
		if got := tc.valid(tc.id); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.id, got, tc.want)
		}
	}
}

// Hostile values are cut at 80 bytes in error messages; shorter ones are
// shown whole.
func TestRefusalQuotesValuesUpTo80Bytes(t *testing.T) {
	id80 := "t-" + strings.Repeat("a", 78)
	_, err := DecodeRequest([]byte(`{"InvokeId":"` + id80 + `"}`))
	if err == nil || !strings.Contains(err.Error(), `"`+id80+`"`) {
		t.Fatalf("80 bytes: %v", err)
	}
	_, err = DecodeRequest([]byte(`{"InvokeId":"` + id80 + `b"}`))
	if err == nil || !strings.Contains(err.Error(), id80+"...(81 bytes)") {
		t.Fatalf("81 bytes: %v", err)
	}
}

// Shares: more than 0 %, at most 100 %; a count: at least 1. The threshold
// reads back as written ("" when unset).
func TestThresholdBounds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" refused
	}{
		{"100%", "100%"}, {"0%", ""}, {"0.5%", "0.5%"}, {"100.0001%", ""}, {"1", "1"}, {"0", ""}, {"12", "12"},
	} {
		th, err := ParseThreshold(tc.in)
		if got := th.String(); got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if s := (Threshold{}).String(); s != "" {
		t.Errorf("unset threshold reads %q", s)
	}
}

// A stopper:ttl of 0s is no stale age at all: reported, never guessed.
func TestSweepZeroTTLIsReported(t *testing.T) {
	api := newFake(inv("t-zero", 3*time.Hour, ca.StatusRunning, tagged(TagTTL, "0s")))
	a, err := testFunction(api, &bytes.Buffer{}).RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil || len(a.Stopped) != 0 || len(a.Failed) != 1 || a.Failed[0].Code != CodeInvalidTag || api.stopCount("cn-hangzhou", "t-zero") != 0 {
		t.Fatalf("err %v, answer %+v", err, a)
	}
}

// A protected invocation is listed as Spared only once it is stale: at
// exactly its limit it is not stale yet.
func TestSweepProtectedAtTheLimit(t *testing.T) {
	api := newFake(
		inv("t-at", 2*time.Hour, ca.StatusRunning, tagged(TagProtect, "true")),
		inv("t-over", 2*time.Hour+time.Second, ca.StatusRunning, tagged(TagProtect, "true")),
		inv("t-plain", 2*time.Hour, ca.StatusRunning),
	)
	a, err := testFunction(api, &bytes.Buffer{}).RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil || len(a.Spared) != 1 || a.Spared[0].InvokeId != "t-over" || len(a.Stopped) != 0 {
		t.Fatalf("err %v, Spared %+v, Stopped %+v", err, a.Spared, a.Stopped)
	}
}

// A request may ask for the configured MaxStops itself, and configured and
// requested tags together may make MaxTags conditions, not more.
func TestSweepRailsAtTheirBounds(t *testing.T) {
	fn := testFunction(newFake(), &bytes.Buffer{})
	fn.Sweep.MaxStops = 10
	if p, e := fn.plan(SweepRequest{MaxStops: 10}); e != nil || p.maxStops != 10 {
		t.Fatalf("MaxStops equal to the configured one: %v, %d", e, p.maxStops)
	}
	fn.Sweep.Tags = map[string]string{}
	for i := range 10 {
		fn.Sweep.Tags[fmt.Sprintf("c%d", i)] = "x"
	}
	req := map[string]string{}
	for i := range MaxTags - 10 {
		req[fmt.Sprintf("r%d", i)] = ""
	}
	if p, e := fn.plan(SweepRequest{Tags: req}); e != nil || len(p.tags) != MaxTags {
		t.Fatalf("%d tags: %v, %d", MaxTags, e, len(p.tags))
	}
	req["one-more"] = "y"
	if _, e := fn.plan(SweepRequest{Tags: req}); e == nil || !strings.HasPrefix(e.Message, "Tags: with STOPPER_SWEEP_TAGS makes 21") {
		t.Fatalf("%d tags: %v", MaxTags+1, e)
	}
}

// A sweep's report counts what it matched, region by region.
func TestSweepReportMatchedByRegion(t *testing.T) {
	api := newFake(
		inv("t-a1", 3*time.Hour, ca.StatusRunning),
		inv("t-a2", 3*time.Hour, ca.StatusRunning),
		inv("t-b1", 3*time.Hour, ca.StatusRunning, inRegion("cn-shanghai")),
		inv("t-young", time.Hour, ca.StatusRunning, inRegion("cn-shanghai")),
	)
	fn := testFunction(api, &bytes.Buffer{})
	fn.Sweep.RegionIds = []string{"cn-hangzhou", "cn-shanghai"}
	a, err := fn.RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReport("fc-timer", "r", a, nil)
	if fmt.Sprint(r.Matched) != "map[cn-hangzhou:2 cn-shanghai:1]" || len(r.Stopped) != 3 {
		t.Fatalf("Matched %v, Stopped %d", r.Matched, len(r.Stopped))
	}
}

// jitter draws uniformly from [d/2, d], both ends included.
func TestJitterBounds(t *testing.T) {
	for _, d := range []time.Duration{2, throttleBackoff} {
		seen := map[time.Duration]bool{}
		for range 2000 {
			j := jitter(d)
			if j < d/2 || j > d {
				t.Fatalf("jitter(%v) = %v, outside [%v, %v]", d, j, d/2, d)
			}
			seen[j] = true
		}
		if d == 2 && (!seen[1] || !seen[2]) {
			t.Fatalf("jitter(%v) never drew an end of its range: %v", d, seen)
		}
	}
}

// A count threshold's reason says the count; only a share adds what it
// came to. An event that is not a failure says what it was.
func TestFailFastReasons(t *testing.T) {
	inv := rollout("t-a", []string{"Failed", "Error", "Running", "Pending", "Pending"}, tag(TagMaxErrors, "2"))
	api := &stopRecorder{fleet: map[string]ca.Invocation{"t-a": inv}}
	fn := &Function{API: api, RegionId: "cn-hangzhou", Log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct{ status, reason string }{
		{"Failed", "2 of 5 instances failed: max-errors 2 reached, the rest stopped"},
		{"Success", "the run ended success, not in failure: nothing to decide"},
		{"", "the run ended with no status, not in failure: nothing to decide"},
	} {
		a, err := fn.FailFast(context.Background(), "r", FailFastRequest{InvokeId: "t-a", Status: tc.status})
		if err != nil || a.Reason != tc.reason {
			t.Errorf("%q: %v, Reason %q\nwant %q", tc.status, err, a.Reason, tc.reason)
		}
	}
}

// failingReader answers every DescribeInvocations with an API error.
type failingReader struct {
	stopRecorder
	err error
}

func (f *failingReader) DescribeInvocations(ctx context.Context, req ca.DescribeInvocationsRequest) (*ca.DescribeInvocationsResponse, error) {
	return nil, f.err
}

// logLines decodes JSON log lines.
func logLines(t *testing.T, logs *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// A failed request's log line carries the API's RequestId (for a support
// ticket) when the API gave one, and no empty one otherwise.
func TestFailureLogCarriesUpstreamRequestId(t *testing.T) {
	for _, tc := range []struct {
		requestID string
		want      any
	}{{"4A2C-UP", "4A2C-UP"}, {"", nil}} {
		var logs bytes.Buffer
		api := &failingReader{err: &ca.Error{Code: "InternalError", Message: "boom", HTTPStatus: 500, RequestId: tc.requestID}}
		fn := testFunction(api, &logs)
		fn.RegionId = "cn-hangzhou"
		if _, e := fn.Stop(context.Background(), "r", StopRequest{InvokeId: "t-a"}); e == nil || e.Code != "InternalError" {
			t.Fatalf("error %v", e)
		}
		lines := logLines(t, &logs)
		if got := lines[len(lines)-1]["upstream_request_id"]; got != tc.want {
			t.Errorf("upstream_request_id %v, want %v: %s", got, tc.want, logs.String())
		}
	}
}

// Finish with only metrics records; with only a notifier notifies.
func TestFinishWithOneSink(t *testing.T) {
	stopped := StopAnswer{InvokeId: "t-a", Stopped: boolp(true)}
	metrics := &recordingNotifier{}
	fn := testFunction(nil, &bytes.Buffer{})
	fn.Metrics = metrics
	fn.Finish(context.Background(), "direct", "r1", stopped, nil)
	if len(metrics.reports) != 1 {
		t.Fatalf("metrics alone: %d reports", len(metrics.reports))
	}
	notes := &recordingNotifier{}
	fn = testFunction(nil, &bytes.Buffer{})
	fn.Notifier = notes
	fn.Finish(context.Background(), "direct", "r2", stopped, nil)
	if len(notes.reports) != 1 || notes.reports[0].RequestId != "r2" {
		t.Fatalf("notifier alone: %+v", notes.reports)
	}
}

// A batch's log line counts its items by outcome, in the words of what
// they were: stopped for real stops, would_stop for dry runs (both for a
// batch of both), and never a word that did not happen.
func TestHandleBatchLogsCounts(t *testing.T) {
	dry, live := boolp(true), boolp(false)
	for _, tc := range []struct {
		name   string
		dryRun bool // the function's default
		items  []Item
		counts string // items stopped would_stop not_stopped ignored failed (<nil>: no such field)
	}{
		{name: "real", items: []Item{
			{Id: "a", Request: Request{Stop: &StopRequest{InvokeId: "t-b"}}},
			{Id: "b", Request: Request{Stop: &StopRequest{InvokeId: "t-c"}}},
			{Id: "c", Err: Invalid("body", "is not JSON")},
			{Id: "d", Ignored: "resolved alert"},
			{Id: "e", Ignored: "resolved alert"},
		}, counts: "5 1 <nil> 1 2 1"},
		{name: "dry runs", items: []Item{
			{Id: "a", Request: Request{Stop: &StopRequest{InvokeId: "t-b", DryRun: dry}}},
			{Id: "b", Request: Request{Stop: &StopRequest{InvokeId: "t-c", DryRun: dry}}},
		}, counts: "2 <nil> 1 1 0 0"},
		{name: "both", dryRun: true, items: []Item{
			{Id: "a", Request: Request{Stop: &StopRequest{InvokeId: "t-b"}}},
			{Id: "b", Request: Request{Stop: &StopRequest{InvokeId: "t-b", DryRun: live}}},
		}, counts: "2 1 1 0 0 0"},
		{name: "nothing handled, dry-run function", dryRun: true, items: []Item{{Id: "d", Ignored: "resolved alert"}},
			counts: "1 <nil> 0 0 1 0"},
		{name: "nothing handled", items: []Item{{Id: "d", Ignored: "resolved alert"}},
			counts: "1 0 <nil> 0 1 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &stopRecorder{fleet: map[string]ca.Invocation{"t-b": rollout("t-b", []string{"Running"}), "t-c": rollout("t-c", []string{"Success"})}}
			var logs bytes.Buffer
			fn := testFunction(api, &logs)
			fn.RegionId, fn.DryRun = "cn-hangzhou", tc.dryRun
			fn.HandleBatch(context.Background(), "req-b", tc.items)
			lines := logLines(t, &logs)
			last := lines[len(lines)-1]
			got := fmt.Sprint(last["items"], " ", last["stopped"], " ", last["would_stop"], " ", last["not_stopped"], " ", last["ignored"], " ", last["failed"])
			if last["msg"] != "batch done" || got != tc.counts {
				t.Fatalf("batch log %v %q, want %q", last["msg"], got, tc.counts)
			}
		})
	}
}

// pacerClock is a pacer on a clock the test moves.
func pacerClock() (*pacer, func(time.Duration)) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	p := newPacer()
	p.now = func() time.Time { return now }
	p.start()
	return p, func(d time.Duration) { now = t0.Add(d) }
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// Unpaced, a window lasts 100 ms: push-back inside it changes nothing
// until it ends, and at its end the successes set the rate.
func TestPacerWindowLength(t *testing.T) {
	p, at := pacerClock()
	at(10 * time.Millisecond)
	p.done(outcomeOK, 10*time.Millisecond)
	p.done(outcomeOK, 100*time.Millisecond) // slow: push-back
	at(99 * time.Millisecond)
	p.done(outcomeOK, 10*time.Millisecond)
	if p.current() != 0 {
		t.Fatalf("rate %v before the window's end", p.current())
	}
	at(100 * time.Millisecond)
	p.done(outcomeOK, 10*time.Millisecond)
	// 4 calls in 0.1 s, one of them slow: congested at 40/s.
	if !near(p.current(), 40) || !near(p.ceiling, 40) {
		t.Fatalf("rate %v ceiling %v at the window's end, want 40 and 40", p.current(), p.ceiling)
	}
}

// Paced, a window holds about 10 calls: at 20/s it lasts 500 ms.
func TestPacerWindowHoldsTenCalls(t *testing.T) {
	p, at := pacerClock()
	p.rate = 20
	p.done(outcomeOK, 10*time.Millisecond)
	at(250 * time.Millisecond)
	p.done(outcomeOK, 100*time.Millisecond) // slow
	if p.current() != 20 {
		t.Fatalf("rate %v halfway through a 500 ms window", p.current())
	}
	at(500 * time.Millisecond)
	p.done(outcomeOK, 10*time.Millisecond)
	// Congested: 3 successes in 0.5 s (6/s), bounded below by half of 20.
	if !near(p.current(), 10) {
		t.Fatalf("rate %v at the window's end, want 10", p.current())
	}
}

// A throttled call ends the window once a fifth of it has passed, not
// before; the successes measure the rate, bounded below by half the rate
// offered (every call, throttled ones included).
func TestPacerThrottledEndsTheWindowEarly(t *testing.T) {
	p, at := pacerClock()
	for range 30 {
		p.done(outcomeOK, time.Millisecond)
	}
	at(19 * time.Millisecond)
	p.done(outcomeThrottled, 0)
	if p.current() != 0 {
		t.Fatalf("rate %v: a throttled call ended the window before a fifth of it", p.current())
	}
	at(20 * time.Millisecond)
	p.done(outcomeThrottled, 0)
	// 30 successes in 0.02 s: 1500/s (half of the 1600/s offered is less).
	if !near(p.current(), 1500) {
		t.Fatalf("rate %v, want 1500", p.current())
	}

	p, at = pacerClock()
	for range 5 {
		p.done(outcomeOK, time.Millisecond)
	}
	for range 15 {
		p.throttled()
	}
	at(20 * time.Millisecond)
	p.throttled()
	// 21 calls in 0.02 s offered 1050/s; 5 successes measure 250/s: half of 1050.
	if !near(p.current(), 525) || !near(p.ceiling, 1050) {
		t.Fatalf("rate %v ceiling %v, want 525 and 1050", p.current(), p.ceiling)
	}
}

// A call is slow (push-back) when it took more than 3 times the fastest
// call plus 10 ms.
func TestPacerSlowCalls(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		latencies []time.Duration
		slow      int
	}{
		{[]time.Duration{10 * ms, 40 * ms}, 0},
		{[]time.Duration{10 * ms, 40*ms + 1}, 1},
		{[]time.Duration{30 * ms, 60 * ms}, 0},
		{[]time.Duration{20 * ms, 20 * ms, 20 * ms}, 0},
		{[]time.Duration{50 * ms, 5 * ms, 30 * ms}, 1}, // the fastest so far is 5 ms
	} {
		p, _ := pacerClock() // the clock stands still: the window never ends
		for _, l := range tc.latencies {
			p.done(outcomeOK, l)
		}
		if p.win.pushback != tc.slow || p.win.calls != len(tc.latencies) {
			t.Errorf("%v: %d slow of %d, want %d", tc.latencies, p.win.pushback, p.win.calls, tc.slow)
		}
	}
}

// Exactly 5 % slow calls is congestion; a rate already at 1/1.05 of the
// ceiling probes by 5 % rather than halving the gap.
func TestPacerAdjustBounds(t *testing.T) {
	p := newPacer()
	p.rate = 100
	p.win = window{ok: 20, calls: 20, pushback: 1}
	p.adjust(time.Second)
	if p.rate != 50 {
		t.Fatalf("1 slow call in 20: rate %v, want 50", p.rate)
	}
	p.rate = 400
	p.ceiling = p.rate * 1.05
	p.win = window{ok: 40, calls: 40, waited: 80 * time.Millisecond}
	p.adjust(100 * time.Millisecond)
	if want := 400 * 1.05; p.rate != want {
		t.Fatalf("probe at the ceiling: rate %v, want %v", p.rate, want)
	}
}

// Slots are exactly 1/rate apart; a slot that is due is granted at once,
// and unpaced calls take no slot.
func TestPacerSlotSpacing(t *testing.T) {
	p, at := pacerClock()
	ctx := context.Background()
	if err := p.wait(ctx); err != nil || !p.next.IsZero() {
		t.Fatalf("unpaced: %v, next slot %v", err, p.next)
	}
	p.rate = 1000
	t0 := p.now()
	if err := p.wait(ctx); err != nil || p.next != t0.Add(time.Millisecond) {
		t.Fatalf("first slot: %v, next at +%v", err, p.next.Sub(t0))
	}
	at(time.Millisecond)
	if err := p.wait(ctx); err != nil || p.next != t0.Add(2*time.Millisecond) || p.win.waited != 0 {
		t.Fatalf("due slot: %v, next at +%v, waited %v", err, p.next.Sub(t0), p.win.waited)
	}
	// Half a slot early: waits the other half.
	at(1500 * time.Microsecond)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.wait(cctx); !errors.Is(err, context.Canceled) || p.win.waited != 500*time.Microsecond {
		t.Fatalf("early: %v, waited %v", err, p.win.waited)
	}
}

// A sweep in a batch is Stopped when it stopped something, WouldStop when
// a dry run selected something; a refused sweep is a Failed item.
func TestHandleBatchSweepOutcomes(t *testing.T) {
	fn := testFunction(newFake(inv("t-old", 3*time.Hour, ca.StatusRunning)), &bytes.Buffer{})
	quiet := testFunction(newFake(inv("t-young", time.Hour, ca.StatusRunning)), &bytes.Buffer{})
	var got []string
	for _, tc := range []struct {
		fn  *Function
		req SweepRequest
	}{
		{fn, SweepRequest{DryRun: boolp(true)}},
		{fn, SweepRequest{}},
		{quiet, SweepRequest{}},
		{fn, SweepRequest{OlderThan: time.Minute}},
	} {
		b := tc.fn.HandleBatch(context.Background(), "r", []Item{{Id: "s", Request: Request{Sweep: &tc.req}}})
		got = append(got, b.Results[0].Outcome+":"+b.Results[0].Code)
	}
	if want := "WouldStop:|Stopped:|NotStopped:|Failed:InvalidParameter"; strings.Join(got, "|") != want {
		t.Fatalf("outcomes %s\nwant     %s", strings.Join(got, "|"), want)
	}
}

// A report names every region it touches once, sorted, and no empty one.
func TestReportRegions(t *testing.T) {
	r := Report{
		Matched: map[string]int{"cn-b": 1, "cn-a": 0},
		Stopped: []ReportedStop{{RegionId: "cn-b"}},
		Failed:  []ReportedFailure{{Item: "bad"}, {RegionId: "cn-c"}},
	}
	if got := fmt.Sprint(r.Regions()); got != "[cn-a cn-b cn-c]" {
		t.Fatalf("Regions() = %s", got)
	}
}
