package fcruntime

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// buildBinary builds the real FC binary, as make build-aliyun does but for
// this machine's architecture.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary: skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "main")
	// -buildvcs=false: stamping reads .git, which CI containers often
	// mount owned by another user, and the tests need no stamp.
	cmd := exec.Command("go", "build", "-buildvcs=false", "-trimpath", "-ldflags=-s -w", "-o", bin, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startBinary runs the binary with only the given environment and stops
// it with SIGTERM when the test ends.
func startBinary(t *testing.T, bin string, env map[string]string) *e2e.Buffer {
	t.Helper()
	out := &e2e.Buffer{}
	cmd := exec.Command(bin)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the binary exited with %v after SIGTERM", err)
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("the binary did not exit on SIGTERM (killed: %v)", <-exited)
		}
		noSecrets(t, out.String())
		if t.Failed() {
			t.Logf("binary output:\n%s", out.String())
		}
	})
	return out
}

func binaryEnv(emulatorURL string) map[string]string {
	return map[string]string{
		"STOPPER_ECS_ENDPOINT":            emulatorURL,
		"STOPPER_WEBHOOK_SECRET":          hookSecret,
		"STOPPER_MAX_ATTEMPTS":            "2",
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     wrongKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": wrongKeySecret,
		"FC_REGION":                       sampleRegion,
	}
}

// The built binary under both FC protocols.
func TestBinary(t *testing.T) {
	bin := buildBinary(t)

	t.Run("go1 runtime API", func(t *testing.T) {
		emu, url := newEmulator(t, emulator.Options{})
		fc := newFakeFC(t)
		env := binaryEnv(url)
		env["FC_RUNTIME_API"] = fc.addr()
		out := startBinary(t, bin, env)

		fc.push("req-bin-timer", fcHeaders(), e2e.ReadEvent(t, "fc-timer-stop.json"))
		if a := fc.wait(t, "req-bin-timer"); a.kind != "response" || e2e.DecodeObject(t, a.body)["Action"] != "StopInvocation" {
			t.Fatalf("answer = %s %s", a.kind, a.body)
		}
		fc.push("req-bin-http-unsigned", fcHeaders(), e2e.ReadEvent(t, "fc-http-stop.json"))
		if r := httpResponse(t, fc.wait(t, "req-bin-http-unsigned")); r.StatusCode != 401 || r.Body["Code"] != "InvalidSignature" {
			t.Fatalf("unsigned = %+v", r)
		}
		fc.push("req-bin-http", fcHeaders(), signFCHTTP(t, e2e.ReadEvent(t, "fc-http-stop.json"), hookSecret))
		if r := httpResponse(t, fc.wait(t, "req-bin-http")); r.StatusCode != 200 || r.Body["Action"] != "StopInvocation" {
			t.Fatalf("signed = %+v", r)
		}
		fc.push("req-bin-init", with(fcHeaders(), "x-fc-function-type", "1"), nil)
		if a := fc.wait(t, "req-bin-init"); a.kind != "response" {
			t.Fatalf("initializer = %s %s", a.kind, a.body)
		}
		// The timer stopped every instance; the webhook names two that were
		// pending and are now Cancelled, so it has nothing left to stop and
		// sends no second stop.
		if n := emu.StopCalls(sampleRegion, sampleInvoke); n != 1 {
			t.Fatalf("StopInvocation calls = %d, want 1", n)
		}
		waitLog(t, out, "FC Invoke End RequestId: req-bin-http\n")

		// FC's EventBridge trigger: a TaskCompleted failure of the rollout
		// tagged stopper:max-errors=2 stops its pending instances.
		fc.push("req-bin-eventbridge", fcHeaders(), e2e.ReadEvent(t, "eventbridge-taskcompleted-failed.json"))
		if a := fc.wait(t, "req-bin-eventbridge"); a.kind != "response" || e2e.DecodeObject(t, a.body)["Stopped"] != true {
			t.Fatalf("EventBridge event = %s %s, want the FailFast answer, Stopped", a.kind, a.body)
		}
		checkStates(t, emu, agentStopped, untouched)
	})

	t.Run("custom runtime", func(t *testing.T) {
		emu, url := newEmulator(t, emulator.Options{})
		port := freePort(t)
		env := binaryEnv(url)
		env["FC_CUSTOM_LISTEN_PORT"] = port
		startBinary(t, bin, env)
		base := "http://127.0.0.1:" + port
		waitListening(t, base)

		resp, body := send(t, http.MethodPost, base+"/invoke", invokeHeaders("req-bin-invoke"), e2e.ReadEvent(t, "fc-timer-stop.json"))
		if resp.Header.Get("x-fc-status") != "200" || e2e.DecodeObject(t, body)["Action"] != "StopInvocation" {
			t.Fatalf("POST /invoke = %d %s", resp.StatusCode, body)
		}
		// FC's EventBridge trigger with batch push: answered event by event.
		resp, body = send(t, http.MethodPost, base+"/invoke", invokeHeaders("req-bin-batch"), e2e.ReadEvent(t, "eventbridge-taskcompleted-batch.json"))
		if results, _ := e2e.DecodeObject(t, body)["Results"].([]any); resp.Header.Get("x-fc-status") != "200" || len(results) != 5 {
			t.Fatalf("POST /invoke with the batch = %d %s, want five results", resp.StatusCode, body)
		}
		checkStates(t, emu, agentStopped, untouched)
		resp, _ = send(t, http.MethodPost, base+"/initialize", with(fcHeaders(), "x-fc-control-path", "/initialize"), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("POST /initialize = %d", resp.StatusCode)
		}
		resp, _ = send(t, http.MethodGet, base+"/pre-stop", fcHeaders(), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /pre-stop = %d", resp.StatusCode)
		}

		hook := []byte(`{"RegionId":"cn-hangzhou","InvokeId":"t-hz0periodic7c1d2e3f4a5b6c7d8e9f"}`)
		h := with(fcHeaders(), "x-fc-control-path", "/http-invoke", "Content-Type", "application/json")
		resp, body = send(t, http.MethodPost, base+"/stop", h, hook)
		if resp.StatusCode != 401 || e2e.DecodeObject(t, body)["Code"] != "InvalidSignature" {
			t.Fatalf("unsigned webhook = %d %s", resp.StatusCode, body)
		}
		if n := emu.StopCalls(sampleRegion, "t-hz0periodic7c1d2e3f4a5b6c7d8e9f"); n != 0 {
			t.Fatalf("an unsigned webhook stopped something")
		}
		h["X-Stopper-Timestamp"], h["X-Stopper-Signature"] = webhook.Sign(hookSecret, time.Now(), hook)
		resp, body = send(t, http.MethodPost, base+"/stop", h, hook)
		if resp.StatusCode != 200 || e2e.DecodeObject(t, body)["InvokeId"] != "t-hz0periodic7c1d2e3f4a5b6c7d8e9f" {
			t.Fatalf("signed webhook = %d %s", resp.StatusCode, body)
		}
		if s := e2e.InstanceStatus(t, emu, sampleRegion, "t-hz0periodic7c1d2e3f4a5b6c7d8e9f", "i-bp1periodic00000002"); s != "Stopped" {
			t.Fatalf("periodic instance is %s, want Stopped", s)
		}
	})

	t.Run("bad configuration", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = []string{"STOPPER_SWEEP_OLDER_THAN=forever", "FC_RUNTIME_API=127.0.0.1:1"}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out.String(), "STOPPER_SWEEP_OLDER_THAN") {
			t.Fatalf("exit = %v, output %q: want exit 1 naming the variable", err, out.String())
		}
	})
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// waitListening polls until the server accepts connections.
func waitListening(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/pre-stop")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the custom runtime did not start listening: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
