package fcruntime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// fc2Params is x-fc-http-params as FC 2.0 sends it (fc-runtime-go-sdk
// v0.3.1 fc/http_handler.go HTTPParams): base64 of the request's JSON.
func fc2Params(t *testing.T, method string, headers map[string][]string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"path": "/stop", "method": method, "requestURI": "/stop?x=1", "clientIP": "203.0.113.7",
		"host":       "1234567890123456.cn-hangzhou.fc.aliyuncs.com",
		"queriesMap": map[string][]string{"x": {"1"}}, "headersMap": headers,
	})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// fc2Answer is an FC 2.0 HTTP function's answer: the body as posted, the
// status and headers from the answer's x-fc-http-params.
type fc2Answer struct {
	Status     int                 `json:"status"`
	HeadersMap map[string][]string `json:"headersMap"`
	body       map[string]any
}

func decodeFC2Answer(t *testing.T, a fcAnswer) fc2Answer {
	t.Helper()
	if a.kind != "response" || len(a.httpParams) != 1 {
		t.Fatalf("answer = %s with x-fc-http-params %q: want a response carrying it once", a.kind, a.httpParams)
	}
	raw, err := base64.StdEncoding.DecodeString(a.httpParams[0])
	if err != nil {
		t.Fatalf("answer x-fc-http-params is not base64: %v", err)
	}
	var r fc2Answer
	if err := json.Unmarshal(raw, &r); err != nil || r.Status == 0 {
		t.Fatalf("answer x-fc-http-params = %s (%v), want {status, headersMap}", raw, err)
	}
	r.body = e2e.DecodeObject(t, a.body)
	return r
}

// An FC 2.0 HTTP function's invocation is a request from the internet: a
// webhook, signed over the raw body, answered in the SDK's HTTP response
// form; never a direct call, however its body reads.
func TestRuntimeAPIHTTPFunction(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	fc := newFakeFC(t)
	out := startLoop(t, fc, nil)
	body := e2e.ReadEvent(t, "direct-stop.json") // a valid direct request
	push := func(id string, params ...string) fc2Answer {
		t.Helper()
		h := http.Header{}
		for k, v := range fcHeaders() {
			h.Set(k, v)
		}
		for _, p := range params {
			h.Add("x-fc-http-params", p)
		}
		fc.pushHeader(id, h, body)
		return decodeFC2Answer(t, fc.wait(t, id))
	}
	ts, sig := webhook.Sign(hookSecret, time.Now(), body)
	signed := map[string][]string{"content-type": {"application/json"},
		"x-stopper-timestamp": {ts}, "x-stopper-signature": {sig}}
	unsigned := map[string][]string{"Content-Type": {"application/json"}}
	// A client's own credential headers change nothing and are never echoed.
	withCreds := map[string][]string{"Content-Type": {"application/json"},
		"X-Fc-Security-Token": {testToken}, "X-Fc-Access-Key-Secret": {testKeySecret}}

	for _, tc := range []struct {
		name   string
		params []string
		status int
		code   string
	}{
		{"unsigned", []string{fc2Params(t, "POST", unsigned)}, 401, "InvalidSignature"},
		{"client credentials", []string{fc2Params(t, "POST", withCreds)}, 401, "InvalidSignature"},
		{"badly signed", []string{fc2Params(t, "POST", map[string][]string{"Content-Type": {"application/json"},
			"X-Stopper-Timestamp": {ts}, "X-Stopper-Signature": {"sha256=" + strings.Repeat("0", 64)}})}, 401, "InvalidSignature"},
		// Two signatures under two spellings: ambiguous, refused.
		{"two signatures", []string{fc2Params(t, "POST", map[string][]string{"content-type": {"application/json"},
			"x-stopper-timestamp": {ts}, "x-stopper-signature": {sig}, "X-Stopper-Signature": {"sha256=" + strings.Repeat("0", 64)}})}, 401, "InvalidSignature"},
		{"text/plain", []string{fc2Params(t, "POST", map[string][]string{"content-type": {"text/plain"},
			"x-stopper-timestamp": {ts}, "x-stopper-signature": {sig}})}, 415, "UnsupportedMediaType"},
		{"GET", []string{fc2Params(t, "GET", signed)}, 405, "MethodNotAllowed"},
		{"empty", []string{""}, 400, "InvalidParameter"},
		{"not base64", []string{"%%%"}, 400, "InvalidParameter"},
		{"not JSON", []string{base64.StdEncoding.EncodeToString([]byte("[1,2"))}, 400, "InvalidParameter"},
		{"no method", []string{fc2Params(t, "", signed)}, 400, "InvalidParameter"},
		{"bad method", []string{fc2Params(t, "PO ST", signed)}, 400, "InvalidParameter"},
		{"twice", []string{fc2Params(t, "POST", signed), fc2Params(t, "POST", signed)}, 400, "InvalidParameter"},
	} {
		r := push("req-fc2-"+strings.ReplaceAll(tc.name, " ", "-"), tc.params...)
		if r.Status != tc.status || r.body["Code"] != tc.code || r.HeadersMap["Content-Type"][0] != "application/json" {
			t.Errorf("%s: answer = %d %v %v, want %d %s", tc.name, r.Status, r.HeadersMap, r.body, tc.status, tc.code)
		}
		if tc.status == 405 && r.HeadersMap["Allow"][0] != "POST" {
			t.Errorf("%s: no Allow: POST in %v", tc.name, r.HeadersMap)
		}
	}
	if n := emu.Calls("StopInvocation"); n != 0 {
		t.Fatalf("an HTTP function's invocation that was not a signed webhook reached the API: %d StopInvocation calls", n)
	}

	r := push("req-fc2-signed", fc2Params(t, "POST", signed))
	if r.Status != 200 || r.body["Action"] != "StopInvocation" || r.body["InvokeId"] != sampleInvoke ||
		r.body["RequestId"] != "req-fc2-signed" {
		t.Fatalf("signed: answer = %d %v", r.Status, r.body)
	}
	if s := e2e.InstanceStatus(t, emu, sampleRegion, sampleInvoke, samplePendingB); s != "Cancelled" {
		t.Fatalf("%s is %s, want Cancelled", samplePendingB, s)
	}
	waitLog(t, out, "FC Invoke End RequestId: req-fc2-signed\n")
}

// A body over the event limit is answered 413 in the HTTP form.
func TestRuntimeAPIHTTPFunctionTooLarge(t *testing.T) {
	_, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	fc := newFakeFC(t)
	startLoop(t, fc, nil)
	h := http.Header{}
	for k, v := range fcHeaders() {
		h.Set(k, v)
	}
	h.Set("x-fc-http-params", fc2Params(t, "POST", map[string][]string{"Content-Type": {"application/json"}}))
	fc.pushHeader("req-fc2-big", h, []byte(strings.Repeat("x", maxEvent+1)))
	if r := decodeFC2Answer(t, fc.wait(t, "req-fc2-big")); r.Status != 413 || r.body["Code"] != "PayloadTooLarge" {
		t.Fatalf("answer = %d %v", r.Status, r.body)
	}
}

// The request rebuilt from x-fc-http-params: the client's method, path,
// query and headers, repeated headers joined, FC's credentials removed.
func TestHTTPFunctionRequest(t *testing.T) {
	p, err := decodeHTTPParams([]string{fc2Params(t, "POST", map[string][]string{
		"accept": {"a"}, "Accept": {"b"}, "x-fc-access-key-id": {"LTAI-client"}, "X-Fc-Request-Id": {"client-chosen"}})})
	if err != nil {
		t.Fatal(err)
	}
	req, err := httpFunctionRequest(context.Background(), p, "req-1", []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "POST" || req.URL.Path != "/stop" || req.URL.RawQuery != "x=1" || req.ContentLength != 2 ||
		req.Host != "1234567890123456.cn-hangzhou.fc.aliyuncs.com" || req.RemoteAddr != "203.0.113.7" {
		t.Fatalf("request = %s %s (%d bytes) host %s from %s", req.Method, req.URL, req.ContentLength, req.Host, req.RemoteAddr)
	}
	if got := req.Header.Values("Accept"); len(got) != 1 || got[0] != "b, a" {
		t.Errorf("Accept = %q, want the two spellings joined in a fixed order", got)
	}
	if req.Header.Get("x-fc-access-key-id") != "" || req.Header.Get("x-fc-request-id") != "req-1" {
		t.Errorf("headers = %v: want no credentials and FC's request id", req.Header)
	}
}

// x-fc-http-params is outside input (it carries the client's request): no
// value may panic, and a request built from it never keeps credentials.
func FuzzHTTPParams(f *testing.F) {
	for _, s := range []string{
		`{"method":"POST","path":"/","headersMap":{"Content-Type":["application/json"]}}`,
		`{"method":"GET","queriesMap":{"a":["1","2"]},"headersMap":{"x-fc-security-token":["t"]}}`,
		`{"method":"P\u0000ST"}`, `{"method":1}`, `null`, `[]`, `{"headersMap":{"a":null}}`,
	} {
		f.Add(base64.StdEncoding.EncodeToString([]byte(s)))
	}
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, v string) {
		p, err := decodeHTTPParams([]string{v})
		if err != nil {
			return
		}
		req, err := httpFunctionRequest(context.Background(), p, "req-fuzz", nil)
		if err != nil {
			return
		}
		if req.Method != p.Method {
			t.Fatalf("method %q became %q", p.Method, req.Method)
		}
		for _, k := range []string{headerAccessKeyID, headerAccessKeySecret, headerSecurityToken} {
			if len(req.Header.Values(k)) != 0 {
				t.Fatalf("%s kept", k)
			}
		}
	})
}
