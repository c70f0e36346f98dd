package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/webhook"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serve is the FC custom runtime on loopback: signed webhooks stop, unsigned
// ones get 401, and POST /invoke takes events.
func TestServe(t *testing.T) {
	const secret = "local-serve-test-secret-0123456789"
	t.Setenv("STOPPER_WEBHOOK_SECRET", secret)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"serve", "-addr", "127.0.0.1:0"}, io.Discard, &stderr) }()
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

	post := func(path string, body string, header map[string]string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
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
		json.NewDecoder(resp.Body).Decode(&answer)
		return resp.StatusCode, answer
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
	if strings.Contains(stderr.String(), secret) {
		t.Fatal("the webhook secret was logged")
	}
}

// Every phase of a connection to the runner is bounded.
func TestServeServerTimeouts(t *testing.T) {
	srv := newServeServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("timeouts: read header %v, read %v, idle %v: want all set", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout)
	}
}
