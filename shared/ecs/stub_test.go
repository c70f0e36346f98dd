package ecs_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/ecs"
)

// Test credentials; the stub knows every pair in testKeys.
var (
	testCred  = acs.Credentials{AccessKeyID: "test-ak", AccessKeySecret: "test-secret"}
	stsCred   = acs.Credentials{AccessKeyID: "STS.test-ak", AccessKeySecret: "sts-secret", SecurityToken: "sts-token/with+odd=chars"}
	testKeys  = map[string]string{testCred.AccessKeyID: testCred.AccessKeySecret, stsCred.AccessKeyID: stsCred.AccessKeySecret}
	regionHZ  = "cn-hangzhou"
	invokeID  = "t-1fad2a8876de47068cc734d57703aa76"
	okStopped = `{"RequestId":"req-ok"}`
)

// recorded is one call as the stub received it.
type recorded struct {
	Method, Path string
	Query        url.Values
	Header       http.Header
	Body         []byte
}

// stub is a Cloud Assistant stand-in: it verifies the V3 signature of every
// request the way the API does (recomputing it with the acs package), records
// the call and answers with handle (n counts calls from 1).
type stub struct {
	t      *testing.T
	srv    *httptest.Server
	handle func(w http.ResponseWriter, r *http.Request, n int)

	mu    sync.Mutex
	calls []recorded
}

func newStub(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int)) *stub {
	t.Helper()
	s := &stub{t: t, handle: handle}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stub) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.calls = append(s.calls, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body})
	n := len(s.calls)
	s.mu.Unlock()
	if err := verifyV3(r, body); err != nil {
		s.t.Errorf("call %d: signature: %v", n, err)
		writeJSON(w, http.StatusBadRequest, `{"Code":"SignatureDoesNotMatch","Message":"`+err.Error()+`"}`)
		return
	}
	s.handle(w, r, n)
}

func (s *stub) Calls() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// verifyV3 checks an ACS3-HMAC-SHA256 request as the server side does.
func verifyV3(r *http.Request, body []byte) error {
	auth, err := acs.ParseAuthorizationV3(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	secret, ok := testKeys[auth.AccessKeyID]
	if !ok {
		return fmt.Errorf("unknown AccessKeyId %q", auth.AccessKeyID)
	}
	required := []string{"host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"}
	if r.Header.Get("x-acs-security-token") != "" {
		required = append(required, "x-acs-security-token")
	}
	for _, h := range required {
		if !slices.Contains(auth.SignedHeaders, h) {
			return fmt.Errorf("header %s is not signed (SignedHeaders %v)", h, auth.SignedHeaders)
		}
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", r.Header.Get("x-acs-date")); err != nil {
		return fmt.Errorf("x-acs-date: %w", err)
	}
	if n := r.Header.Get("x-acs-signature-nonce"); len(n) != 32 {
		return fmt.Errorf("nonce %q is not 16 bytes of hex", n)
	}
	hashed := acs.HashHex(body)
	if got := r.Header.Get("x-acs-content-sha256"); got != hashed {
		return fmt.Errorf("x-acs-content-sha256 %s, body hashes to %s", got, hashed)
	}
	headers := map[string]string{}
	for _, h := range auth.SignedHeaders {
		if h == "host" {
			headers[h] = r.Host
			continue
		}
		headers[h] = strings.Join(r.Header.Values(h), ",")
	}
	canonical := acs.CanonicalRequestV3(r.Method, r.URL.EscapedPath(), r.URL.Query(), headers, auth.SignedHeaders, hashed)
	if want := acs.SignatureV3(secret, canonical); want != auth.Signature {
		return fmt.Errorf("signature %s, want %s over\n%s", auth.Signature, want, canonical)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// apiErr is an API error body as the service writes it.
func apiErr(code, msg string) string {
	b, _ := json.Marshal(cloudassistant.Error{RequestId: "req-" + code, HostId: "ecs.aliyuncs.com", Code: code, Message: msg})
	return string(b)
}

// answers is a handler that plays the given answers in turn, repeating the last.
func answers(as ...func(w http.ResponseWriter, r *http.Request)) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		as[min(n, len(as))-1](w, r)
	}
}

func status(code int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, code, body) }
}

func dropConnection(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.Close()
}

// newClient points a client at the stub with short delays; mod adjusts options.
func newClient(t *testing.T, endpoint string, mod func(*ecs.Options)) *ecs.Client {
	t.Helper()
	opts := ecs.Options{
		Credentials: testCred,
		Endpoint:    endpoint,
		BaseDelay:   time.Millisecond,
		MaxDelay:    10 * time.Millisecond,
		ReadTimeout: 5 * time.Second,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := ecs.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}
