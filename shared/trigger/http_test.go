package trigger

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/webhook"
)

// countingReader is an endless body that counts what was read of it.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n += int64(len(p))
	return len(p), nil
}

// unreadable fails the test if the handler reads it.
type unreadable struct{ t *testing.T }

func (u unreadable) Read(p []byte) (int, error) {
	u.t.Error("the body of a refused method was read")
	return 0, io.EOF
}

func signedRequest(method string, body []byte, skew time.Duration) *http.Request {
	r := httptest.NewRequest(method, "/stop", bytes.NewReader(body))
	ts, sig := webhook.Sign(testSecret, testNow.Add(skew), body)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(webhook.TimestampHeader, ts)
	r.Header.Set(webhook.SignatureHeader, sig)
	r.Header.Set("x-fc-request-id", testRequestID)
	return r
}

func serve(t *testing.T, env *testEnv, r *http.Request) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	w := httptest.NewRecorder()
	env.handler.ServeHTTP(w, r)
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body is not JSON: %q", w.Body)
	}
	return w, body
}

func TestServeHTTPSignedStop(t *testing.T) {
	env := newEnv(t)
	w, body := serve(t, env, signedRequest("POST", stopBody, 0))
	if w.Code != 200 || body["RequestId"] != testRequestID || body["InvokeId"] != testInvokeID || body["Action"] != "StopInvocation" {
		t.Errorf("%d %v", w.Code, body)
	}
	if len(env.api.stopCalls()) != 1 {
		t.Errorf("stops %v", env.api.stopCalls())
	}
}

func TestServeHTTPRefusals(t *testing.T) {
	tests := []struct {
		name    string
		request func(t *testing.T) (*http.Request, *countingReader)
		status  int
		code    string
	}{
		{"GET is refused unread", func(t *testing.T) (*http.Request, *countingReader) {
			r := signedRequest("GET", nil, 0)
			r.Body = io.NopCloser(unreadable{t})
			return r, nil
		}, 405, "MethodNotAllowed"},
		{"DELETE", func(t *testing.T) (*http.Request, *countingReader) { return signedRequest("DELETE", stopBody, 0), nil }, 405, "MethodNotAllowed"},
		{"declared too large is refused unread", func(t *testing.T) (*http.Request, *countingReader) {
			r := signedRequest("POST", nil, 0)
			c := &countingReader{}
			r.Body, r.ContentLength = io.NopCloser(c), MaxBodyBytes+1
			return r, c
		}, 413, "PayloadTooLarge"},
		{"endless body is cut off", func(t *testing.T) (*http.Request, *countingReader) {
			r := signedRequest("POST", nil, 0)
			c := &countingReader{}
			r.Body, r.ContentLength = io.NopCloser(c), -1
			return r, c
		}, 413, "PayloadTooLarge"},
		{"text/plain", func(t *testing.T) (*http.Request, *countingReader) {
			r := signedRequest("POST", stopBody, 0)
			r.Header.Set("Content-Type", "text/plain")
			return r, nil
		}, 415, "UnsupportedMediaType"},
		{"no Content-Type", func(t *testing.T) (*http.Request, *countingReader) {
			r := signedRequest("POST", stopBody, 0)
			r.Header.Del("Content-Type")
			return r, nil
		}, 415, "UnsupportedMediaType"},
		{"no signature", func(t *testing.T) (*http.Request, *countingReader) {
			r := signedRequest("POST", stopBody, 0)
			r.Header.Del(webhook.SignatureHeader)
			return r, nil
		}, 401, "InvalidSignature"},
		{"wrong signature", func(t *testing.T) (*http.Request, *countingReader) {
			r := signedRequest("POST", stopBody, 0)
			r.Header.Set(webhook.SignatureHeader, "sha256="+strings.Repeat("0", 64))
			return r, nil
		}, 401, "InvalidSignature"},
		{"stale", func(t *testing.T) (*http.Request, *countingReader) {
			return signedRequest("POST", stopBody, -time.Hour), nil
		}, 401, "InvalidSignature"},
		{"future", func(t *testing.T) (*http.Request, *countingReader) {
			return signedRequest("POST", stopBody, time.Hour), nil
		}, 401, "InvalidSignature"},
	}
	core := map[string]bool{}
	for _, b := range badSignedBodies {
		body := []byte(b.body)
		tests = append(tests, struct {
			name    string
			request func(t *testing.T) (*http.Request, *countingReader)
			status  int
			code    string
		}{"signed " + b.name, func(t *testing.T) (*http.Request, *countingReader) { return signedRequest("POST", body, 0), nil }, b.status, b.code})
		core["signed "+b.name] = b.inCore
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			env.handler.Function.AllowedRegions = []string{"cn-hangzhou"}
			r, counter := tt.request(t)
			w, body := serve(t, env, r)
			if w.Code != tt.status || body["Code"] != tt.code || body["RequestId"] != testRequestID {
				t.Errorf("%d %v, want %d %s", w.Code, body, tt.status, tt.code)
			}
			if allow := w.Header().Get("Allow"); (allow == "POST") != (tt.status == 405) {
				t.Errorf("Allow = %q", allow)
			}
			if counter != nil && counter.n > MaxBodyBytes+1 {
				t.Errorf("read %d bytes of the body, at most %d allowed", counter.n, MaxBodyBytes+1)
			}
			if len(env.api.stopCalls()) != 0 {
				t.Errorf("refused request stopped %v", env.api.stopCalls())
			}
			if !core[tt.name] {
				checkRefusalLogged(t, env.logs, PlainHTTP, tt.code)
			}
		})
	}
}

func TestServeHTTPRequestID(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, header := range []string{"", "bad id\nwith newline", strings.Repeat("a", 200)} {
		env := newEnv(t)
		r := signedRequest("POST", stopBody, 0)
		r.Header.Set("x-fc-request-id", header)
		_, body := serve(t, env, r)
		id, _ := body["RequestId"].(string)
		if !uuid.MatchString(id) {
			t.Errorf("x-fc-request-id %q: RequestId %q is not a generated UUID", header, id)
		}
	}
	env := newEnv(t)
	r := signedRequest("POST", stopBody, 0)
	r.Header.Set("X-Fc-Request-Id", "1-64f6cd87-c6bd3a0d0e9b")
	if _, body := serve(t, env, r); body["RequestId"] != "1-64f6cd87-c6bd3a0d0e9b" {
		t.Errorf("RequestId %v, want FC's", body["RequestId"])
	}
	if a, b := newRequestID(), newRequestID(); a == b {
		t.Errorf("request ids repeat: %s", a)
	}
}

func TestServeHTTPInsecure(t *testing.T) {
	env := newEnv(t)
	env.handler.Webhook = &webhook.Verifier{Insecure: true}
	r := httptest.NewRequest("POST", "/", bytes.NewReader(stopBody))
	r.Header.Set("Content-Type", "application/json")
	if w, body := serve(t, env, r); w.Code != 200 || len(env.api.stopCalls()) != 1 {
		t.Errorf("insecure: %d %v", w.Code, body)
	}
	env = newEnv(t)
	env.handler.Webhook = &webhook.Verifier{}
	r = httptest.NewRequest("POST", "/", bytes.NewReader(stopBody))
	r.Header.Set("Content-Type", "application/json")
	if w, body := serve(t, env, r); w.Code != 401 || len(env.api.stopCalls()) != 0 {
		t.Errorf("no secret: %d %v", w.Code, body)
	}
}
