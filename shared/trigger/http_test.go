package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
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

// unreadable fails the test if the handler reads a byte of it; what says
// which body that was.
type unreadable struct {
	t    *testing.T
	what string
}

func (u unreadable) Read(p []byte) (int, error) {
	u.t.Errorf("the body of %s was read", u.what)
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

func bearerRequest(body []byte, authorization string) *http.Request {
	r := httptest.NewRequest("POST", "/stop", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", authorization)
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
	if len(env.api.Stops()) != 1 {
		t.Errorf("stops %v", env.api.Stops())
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
			r.Body = io.NopCloser(unreadable{t, "a request with a refused method"})
			return r, nil
		}, 405, "MethodNotAllowed"},
		{"DELETE", func(t *testing.T) (*http.Request, *countingReader) { return signedRequest("DELETE", stopBody, 0), nil }, 405, "MethodNotAllowed"},
		{"declared too large is refused unread", func(t *testing.T) (*http.Request, *countingReader) {
			r := signedRequest("POST", nil, 0)
			r.Body, r.ContentLength = io.NopCloser(unreadable{t, "a request declared 1 MiB + 1 long"}), MaxBodyBytes+1
			return r, nil
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
	type test = struct {
		name    string
		request func(t *testing.T) (*http.Request, *countingReader)
		status  int
		code    string
	}
	tests = append(tests,
		test{"signature sent twice, the first right", func(t *testing.T) (*http.Request, *countingReader) {
			r := signedRequest("POST", stopBody, 0)
			r.Header.Add(webhook.SignatureHeader, "sha256="+strings.Repeat("0", 64))
			return r, nil
		}, 401, "InvalidSignature"},
		test{"timestamp sent twice, the first right", func(t *testing.T) (*http.Request, *countingReader) {
			r := signedRequest("POST", stopBody, 0)
			r.Header.Add(webhook.TimestampHeader, "1")
			return r, nil
		}, 401, "InvalidSignature"},
		test{"Content-Type sent twice, the first JSON", func(t *testing.T) (*http.Request, *countingReader) {
			r := signedRequest("POST", stopBody, 0)
			r.Header.Add("Content-Type", "text/plain")
			return r, nil
		}, 415, "UnsupportedMediaType"},
		test{"right token sent twice", func(t *testing.T) (*http.Request, *countingReader) {
			r := bearerRequest(stopBody, "Bearer "+testToken)
			r.Header.Add("Authorization", "Bearer "+testToken)
			return r, nil
		}, 401, "InvalidSignature"},
		test{"right token, then a wrong one", func(t *testing.T) (*http.Request, *countingReader) {
			r := bearerRequest(stopBody, "Bearer "+testToken)
			r.Header.Add("Authorization", "Bearer x")
			return r, nil
		}, 401, "InvalidSignature"},
	)
	for _, b := range badBearers {
		c := b.call(stopBody)
		tests = append(tests, test{b.name, func(t *testing.T) (*http.Request, *countingReader) {
			r := httptest.NewRequest("POST", "/stop", bytes.NewReader(c.body))
			for k, v := range c.headers {
				r.Header.Set(k, v)
			}
			r.Header.Set("x-fc-request-id", testRequestID)
			return r, nil
		}, 401, "InvalidSignature"})
	}
	core := map[string]bool{}
	for _, b := range badSignedBodies {
		body := []byte(b.body)
		tests = append(tests,
			test{"signed " + b.name, func(t *testing.T) (*http.Request, *countingReader) { return signedRequest("POST", body, 0), nil }, b.status, b.code},
			test{"bearer " + b.name, func(t *testing.T) (*http.Request, *countingReader) {
				return bearerRequest(body, "Bearer "+testToken), nil
			}, b.status, b.code})
		core["signed "+b.name] = b.inCore
		core["bearer "+b.name] = b.inCore
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
			if len(env.api.Stops()) != 0 {
				t.Errorf("refused request stopped %v", env.api.Stops())
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
	if w, body := serve(t, env, r); w.Code != 200 || len(env.api.Stops()) != 1 {
		t.Errorf("insecure: %d %v", w.Code, body)
	}
	env = newEnv(t)
	env.handler.Webhook = &webhook.Verifier{}
	r = httptest.NewRequest("POST", "/", bytes.NewReader(stopBody))
	r.Header.Set("Content-Type", "application/json")
	if w, body := serve(t, env, r); w.Code != 401 || len(env.api.Stops()) != 0 {
		t.Errorf("no secret: %d %v", w.Code, body)
	}
}

// TestServeHTTPBearer: the token authenticates a plain HTTP webhook; it is
// no credential when the function has none configured.
func TestServeHTTPBearer(t *testing.T) {
	env := newEnv(t)
	for range 2 { // a token has no one-time part: the same request goes through again
		if w, body := serve(t, env, bearerRequest(stopBody, "bearer "+testToken)); w.Code != 200 || body["Action"] != "StopInvocation" {
			t.Fatalf("right token: %d %v", w.Code, body)
		}
	}
	if n := len(env.api.Stops()); n != 2 {
		t.Errorf("%d stops, want 2", n)
	}

	env = newEnv(t)
	env.handler.Webhook.Token = ""
	w, body := serve(t, env, bearerRequest(stopBody, "Bearer "+testToken))
	if w.Code != 401 || body["Code"] != "InvalidSignature" || len(env.api.Stops()) != 0 {
		t.Errorf("token unset: %d %v, stops %v", w.Code, body, env.api.Stops())
	}
	checkRefusalLogged(t, env.logs, PlainHTTP, "InvalidSignature")
}

// TestServeHTTPReplay: the same signed request is accepted once.
func TestServeHTTPReplay(t *testing.T) {
	env := newEnv(t)
	if w, body := serve(t, env, signedRequest("POST", stopBody, 0)); w.Code != 200 {
		t.Fatalf("first use: %d %v", w.Code, body)
	}
	w, body := serve(t, env, signedRequest("POST", stopBody, 0))
	if msg, _ := body["Message"].(string); w.Code != 401 || body["Code"] != "InvalidSignature" || !strings.Contains(msg, "already used") {
		t.Errorf("replay: %d %v", w.Code, body)
	}
	if n := len(env.api.Stops()); n != 1 {
		t.Errorf("%d stops, want 1", n)
	}
}

// TestReadBodyGrowsWithTheBytes: a client that claims 1 MiB and sends a few
// bytes costs a small buffer, not the claimed size, while the function
// waits for the rest (unauthenticated clients could otherwise hold 1 MiB
// each by sending one byte).
func TestReadBodyGrowsWithTheBytes(t *testing.T) {
	pr, pw := io.Pipe()
	r := httptest.NewRequest("POST", "/stop", pr)
	r.ContentLength = MaxBodyBytes
	type result struct {
		body     []byte
		tooLarge bool
	}
	done := make(chan result)
	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	go func() {
		body, tooLarge, _ := readBody(httptest.NewRecorder(), r)
		done <- result{body, tooLarge}
	}()
	// A pipe's Write returns once the reader has taken the bytes: readBody
	// is now holding them and waiting for more.
	if _, err := pw.Write([]byte(`{"In`)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&during)
	pw.Close()
	res := <-done
	if string(res.body) != `{"In` || res.tooLarge {
		t.Fatalf("body %q tooLarge %v", res.body, res.tooLarge)
	}
	// Generous: the buffer, the goroutine and the test's own allocations.
	if allocated := during.TotalAlloc - before.TotalAlloc; allocated > 64<<10 {
		t.Errorf("allocated %d bytes for a body that sent 4 of its claimed %d, want < 64 KiB", allocated, MaxBodyBytes)
	}
}

// TestReadBodyLimit: exactly 1 MiB is read, one byte more is refused,
// unread when declared: not a byte of such a body is read.
func TestReadBodyLimit(t *testing.T) {
	tests := []struct {
		name         string
		size         int64
		declared     bool
		tooLarge     bool
		maxBytesRead int64
	}{
		{"1 MiB declared", MaxBodyBytes, true, false, MaxBodyBytes + 1},
		{"1 MiB undeclared", MaxBodyBytes, false, false, MaxBodyBytes + 1},
		{"1 MiB + 1 declared is refused unread", MaxBodyBytes + 1, true, true, 0},
		{"1 MiB + 1 undeclared", MaxBodyBytes + 1, false, true, MaxBodyBytes + 1},
		{"empty", 0, true, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &countingReader{}
			r := httptest.NewRequest("POST", "/stop", nil)
			r.Body = io.NopCloser(io.LimitReader(c, tt.size))
			if tt.maxBytesRead == 0 && tt.size > 0 {
				r.Body = io.NopCloser(unreadable{t, fmt.Sprintf("a request declared %d bytes long", tt.size)})
			}
			r.ContentLength = -1
			if tt.declared {
				r.ContentLength = tt.size
			}
			body, tooLarge, err := readBody(httptest.NewRecorder(), r)
			if err != nil || tooLarge != tt.tooLarge {
				t.Fatalf("tooLarge %v err %v, want tooLarge %v", tooLarge, err, tt.tooLarge)
			}
			if !tooLarge && int64(len(body)) != tt.size {
				t.Errorf("read %d bytes, want %d", len(body), tt.size)
			}
			if c.n > tt.maxBytesRead {
				t.Errorf("read %d bytes of the body, at most %d allowed", c.n, tt.maxBytesRead)
			}
		})
	}
}

// TestServeHTTPCredentialsBeforeTheBody: a webhook whose headers decide its
// refusal is refused with its body unread, and the connection closed so
// that the server does not drain the body either; a request the headers
// authenticate, or a signed one, is read.
func TestServeHTTPCredentialsBeforeTheBody(t *testing.T) {
	ts, sig := webhook.Sign(testSecret, testNow, stopBody)
	staleTS, staleSig := webhook.Sign(testSecret, testNow.Add(-webhook.DefaultWindow-time.Second), stopBody)
	wrongToken := "Bearer " + strings.Repeat("x", len(testToken))
	tests := []struct {
		name    string
		headers map[string]string
		message string
	}{
		{"no credentials", nil, "missing credentials"},
		{"wrong token", map[string]string{"Authorization": wrongToken}, "bearer token does not match"},
		{"wrong token, right signature", map[string]string{"Authorization": wrongToken, webhook.TimestampHeader: ts, webhook.SignatureHeader: sig}, "bearer token does not match"},
		{"other scheme", map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, "is not a Bearer token"},
		{"stale timestamp", map[string]string{webhook.TimestampHeader: staleTS, webhook.SignatureHeader: staleSig}, "stale"},
		{"timestamp only", map[string]string{webhook.TimestampHeader: ts}, "missing X-Stopper-Signature"},
		{"malformed timestamp", map[string]string{webhook.TimestampHeader: "-1", webhook.SignatureHeader: sig}, "malformed X-Stopper-Timestamp"},
		{"malformed signature", map[string]string{webhook.TimestampHeader: ts, webhook.SignatureHeader: "sha256=00"}, "malformed X-Stopper-Signature"},
	}
	for _, tt := range tests {
		for _, length := range []int64{MaxBodyBytes, -1} {
			t.Run(fmt.Sprintf("%s/Content-Length %d", tt.name, length), func(t *testing.T) {
				env := newEnv(t)
				r := httptest.NewRequest("POST", "/stop", nil)
				r.Body, r.ContentLength = io.NopCloser(unreadable{t, "an unauthenticated request"}), length
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("x-fc-request-id", testRequestID)
				for k, v := range tt.headers {
					r.Header.Set(k, v)
				}
				w, body := serve(t, env, r)
				if msg, _ := body["Message"].(string); w.Code != 401 || body["Code"] != "InvalidSignature" || !strings.Contains(msg, tt.message) {
					t.Errorf("%d %v, want 401 InvalidSignature %q", w.Code, body, tt.message)
				}
				if c := w.Header().Get("Connection"); c != "close" {
					t.Errorf("Connection = %q, want close: the unread body must not be drained", c)
				}
				checkRefusalLogged(t, env.logs, PlainHTTP, "InvalidSignature")
			})
		}
	}
	t.Run("replayed signature", func(t *testing.T) {
		env := newEnv(t)
		if w, body := serve(t, env, signedRequest("POST", stopBody, 0)); w.Code != 200 || w.Header().Get("Connection") != "" {
			t.Fatalf("first use: %d %v, Connection %q", w.Code, body, w.Header().Get("Connection"))
		}
		r := signedRequest("POST", stopBody, 0)
		r.Body = io.NopCloser(unreadable{t, "a replayed request"})
		w, body := serve(t, env, r)
		if msg, _ := body["Message"].(string); w.Code != 401 || !strings.Contains(msg, "already used") || w.Header().Get("Connection") != "close" {
			t.Errorf("replay: %d %v, Connection %q", w.Code, body, w.Header().Get("Connection"))
		}
	})
	t.Run("no body to leave unread", func(t *testing.T) {
		env := newEnv(t)
		r := bearerRequest(nil, wrongToken)
		r.ContentLength = 0
		if w, _ := serve(t, env, r); w.Code != 401 || w.Header().Get("Connection") != "" {
			t.Errorf("%d, Connection %q: nothing was left unread, the connection may stay", w.Code, w.Header().Get("Connection"))
		}
	})
}

// TestServeHTTPBoundsUnverifiedBodies: signed requests have their bodies read
// only while one of the Verifier's slots is free; with every slot taken a
// signed request waits briefly, then is answered 503 with Retry-After and
// its body unread, while a bearer token, checked on the headers, needs no
// slot. Every request gives its slot back, accepted or not.
func TestServeHTTPBoundsUnverifiedBodies(t *testing.T) {
	env := newEnv(t)
	v := env.handler.Webhook
	// More signed requests than slots, some of them refused after the
	// body: each gives its slot back.
	for i := range 2 * webhook.UnverifiedBodies {
		body := fmt.Appendf(nil, `{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d577%06d"}`, i)
		r := signedRequest("POST", body, 0)
		want := 200
		if i%2 == 1 {
			r.Header.Set(webhook.SignatureHeader, "sha256="+strings.Repeat("0", 64))
			want = 401
		}
		if w, answer := serve(t, env, r); w.Code != want {
			t.Fatalf("request %d: %d %v, want %d", i, w.Code, answer, want)
		}
	}
	// Every slot is free again.
	for i := range webhook.UnverifiedBodies {
		release, ok := v.ReserveBody(context.Background(), 0)
		if !ok {
			t.Fatalf("slot %d is still held after every request was answered", i)
		}
		defer release()
	}
	env = newEnv(t)
	v = env.handler.Webhook
	var releases []func()
	for range webhook.UnverifiedBodies {
		release, ok := v.ReserveBody(context.Background(), 0)
		if !ok {
			t.Fatal("a request kept its slot")
		}
		releases = append(releases, release)
	}
	r := signedRequest("POST", stopBody, 0)
	r.Body = io.NopCloser(unreadable{t, "a signed request finding no slot"})
	start := time.Now()
	w, answer := serve(t, env, r)
	if w.Code != 503 || answer["Code"] != "ServiceUnavailable" || w.Header().Get("Retry-After") != "1" || w.Header().Get("Connection") != "close" {
		t.Errorf("no slot: %d %v, Retry-After %q, Connection %q", w.Code, answer, w.Header().Get("Retry-After"), w.Header().Get("Connection"))
	}
	if waited := time.Since(start); waited < bodySlotWait {
		t.Errorf("answered after %s, want a wait of %s first", waited, bodySlotWait)
	}
	checkRefusalLogged(t, env.logs, PlainHTTP, "ServiceUnavailable")
	if w, answer := serve(t, env, bearerRequest(stopBody, "Bearer "+testToken)); w.Code != 200 {
		t.Errorf("bearer with every slot taken: %d %v", w.Code, answer)
	}
	// A slot released while a request waits is its.
	done := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		env.handler.ServeHTTP(w, signedRequest("POST", stopBody, 0))
		done <- w.Code
	}()
	releases[0]()
	if code := <-done; code != 200 {
		t.Errorf("signed request given a released slot: %d", code)
	}
	for _, release := range releases[1:] {
		release()
	}
}

// TestWebhookEventCredentialsBeforeTheBody: on the event paths the body is
// already in memory, but the credentials the headers carry are still
// checked before any work on it: a request without them is a 401 even when
// its base64 body would not decode.
func TestWebhookEventCredentialsBeforeTheBody(t *testing.T) {
	for _, s := range httpShapes {
		t.Run(string(s.kind), func(t *testing.T) {
			env := newEnv(t)
			c := withBearer(stopBody, "Bearer "+strings.Repeat("x", len(testToken)))
			c.base64 = true
			var ev map[string]any
			if err := json.Unmarshal(s.event(t, c), &ev); err != nil {
				t.Fatal(err)
			}
			ev["body"] = "!not base64!"
			event, _ := json.Marshal(ev)
			res, _ := env.handler.Invoke(context.Background(), testRequestID, event)
			checkRefused(t, s.kind, res, 401, "InvalidSignature")
		})
	}
}

// TestWebhookRefusalsQuoteWhatCameCut: a refusal names the header or
// method as sent, cut at 64 bytes so that a hostile value cannot bloat
// the answer and the log line.
func TestWebhookRefusalsQuoteWhatCameCut(t *testing.T) {
	ct64 := "text/" + strings.Repeat("x", 59)
	tests := []struct {
		name, method, contentType string
		status                    int
		message                   string
	}{
		{"missing Content-Type", "POST", "", 415, `Content-Type (missing) is not JSON: send the request as application/json`},
		{"64 bytes", "POST", ct64, 415, `Content-Type "` + ct64 + `" is not JSON`},
		{"65 bytes", "POST", ct64 + "y", 415, `Content-Type "` + ct64 + `..." is not JSON`},
		{"method of 64 bytes", strings.Repeat("M", 64), "application/json", 405, "method " + strings.Repeat("M", 64) + " is not allowed: send the request with POST"},
		{"method of 65 bytes", strings.Repeat("M", 65), "application/json", 405, "method " + strings.Repeat("M", 64) + "... is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			r := signedRequest("POST", stopBody, 0)
			r.Method = tt.method
			r.Header.Del("Content-Type")
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			w, answer := serve(t, env, r)
			msg, _ := answer["Message"].(string)
			if w.Code != tt.status || !strings.HasPrefix(msg, tt.message) {
				t.Errorf("%d %q, want %d %q", w.Code, msg, tt.status, tt.message)
			}
		})
	}
}

// TestWebhookMediaTypeNames: application/<name>+json is JSON for every
// name of RFC 6838 restricted-name characters, and for no other name.
func TestWebhookMediaTypeNames(t *testing.T) {
	for _, tt := range []struct {
		contentType string
		json        bool
	}{
		{"application/vnd.a-z_A.Z^0&9$#!+json", true},
		{"application/!+json", true},
		{"APPLICATION/Z+JSON", true},
		{"application/9+json", true},
		{"application/x`+json", false}, // the byte before a
		{"application/x{+json", false}, // after z
		{"application/x@+json", false}, // before A
		{"application/x[+json", false}, // after Z
		{"application/x/+json", false}, // before 0
		{"application/x:+json", false}, // after 9
		{"application/x\"+json", false},
		{"application/+json", false},
		{"application/json+", false},
		{"application", false},
		{"applicatio/json", false},
	} {
		t.Run(tt.contentType, func(t *testing.T) {
			env := newEnv(t)
			r := signedRequest("POST", stopBody, 0)
			r.Header.Set("Content-Type", tt.contentType)
			w, answer := serve(t, env, r)
			switch {
			case tt.json && (w.Code != 200 || len(env.api.Stops()) != 1):
				t.Errorf("%d %v, want it taken as JSON", w.Code, answer)
			case !tt.json && (w.Code != 415 || answer["Code"] != "UnsupportedMediaType" || len(env.api.Stops()) != 0):
				t.Errorf("%d %v, want 415 UnsupportedMediaType", w.Code, answer)
			}
		})
	}
}

// TestRequestIDKeepsSaneIDs: a platform's request id of up to 128 letters,
// digits, '-', '_' and '.' is the answer's; anything else is replaced.
func TestRequestIDKeepsSaneIDs(t *testing.T) {
	for _, id := range []string{"azAZ09-_.", "z", "Z", "9", strings.Repeat("a", 128)} {
		if got := RequestID(id); got != id {
			t.Errorf("RequestID(%q) = %q, want it kept", id, got)
		}
	}
	for _, id := range []string{strings.Repeat("a", 129), "a`", "a{", "a@", "a[", "a/", "a:", "a b", "ü"} {
		if got := RequestID(id); got == id || !validRequestID(got) || len(got) != 36 {
			t.Errorf("RequestID(%q) = %q, want a new UUID", id, got)
		}
	}
	env := newEnv(t)
	r := signedRequest("POST", stopBody, 0)
	r.Header.Set("x-fc-request-id", strings.Repeat("a", 128))
	if _, answer := serve(t, env, r); answer["RequestId"] != strings.Repeat("a", 128) {
		t.Errorf("RequestId %v, want the 128-byte platform id", answer["RequestId"])
	}
}

// TestServeHTTPUnreadableBody: a body that breaks off mid-read is a 400
// naming the body, and nothing is stopped.
func TestServeHTTPUnreadableBody(t *testing.T) {
	env := newEnv(t)
	r := signedRequest("POST", stopBody, 0)
	r.Body = io.NopCloser(iotest.ErrReader(errors.New("connection reset by peer")))
	r.ContentLength = -1
	w, answer := serve(t, env, r)
	msg, _ := answer["Message"].(string)
	if w.Code != 400 || answer["Code"] != "InvalidParameter" || !strings.HasPrefix(msg, "body: could not be read") ||
		!strings.Contains(msg, "connection reset by peer") || answer["RequestId"] != testRequestID {
		t.Errorf("%d %v", w.Code, answer)
	}
	if len(env.api.Stops()) != 0 {
		t.Errorf("stops %v", env.api.Stops())
	}
	checkRefusalLogged(t, env.logs, PlainHTTP, "InvalidParameter")
}

func TestIsJSONMediaType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json":                  true,
		"application/json; charset=utf-8":   true,
		"Application/JSON;charset=UTF-8":    true,
		" application/json ":                true,
		"application/cloudevents+json":      true,
		"application/vnd.api+json; v=1":     true,
		"application/+json":                 false,
		"application/x json+json":           false,
		"application/jsonx":                 false,
		"application/json-seq":              false,
		"text/json":                         false,
		"text/plain":                        false,
		"application/x-www-form-urlencoded": false,
		"":                                  false,
		"application/":                      false,
	} {
		if got := isJSONMediaType(ct); got != want {
			t.Errorf("isJSONMediaType(%q) = %v, want %v", ct, got, want)
		}
	}
}

// TestCutSuffixFold: strings.CutSuffix, with the suffix matched in any case;
// a string that is the suffix alone leaves nothing before it.
func TestCutSuffixFold(t *testing.T) {
	for _, tt := range []struct {
		s, suffix, before string
		found             bool
	}{
		{"vnd.api+json", "+json", "vnd.api", true},
		{"vnd.api+JSON", "+json", "vnd.api", true},
		{"+json", "+json", "", true},
		{"+Json", "+json", "", true},
		{"json", "+json", "json", false},
		{"", "+json", "", false},
		{"vnd.api+jsonx", "+json", "vnd.api+jsonx", false},
		{"", "", "", true},
	} {
		before, found := cutSuffixFold(tt.s, tt.suffix)
		if before != tt.before || found != tt.found {
			t.Errorf("cutSuffixFold(%q, %q) = %q, %v; want %q, %v", tt.s, tt.suffix, before, found, tt.before, tt.found)
		}
	}
}
