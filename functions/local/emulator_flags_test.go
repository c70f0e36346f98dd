package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/credentials"
	"github.com/ecs-stopper/stopper/shared/ecs"
)

const (
	sampleOnce    = "t-1fad2a8876de47068cc734d57703aa76"
	sampleRunning = "i-bp1a2b3c4d5e6f7g8h9i"
)

// startBackend parses backend flags as invoke and serve do and starts the
// embedded emulator.
func startBackend(t *testing.T, args ...string) *backend {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var bf backendFlags
	bf.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	b, err := bf.start(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.stop)
	return b
}

func clientOf(t *testing.T, endpoint string, cred acs.Credentials, attempts int) *ecs.Client {
	t.Helper()
	c, err := ecs.New(ecs.Options{Credentials: cred, Endpoint: endpoint, MaxAttempts: attempts, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// -stop-mode reaches the embedded emulator: a direct stop through the
// function kills the running instance in kill mode and leaves it running in
// the documented one.
func TestBackendStopModeFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Running"},
		{[]string{"-stop-mode", "documented"}, "Running"},
		{[]string{"-stop-mode", "kill", "-kill-delay", "1h"}, "Stopping"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			b := startBackend(t, tc.args...)
			h, err := b.cfg.Handler(b.id, slog.New(slog.NewJSONHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			res, err := h.Invoke(context.Background(), "req-1", []byte(`{"RegionId":"cn-hangzhou","InvokeId":"`+sampleOnce+`"}`))
			if err != nil || res.Failure != nil {
				t.Fatalf("%v %+v", err, res)
			}
			inv, _ := b.emu.Invocation("cn-hangzhou", sampleOnce)
			for _, in := range inv.InvokeInstances.InvokeInstance {
				if in.InstanceId == sampleRunning && in.InvocationStatus != tc.want {
					t.Fatalf("running instance is %s, want %s", in.InvocationStatus, tc.want)
				}
			}
		})
	}
}

// -cursor reaches the embedded emulator: a caller that kills what it lists
// while paging through the Running invocations sees them all with the stable
// cursor and skips some with the offset one.
func TestBackendCursorFlag(t *testing.T) {
	page := func(t *testing.T, cursor string) (seen, running int) {
		b := startBackend(t, "-stop-mode", "kill", "-cursor", cursor)
		c := clientOf(t, b.cfg.ECSEndpoint, mustCred(t, b.id), 1)
		ctx := context.Background()
		req := cloudassistant.DescribeInvocationsRequest{RegionId: "cn-hangzhou", InvokeStatus: "Running", MaxResults: 50}
		all, err := c.DescribeInvocations(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		req.MaxResults = 3
		for {
			resp, err := c.DescribeInvocations(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			for _, inv := range resp.Invocations.Invocation {
				seen++
				if err := c.StopInvocation(ctx, "cn-hangzhou", inv.InvokeId, nil); err != nil {
					t.Fatal(err)
				}
			}
			if resp.NextToken == "" {
				return seen, all.TotalCount
			}
			req.NextToken = resp.NextToken
		}
	}
	if seen, running := page(t, "stable"); running < 6 || seen != running {
		t.Fatalf("stable cursor: saw %d of %d", seen, running)
	}
	if seen, running := page(t, "offset"); seen >= running {
		t.Fatalf("offset cursor: saw %d of %d, want some skipped", seen, running)
	}
}

// Bad values are refused while parsing, naming the flag; the emulator's
// modes are refused with -endpoint, which is no emulator.
func TestEmulatorFlagErrors(t *testing.T) {
	event := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(event, []byte(`{"RegionId":"cn-hangzhou","InvokeId":"`+sampleOnce+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"invoke: bad stop mode", []string{"invoke", "-event", event, "-stop-mode", "gentle"},
			`invalid value "gentle" for flag -stop-mode: want documented or kill`},
		{"invoke: bad cursor", []string{"invoke", "-event", event, "-cursor", "random"},
			`invalid value "random" for flag -cursor: want stable or offset`},
		{"invoke: negative kill delay", []string{"invoke", "-event", event, "-kill-delay", "-1s"},
			`invalid value "-1s" for flag -kill-delay: must be positive`},
		{"invoke: zero kill delay", []string{"invoke", "-event", event, "-kill-delay", "0"},
			`invalid value "0" for flag -kill-delay: must be positive`},
		{"invoke: kill delay not a duration", []string{"invoke", "-event", event, "-kill-delay", "soon"},
			`invalid value "soon" for flag -kill-delay: want a duration`},
		{"invoke: modes with -endpoint", []string{"invoke", "-event", event, "-endpoint", "http://127.0.0.1:1", "-stop-mode", "kill", "-cursor", "stable"},
			"-cursor, -stop-mode are for the embedded emulator and cannot be used with -endpoint"},
		{"serve: kill delay with -endpoint", []string{"serve", "-addr", "127.0.0.1:0", "-endpoint", "http://127.0.0.1:1", "-kill-delay", "2s"},
			"-kill-delay is for the embedded emulator and cannot be used with -endpoint"},
		{"serve: bad stop mode", []string{"serve", "-stop-mode", "KILL"}, `invalid value "KILL" for flag -stop-mode`},
		{"emulator: bad stop mode", []string{"emulator", "-stop-mode", "soft"}, `invalid value "soft" for flag -stop-mode`},
		{"emulator: bad cursor", []string{"emulator", "-cursor", "page"}, `invalid value "page" for flag -cursor`},
		{"emulator: drop-after-rate above 1", []string{"emulator", "-drop-after-rate", "1.5"}, "-drop-after-rate 1.5 must be between 0 and 1"},
		{"emulator: negative drop-after-rate", []string{"emulator", "-drop-after-rate", "-0.1"}, "-drop-after-rate -0.1 must be between 0 and 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stdout, &stderr); code == 0 {
				t.Fatalf("exit 0: %s", stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}

// The emulator command takes the modes and -drop-after-rate: a stop is
// killed, and with every answer dropped after the call the client sees a
// lost connection while the log says the call was performed.
func TestEmulatorCommandFlags(t *testing.T) {
	cred := acs.Credentials{AccessKeyID: localAccessKeyID, AccessKeySecret: localAccessKeySecret}
	ctx := context.Background()

	url, stderr := runEmulator(t, "-stop-mode", "kill", "-kill-delay", "1h", "-cursor", "offset")
	c := clientOf(t, url, cred, 1)
	if err := c.StopInvocation(ctx, "cn-hangzhou", sampleOnce, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := c.DescribeInvocations(ctx, cloudassistant.DescribeInvocationsRequest{RegionId: "cn-hangzhou", InvokeId: sampleOnce})
	if err != nil || len(resp.Invocations.Invocation) != 1 || resp.Invocations.Invocation[0].InvocationStatus != "Stopping" {
		t.Fatalf("%v %+v", err, resp)
	}
	if l := stderr.String(); !strings.Contains(l, `"stop_mode":"kill"`) || !strings.Contains(l, `"cursor":"offset"`) || !strings.Contains(l, `"kill_delay":"1h0m0s"`) {
		t.Fatalf("the start-up line does not show the modes:\n%s", l)
	}

	url, stderr = runEmulator(t, "-drop-after-rate", "1")
	err = clientOf(t, url, cred, 1).StopInvocation(ctx, "cn-hangzhou", sampleOnce, nil)
	var api *cloudassistant.Error
	if err == nil || errors.As(err, &api) {
		t.Fatalf("err = %v, want a lost connection", err)
	}
	if l := stderr.String(); !strings.Contains(l, "performed the call, then dropped the connection") || !strings.Contains(l, `"action":"StopInvocation"`) {
		t.Fatalf("the log does not show the dropped answer:\n%s", l)
	}
}

// runEmulator runs `local emulator` on a free loopback port until the test ends.
func runEmulator(t *testing.T, args ...string) (string, *e2e.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr e2e.Buffer
	done := make(chan int)
	go func() {
		done <- run(ctx, append([]string{"emulator", "-addr", "127.0.0.1:0"}, args...), io.Discard, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("emulator exited %d: %s", code, stderr.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(stderr.String(), "\n") {
			var l struct{ Msg, Endpoint string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "emulator listening" && l.Endpoint != "" {
				return l.Endpoint, &stderr
			}
		}
	}
	t.Fatalf("the emulator did not start: %s", stderr.String())
	return "", nil
}

// mustCred is what a fixed-pair identity signs with.
func mustCred(t *testing.T, id credentials.Identity) acs.Credentials {
	t.Helper()
	c, err := id.Provider.Credentials(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
