package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/webhook"
)

// The credentials `local serve` runs with in these tests.
const (
	unauthSecret = "unauthenticated-test-secret-0123456789"
	unauthToken  = "unauthenticated-test-token-0123456789abcdef"
	unauthBody   = `{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76"}`
)

func startServeWithCredentials(t *testing.T) string {
	t.Helper()
	t.Setenv("STOPPER_WEBHOOK_SECRET", unauthSecret)
	t.Setenv("STOPPER_WEBHOOK_TOKEN", unauthToken)
	base, _ := startServe(t)
	return base
}

// sendHeaders opens a connection to base and sends a webhook's request line
// and headers, declaring a body of length bytes, and none of the body.
func sendHeaders(t *testing.T, base string, length int, header map[string]string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var b strings.Builder
	fmt.Fprintf(&b, "POST /stop HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", strings.TrimPrefix(base, "http://"), length)
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readAnswer reads the first response on conn, waiting at most wait.
func readAnswer(t *testing.T, conn net.Conn, wait time.Duration) (*http.Response, map[string]any) {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer within %s: %v", wait, err)
	}
	defer resp.Body.Close()
	var answer map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&answer) // not JSON: a nil answer, which the checks refuse
	return resp, answer
}

// Webhooks whose headers refuse them are answered 401 while their 1 MiB
// bodies are still unsent: the server neither waits for nor reads them
// (it never asks for the body of an Expect: 100-continue request), and it
// closes the connection rather than drain them.
func TestUnauthenticatedRefusedBeforeTheBody(t *testing.T) {
	base := startServeWithCredentials(t)
	now := time.Now()
	ts, _ := webhook.Sign(unauthSecret, now, []byte(unauthBody))
	staleTS, staleSig := webhook.Sign(unauthSecret, now.Add(-10*time.Minute), []byte(unauthBody))
	forged := "sha256=" + strings.Repeat("0", 64)
	for _, tc := range []struct {
		name    string
		header  map[string]string
		message string
	}{
		{"no credentials", nil, "missing credentials"},
		{"wrong bearer token", map[string]string{"Authorization": "Bearer " + strings.Repeat("x", len(unauthToken))}, "bearer token does not match"},
		{"stale timestamp", map[string]string{webhook.TimestampHeader: staleTS, webhook.SignatureHeader: staleSig}, "stale"},
		{"timestamp in the future", map[string]string{webhook.TimestampHeader: fmt.Sprint(now.Add(10 * time.Minute).Unix()), webhook.SignatureHeader: forged}, "stale"},
		{"malformed signature", map[string]string{webhook.TimestampHeader: ts, webhook.SignatureHeader: "sha256=abc"}, "malformed X-Stopper-Signature"},
		{"signature without timestamp", map[string]string{webhook.SignatureHeader: forged}, "missing X-Stopper-Timestamp"},
	} {
		for _, expect := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/Expect 100-continue %v", tc.name, expect), func(t *testing.T) {
				header := map[string]string{}
				for k, v := range tc.header {
					header[k] = v
				}
				if expect {
					header["Expect"] = "100-continue"
				}
				conn := sendHeaders(t, base, 1<<20, header)
				resp, answer := readAnswer(t, conn, 5*time.Second)
				if msg, _ := answer["Message"].(string); resp.StatusCode != 401 || answer["Code"] != "InvalidSignature" || !strings.Contains(msg, tc.message) {
					t.Errorf("%d %v, want 401 InvalidSignature %q", resp.StatusCode, answer, tc.message)
				}
				if !resp.Close {
					t.Error("the connection is kept: the server would read the unsent body")
				}
				// The server closes its end: nothing more arrives.
				if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
					t.Fatal(err)
				}
				if n, err := conn.Read(make([]byte, 1)); err == nil {
					t.Errorf("read %d more bytes, want the connection closed", n)
				}
			})
		}
	}
}

// countingBody counts what the client's transport takes of a body.
type countingBody struct {
	n    atomic.Int64
	body io.Reader
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.body.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// An HTTP client that waits for 100 Continue sends no byte of a refused
// webhook's body: the server never asked for it. The same client's
// authenticated requests go through, so the server does ask when it reads.
func TestUnauthenticatedBodyNeverAskedFor(t *testing.T) {
	base := startServeWithCredentials(t)
	client := &http.Client{Transport: &http.Transport{Proxy: nil, ExpectContinueTimeout: time.Minute}, Timeout: 30 * time.Second}
	post := func(body string, header map[string]string) (int, int64) {
		t.Helper()
		c := &countingBody{body: strings.NewReader(body)}
		req, _ := http.NewRequest("POST", base+"/stop", c)
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Expect", "100-continue")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, c.n.Load()
	}
	large := unauthBody + strings.Repeat(" ", 1<<20-len(unauthBody))
	if status, read := post(large, map[string]string{"Authorization": "Bearer " + strings.Repeat("x", len(unauthToken))}); status != 401 || read != 0 {
		t.Errorf("wrong token: %d, %d bytes of the body sent, want 401 and none", status, read)
	}
	staleTS, staleSig := webhook.Sign(unauthSecret, time.Now().Add(-time.Hour), []byte(large))
	if status, read := post(large, map[string]string{webhook.TimestampHeader: staleTS, webhook.SignatureHeader: staleSig}); status != 401 || read != 0 {
		t.Errorf("stale signature: %d, %d bytes of the body sent, want 401 and none", status, read)
	}
	if status, read := post(unauthBody, map[string]string{"Authorization": "Bearer " + unauthToken}); status != 200 || read != int64(len(unauthBody)) {
		t.Errorf("right token: %d, %d bytes of the body sent, want 200 and all %d", status, read, len(unauthBody))
	}
	ts, sig := webhook.Sign(unauthSecret, time.Now(), []byte(unauthBody))
	if status, read := post(unauthBody, map[string]string{webhook.TimestampHeader: ts, webhook.SignatureHeader: sig}); status != 200 || read != int64(len(unauthBody)) {
		t.Errorf("signed: %d, %d bytes of the body sent, want 200 and all %d", status, read, len(unauthBody))
	}
}

// Signed requests, unauthenticated until their bodies are checked, have
// their bodies read at most webhook.UnverifiedBodies at a time: with every
// slot held by a sender that never finishes its body, another signed
// request is answered 503 with Retry-After, unread, while a bearer token
// still goes through; a slot given back serves the next signed request.
func TestUnauthenticatedReadsBounded(t *testing.T) {
	base := startServeWithCredentials(t)
	forged := func() map[string]string {
		return map[string]string{webhook.TimestampHeader: fmt.Sprint(time.Now().Unix()), webhook.SignatureHeader: "sha256=" + strings.Repeat("0", 64)}
	}
	holders := make([]net.Conn, webhook.UnverifiedBodies)
	for i := range holders {
		holders[i] = sendHeaders(t, base, 1<<20, forged())
		if _, err := io.WriteString(holders[i], "{"); err != nil {
			t.Fatal(err)
		}
	}
	// The holders are admitted concurrently; once they all read, the next
	// forged request finds no slot. Until then it finds one, sends its
	// whole (small) body and is refused 401 for its signature.
	var resp *http.Response
	var answer map[string]any
	for deadline := time.Now().Add(20 * time.Second); ; {
		conn := sendHeaders(t, base, len(unauthBody), forged())
		if _, err := io.WriteString(conn, unauthBody); err != nil {
			t.Fatal(err)
		}
		resp, answer = readAnswer(t, conn, 10*time.Second)
		if resp.StatusCode != 401 || time.Now().After(deadline) {
			break
		}
	}
	if resp.StatusCode != 503 || answer["Code"] != "ServiceUnavailable" || resp.Header.Get("Retry-After") != "1" || !resp.Close {
		t.Fatalf("every slot held: %d %v, Retry-After %q, close %v; want 503 ServiceUnavailable, Retry-After 1, the connection closed",
			resp.StatusCode, answer, resp.Header.Get("Retry-After"), resp.Close)
	}
	if status, a := postTo(t, base+"/stop", unauthBody, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + unauthToken}); status != 200 {
		t.Errorf("bearer with every slot held: %d %v", status, a)
	}
	// A holder that goes away gives its slot back.
	holders[0].Close()
	ts, sig := webhook.Sign(unauthSecret, time.Now(), []byte(unauthBody))
	h := map[string]string{"Content-Type": "application/json", webhook.TimestampHeader: ts, webhook.SignatureHeader: sig}
	if status, a := postTo(t, base+"/stop", unauthBody, h); status != 200 {
		t.Errorf("signed request after a slot was given back: %d %v", status, a)
	}
}
