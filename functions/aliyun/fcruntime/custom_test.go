package fcruntime

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/trigger"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// startCustom serves the custom-runtime protocol in-process on a loopback port.
func startCustom(t *testing.T, fcRegion string) (base string, out *e2e.Buffer) {
	t.Helper()
	out = &e2e.Buffer{}
	a := newTestApp(t, out, fcRegion)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the server did not stop")
		}
		noSecrets(t, out.String())
		if t.Failed() {
			t.Logf("function output:\n%s", out.String())
		}
	})
	return "http://" + ln.Addr().String(), out
}

var client = &http.Client{Timeout: 60 * time.Second}

// post sends a request as FC would: its x-fc-* headers added.
func send(t *testing.T, method, url string, header map[string]string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func invokeHeaders(id string) map[string]string {
	return with(fcHeaders(), "x-fc-request-id", id, "x-fc-control-path", "/invoke",
		"Content-Type", "application/octet-stream")
}

// Events arrive on POST /invoke: success and permanent failures are answers
// (x-fc-status: 200), transient failures are function errors (x-fc-status: 404).
func TestCustomInvoke(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	base, out := startCustom(t, "")

	resp, body := send(t, http.MethodPost, base+"/invoke", invokeHeaders("req-timer-stop"), e2e.ReadEvent(t, "fc-timer-stop.json"))
	got := e2e.DecodeObject(t, body)
	if resp.StatusCode != 200 || resp.Header.Get("x-fc-status") != "200" || got["Action"] != "StopInvocation" ||
		got["RequestId"] != "req-timer-stop" || got["InvokeId"] != sampleInvoke {
		t.Fatalf("POST /invoke = %d x-fc-status=%q %s", resp.StatusCode, resp.Header.Get("x-fc-status"), body)
	}
	if n := emu.StopCalls(sampleRegion, sampleInvoke); n != 1 {
		t.Fatalf("StopInvocation calls = %d, want 1", n)
	}
	for _, line := range []string{"FC Invoke Start RequestId: req-timer-stop\n", "FC Invoke End RequestId: req-timer-stop\n"} {
		if !strings.Contains(out.String(), line) {
			t.Fatalf("no %q in the output", line)
		}
	}

	// Without a control-path header, POST /invoke did not come from FC but
	// from an HTTP trigger's caller: a webhook, refused unsigned.
	stopsBefore := emu.Calls("StopInvocation")
	h := without(invokeHeaders("req-direct"), "x-fc-control-path")
	h["Content-Type"] = "application/json"
	resp, body = send(t, http.MethodPost, base+"/invoke", h, e2e.ReadEvent(t, "direct-stop.json"))
	if resp.StatusCode != http.StatusUnauthorized || e2e.DecodeObject(t, body)["Code"] != "InvalidSignature" {
		t.Fatalf("POST /invoke without x-fc-control-path = %d %s, want 401 InvalidSignature", resp.StatusCode, body)
	}
	if emu.Calls("StopInvocation") != stopsBefore {
		t.Fatal("an unsigned POST /invoke without x-fc-control-path stopped something")
	}
	// The local runner has no FC in front of it: there the path decides.
	local := httptest.NewServer(CustomRuntime(newTestApp(t, io.Discard, "").h, "", io.Discard))
	defer local.Close()
	resp, body = send(t, http.MethodPost, local.URL+"/invoke", h, e2e.ReadEvent(t, "direct-stop.json"))
	if resp.Header.Get("x-fc-status") != "200" || e2e.DecodeObject(t, body)["Action"] != "StopInvocation" {
		t.Fatalf("local POST /invoke = %d %s", resp.StatusCode, body)
	}

	// Permanent failures are answers, 200 with x-fc-status 200 (FC must not
	// retry them), whatever status a webhook would get for them.
	for _, tc := range []struct {
		name, method string
		body         []byte
		code         string
	}{
		// RegionId from x-fc-region
		{"not found", http.MethodPost, []byte(`{"InvokeId":"t-doesnotexist0000"}`), "InvalidInvokeId.NotFound"},
		{"bad request", http.MethodPost, []byte(`{"InvokeId":`), "InvalidParameter"},
		{"too large", http.MethodPost, bytes.Repeat([]byte("x"), maxEvent+1), "PayloadTooLarge"},
		{"GET", http.MethodGet, nil, "MethodNotAllowed"},
	} {
		id := "req-" + strings.ReplaceAll(tc.name, " ", "-")
		resp, body = send(t, tc.method, base+"/invoke", invokeHeaders(id), tc.body)
		got = e2e.DecodeObject(t, body)
		if resp.StatusCode != 200 || resp.Header.Get("x-fc-status") != "200" || got["Code"] != tc.code || got["RequestId"] != id {
			t.Errorf("%s: %s /invoke = %d x-fc-status=%q %s, want 200/200 %s", tc.name, tc.method,
				resp.StatusCode, resp.Header.Get("x-fc-status"), body, tc.code)
		}
	}
}

func TestCustomTransientFailure(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{FailFirst: 1000})
	setEnv(t, url)
	t.Setenv("STOPPER_MAX_ATTEMPTS", "1")
	base, _ := startCustom(t, "")
	resp, body := send(t, http.MethodPost, base+"/invoke", invokeHeaders("req-transient"), e2e.ReadEvent(t, "fc-timer-stop.json"))
	var e struct {
		ErrorMessage, ErrorType string
		StackTrace              *[]string
	}
	if err := json.Unmarshal(body, &e); err != nil || resp.Header.Get("x-fc-status") != "404" ||
		e.ErrorType != "ServiceUnavailable" || e.StackTrace == nil || resp.StatusCode != 404 {
		t.Fatalf("transient = %d x-fc-status=%q %s", resp.StatusCode, resp.Header.Get("x-fc-status"), body)
	}
	if s := e2e.InstanceStatus(t, emu, sampleRegion, sampleInvoke, samplePendingA); s != "Pending" {
		t.Fatalf("instance is %s, want Pending", s)
	}
}

// A timer sweep through the custom runtime, with the FC region as default.
func TestCustomTimerSweep(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	base, _ := startCustom(t, stuckRegion)
	resp, body := send(t, http.MethodPost, base+"/invoke", without(invokeHeaders("req-sweep"), "x-fc-region"),
		e2e.ReadEvent(t, "fc-timer-sweep.json"))
	got := e2e.DecodeObject(t, body)
	if resp.Header.Get("x-fc-status") != "200" || got["Action"] != "Sweep" {
		t.Fatalf("sweep = %d %s", resp.StatusCode, body)
	}
	if n := emu.StopCalls(stuckRegion, stuckInvoke); n != 1 {
		t.Fatalf("the stuck invocation in %s was stopped %d times, want 1: %s", stuckRegion, n, body)
	}
}

func TestCustomLifecycle(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	base, out := startCustom(t, "")
	for _, tc := range []struct{ method, path, control, name string }{
		{http.MethodPost, "/initialize", "/initialize", "Initialize"},
		{http.MethodGet, "/pre-stop", "", "PreStop"},
		{http.MethodGet, "/pre-freeze", "", "PreFreeze"},
	} {
		h := with(fcHeaders(), "x-fc-request-id", "req-"+tc.name)
		if tc.control != "" {
			h["x-fc-control-path"] = tc.control
		}
		resp, _ := send(t, tc.method, base+tc.path, h, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s = %d", tc.method, tc.path, resp.StatusCode)
		}
		if !strings.Contains(out.String(), "FC "+tc.name+" End RequestId: req-"+tc.name) {
			t.Fatalf("no %s log line", tc.name)
		}
	}
	if n := emu.Calls("StopInvocation") + emu.Calls("DescribeInvocations"); n != 0 {
		t.Fatalf("a hook called the API %d times", n)
	}
}

// An HTTP trigger's request is a webhook: signed, it stops; unsigned or
// wrongly signed, 401 InvalidSignature and nothing is stopped.
func TestCustomWebhook(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	base, _ := startCustom(t, "")
	body := []byte(`{"Action":"StopInvocation","RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76","InstanceIds":["i-bp1j2k3l4m5n6o7p8q9r"]}`)
	webhookHeaders := func(id string) map[string]string {
		return with(fcHeaders(), "x-fc-request-id", id, "x-fc-control-path", "/http-invoke",
			"Content-Type", "application/json")
	}

	unsigned := webhookHeaders("req-unsigned")
	ts, _ := webhook.Sign(hookSecret, time.Now(), body)
	badly := with(webhookHeaders("req-badly"), "X-Stopper-Timestamp", ts,
		"X-Stopper-Signature", "sha256="+strings.Repeat("0", 64))
	stale := webhookHeaders("req-stale")
	stale["X-Stopper-Timestamp"], stale["X-Stopper-Signature"] = webhook.Sign(hookSecret, time.Now().Add(-time.Hour), body)
	for name, h := range map[string]map[string]string{"unsigned": unsigned, "badly signed": badly, "stale": stale} {
		// /invoke as the caller's own path: still a webhook, by the control path.
		for _, path := range []string{"/stop", "/invoke"} {
			resp, b := send(t, http.MethodPost, base+path, h, body)
			if resp.StatusCode != http.StatusUnauthorized || e2e.DecodeObject(t, b)["Code"] != "InvalidSignature" {
				t.Fatalf("%s POST %s = %d %s, want 401 InvalidSignature", name, path, resp.StatusCode, b)
			}
		}
	}
	if n := emu.Calls("StopInvocation"); n != 0 {
		t.Fatalf("an unsigned webhook reached the API: %d calls", n)
	}

	signed := webhookHeaders("req-signed")
	signed["X-Stopper-Timestamp"], signed["X-Stopper-Signature"] = webhook.Sign(hookSecret, time.Now(), body)
	resp, b := send(t, http.MethodPost, base+"/stop", signed, body)
	got := e2e.DecodeObject(t, b)
	if resp.StatusCode != http.StatusOK || got["Action"] != "StopInvocation" || got["InvokeId"] != sampleInvoke {
		t.Fatalf("signed webhook = %d %s", resp.StatusCode, b)
	}
	if s := e2e.InstanceStatus(t, emu, sampleRegion, sampleInvoke, samplePendingA); s != "Cancelled" {
		t.Fatalf("instance is %s, want Cancelled", s)
	}
	if resp.Header.Get("x-fc-status") != "" {
		t.Fatalf("a webhook response set x-fc-status (FC forbids x-fc-* response headers)")
	}
}

// x-fc-control-path routes an event only when it comes once and names the
// event's path exactly; anything else may be a caller's and is a webhook,
// refused unsigned.
func TestCustomControlPath(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	base, _ := startCustom(t, "")
	local := httptest.NewServer(CustomRuntime(newTestApp(t, io.Discard, "").h, "", io.Discard))
	defer local.Close()
	stop := e2e.ReadEvent(t, "direct-stop.json")
	for _, tc := range []struct {
		name    string
		control []string
	}{
		{"invoke then http-invoke", []string{"/invoke", "/http-invoke"}},
		{"http-invoke then invoke", []string{"/http-invoke", "/invoke"}},
		{"invoke twice", []string{"/invoke", "/invoke"}},
		{"joined", []string{"/invoke, /http-invoke"}},
		{"other case", []string{"/Invoke"}},
		{"trailing slash", []string{"/invoke/"}},
		{"query", []string{"/invoke?x=1"}},
	} {
		for _, srv := range []string{base, local.URL} {
			req, err := http.NewRequest(http.MethodPost, srv+"/invoke", bytes.NewReader(stop))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range invokeHeaders("req-control") {
				req.Header.Set(k, v)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Del("x-fc-control-path")
			for _, v := range tc.control {
				req.Header.Add("x-fc-control-path", v)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || e2e.DecodeObject(t, b)["Code"] != "InvalidSignature" {
				t.Errorf("%s (%s): POST /invoke = %d %s, want a webhook's 401 InvalidSignature", tc.name, srv, resp.StatusCode, b)
			}
		}
	}
	if n := emu.Calls("StopInvocation"); n != 0 {
		t.Fatalf("an unsigned request with an odd x-fc-control-path was run as an event: %d StopInvocation calls", n)
	}
	// Exactly one /invoke is an event, on any path.
	resp, b := send(t, http.MethodPost, base+"/anything", invokeHeaders("req-one-control"), stop)
	if resp.Header.Get("x-fc-status") != "200" || e2e.DecodeObject(t, b)["Action"] != "StopInvocation" {
		t.Fatalf("one x-fc-control-path: /invoke = %d %s", resp.StatusCode, b)
	}
}

// FC reuses its connections to the server across freezes: the server keeps
// idle connections for at least 15 minutes (here: for ever), and a
// connection is reused for the next request.
func TestCustomServerKeepsIdleConnections(t *testing.T) {
	srv := newServer(http.NotFoundHandler())
	// net/http: IdleTimeout zero falls back to ReadTimeout; negative, or
	// zero with ReadTimeout not positive, is no timeout.
	idle := srv.IdleTimeout
	if idle == 0 {
		idle = srv.ReadTimeout
	}
	if idle > 0 && idle < 15*time.Minute {
		t.Fatalf("idle connections are closed after %v: FC needs at least 15 minutes", idle)
	}

	_, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	base, _ := startCustom(t, "")
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	reused := make([]bool, 0, 2)
	for i := range 2 {
		req, _ := http.NewRequest(http.MethodGet, base+"/pre-stop", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = append(reused, info.Reused) },
		}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("request %d = %d, close %v", i, resp.StatusCode, resp.Close)
		}
	}
	if len(reused) != 2 || !reused[1] {
		t.Fatalf("connection reuse = %v, want the second request on the first one's connection", reused)
	}
}

// TestCustomShutdownAnswersInFlight: when the custom runtime is told to
// stop (SIGTERM), the invocation in flight is still answered and the
// server ends cleanly.
func TestCustomShutdownAnswersInFlight(t *testing.T) {
	api := &blockingAPI{release: make(chan struct{})}
	a := appOver(api, io.Discard)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- a.serve(ctx, ln) }()

	type answer struct {
		status int
		body   []byte
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/invoke",
			strings.NewReader(`{"InvokeId":"t-held00000001"}`))
		req.Header.Set("x-fc-control-path", "/invoke")
		req.Header.Set("x-fc-request-id", "req-in-flight")
		resp, err := client.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		answered <- answer{resp.StatusCode, b, err}
	}()
	waitFor(t, "the invocation to reach the API", func() bool { return api.inFlight() == 1 })
	cancel()
	waitFor(t, "the server to stop listening", func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(api.release)

	got := <-answered
	if got.err != nil || got.status != 200 || e2e.DecodeObject(t, got.body)["Action"] != "StopInvocation" {
		t.Fatalf("in-flight invocation = %d %s (%v), want its answer", got.status, got.body, got.err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve = %v, want a clean end", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop")
	}
}

// TestRuntimeLogsWithoutAHandlerLogger: given a handler without a logger,
// the runtime's own lines (here a refused local event) are JSON on out.
func TestRuntimeLogsWithoutAHandlerLogger(t *testing.T) {
	out := &e2e.Buffer{}
	h := CustomRuntime(&trigger.Handler{Function: &stopper.Function{API: &blockingAPI{}, RegionId: sampleRegion}}, "", out)
	r := httptest.NewRequest(http.MethodPost, "/invoke", strings.NewReader(`{"InvokeId":"t-fine"}`))
	r.Host = "attacker.example"
	r.Header.Set("x-fc-request-id", "req-no-logger")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var line struct {
		Level     string `json:"level"`
		Msg       string `json:"msg"`
		RequestID string `json:"request_id"`
		Code      string `json:"code"`
	}
	if err := json.Unmarshal([]byte(out.String()), &line); err != nil || w.Code != 403 ||
		line.Level != "WARN" || line.Msg != "refused" || line.RequestID != "req-no-logger" || line.Code != "Forbidden.Host" {
		t.Fatalf("%d, log %q (%v): want the refusal logged as one JSON line", w.Code, out, err)
	}
}
