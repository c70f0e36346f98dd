package fcruntime

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/internal/testenv"
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/config"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/trigger"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// The emulator's one key pair: FC hands it to the function in the x-fc-*
// headers. The environment holds a wrong pair unless a test says otherwise,
// so a stop that succeeds proves the header credentials were used.
const (
	testKeyID      = "LTAI5tFcRoleTemporaryKey"
	testKeySecret  = "fc-role-secret-DO-NOT-LOG-7f3a9c"
	testToken      = "CAIS-sts-token-DO-NOT-LOG-e41d"
	wrongKeyID     = "LTAI5tWrongEnvironmentKey"
	wrongKeySecret = "wrong-env-secret-0123456789"
	hookSecret     = "webhook-secret-0123456789abcdef"

	sampleRegion   = "cn-hangzhou"
	sampleInvoke   = "t-1fad2a8876de47068cc734d57703aa76"
	sampleRunning  = "i-bp1a2b3c4d5e6f7g8h9i"
	samplePendingA = "i-bp1j2k3l4m5n6o7p8q9r"
	samplePendingB = "i-bp1s2t3u4v5w6x7y8z9a"
	stuckRegion    = "cn-shanghai"
	stuckInvoke    = "t-sh0stuck9a8b7c6d5e4f3a2b1c0d9e8f"
)

// newEmulator serves a Cloud Assistant emulator with the sample fleet.
func newEmulator(t *testing.T, opts emulator.Options) (*emulator.Server, string) {
	t.Helper()
	opts.AccessKeyID, opts.AccessKeySecret = testKeyID, testKeySecret
	if opts.Fleet == nil {
		opts.Fleet = emulator.SampleFleet()
	}
	emu, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv.URL
}

// setEnv sets the configuration the function reads at start-up: the
// emulator as the ECS endpoint, the webhook secret, few and quick retries,
// and the wrong key pair in the environment.
func setEnv(t *testing.T, endpoint string) {
	t.Helper()
	for k, v := range map[string]string{
		"STOPPER_ECS_ENDPOINT":            endpoint,
		"STOPPER_WEBHOOK_SECRET":          hookSecret,
		"STOPPER_WEBHOOK_INSECURE":        "false",
		"STOPPER_REGION_ID":               "",
		"STOPPER_ALLOWED_REGIONS":         "",
		"STOPPER_SWEEP_REGION_IDS":        "",
		"STOPPER_DRY_RUN":                 "false",
		"STOPPER_MAX_ATTEMPTS":            "2",
		"STOPPER_READ_TIMEOUT":            "10s",
		"STOPPER_LOG_LEVEL":               "debug",
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     wrongKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": wrongKeySecret,
		"ALIBABA_CLOUD_SECURITY_TOKEN":    "",
	} {
		t.Setenv(k, v)
	}
}

// newTestApp wires the function from the environment, as run does.
func newTestApp(t *testing.T, out io.Writer, fcRegion string) *app {
	t.Helper()
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	id, role, err := identity(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	h, err := cfg.Handler(id, log)
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(h, fcRegion, out)
	a.role = role
	return a
}

// fcHeaders are the headers FC sends with an event: the role's credentials,
// the region and a deadline a minute away.
func fcHeaders() map[string]string {
	return map[string]string{
		"x-fc-access-key-id":     testKeyID,
		"x-fc-access-key-secret": testKeySecret,
		"x-fc-security-token":    testToken,
		"x-fc-region":            sampleRegion,
		"x-fc-function-deadline": strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10),
		"x-fc-function-timeout":  "60",
		"x-fc-function-type":     "0",
		"x-fc-function-name":     "ecs-stopper",
		"x-fc-function-handler":  "main",
		"x-fc-function-memory":   "128",
		"x-fc-account-id":        "1234567890123456",
		"x-fc-qualifier":         "LATEST",
		"x-fc-retry-count":       "0",
	}
}

func without(h map[string]string, keys ...string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

func with(h map[string]string, kv ...string) map[string]string {
	out := without(h)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// signFCHTTP adds a fresh signature to an FC HTTP-trigger event's headers.
func signFCHTTP(t *testing.T, event []byte, secret string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatal(err)
	}
	body, _ := ev["body"].(string)
	ts, sig := webhook.Sign(secret, time.Now(), []byte(body))
	headers, _ := ev["headers"].(map[string]any)
	if headers == nil {
		headers = map[string]any{}
	}
	headers["X-Stopper-Timestamp"] = ts
	headers["X-Stopper-Signature"] = sig
	ev["headers"] = headers
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// addPending adds a one-time invocation with one pending instance.
func addPending(t *testing.T, emu *emulator.Server, region, invokeID, instanceID string) {
	t.Helper()
	err := emu.Add(ca.Invocation{RegionId: region, InvokeId: invokeID, CommandName: "test",
		CommandType: "RunShellScript", RepeatMode: "Once", CreationTime: "2026-11-20T07:00:00Z",
		InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{
			{InstanceId: instanceID, InvocationStatus: "Pending", CreationTime: "2026-11-20T07:00:00Z"}}}})
	if err != nil {
		t.Fatal(err)
	}
}

// noSecrets fails when the log shows a secret.
func noSecrets(t *testing.T, log string) {
	t.Helper()
	testenv.NoSecret(t, log, testKeySecret, testToken, wrongKeySecret, hookSecret)
}

// fakeFC speaks FC's go1 Runtime API: it serves queued events on GET next
// (with their headers) and records the answers posted for them.
type fakeFC struct {
	srv    *httptest.Server
	events chan fcEvent
	closed chan struct{}

	mu       sync.Mutex
	waiters  map[string]chan fcAnswer
	answers  map[string]int
	served   int
	answered int
	// servedBeforeFirstAnswer counts the events handed out before the
	// first answer came back: more than one proves invocations overlap.
	servedBeforeFirstAnswer int
	// failNext makes the next N GET next calls answer 500.
	failNext int
}

type fcEvent struct {
	id     string
	header http.Header
	body   []byte
}

type fcAnswer struct {
	id, kind    string // kind: response or error
	contentType string
	// httpParams is the answer's x-fc-http-params (FC 2.0 HTTP functions).
	httpParams []string
	body       []byte
}

const testPrefix = "/2020-11-11/runtime/invocation/"

func newFakeFC(t *testing.T) *fakeFC {
	f := &fakeFC{events: make(chan fcEvent, 256), closed: make(chan struct{}),
		waiters: map[string]chan fcAnswer{}, answers: map[string]int{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(func() {
		close(f.closed)
		f.srv.Close()
	})
	return f
}

// addr is what FC_RUNTIME_API holds: host:port.
func (f *fakeFC) addr() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fakeFC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == testPrefix+"next":
		f.mu.Lock()
		if f.failNext > 0 {
			f.failNext--
			f.mu.Unlock()
			http.Error(w, "runtime API unavailable", http.StatusInternalServerError)
			return
		}
		f.mu.Unlock()
		select {
		case ev := <-f.events:
			f.mu.Lock()
			f.served++
			if f.answered == 0 {
				f.servedBeforeFirstAnswer = f.served
			}
			f.mu.Unlock()
			for k, vs := range ev.header {
				for _, v := range vs {
					w.Header().Add(k, v)
				}
			}
			w.Header().Set("x-fc-request-id", ev.id)
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(ev.body)
		case <-r.Context().Done():
		case <-f.closed:
			http.Error(w, "closed", http.StatusServiceUnavailable)
		}
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, testPrefix):
		rest := strings.TrimPrefix(r.URL.Path, testPrefix)
		i := strings.LastIndexByte(rest, '/')
		if i < 0 {
			http.NotFound(w, r)
			return
		}
		id, kind := rest[:i], rest[i+1:]
		if kind != "response" && kind != "error" {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		a := fcAnswer{id: id, kind: kind, contentType: r.Header.Get("Content-Type"),
			httpParams: r.Header.Values("x-fc-http-params"), body: body}
		f.mu.Lock()
		f.answered++
		f.answers[id]++
		ch := f.waiters[id]
		f.mu.Unlock()
		if ch != nil {
			select {
			case ch <- a:
			default: // a second answer for one id: counted, checked by wait
			}
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

// push queues an event.
func (f *fakeFC) push(id string, header map[string]string, body []byte) {
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	f.pushHeader(id, h, body)
}

// pushHeader queues an event whose headers may repeat.
func (f *fakeFC) pushHeader(id string, header http.Header, body []byte) {
	f.mu.Lock()
	f.waiters[id] = make(chan fcAnswer, 1)
	f.mu.Unlock()
	f.events <- fcEvent{id: id, header: header, body: body}
}

// wait returns the answer to an event, failing after a generous bound.
func (f *fakeFC) wait(t *testing.T, id string) fcAnswer {
	t.Helper()
	f.mu.Lock()
	ch := f.waiters[id]
	f.mu.Unlock()
	select {
	case a := <-ch:
		return a
	case <-time.After(60 * time.Second):
		t.Fatalf("no answer for %s", id)
		return fcAnswer{}
	}
}

// startLoop runs the function as the go1 runtime starts it (run with
// FC_RUNTIME_API) until the test ends.
func startLoop(t *testing.T, f *fakeFC, env map[string]string) *e2e.Buffer {
	t.Helper()
	out := &e2e.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	getenv := func(k string) string {
		if k == "FC_RUNTIME_API" {
			return f.addr()
		}
		return env[k]
	}
	go func() { done <- Run(ctx, getenv, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the runtime loop did not stop")
		}
		noSecrets(t, out.String())
		if t.Failed() {
			t.Logf("function output:\n%s", out.String())
		}
	})
	return out
}

// appOver is the function over api (no emulator), logging JSON to out.
func appOver(api stopper.CloudAssistant, out io.Writer) *app {
	log := slog.New(slog.NewJSONHandler(out, nil))
	return newApp(&trigger.Handler{
		Function: &stopper.Function{API: api, RegionId: sampleRegion, Log: log,
			Sweep: stopper.SweepDefaults{OlderThan: time.Hour, Concurrency: 1}},
		Webhook: &webhook.Verifier{Secret: hookSecret},
		Log:     log,
	}, "", out)
}

// runLoop runs l until the test ends.
func runLoop(t *testing.T, l *runtimeLoop) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.run(ctx); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Error("the runtime loop did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond with a generous bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
