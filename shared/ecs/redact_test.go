package ecs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/testenv"
	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/ecs"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// echoCred is what the echoing servers below sign with: an STS triple whose
// token holds every character that percent-encoding changes.
var echoCred = acs.Credentials{
	AccessKeyID:     "STS.NUgYrLnoC37mZZCNnAbezEcho",
	AccessKeySecret: "echo-secret-DO-NOT-SHOW+/=",
	SecurityToken:   "CAIS/echo+Token=DO-NOT-SHOW/9Wz==",
}

// secretPieces are the substrings that must never reach an error, an event
// or a log: the values and the distinctive middles of their encodings.
var secretPieces = []string{echoCred.AccessKeyID, "NUgYrLnoC37mZZCNnAbez", "echo-secret", "CAIS", "echo+Token", "echo%2BToken", "echo%252BToken", "DO-NOT-SHOW"}

// stringToSign is what a SignatureDoesNotMatch message echoes: the request's
// canonical form with the token raw (a signed header), percent-encoded (a
// V3 canonical query) and encoded twice (a V1 string to sign).
func stringToSign(r *http.Request) string {
	tok := r.Header.Get("x-acs-security-token")
	auth, _ := acs.ParseAuthorizationV3(r.Header.Get("Authorization"))
	enc := acs.PercentEncode(tok)
	return "POST\n/\nAccessKeyId=" + auth.AccessKeyID + "&SecurityToken=" + enc + "\nx-acs-security-token:" + tok +
		"\nPOST&%2F&SecurityToken%3D" + acs.PercentEncode(enc) + " secret " + echoCred.AccessKeySecret
}

// Every shape in which a server can send text back, each echoing the
// credentials it was called with: nothing of them reaches the error, its
// *cloudassistant.Error fields, the retry events or the debug log.
func TestUpstreamTextIsRedacted(t *testing.T) {
	jsonErr := func(status int, code string) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := json.Marshal(cloudassistant.Error{RequestId: "req-" + r.Header.Get("x-acs-security-token"),
				HostId: "ecs.aliyuncs.com", Code: code,
				Message:   "Specified signature is not matched with our calculation. server string to sign is:" + stringToSign(r),
				Recommend: "https://api.aliyun.com/troubleshoot?q=" + code + "&token=" + r.Header.Get("x-acs-security-token")})
			writeJSON(w, status, string(b))
		}
	}
	tests := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
		code   string
	}{
		{"SignatureDoesNotMatch JSON", jsonErr(400, "SignatureDoesNotMatch"), "SignatureDoesNotMatch"},
		{"5xx JSON, retried", jsonErr(503, "ServiceUnavailable"), "ServiceUnavailable"},
		{"throttled JSON, retried", jsonErr(400, "Throttling.User"), "Throttling.User"},
		{"JSON with escaped slashes", func(w http.ResponseWriter, r *http.Request) {
			tok := strings.ReplaceAll(r.Header.Get("x-acs-security-token"), "/", `\/`)
			writeJSON(w, 400, `{"RequestId":"r","Code":"SignatureDoesNotMatch","Message":"token `+tok+`"}`)
		}, "SignatureDoesNotMatch"},
		{"HTML 502 with the token across the 256-byte cut", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			// The raw token starts at byte 240: cut at 256 before redacting,
			// its first 16 bytes would show.
			_, _ = w.Write([]byte("<html><body>" + strings.Repeat("x", 228) + r.Header.Get("x-acs-security-token") +
				stringToSign(r) + strings.Repeat(" pad", 200) + "</body></html>"))
		}, "HTTP502"},
		{"short HTML 403", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(403)
			_, _ = w.Write([]byte("<h1>denied " + stringToSign(r) + "</h1>"))
		}, "HTTP403"},
		{"200 that is not JSON", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("portal " + stringToSign(r)))
		}, "InvalidResponse"},
		{"request id header", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("x-acs-request-id", r.Header.Get("x-acs-security-token"))
			w.WriteHeader(500)
		}, "HTTP500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(tt.answer))
			t.Cleanup(srv.Close)
			events, logs, err := callLogged(t, srv.URL)
			var api *cloudassistant.Error
			if !errors.As(err, &api) || api.Code != tt.code {
				t.Fatalf("error %v, want code %s", err, tt.code)
			}
			texts := []string{err.Error(), api.Message, api.Recommend, api.RequestId, api.HostId, api.Code, logs}
			for _, e := range events {
				texts = append(texts, e.Err.Error())
			}
			for _, text := range texts {
				testenv.NoSecret(t, text, secretPieces...)
			}
			if !strings.Contains(err.Error(), acs.Redacted) {
				t.Errorf("error %q shows no placeholder: the server's echo was lost rather than redacted", err)
			}
		})
	}
}

// A server that does not speak HTTP: Go's transport quotes what it sent in
// its own error ("malformed HTTP response ..."), a connection-level error.
func TestConnectionErrorTextIsRedacted(t *testing.T) {
	for _, tt := range []struct {
		name  string
		reply func(token string) string
	}{
		{"no status line", func(tok string) string { return "token " + tok + "\r\n\r\n" }},
		{"bad header line", func(tok string) string { return "HTTP/1.1 200 OK\r\n" + tok + "\r\n\r\n" }},
		{"bad status code", func(tok string) string { return "HTTP/1.1 2x" + tok + " OK\r\n\r\n" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url := rawServer(t, func(req *http.Request) string { return tt.reply(req.Header.Get("x-acs-security-token")) })
			events, logs, err := callLogged(t, url)
			if err == nil || !ecs.IsRetryable(err) {
				t.Fatalf("error %v: want a retryable connection failure", err)
			}
			texts := []string{err.Error(), logs}
			for _, e := range events {
				texts = append(texts, e.Err.Error())
			}
			for _, text := range texts {
				testenv.NoSecret(t, text, secretPieces...)
			}
			if !strings.Contains(err.Error(), acs.Redacted) {
				t.Errorf("error %q shows no placeholder: the test did not provoke an echo", err)
			}
		})
	}
}

// The emulator's own SignatureDoesNotMatch (a wrong secret) echoes its
// canonical request, STS token header included, as the real API does.
func TestWrongSecretAnswerIsRedacted(t *testing.T) {
	emu, _ := startEmulator(t, emulator.Options{Fleet: emulator.SampleFleet()})
	cred := echoCred
	cred.AccessKeyID = "LTAI-test" // the emulator's key, so that it reaches the signature check
	client, err := ecs.New(ecs.Options{Credentials: cred, Endpoint: emu.URL})
	if err != nil {
		t.Fatal(err)
	}
	err = client.StopInvocation(context.Background(), "cn-hangzhou", "t-1fad2a8876de47068cc734d57703aa76", nil)
	var api *cloudassistant.Error
	if !errors.As(err, &api) || api.Code != "SignatureDoesNotMatch" {
		t.Fatalf("err = %v, want SignatureDoesNotMatch", err)
	}
	testenv.NoSecret(t, err.Error(), secretPieces...)
	testenv.NoSecret(t, api.Message, secretPieces...)
}

// callLogged makes one DescribeInvocations call with echoCred, two attempts
// of each kind, a debug JSON log and the retry events collected.
func callLogged(t *testing.T, url string) ([]ecs.RetryEvent, string, error) {
	t.Helper()
	var (
		mu     sync.Mutex
		buf    bytes.Buffer
		events []ecs.RetryEvent
	)
	c := newClient(t, url, func(o *ecs.Options) {
		o.Credentials = echoCred
		o.MaxAttempts, o.MaxThrottleRetries = 2, 1
		o.Log = slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.OnRetry = func(e ecs.RetryEvent) { events = append(events, e) }
	})
	_, err := c.DescribeInvocations(context.Background(), cloudassistant.DescribeInvocationsRequest{RegionId: regionHZ})
	mu.Lock()
	defer mu.Unlock()
	return events, buf.String(), err
}

// rawServer answers every request on a loopback listener with reply's bytes
// verbatim and closes the connection.
func rawServer(t *testing.T, reply func(*http.Request) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				_, _ = conn.Write([]byte(reply(req)))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}
