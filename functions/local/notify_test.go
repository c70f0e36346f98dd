package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// Notifications through the whole wiring: `local invoke` of a timer sweep
// with STOPPER_NOTIFY_* pointing at a local receiver that checks what the
// services check (DingTalk's and Lark's signatures, each one's answer).

const (
	dingTalkSecret = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
	larkSecret     = "lark-signing-secret-0123456789"
)

// receiver is one chat service's webhook on loopback.
type receiver struct {
	format string
	mu     sync.Mutex
	bodies []string
	bad    []string // what failed the service's own checks
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.bodies = append(rc.bodies, string(body))
	check := func(ok bool, what string) {
		if !ok {
			rc.bad = append(rc.bad, what)
		}
	}
	switch rc.format {
	case "dingtalk":
		// DingTalk: timestamp (ms) and sign in the query, keyed with the secret.
		ts, sign := r.URL.Query().Get("timestamp"), r.URL.Query().Get("sign")
		mac := hmac.New(sha256.New, []byte(dingTalkSecret))
		mac.Write([]byte(ts + "\n" + dingTalkSecret))
		check(sign == base64.StdEncoding.EncodeToString(mac.Sum(nil)), "dingtalk sign")
		check(len(ts) == 13, "dingtalk timestamp in ms")
		w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	case "lark":
		// Lark: timestamp (s) and sign in the body, keyed with timestamp+"\n"+secret.
		var b struct{ Timestamp, Sign string }
		_ = json.Unmarshal(body, &b) // not JSON: no sign, which the check refuses
		mac := hmac.New(sha256.New, []byte(b.Timestamp+"\n"+larkSecret))
		check(b.Sign == base64.StdEncoding.EncodeToString(mac.Sum(nil)), "lark sign")
		check(len(b.Timestamp) == 10, "lark timestamp in s")
		w.Write([]byte(`{"code":0,"msg":"success","data":{}}`))
	case "slack":
		w.Write([]byte("ok"))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// twoStaleFleet holds two stale invocations (and a fresh one) in cn-hangzhou.
func twoStaleFleet(t *testing.T, stale int) string {
	now := time.Now()
	var f emulator.Fleet
	for i, age := range []time.Duration{3 * time.Hour, 4 * time.Hour, 10 * time.Minute} {
		if i < 2 && i >= stale {
			age = 5 * time.Minute
		}
		created := now.Add(-age).UTC().Format(time.RFC3339)
		f.Invocations = append(f.Invocations, ca.Invocation{RegionId: "cn-hangzhou", InvokeId: fmt.Sprintf("t-notify%d", i),
			CommandName: "nightly-job", RepeatMode: "Once", CreationTime: created,
			InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{{InstanceId: fmt.Sprintf("i-notify%d", i), InvocationStatus: "Running"}}}})
	}
	file := filepath.Join(t.TempDir(), "fleet.json")
	b, _ := json.Marshal(f)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func sweepWith(t *testing.T, fleet string) (int, map[string]any, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"invoke", "-event", "../../events/fc-timer-sweep.json", "-fleet", fleet}, &stdout, &stderr)
	var a map[string]any
	_ = json.Unmarshal(stdout.Bytes(), &a) // not JSON: a nil answer, which the checks refuse
	return code, a, stderr.String()
}

// A sweep that stops two invocations sends one message naming both, in
// each format; the services' signatures verify.
// chatReceiver starts a receiver of format on loopback and points
// STOPPER_NOTIFY_* at it, with the signing secret the format needs.
func chatReceiver(t *testing.T, format string) *receiver {
	t.Helper()
	rc := &receiver{format: format}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	t.Setenv("STOPPER_NOTIFY_URL", srv.URL+"/hook")
	t.Setenv("STOPPER_NOTIFY_FORMAT", format)
	switch format {
	case "dingtalk":
		t.Setenv("STOPPER_NOTIFY_SECRET", dingTalkSecret)
	case "lark":
		t.Setenv("STOPPER_NOTIFY_SECRET", larkSecret)
	}
	return rc
}

func TestNotificationEachFormat(t *testing.T) {
	for _, format := range []string{"json", "dingtalk", "lark", "slack"} {
		t.Run(format, func(t *testing.T) {
			rc := chatReceiver(t, format)
			code, a, logs := sweepWith(t, twoStaleFleet(t, 2))
			if code != 0 || len(a["Stopped"].([]any)) != 2 {
				t.Fatalf("sweep: exit %d, %v\n%s", code, a, logs)
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if len(rc.bodies) != 1 || len(rc.bad) != 0 {
				t.Fatalf("%d messages, failed checks %v: %v", len(rc.bodies), rc.bad, rc.bodies)
			}
			for _, id := range []string{"t-notify0", "t-notify1"} {
				if !strings.Contains(rc.bodies[0], id) {
					t.Errorf("the message does not name %s: %s", id, rc.bodies[0])
				}
			}
			for _, secret := range []string{dingTalkSecret, larkSecret, localAccessKeySecret} {
				if strings.Contains(rc.bodies[0], secret) || strings.Contains(logs, secret) {
					t.Fatalf("a secret reached the message or the logs")
				}
			}
		})
	}
}

// Nothing stopped, nothing sent; a dead receiver changes nothing in the answer.
func TestNotificationOnlyWhenSomethingStopped(t *testing.T) {
	rc := &receiver{format: "json"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	t.Setenv("STOPPER_NOTIFY_URL", srv.URL)
	t.Setenv("STOPPER_NOTIFY_FORMAT", "json")
	if code, a, _ := sweepWith(t, twoStaleFleet(t, 0)); code != 0 || len(a["Stopped"].([]any)) != 0 {
		t.Fatalf("sweep: exit %d, %v", code, a)
	}
	if len(rc.bodies) != 0 {
		t.Fatalf("a sweep that stopped nothing sent %d messages", len(rc.bodies))
	}

	srv.Close() // a dead receiver
	t.Setenv("STOPPER_NOTIFY_TIMEOUT", "1s")
	code, a, logs := sweepWith(t, twoStaleFleet(t, 2))
	if code != 0 || len(a["Stopped"].([]any)) != 2 || len(a["Failed"].([]any)) != 0 {
		t.Fatalf("with a dead receiver: exit %d, %v", code, a)
	}
	if !strings.Contains(logs, "notification not sent") {
		t.Fatalf("the failed notification was not logged:\n%s", logs)
	}
}

// A dry run tells nobody unless STOPPER_NOTIFY_DRY_RUN asks, and then its
// message says it is a dry run and what it would stop.
func TestNotificationOfDryRuns(t *testing.T) {
	for _, notifyDryRun := range []bool{false, true} {
		t.Run(fmt.Sprint("STOPPER_NOTIFY_DRY_RUN=", notifyDryRun), func(t *testing.T) {
			rc := &receiver{format: "slack"}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			t.Setenv("STOPPER_NOTIFY_URL", srv.URL+"/hook")
			t.Setenv("STOPPER_NOTIFY_FORMAT", "slack")
			t.Setenv("STOPPER_DRY_RUN", "true")
			t.Setenv("STOPPER_NOTIFY_DRY_RUN", fmt.Sprint(notifyDryRun))
			code, a, logs := sweepWith(t, twoStaleFleet(t, 2))
			if listed, _ := a["WouldStop"].([]any); code != 0 || len(listed) != 2 || a["Stopped"] != nil {
				t.Fatalf("sweep: exit %d, %v\n%s", code, a, logs)
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if !notifyDryRun {
				if len(rc.bodies) != 0 {
					t.Fatalf("a dry run sent %d messages: %v", len(rc.bodies), rc.bodies)
				}
				return
			}
			if len(rc.bodies) != 1 || !strings.Contains(rc.bodies[0], "Dry run: ecs-stopper would stop 2 invocations") ||
				strings.Contains(strings.ToLower(rc.bodies[0]), "stopped") {
				t.Fatalf("%d messages: %v", len(rc.bodies), rc.bodies)
			}
		})
	}
}
