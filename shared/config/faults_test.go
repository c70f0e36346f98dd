package config_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/config"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/trigger"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// The whole function as every runtime wires it (config.Handler), against an
// emulator that injects faults: what users get when the API misbehaves.

const (
	akid, akSecret = "LTAI-fault-test", "fault-test-access-key-secret"
	hookSecret     = "fault-test-webhook-secret-0123456789"
	sampleInvoke   = "t-1fad2a8876de47068cc734d57703aa76"
)

func wire(t *testing.T, opts emulator.Options, env map[string]string) (*emulator.Running, *trigger.Handler, *bytes.Buffer) {
	t.Helper()
	opts.AccessKeyID, opts.AccessKeySecret = akid, akSecret
	if opts.Fleet == nil {
		opts.Fleet = emulator.SampleFleet()
	}
	emu, err := emulator.Listen("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	t.Setenv("STOPPER_ECS_ENDPOINT", emu.URL)
	t.Setenv("STOPPER_WEBHOOK_SECRET", hookSecret)
	t.Setenv("STOPPER_REGION_ID", "cn-hangzhou")
	t.Setenv("STOPPER_READ_TIMEOUT", "2s")
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h, err := cfg.Handler(staticIdentity(acs.Credentials{AccessKeyID: akid, AccessKeySecret: akSecret}), slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return emu, h, &logs
}

// An HTTP API v2 webhook event carrying a signed stop request.
func webhookEvent(body string) []byte {
	ts, sig := webhook.Sign(hookSecret, time.Now(), []byte(body))
	event := map[string]any{
		"version": "2.0", "routeKey": "POST /stop", "rawPath": "/stop", "body": body, "isBase64Encoded": false,
		"headers": map[string]string{"content-type": "application/json", "x-stopper-timestamp": ts, "x-stopper-signature": sig},
		"requestContext": map[string]any{"domainName": "abc.execute-api.us-east-1.amazonaws.com",
			"http": map[string]string{"method": "POST", "path": "/stop"}},
	}
	b, _ := json.Marshal(event)
	return b
}

// STOPPER_MAX_THROTTLE_RETRIES=0 means no retry after a throttling answer
// (0 is the client's own "default", so the wiring must say so).
func TestNoThrottleRetries(t *testing.T) {
	// One token, refilled in two seconds: the first call passes, the next is
	// throttled (and a retry, were there one, would pass).
	emu, h, _ := wire(t, emulator.Options{ThrottleQPS: 0.5, ThrottleBurst: 1},
		map[string]string{"STOPPER_MAX_THROTTLE_RETRIES": "0"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 2 {
		_, _ = h.Invoke(ctx, "req-throttle", []byte(`{"InvokeId":"`+sampleInvoke+`","DryRun":true}`)) // throttled or not, the calls are what counts
		if n := emu.Calls("DescribeInvocations"); n != i+1 {
			t.Fatalf("after request %d: %d DescribeInvocations calls, want %d (no retry after throttling)", i+1, n, i+1)
		}
	}
}

func TestTransientFaultsAreRetriedAndTheStopGoesThrough(t *testing.T) {
	emu, h, _ := wire(t, emulator.Options{FailFirst: 2, Seed: 1}, map[string]string{"STOPPER_MAX_ATTEMPTS": "5"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := h.Invoke(ctx, "req-1", []byte(`{"InvokeId":"`+sampleInvoke+`"}`))
	if err != nil || res.Failure != nil {
		t.Fatalf("stop failed: %v %v %s", err, res.Failure, res.Payload)
	}
	// The stop reads the invocation first: the two faults hit that read,
	// which is tried again, then one stop goes through.
	calls := emu.Calls("DescribeInvocations") + emu.Calls("StopInvocation")
	if emu.StopCalls("cn-hangzhou", sampleInvoke) != 1 || calls != 4 {
		t.Fatalf("calls = %d, stops = %d; want 4 calls (2 faults, a read, a stop) and 1 stop", calls, emu.StopCalls("cn-hangzhou", sampleInvoke))
	}
}

// A service that stays down: a clear ServiceUnavailable, well before the
// deadline — a function error for a direct invocation, a 503 for a webhook.
func TestServiceThatStaysDown(t *testing.T) {
	_, h, logs := wire(t, emulator.Options{FailFirst: 1 << 30}, map[string]string{"STOPPER_MAX_ATTEMPTS": "4"})
	deadline := 10 * time.Second

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	_, err := h.Invoke(ctx, "req-direct", []byte(`{"InvokeId":"`+sampleInvoke+`"}`))
	var e *stopper.Error
	if !errors.As(err, &e) || !e.Transient || e.Code != "ServiceUnavailable" {
		t.Fatalf("direct invocation: err = %v, want a transient ServiceUnavailable function error", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the answer came only at the deadline")
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), deadline)
	defer cancel2()
	res, err := h.Invoke(ctx2, "req-hook", webhookEvent(`{"InvokeId":"`+sampleInvoke+`"}`))
	if err != nil {
		t.Fatalf("a webhook is answered, not a function error: %v", err)
	}
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	_ = json.Unmarshal(res.Payload, &resp) // not JSON: status 0, which the check refuses
	if resp.StatusCode != 503 || !strings.Contains(resp.Body, `"Code":"ServiceUnavailable"`) || !strings.Contains(resp.Body, `"RequestId":"req-hook"`) {
		t.Fatalf("webhook answer = %s", res.Payload)
	}
	if ctx2.Err() != nil {
		t.Fatalf("the webhook answer came only at the deadline")
	}
	for _, secret := range []string{akSecret, hookSecret} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("a secret was logged:\n%s", logs)
		}
	}
}

// Throttling and dropped connections together: the sweep loses nothing and
// stops nothing twice.
func TestSweepUnderThrottlingAndDroppedConnections(t *testing.T) {
	fleet := &emulator.Fleet{}
	for i := range 120 {
		fleet.Invocations = append(fleet.Invocations, cloudassistant.Invocation{
			RegionId: "cn-hangzhou", InvokeId: fmt.Sprintf("t-fault%04d", i), CommandName: "job", RepeatMode: "Once",
			CreationTime: "2026-01-01T00:00:00Z",
			InvokeInstances: cloudassistant.InvokeInstances{InvokeInstance: []cloudassistant.InvokeInstance{
				{InstanceId: fmt.Sprintf("i-fault%04d", i), InvocationStatus: "Pending"}}},
		})
	}
	emu, h, _ := wire(t, emulator.Options{Fleet: fleet, ThrottleQPS: 80, ThrottleBurst: 4, DropRate: 0.15, Seed: 7},
		map[string]string{"STOPPER_MAX_ATTEMPTS": "8", "STOPPER_SWEEP_OLDER_THAN": "1h", "STOPPER_SWEEP_MAX_STOPS": "200"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := h.Invoke(ctx, "req-sweep", []byte(`{"Action":"Sweep"}`))
	if err != nil || res.Failure != nil {
		t.Fatalf("sweep failed: %v %v", err, res.Failure)
	}
	var a stopper.SweepAnswer
	if err := json.Unmarshal(res.Payload, &a); err != nil {
		t.Fatal(err)
	}
	if len(a.Stopped) != 120 || len(a.Failed) != 0 || a.Truncated {
		t.Fatalf("stopped %d, failed %v, truncated %v; want all 120", len(a.Stopped), a.Failed, a.Truncated)
	}
	for _, inv := range fleet.Invocations {
		if n := emu.StopCalls("cn-hangzhou", inv.InvokeId); n != 1 {
			t.Fatalf("%s stopped %d times", inv.InvokeId, n)
		}
		got, _ := emu.Invocation("cn-hangzhou", inv.InvokeId)
		if got.InvokeInstances.InvokeInstance[0].InvocationStatus != "Cancelled" {
			t.Fatalf("%s not stopped: %+v", inv.InvokeId, got.InvokeInstances)
		}
	}
	if emu.Calls("StopInvocation") <= 120 {
		t.Fatalf("no fault was injected (%d calls): the test proves nothing", emu.Calls("StopInvocation"))
	}
}

// What start-up leaves doubtful or switched off is logged once, as JSON
// warn lines, where every runtime wires the function.
func TestStartUpWarnings(t *testing.T) {
	const refused = "webhooks refused: neither STOPPER_WEBHOOK_SECRET nor STOPPER_WEBHOOK_TOKEN is set (timers, events and direct invocations work)"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // the warn lines' messages, in order; a trailing * matches a prefix
	}{
		{"no webhook credentials", nil, []string{refused}},
		{"insecure", map[string]string{"STOPPER_WEBHOOK_INSECURE": "true"}, []string{"STOPPER_WEBHOOK_INSECURE=true and neither*"}},
		{"a secret", map[string]string{"STOPPER_WEBHOOK_SECRET": hookSecret}, nil},
		{"a token", map[string]string{"STOPPER_WEBHOOK_TOKEN": "0123456789abcdef0123456789abcdef"}, nil},
		{"a secret and insecure", map[string]string{"STOPPER_WEBHOOK_SECRET": hookSecret, "STOPPER_WEBHOOK_INSECURE": "true"}, nil},
		{"an unknown region", map[string]string{"STOPPER_WEBHOOK_SECRET": hookSecret, "STOPPER_SWEEP_REGION_IDS": "xx-newland-1,xx-newland-2"},
			[]string{`configuration: STOPPER_SWEEP_REGION_IDS="xx-newland-1,xx-newland-2": xx-newland-1 is not a region*`,
				`configuration: STOPPER_SWEEP_REGION_IDS="xx-newland-1,xx-newland-2": xx-newland-2 is not a region*`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := config.Load()
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			if _, err := cfg.Handler(staticIdentity(acs.Credentials{}), cfg.Logger(&logs)); err != nil {
				t.Fatal(err)
			}
			var warns []string
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var m map[string]any
				if line == "" {
					continue
				}
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("not a JSON line: %s", line)
				}
				if m["level"] == "WARN" {
					warns = append(warns, m["msg"].(string))
				}
			}
			if len(warns) != len(tc.want) {
				t.Fatalf("warn lines %q, want %q", warns, tc.want)
			}
			for i, w := range tc.want {
				if prefix, ok := strings.CutSuffix(w, "*"); ok && strings.HasPrefix(warns[i], prefix) || warns[i] == w {
					continue
				}
				t.Errorf("warn line %d = %q, want %q", i, warns[i], w)
			}
		})
	}
}
