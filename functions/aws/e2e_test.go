package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/internal/testenv"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

const (
	testKeyID     = "LTAI5tLambdaEnvKey01"
	testKeySecret = "lambda-env-secret-DO-NOT-LOG-9b2e"
	hookSecret    = "webhook-secret-0123456789abcdef"
	// hookToken is STOPPER_WEBHOOK_TOKEN: at least 32 characters of
	// [A-Za-z0-9-._~+/] (shared/config).
	hookToken = "alertmanager-bearer-token-0123456789abcdef"

	sampleRegion   = "cn-hangzhou"
	sampleInvoke   = "t-1fad2a8876de47068cc734d57703aa76"
	sampleRunning  = "i-bp1a2b3c4d5e6f7g8h9i"
	samplePendingA = "i-bp1j2k3l4m5n6o7p8q9r"
	samplePendingB = "i-bp1s2t3u4v5w6x7y8z9a"
)

// TestRIE runs the real bootstrap under the AWS Lambda Runtime Interface
// Emulator against the Cloud Assistant emulator, and invokes it with every
// AWS sample event, one at a time (the RIE cannot take concurrent invokes).
func TestRIE(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Runtime Interface Emulator runs on Linux only")
	}
	rie := findRIE(t)
	bootstrap := buildBootstrap(t)
	ca := newSwitchableEmulator(t)
	env := map[string]string{
		"STOPPER_ECS_ENDPOINT":            ca.url,
		"STOPPER_REGION_ID":               sampleRegion,
		"STOPPER_WEBHOOK_SECRET":          hookSecret,
		"STOPPER_WEBHOOK_TOKEN":           hookToken,
		"STOPPER_MAX_ATTEMPTS":            "2",
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     testKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": testKeySecret,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     "30",
		"AWS_LAMBDA_FUNCTION_NAME":        "StopperFunction",
	}
	fn := startRIE(t, rie, bootstrap, env)
	// Each subtest resets the emulator's fleet, bringing back invocations an
	// earlier one stopped, which no real invocation does. A function
	// instance remembers its stops for 10 minutes (and does not stop those
	// again while nothing is pending), so a subtest that stops what another
	// stops in full runs on an instance of its own.
	fresh := func(t *testing.T) *rieFunction {
		f := startRIE(t, rie, bootstrap, env)
		t.Cleanup(func() { f.checkLog(t) })
		return f
	}

	t.Run("EventBridge schedule sweeps with the defaults", func(t *testing.T) {
		emu := ca.reset(t, emulator.Options{})
		got := fresh(t).answer(t, "req-schedule", e2e.ReadEvent(t, "eventbridge-schedule.json"))
		if got["Action"] != "Sweep" || got["RequestId"] != "req-schedule" {
			t.Fatalf("answer = %v, want a Sweep answer", got)
		}
		if !sweptInvocation(got, sampleRegion, sampleInvoke) || emu.StopCalls(sampleRegion, sampleInvoke) != 1 {
			t.Fatalf("the stale invocation was not swept: %v", got)
		}
		if emu.StopCalls(sampleRegion, "t-hz0periodic7c1d2e3f4a5b6c7d8e9f") != 0 {
			t.Fatalf("the periodic invocation was swept without IncludePeriodic")
		}
	})

	for _, tc := range []struct {
		name, event string
		stopped     []string // instances Cancelled afterwards
		untouched   []string
	}{
		{"HTTP API v2", "apigw-v2-stop.json", []string{samplePendingA}, []string{samplePendingB}},
		{"Function URL", "function-url-stop.json", []string{samplePendingA, samplePendingB}, nil},
		{"REST API v1", "apigw-v1-stop.json", nil, []string{samplePendingA, samplePendingB}},
	} {
		t.Run(tc.name+" signed stops", func(t *testing.T) {
			emu := ca.reset(t, emulator.Options{})
			id := "req-" + strings.ReplaceAll(tc.name, " ", "-")
			resp := fresh(t).httpAnswer(t, id, signEvent(t, e2e.ReadEvent(t, tc.event), hookSecret))
			if resp.StatusCode != http.StatusOK || resp.Body["Action"] != "StopInvocation" ||
				resp.Body["InvokeId"] != sampleInvoke || resp.Body["RequestId"] != id {
				t.Fatalf("answer = %+v, want 200 and the StopInvocation answer", resp)
			}
			if !strings.HasPrefix(resp.Headers["Content-Type"]+resp.Headers["content-type"], "application/json") {
				t.Errorf("Content-Type = %v, want application/json", resp.Headers)
			}
			if n := emu.StopCalls(sampleRegion, sampleInvoke); n != 1 {
				t.Fatalf("StopInvocation calls = %d, want 1", n)
			}
			for _, in := range tc.stopped {
				if s := instanceStatus(t, emu, in); s != "Cancelled" {
					t.Errorf("%s is %s, want Cancelled", in, s)
				}
			}
			for _, in := range tc.untouched {
				if s := instanceStatus(t, emu, in); s != "Pending" {
					t.Errorf("%s (not asked for) is %s, want Pending", in, s)
				}
			}
		})
		t.Run(tc.name+" unsigned is refused", func(t *testing.T) {
			emu := ca.reset(t, emulator.Options{})
			for name, event := range map[string][]byte{
				"unsigned":     e2e.ReadEvent(t, tc.event),
				"wrong secret": signEvent(t, e2e.ReadEvent(t, tc.event), "another-secret-0123456789abcdef"),
			} {
				resp := fn.httpAnswer(t, "req-unsigned", event)
				if resp.StatusCode != http.StatusUnauthorized || resp.Body["Code"] != "InvalidSignature" {
					t.Fatalf("%s: answer = %+v, want 401 InvalidSignature", name, resp)
				}
			}
			if n := emu.Calls("StopInvocation"); n != 0 {
				t.Fatalf("an unsigned webhook reached the API: %d calls", n)
			}
		})
	}

	for _, name := range []string{"direct-stop.json", "direct-stop-string-instance-ids.json"} {
		t.Run("direct "+name, func(t *testing.T) {
			emu := ca.reset(t, emulator.Options{})
			got := fn.answer(t, "req-direct", e2e.ReadEvent(t, name))
			ids, _ := got["InstanceIds"].([]any)
			if got["Action"] != "StopInvocation" || got["InvokeId"] != sampleInvoke || len(ids) != 2 {
				t.Fatalf("answer = %v", got)
			}
			if s := instanceStatus(t, emu, samplePendingB); s != "Cancelled" {
				t.Fatalf("%s is %s, want Cancelled", samplePendingB, s)
			}
			if s := instanceStatus(t, emu, sampleRunning); s != "Running" {
				t.Fatalf("%s (not asked for) is %s, want Running", sampleRunning, s)
			}
		})
	}

	t.Run("permanent failure is an answer", func(t *testing.T) {
		ca.reset(t, emulator.Options{})
		got := fn.answer(t, "req-not-found", []byte(`{"InvokeId":"t-doesnotexist0000"}`))
		if got["Code"] != "InvalidInvokeId.NotFound" || got["RequestId"] != "req-not-found" || got["errorType"] != nil {
			t.Fatalf("answer = %v, want an InvalidInvokeId.NotFound answer", got)
		}
	})

	t.Run("transient failure is a function error", func(t *testing.T) {
		emu := ca.reset(t, emulator.Options{FailFirst: 1000})
		got := fn.answer(t, "req-transient", e2e.ReadEvent(t, "direct-stop.json"))
		if got["errorType"] != "ServiceUnavailable" || got["errorMessage"] == nil || got["Code"] != nil {
			t.Fatalf("answer = %v, want a function error with errorType ServiceUnavailable", got)
		}
		if s := instanceStatus(t, emu, samplePendingA); s != "Pending" {
			t.Fatalf("%s is %s, want Pending", samplePendingA, s)
		}
		// A webhook caller gets the 5xx instead: the gateway would turn a
		// function error into a bare 502.
		resp := fn.httpAnswer(t, "req-transient-hook", signEvent(t, e2e.ReadEvent(t, "apigw-v2-stop.json"), hookSecret))
		if resp.StatusCode < 500 || resp.Body["Code"] == nil {
			t.Fatalf("webhook answer = %+v, want a 5xx with the code", resp)
		}
	})

	testRIEEventSources(t, fn, fresh, ca)

	fn.checkLog(t)
}

// A bad configuration stops the bootstrap at start-up with the variable's name.
func TestBadConfiguration(t *testing.T) {
	bootstrap := buildBootstrap(t)
	cmd := exec.Command(bootstrap)
	cmd.Env = []string{"STOPPER_MAX_ATTEMPTS=lots", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:1"}
	out, err := cmd.CombinedOutput()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 || !bytes.Contains(out, []byte("STOPPER_MAX_ATTEMPTS")) {
		t.Fatalf("exit = %v, output %q: want exit 1 naming the variable", err, out)
	}
}

// findRIE finds aws-lambda-rie: $ECS_STOPPER_RIE (make test installs the
// pinned version and sets it), the pinned version make installed into .bin/, PATH,
// then ~/go/bin. A plain go test runs TestRIE whenever one is there.
func findRIE(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ECS_STOPPER_RIE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("ECS_STOPPER_RIE=%s: %v", p, err)
		}
		return p
	}
	if found, _ := filepath.Glob("../../.bin/rie-*/aws-lambda-rie"); len(found) > 0 {
		if p, err := filepath.Abs(found[len(found)-1]); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		if p := filepath.Join(home, "go", "bin", "aws-lambda-rie"); fileExists(p) {
			return p
		}
	}
	msg := "aws-lambda-rie not found: run `make test` (it installs the pinned version and sets ECS_STOPPER_RIE), " +
		"or go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@latest"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

// buildBootstrap builds the bootstrap as make build-aws does, for this
// machine's architecture, once per test binary.
func buildBootstrap(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the bootstrap: skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stopper-bootstrap-")
		if err != nil {
			buildErr = err
			return
		}
		builtPath = filepath.Join(dir, "bootstrap")
		// -buildvcs=false: stamping reads .git, which CI containers often
		// mount owned by another user, and the tests need no stamp.
		cmd := exec.Command("go", "build", "-buildvcs=false", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", builtPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPath
}

// TestMain runs the tests in an environment cleared of the function's
// settings and credentials (what a developer exported must not change what
// the tests see; the bootstrap itself runs with only the environment a
// test gives it), and removes the bootstrap built for them.
func TestMain(m *testing.M) {
	testenv.ClearFunctionEnv()
	code := m.Run()
	if builtPath != "" {
		_ = os.RemoveAll(filepath.Dir(builtPath))
	}
	os.Exit(code)
}

// switchableEmulator is one stable endpoint whose emulator each case
// replaces, so that every sample runs against a fresh sample fleet under
// one RIE process.
type switchableEmulator struct {
	url string
	mu  sync.Mutex
	cur *emulator.Server
}

func newSwitchableEmulator(t *testing.T) *switchableEmulator {
	s := &switchableEmulator{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		cur := s.cur
		s.mu.Unlock()
		if cur == nil {
			http.Error(w, "no emulator", http.StatusServiceUnavailable)
			return
		}
		cur.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *switchableEmulator) reset(t *testing.T, opts emulator.Options) *emulator.Server {
	t.Helper()
	opts.AccessKeyID, opts.AccessKeySecret = testKeyID, testKeySecret
	opts.Fleet = emulator.SampleFleet()
	emu, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.cur = emu
	s.mu.Unlock()
	return emu
}

// rieFunction is the bootstrap running under the RIE.
type rieFunction struct {
	invokeURL string
	out       *e2e.Buffer
	mu        sync.Mutex // one invoke at a time
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startRIE runs `aws-lambda-rie <bootstrap>` bound to loopback with only the
// given environment, waits until it accepts connections, and kills its
// process group (the RIE and the bootstrap it started) when the test ends.
func startRIE(t *testing.T, rie, bootstrap string, env map[string]string) *rieFunction {
	t.Helper()
	apiAddr, rieAddr := freeLoopbackAddr(t), freeLoopbackAddr(t)
	out := &e2e.Buffer{}
	cmd := exec.Command(rie, "--runtime-api-address", apiAddr, "--runtime-interface-emulator-address", rieAddr, bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Error("the RIE did not exit")
		}
		if t.Failed() {
			t.Logf("RIE output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", rieAddr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("the RIE exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the RIE did not listen on %s: %v\n%s", rieAddr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &rieFunction{invokeURL: "http://" + rieAddr + "/2015-03-31/functions/function/invocations", out: out}
}

// invoke posts one event, with the request id the function must answer with.
func (f *rieFunction) invoke(t *testing.T, requestID string, event []byte) []byte {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.invokeURL, bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amzn-RequestId", requestID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("RIE answered %s: %s", resp.Status, body)
	}
	return body
}

// answer invokes and decodes a JSON object answer.
func (f *rieFunction) answer(t *testing.T, requestID string, event []byte) map[string]any {
	t.Helper()
	return e2e.DecodeObject(t, f.invoke(t, requestID, event))
}

type httpResp struct {
	StatusCode int
	Headers    map[string]string
	Body       map[string]any
}

// httpAnswer invokes with an HTTP event and decodes the proxy response shape.
func (f *rieFunction) httpAnswer(t *testing.T, requestID string, event []byte) httpResp {
	t.Helper()
	b := f.invoke(t, requestID, event)
	var raw struct {
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Body            string            `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || raw.StatusCode == 0 {
		t.Fatalf("not an API Gateway proxy response (%v): %s", err, b)
	}
	if raw.IsBase64Encoded {
		t.Fatalf("JSON body sent as base64: %s", b)
	}
	return httpResp{StatusCode: raw.StatusCode, Headers: raw.Headers, Body: e2e.DecodeObject(t, []byte(raw.Body))}
}

// checkLog fails when the function's log shows a secret.
func (f *rieFunction) checkLog(t *testing.T) {
	t.Helper()
	testenv.NoSecret(t, f.out.String(), testKeySecret, hookSecret, hookToken)
}

// signings makes every signEvent's timestamp a second later than the last:
// one function instance accepts a signature once, and the same body signed
// twice within a second would be the same signature.
var signings atomic.Int64

// signEvent signs an API Gateway / Function URL event's body with a fresh
// timestamp, in the header spelling the event uses (and multiValueHeaders
// too for REST v1).
func signEvent(t *testing.T, event []byte, secret string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatal(err)
	}
	body, _ := ev["body"].(string)
	ts, sig := webhook.Sign(secret, time.Now().Add(time.Duration(signings.Add(1))*time.Second), []byte(body))
	headers, _ := ev["headers"].(map[string]any)
	if headers == nil {
		headers = map[string]any{}
	}
	tsName, sigName := "x-stopper-timestamp", "x-stopper-signature"
	if _, v1 := ev["httpMethod"]; v1 {
		tsName, sigName = "X-Stopper-Timestamp", "X-Stopper-Signature"
		if mv, ok := ev["multiValueHeaders"].(map[string]any); ok {
			mv[tsName], mv[sigName] = []string{ts}, []string{sig}
		}
	}
	headers[tsName], headers[sigName] = ts, sig
	ev["headers"] = headers
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func instanceStatus(t *testing.T, emu *emulator.Server, instanceID string) string {
	t.Helper()
	return e2e.InstanceStatus(t, emu, sampleRegion, sampleInvoke, instanceID)
}

func sweptInvocation(answer map[string]any, region, invokeID string) bool {
	stopped, _ := answer["Stopped"].([]any)
	for _, s := range stopped {
		if m, _ := s.(map[string]any); m["RegionId"] == region && m["InvokeId"] == invokeID {
			return true
		}
	}
	return false
}

// The tests see none of the function's settings but those they set
// themselves: TestMain cleared what the shell exported. (ECS_STOPPER_RIE,
// the tests' own, is no STOPPER_* setting: the function would refuse one.)
func TestEnvironmentIsCleared(t *testing.T) {
	testenv.CheckCleared(t)
}
