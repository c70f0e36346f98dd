package fcruntime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/trigger"
)

// A timer whose payload is a StopInvocation request stops that invocation
// and answers the StopInvocation answer on /response.
func TestRuntimeAPITimerStop(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	fc := newFakeFC(t)
	out := startLoop(t, fc, nil)

	fc.push("req-timer-stop", fcHeaders(), e2e.ReadEvent(t, "fc-timer-stop.json"))
	a := fc.wait(t, "req-timer-stop")
	if a.kind != "response" || a.contentType != "application/json" {
		t.Fatalf("answer = %s (%s) %s, want a JSON response", a.kind, a.contentType, a.body)
	}
	got := e2e.DecodeObject(t, a.body)
	if got["RequestId"] != "req-timer-stop" || got["Action"] != "StopInvocation" ||
		got["InvokeId"] != sampleInvoke || got["RegionId"] != sampleRegion {
		t.Fatalf("answer = %s", a.body)
	}
	if n := emu.StopCalls(sampleRegion, sampleInvoke); n != 1 {
		t.Fatalf("StopInvocation calls on the invocation = %d, want 1", n)
	}
	if s := e2e.InstanceStatus(t, emu, sampleRegion, sampleInvoke, samplePendingA); s != "Cancelled" {
		t.Fatalf("pending instance is %s after the stop, want Cancelled", s)
	}
	waitLog(t, out, "FC Invoke End RequestId: req-timer-stop")
	if !strings.Contains(out.String(), "FC Invoke Start RequestId: req-timer-stop\n") {
		t.Fatalf("no FC Invoke Start line:\n%s", out)
	}
}

// waitLog waits for a line: End is written after the answer is posted.
func waitLog(t *testing.T, out *e2e.Buffer, line string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), line) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output:\n%s", line, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A timer without payload sweeps with the defaults; the region is the
// invocation's x-fc-region (no STOPPER_REGION_ID), or FC_REGION without it.
func TestRuntimeAPITimerSweep(t *testing.T) {
	for _, tc := range []struct {
		name, fcRegion, headerRegion, region, invokeID string
	}{
		{"x-fc-region", "", sampleRegion, sampleRegion, sampleInvoke},
		{"FC_REGION", stuckRegion, "", stuckRegion, stuckInvoke},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, url := newEmulator(t, emulator.Options{})
			setEnv(t, url)
			fc := newFakeFC(t)
			startLoop(t, fc, map[string]string{"FC_REGION": tc.fcRegion})

			h := without(fcHeaders(), "x-fc-region")
			if tc.headerRegion != "" {
				h["x-fc-region"] = tc.headerRegion
			}
			fc.push("req-sweep", h, e2e.ReadEvent(t, "fc-timer-sweep.json"))
			a := fc.wait(t, "req-sweep")
			if a.kind != "response" {
				t.Fatalf("answer = %s %s, want a response", a.kind, a.body)
			}
			got := e2e.DecodeObject(t, a.body)
			if got["Action"] != "Sweep" || got["RequestId"] != "req-sweep" {
				t.Fatalf("answer = %s, want a Sweep answer", a.body)
			}
			stopped, _ := got["Stopped"].([]any)
			found := false
			for _, s := range stopped {
				m, _ := s.(map[string]any)
				if m["InvokeId"] == tc.invokeID && m["RegionId"] == tc.region {
					found = true
				}
				if m["RegionId"] != tc.region {
					t.Errorf("swept outside the default region %s: %v", tc.region, m)
				}
			}
			if !found || emu.StopCalls(tc.region, tc.invokeID) != 1 {
				t.Fatalf("the stale invocation %s was not swept: %s", tc.invokeID, a.body)
			}
		})
	}
}

// An FC HTTP-trigger event (built-in runtime) is a webhook: signed, it stops
// the invocation and answers the trigger's HTTP response shape; unsigned or
// wrongly signed, 401 InvalidSignature and nothing is stopped.
func TestRuntimeAPIHTTPTrigger(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	fc := newFakeFC(t)
	startLoop(t, fc, nil)
	sample := e2e.ReadEvent(t, "fc-http-stop.json")

	for _, tc := range []struct{ id, event string }{
		{"req-unsigned", string(sample)},
		{"req-badly-signed", string(signFCHTTP(t, sample, "another-secret-0123456789abcdef"))},
	} {
		fc.push(tc.id, fcHeaders(), []byte(tc.event))
		a := fc.wait(t, tc.id)
		resp := httpResponse(t, a)
		if resp.StatusCode != http.StatusUnauthorized || resp.Body["Code"] != "InvalidSignature" {
			t.Fatalf("%s: answer = %s, want 401 InvalidSignature", tc.id, a.body)
		}
	}
	if n := emu.Calls("StopInvocation"); n != 0 {
		t.Fatalf("an unsigned webhook reached the API: %d StopInvocation calls", n)
	}

	fc.push("req-signed", fcHeaders(), signFCHTTP(t, sample, hookSecret))
	a := fc.wait(t, "req-signed")
	resp := httpResponse(t, a)
	if resp.StatusCode != http.StatusOK || resp.Body["Action"] != "StopInvocation" ||
		resp.Body["InvokeId"] != sampleInvoke || resp.Body["RequestId"] != "req-signed" {
		t.Fatalf("answer = %s, want 200 and the StopInvocation answer", a.body)
	}
	for _, id := range []string{samplePendingA, samplePendingB} {
		if s := e2e.InstanceStatus(t, emu, sampleRegion, sampleInvoke, id); s != "Cancelled" {
			t.Fatalf("%s is %s, want Cancelled", id, s)
		}
	}
	if s := e2e.InstanceStatus(t, emu, sampleRegion, sampleInvoke, sampleRunning); s != "Running" {
		t.Fatalf("%s (not asked for) is %s, want Running", sampleRunning, s)
	}
}

type fcHTTPResponse struct {
	StatusCode int
	Headers    map[string]string
	Body       map[string]any
}

// httpResponse decodes an FC HTTP-trigger answer and its JSON body.
func httpResponse(t *testing.T, a fcAnswer) fcHTTPResponse {
	t.Helper()
	if a.kind != "response" {
		t.Fatalf("answer = %s %s, want a response", a.kind, a.body)
	}
	var raw struct {
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Body            string            `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(a.body, &raw); err != nil || raw.StatusCode == 0 {
		t.Fatalf("not an FC HTTP-trigger response (%v): %s", err, a.body)
	}
	if raw.IsBase64Encoded {
		t.Fatalf("JSON answer sent as base64: %s", a.body)
	}
	return fcHTTPResponse{StatusCode: raw.StatusCode, Headers: raw.Headers, Body: e2e.DecodeObject(t, []byte(raw.Body))}
}

// A direct request (s invoke, another service) is answered as is, in both
// of the request's forms.
func TestRuntimeAPIDirect(t *testing.T) {
	for _, name := range []string{"direct-stop.json", "direct-stop-string-instance-ids.json"} {
		t.Run(name, func(t *testing.T) {
			emu, url := newEmulator(t, emulator.Options{})
			setEnv(t, url)
			fc := newFakeFC(t)
			startLoop(t, fc, nil)

			fc.push("req-direct", fcHeaders(), e2e.ReadEvent(t, name))
			a := fc.wait(t, "req-direct")
			got := e2e.DecodeObject(t, a.body)
			if a.kind != "response" || got["Action"] != "StopInvocation" || got["InvokeId"] != sampleInvoke {
				t.Fatalf("answer = %s %s", a.kind, a.body)
			}
			ids, _ := got["InstanceIds"].([]any)
			if len(ids) != 2 {
				t.Fatalf("InstanceIds = %v, want the two asked for", got["InstanceIds"])
			}
			if s := e2e.InstanceStatus(t, emu, sampleRegion, sampleInvoke, samplePendingB); s != "Cancelled" {
				t.Fatalf("%s is %s, want Cancelled", samplePendingB, s)
			}

			// A permanent failure is an answer on /response, not a function error.
			fc.push("req-not-found", fcHeaders(), []byte(`{"RegionId":"cn-hangzhou","InvokeId":"t-doesnotexist0000"}`))
			a = fc.wait(t, "req-not-found")
			got = e2e.DecodeObject(t, a.body)
			if a.kind != "response" || got["Code"] != "InvalidInvokeId.NotFound" || got["RequestId"] != "req-not-found" {
				t.Fatalf("answer = %s %s, want InvalidInvokeId.NotFound on /response", a.kind, a.body)
			}
		})
	}
}

// The x-fc-* credentials of each invocation win over the environment's;
// without them the environment's pair is used.
func TestRuntimeAPICredentials(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url) // the environment holds a wrong pair
	fc := newFakeFC(t)
	startLoop(t, fc, nil)

	stop := func(invokeID string) []byte {
		return []byte(fmt.Sprintf(`{"RegionId":"cn-hangzhou","InvokeId":%q}`, invokeID))
	}
	addPending(t, emu, sampleRegion, "t-credsenv0000000001", "i-bp1credsenv0000001")

	// No header credentials: the wrong environment pair is refused.
	fc.push("req-env-creds", without(fcHeaders(), "x-fc-access-key-id", "x-fc-access-key-secret", "x-fc-security-token"),
		stop("t-credsenv0000000001"))
	a := fc.wait(t, "req-env-creds")
	if got := e2e.DecodeObject(t, a.body); got["Code"] == nil && got["errorType"] == nil {
		t.Fatalf("the wrong environment key pair was accepted: %s %s", a.kind, a.body)
	}
	if n := emu.StopCalls(sampleRegion, "t-credsenv0000000001"); n != 0 {
		t.Fatalf("stopped with the wrong key pair: %d calls", n)
	}

	// Header credentials: they are used.
	fc.push("req-header-creds", fcHeaders(), stop("t-credsenv0000000001"))
	a = fc.wait(t, "req-header-creds")
	if got := e2e.DecodeObject(t, a.body); a.kind != "response" || got["Action"] != "StopInvocation" {
		t.Fatalf("answer = %s %s, want a success with the header credentials", a.kind, a.body)
	}
	if n := emu.StopCalls(sampleRegion, "t-credsenv0000000001"); n != 1 {
		t.Fatalf("StopInvocation calls = %d, want 1", n)
	}
}

// With a right environment pair and no header credentials, the environment's pair signs.
func TestRuntimeAPIEnvironmentCredentials(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", testKeyID)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", testKeySecret)
	fc := newFakeFC(t)
	startLoop(t, fc, nil)
	fc.push("req-env", without(fcHeaders(), "x-fc-access-key-id", "x-fc-access-key-secret", "x-fc-security-token"),
		e2e.ReadEvent(t, "fc-timer-stop.json"))
	a := fc.wait(t, "req-env")
	if got := e2e.DecodeObject(t, a.body); a.kind != "response" || got["Action"] != "StopInvocation" {
		t.Fatalf("answer = %s %s", a.kind, a.body)
	}
	if n := emu.StopCalls(sampleRegion, sampleInvoke); n != 1 {
		t.Fatalf("StopInvocation calls = %d, want 1", n)
	}
}

// Initializer, pre-stop and pre-freeze come through the same loop: answered
// with {} and nothing else happens.
func TestRuntimeAPILifecycle(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	fc := newFakeFC(t)
	out := startLoop(t, fc, nil)
	for typ, name := range map[string]string{"1": "Initialize", "2": "PreStop", "3": "PreFreeze"} {
		id := "req-hook-" + typ
		fc.push(id, with(fcHeaders(), "x-fc-function-type", typ), e2e.ReadEvent(t, "direct-stop.json"))
		a := fc.wait(t, id)
		if a.kind != "response" || string(a.body) != "{}" {
			t.Fatalf("type %s: answer = %s %s, want {}", typ, a.kind, a.body)
		}
		waitLog(t, out, "FC "+name+" End RequestId: "+id)
	}
	if n := emu.Calls("StopInvocation") + emu.Calls("DescribeInvocations"); n != 0 {
		t.Fatalf("a lifecycle hook called the API %d times", n)
	}
}

// Missing or unparsable deadline headers never drop an invocation.
func TestRuntimeAPIDeadlineHeaders(t *testing.T) {
	_, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	fc := newFakeFC(t)
	startLoop(t, fc, nil)
	cases := map[string]map[string]string{
		"none":     without(fcHeaders(), "x-fc-function-deadline", "x-fc-function-timeout"),
		"garbage":  with(fcHeaders(), "x-fc-function-deadline", "soon", "x-fc-function-timeout", "-"),
		"seconds":  with(fcHeaders(), "x-fc-function-deadline", fmt.Sprint(time.Now().Add(time.Minute).Unix())),
		"timeout":  without(fcHeaders(), "x-fc-function-deadline"),
		"negative": with(fcHeaders(), "x-fc-function-deadline", "-5", "x-fc-function-timeout", "0"),
	}
	for name, h := range cases {
		fc.push("req-deadline-"+name, h, []byte(`{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76","DryRun":true}`))
	}
	for name := range cases {
		a := fc.wait(t, "req-deadline-"+name)
		if got := e2e.DecodeObject(t, a.body); a.kind != "response" || got["Action"] != "StopInvocation" || got["DryRun"] != true {
			t.Errorf("%s: answer = %s %s, want a dry-run success", name, a.kind, a.body)
		}
	}
}

// Many invocations in flight at once: each gets its own body and answer.
func TestRuntimeAPIConcurrentInvocations(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{Latency: 150 * time.Millisecond})
	setEnv(t, url)
	fc := newFakeFC(t)
	startLoop(t, fc, nil)

	const n = 20
	for i := range n {
		addPending(t, emu, sampleRegion, fmt.Sprintf("t-concurrent%08d", i), fmt.Sprintf("i-bp1concurrent%06d", i))
	}
	for i := range n {
		body := fmt.Sprintf(`{"RegionId":"cn-hangzhou","InvokeId":"t-concurrent%08d","InstanceIds":["i-bp1concurrent%06d"]}`, i, i)
		fc.push(fmt.Sprintf("req-concurrent-%02d", i), fcHeaders(), []byte(body))
	}
	for i := range n {
		id := fmt.Sprintf("req-concurrent-%02d", i)
		a := fc.wait(t, id)
		got := e2e.DecodeObject(t, a.body)
		ids, _ := got["InstanceIds"].([]any)
		if a.kind != "response" || got["RequestId"] != id || got["InvokeId"] != fmt.Sprintf("t-concurrent%08d", i) ||
			len(ids) != 1 || ids[0] != fmt.Sprintf("i-bp1concurrent%06d", i) {
			t.Errorf("%s: answer = %s %s: bodies mixed up", id, a.kind, a.body)
		}
	}
	for i := range n {
		if c := emu.StopCalls(sampleRegion, fmt.Sprintf("t-concurrent%08d", i)); c != 1 {
			t.Errorf("t-concurrent%08d stopped %d times, want 1", i, c)
		}
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for id, c := range fc.answers {
		if c != 1 {
			t.Errorf("%s answered %d times", id, c)
		}
	}
	if fc.servedBeforeFirstAnswer < 2 {
		t.Errorf("only %d event(s) were taken before the first answer: invocations did not overlap", fc.servedBeforeFirstAnswer)
	}
}

// A transient failure that outlived the retries is a function error on
// /error, with the code as errorType.
func TestRuntimeAPITransientFailure(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{FailFirst: 1000})
	setEnv(t, url)
	t.Setenv("STOPPER_MAX_ATTEMPTS", "1")
	fc := newFakeFC(t)
	startLoop(t, fc, nil)
	fc.push("req-transient", fcHeaders(), e2e.ReadEvent(t, "fc-timer-stop.json"))
	a := fc.wait(t, "req-transient")
	var e struct {
		ErrorMessage string    `json:"errorMessage"`
		ErrorType    string    `json:"errorType"`
		StackTrace   *[]string `json:"stackTrace"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil || a.kind != "error" || e.ErrorType == "" || e.ErrorMessage == "" || e.StackTrace == nil {
		t.Fatalf("answer = %s %s, want an error with errorType, errorMessage and stackTrace", a.kind, a.body)
	}
	if e.ErrorType != "ServiceUnavailable" {
		t.Errorf("errorType = %q, want ServiceUnavailable", e.ErrorType)
	}
	if s := e2e.InstanceStatus(t, emu, sampleRegion, sampleInvoke, samplePendingA); s != "Pending" {
		t.Fatalf("instance is %s, want Pending (nothing stopped)", s)
	}
}

// A failing next is retried with backoff for as long as the loop runs, as
// the official SDK retries it forever: the loop never gives up on its own.
func TestRuntimeAPINextFailures(t *testing.T) {
	_, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)

	t.Run("recovers", func(t *testing.T) {
		fc := newFakeFC(t)
		fc.failNext = 3
		startLoop(t, fc, nil)
		fc.push("req-after-failures", fcHeaders(), []byte(`{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76","DryRun":true}`))
		if a := fc.wait(t, "req-after-failures"); a.kind != "response" {
			t.Fatalf("answer = %s %s", a.kind, a.body)
		}
	})
	t.Run("never gives up", func(t *testing.T) {
		fc := newFakeFC(t)
		fc.failNext = 40 // the loop used to exit after 10
		out := &e2e.Buffer{}
		l := newTestApp(t, out, "").runtimeAPI(fc.addr())
		l.backoff, l.maxBackoff = time.Millisecond, 4*time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { l.run(ctx); close(done) }()
		fc.push("req-after-40", fcHeaders(), []byte(`{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76","DryRun":true}`))
		if a := fc.wait(t, "req-after-40"); a.kind != "response" {
			t.Fatalf("answer = %s %s", a.kind, a.body)
		}
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the loop did not stop when its context ended")
		}
		if n := strings.Count(out.String(), `"level":"WARN","msg":"runtime API next failed; retrying"`); n != 40 {
			t.Errorf("%d warnings for 40 failed next calls, want one each:\n%s", n, out)
		}
	})
	t.Run("backoff is capped", func(t *testing.T) {
		l := newTestApp(t, io.Discard, "").runtimeAPI("127.0.0.1:1")
		if l.backoff <= 0 || l.maxBackoff < l.backoff || l.maxBackoff > 10*time.Second {
			t.Fatalf("backoff %v up to %v: want a first wait that grows to a few seconds at most", l.backoff, l.maxBackoff)
		}
	})
}

// blockingAPI holds every StopInvocation until released, counting the
// calls in flight.
type blockingAPI struct {
	release chan struct{}
	mu      sync.Mutex
	calls   int
}

func (b *blockingAPI) StopInvocation(ctx context.Context, region, invokeID string, ids []string) error {
	b.mu.Lock()
	b.calls++
	b.mu.Unlock()
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *blockingAPI) DescribeInvocations(ctx context.Context, req ca.DescribeInvocationsRequest) (*ca.DescribeInvocationsResponse, error) {
	return activeInvocation(req), nil
}

func (b *blockingAPI) inFlight() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// FC decides how many invocations run at once (up to 200 on FC 3.0): the
// loop takes every one FC hands out, with no cap of its own.
func TestRuntimeAPINoInFlightCap(t *testing.T) {
	const n = 200 // FC 3.0's highest instance concurrency
	api := &blockingAPI{release: make(chan struct{})}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	a := newApp(&trigger.Handler{
		Function: &stopper.Function{API: api, RegionId: sampleRegion, Log: log,
			Sweep: stopper.SweepDefaults{OlderThan: time.Hour, Concurrency: 1}},
		Log: log,
	}, "", io.Discard)
	fc := newFakeFC(t)
	l := a.runtimeAPI(fc.addr())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	for i := range n {
		fc.push(fmt.Sprintf("req-held-%03d", i), fcHeaders(), []byte(fmt.Sprintf(`{"InvokeId":"t-held%08d"}`, i)))
	}
	for deadline := time.Now().Add(30 * time.Second); api.inFlight() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			close(api.release)
			t.Fatalf("%d of %d invocations FC handed out were running: the loop capped them", api.inFlight(), n)
		}
	}
	close(api.release)
	for i := range n {
		if a := fc.wait(t, fmt.Sprintf("req-held-%03d", i)); a.kind != "response" {
			t.Fatalf("answer = %s %s", a.kind, a.body)
		}
	}
}

// An event larger than the limit is answered PayloadTooLarge, not dropped.
func TestRuntimeAPIEventTooLarge(t *testing.T) {
	_, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	fc := newFakeFC(t)
	startLoop(t, fc, nil)
	big := []byte(`{"pad":"` + strings.Repeat("x", maxEvent) + `"}`)
	fc.push("req-big", fcHeaders(), big)
	a := fc.wait(t, "req-big")
	if got := e2e.DecodeObject(t, a.body); a.kind != "response" || got["Code"] != "PayloadTooLarge" {
		t.Fatalf("answer = %s %.200s", a.kind, a.body)
	}
}

// The deadline header bounds the invocation's context.
func TestDeadline(t *testing.T) {
	now := time.UnixMilli(1795679402000)
	h := http.Header{}
	if _, ok := deadline(h, now); ok {
		t.Fatal("a deadline without headers")
	}
	h.Set("x-fc-function-deadline", "1795679462000")
	if d, ok := deadline(h, now); !ok || !d.Equal(now.Add(time.Minute)) {
		t.Fatalf("deadline = %v %v", d, ok)
	}
	h.Set("x-fc-function-deadline", "1795679462") // seconds by mistake: not sane
	h.Set("x-fc-function-timeout", "30")
	if d, ok := deadline(h, now); !ok || !d.Equal(now.Add(30*time.Second)) {
		t.Fatalf("deadline = %v %v, want now+30s from the timeout", d, ok)
	}
	h.Set("x-fc-function-timeout", "abc")
	if _, ok := deadline(h, now); ok {
		t.Fatal("an unparsable deadline was used")
	}
}

// The credential headers are never passed on.
func TestStripCredentials(t *testing.T) {
	h := http.Header{}
	for k, v := range fcHeaders() {
		h.Set(k, v)
	}
	cred, ok := headerCredentials(h)
	if !ok || cred.AccessKeyID != testKeyID || cred.AccessKeySecret != testKeySecret || cred.SecurityToken != testToken {
		t.Fatalf("headerCredentials = %v %v", cred, ok)
	}
	if s := fmt.Sprintf("%v %+v %#v", cred, cred, cred); strings.Contains(s, testKeySecret) {
		t.Fatalf("credentials print their secret: %s", s)
	}
	stripCredentials(h)
	for _, k := range []string{"x-fc-access-key-id", "x-fc-access-key-secret", "x-fc-security-token"} {
		if h.Get(k) != "" {
			t.Fatalf("%s kept", k)
		}
	}
	if _, ok := headerCredentials(http.Header{"X-Fc-Access-Key-Id": {"only-the-id"}}); ok {
		t.Fatal("an id without a secret counted as credentials")
	}
}

// nextWarnings are the loop's warnings for failed next calls: attempt and delay.
func nextWarnings(t *testing.T, out *e2e.Buffer) (attempts []float64, delays []string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var l struct {
			Msg     string  `json:"msg"`
			Attempt float64 `json:"attempt"`
			Delay   string  `json:"delay"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "runtime API next failed; retrying" {
			attempts, delays = append(attempts, l.Attempt), append(delays, l.Delay)
		}
	}
	return attempts, delays
}

// TestRuntimeAPIBackoffGrowsAndResets: a failing next is retried after a
// wait that doubles up to the longest, each failure logged with its
// attempt; an event taken starts the count again.
func TestRuntimeAPIBackoffGrowsAndResets(t *testing.T) {
	out := &e2e.Buffer{}
	fc := newFakeFC(t)
	fc.failNext = 4
	l := appOver(&blockingAPI{}, out).runtimeAPI(fc.addr())
	l.backoff, l.maxBackoff = time.Millisecond, 4*time.Millisecond
	stop := runLoop(t, l)
	fc.push("req-after-4", fcHeaders(), []byte(`{"InvokeId":"t-fine","DryRun":true}`))
	if a := fc.wait(t, "req-after-4"); a.kind != "response" {
		t.Fatalf("answer %s %s", a.kind, a.body)
	}
	fc.mu.Lock()
	fc.failNext = 2
	fc.mu.Unlock()
	fc.push("req-after-2", fcHeaders(), []byte(`{"InvokeId":"t-fine","DryRun":true}`))
	if a := fc.wait(t, "req-after-2"); a.kind != "response" {
		t.Fatalf("answer %s %s", a.kind, a.body)
	}
	waitFor(t, "six warnings", func() bool { a, _ := nextWarnings(t, out); return len(a) >= 6 })
	stop()
	attempts, delays := nextWarnings(t, out)
	wantAttempts, wantDelays := []float64{1, 2, 3, 4, 1, 2}, []string{"1ms", "2ms", "4ms", "4ms", "1ms", "2ms"}
	if len(attempts) != 6 || len(delays) != 6 {
		t.Fatalf("warnings: attempts %v delays %v, want %v and %v", attempts, delays, wantAttempts, wantDelays)
	}
	for i := range wantAttempts {
		if attempts[i] != wantAttempts[i] || delays[i] != wantDelays[i] {
			t.Fatalf("warnings: attempts %v delays %v, want %v and %v", attempts, delays, wantAttempts, wantDelays)
		}
	}
}

// answerAPI is a Runtime API that hands out one event and answers each
// post of its outcome as respond says (n counts the posts, from 1).
type answerAPI struct {
	respond func(n int, w http.ResponseWriter)
	mu      sync.Mutex
	served  bool
	posts   int
}

func (f *answerAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if r.Method == http.MethodGet {
		first := !f.served
		f.served = true
		f.mu.Unlock()
		if !first {
			<-r.Context().Done()
			return
		}
		w.Header().Set("x-fc-request-id", "req-post")
		_, _ = w.Write([]byte(`{"InvokeId":"t-fine","DryRun":true}`))
		return
	}
	f.posts++
	n := f.posts
	f.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	f.respond(n, w)
}

func (f *answerAPI) postCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts
}

// dropConnection closes the connection without an answer, as a dropped
// keep-alive connection does.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// TestRuntimeAPIAnswerPosts: an answer is posted again once when the
// connection drops (a dropped keep-alive connection), never a third time
// (the answer is then logged as lost);
// an answer that FC refuses (any status from 300) is logged as not
// posted, and not posted again.
func TestRuntimeAPIAnswerPosts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		respond func(n int, w http.ResponseWriter)
		posts   int
		failed  string // the error logged; "" when posted
	}{
		{"dropped once", func(n int, w http.ResponseWriter) {
			if n == 1 {
				dropConnection(w)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		}, 2, ""},
		{"dropped twice", func(n int, w http.ResponseWriter) {
			if n <= 2 {
				dropConnection(w)
				return
			}
			w.WriteHeader(http.StatusAccepted) // a third post would get through
		}, 2, "EOF"},
		{"accepted with 299", func(n int, w http.ResponseWriter) { w.WriteHeader(299) }, 1, ""},
		{"answered 300", func(n int, w http.ResponseWriter) { w.WriteHeader(300) }, 1, "response answered 300"},
		{"answered 500", func(n int, w http.ResponseWriter) { w.WriteHeader(500) }, 1, "response answered 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &answerAPI{respond: tc.respond}
			srv := httptest.NewServer(api)
			defer srv.Close()
			out := &e2e.Buffer{}
			stop := runLoop(t, appOver(&blockingAPI{}, out).runtimeAPI(srv.URL))
			waitFor(t, "the invocation to end", func() bool { return strings.Contains(out.String(), "FC Invoke End RequestId: req-post\n") })
			stop()
			if n := api.postCount(); n != tc.posts {
				t.Errorf("%d posts, want %d", n, tc.posts)
			}
			logged := strings.Contains(out.String(), `"msg":"runtime API: could not post the answer"`)
			if logged != (tc.failed != "") || !strings.Contains(out.String(), tc.failed) {
				t.Errorf("log:\n%s\nwant the post's failure logged: %v (%q)", out, tc.failed != "", tc.failed)
			}
		})
	}
}
