package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// startServe runs `local serve` on a free loopback port until the test
// ends, and returns its URL once it listens, and its stderr.
func startServe(t *testing.T, args ...string) (string, *e2e.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr e2e.Buffer
	done := make(chan int)
	go func() {
		done <- run(ctx, append([]string{"serve", "-addr", "127.0.0.1:0"}, args...), io.Discard, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, stderr.String())
		}
	})
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, line := range strings.Split(stderr.String(), "\n") {
			var l struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &l) == nil && l.URL != "" && strings.Contains(l.Msg, "custom runtime") {
				base = l.URL
			}
		}
	}
	if base == "" {
		t.Fatalf("serve did not start: %s", stderr.String())
	}
	return base, &stderr
}

// postTo sends a request to the runner and decodes its JSON answer; a
// "Host" entry of header replaces the request's Host.
func postTo(t *testing.T, url, body string, header map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&answer) // not JSON: a nil answer, which the checks refuse
	return resp.StatusCode, answer
}

// serve is the FC custom runtime on loopback: signed webhooks stop, unsigned
// ones get 401, and POST /invoke takes events.
func TestServe(t *testing.T) {
	const secret = "local-serve-test-secret-0123456789"
	t.Setenv("STOPPER_WEBHOOK_SECRET", secret)
	base, stderr := startServe(t)
	post := func(path string, body string, header map[string]string) (int, map[string]any) {
		return postTo(t, base+path, body, header)
	}
	body := `{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76"}`
	if status, a := post("/stop", body, map[string]string{"Content-Type": "application/json"}); status != 401 || a["Code"] != "InvalidSignature" {
		t.Fatalf("unsigned webhook: %d %v", status, a)
	}
	ts, sig := webhook.Sign(secret, time.Now(), []byte(body))
	h := map[string]string{"Content-Type": "application/json", webhook.TimestampHeader: ts, webhook.SignatureHeader: sig}
	if status, a := post("/stop", body, h); status != 200 || a["Action"] != "StopInvocation" || a["RequestId"] == "" {
		t.Fatalf("signed webhook: %d %v", status, a)
	}
	event := `{"Action":"Sweep","DryRun":true}`
	if status, a := post("/invoke", event, map[string]string{"Content-Type": "application/json"}); status != 200 || a["Action"] != "Sweep" {
		t.Fatalf("event: %d %v", status, a)
	}
	// No web page can send an event: a cross-origin one cannot send JSON,
	// a DNS-rebound one comes with its own name as Host.
	for _, tc := range []struct {
		name, host, contentType string
		status                  int
		code                    string
	}{
		{"form", "", "application/x-www-form-urlencoded", 415, "UnsupportedMediaType"},
		{"text/plain", "", "text/plain", 415, "UnsupportedMediaType"},
		{"no Content-Type", "", "", 415, "UnsupportedMediaType"},
		{"rebound Host", "attacker.example:9000", "application/json", 403, "Forbidden.Host"},
	} {
		h := map[string]string{}
		if tc.contentType != "" {
			h["Content-Type"] = tc.contentType
		}
		if tc.host != "" {
			h["Host"] = tc.host
		}
		if status, a := post("/invoke", event, h); status != tc.status || a["Code"] != tc.code {
			t.Errorf("%s: event: %d %v, want %d %s", tc.name, status, a, tc.status, tc.code)
		}
	}
	if strings.Contains(stderr.String(), secret) || strings.Contains(stderr.String(), "webhook secret for this run") {
		t.Fatal("the webhook secret the user set was shown")
	}
}

// Without STOPPER_WEBHOOK_SECRET, serve makes one up for the embedded
// emulator and shows it, so that a signed curl works at once.
func TestServeShowsGeneratedSecret(t *testing.T) {
	base, stderr := startServe(t)
	m := regexp.MustCompile(`(?m)^local: webhook secret for this run: ([0-9a-f]{64}) \(export STOPPER_WEBHOOK_SECRET=([0-9a-f]{64}) to sign requests\)$`).
		FindStringSubmatch(stderr.String())
	if m == nil || m[1] != m[2] {
		t.Fatalf("no webhook secret line:\n%s", stderr.String())
	}
	secret := m[1]
	body := `{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76"}`
	ts, sig := webhook.Sign(secret, time.Now(), []byte(body))
	h := map[string]string{"Content-Type": "application/json", webhook.TimestampHeader: ts, webhook.SignatureHeader: sig}
	if status, a := postTo(t, base+"/stop", body, h); status != 200 || a["Action"] != "StopInvocation" || a["Stopped"] != true {
		t.Fatalf("signed with the shown secret: %d %v", status, a)
	}
	ts, sig = webhook.Sign("some-other-secret", time.Now(), []byte(body))
	h = map[string]string{"Content-Type": "application/json", webhook.TimestampHeader: ts, webhook.SignatureHeader: sig}
	if status, a := postTo(t, base+"/stop", body, h); status != 401 {
		t.Fatalf("signed with another secret: %d %v", status, a)
	}
}

// Against a real account serve says which, as invoke does, and without
// -yes serves dry runs only.
func TestServeRealAccount(t *testing.T) {
	t.Run("dry runs only without -yes", func(t *testing.T) {
		c := realAccount(t)
		base, stderr := startServe(t, "-endpoint", ecsHangzhou)
		if out := stderr.String(); !strings.HasPrefix(out, "local serve: -endpoint is not on this machine") ||
			!strings.Contains(out, "  account:       "+accountID) ||
			!strings.Contains(out, "  requests:      dry runs only: one that is not a dry run is refused (add -yes to act on account "+accountID+")") {
			t.Fatalf("stderr:\n%s", out)
		}
		json := map[string]string{"Content-Type": "application/json"}
		_, a := postTo(t, base+"/invoke", `{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76"}`, json)
		if a["Code"] != "DryRun.Required" || c.emu.Calls("StopInvocation")+c.emu.Calls("DescribeInvocations") != 0 {
			t.Fatalf("a request that is not a dry run: %v; %d stops, %d reads", a, c.emu.Calls("StopInvocation"), c.emu.Calls("DescribeInvocations"))
		}
		status, a := postTo(t, base+"/invoke", `{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76","DryRun":true}`, json)
		if status != 200 || a["DryRun"] != true || a["WouldStop"] != true || c.emu.Calls("StopInvocation") != 0 {
			t.Fatalf("a dry run: %d %v, %d stop calls", status, a, c.emu.Calls("StopInvocation"))
		}
	})
	t.Run("-dry-run", func(t *testing.T) {
		c := realAccount(t)
		base, stderr := startServe(t, "-endpoint", ecsHangzhou, "-dry-run")
		if out := stderr.String(); !strings.HasPrefix(out, "local serve: -endpoint is not on this machine") ||
			!strings.Contains(out, "  requests:      dry runs (-dry-run)") || strings.Contains(out, "webhook secret for this run") {
			t.Fatalf("stderr:\n%s", out)
		}
		status, a := postTo(t, base+"/invoke", `{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76","DryRun":false}`,
			map[string]string{"Content-Type": "application/json"})
		if status != 200 || a["DryRun"] != true || c.emu.Calls("StopInvocation") != 0 {
			t.Fatalf("event: %d %v, %d stop calls", status, a, c.emu.Calls("StopInvocation"))
		}
	})
}

// Every phase of a connection to the runner is bounded.
func TestServeServerTimeouts(t *testing.T) {
	srv := newServeServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("timeouts: read header %v, read %v, idle %v: want all set", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout)
	}
}
