package trigger

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/fakeapi"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

const (
	testSecret    = "test-webhook-secret"
	testToken     = "test-webhook-token-0123456789abcdef" // 35 characters
	testRequestID = "req-0123456789"
	testInvokeID  = "t-1fad2a8876de47068cc734d57703aa76"
)

var testNow = time.Unix(1_790_000_000, 0)

// anyInvocation is what a read of any invocation finds when a test names
// no fleet (fakeapi's Unlisted): an active one-time invocation holding every
// instance the tests name.
var anyInvocation = func() cloudassistant.Invocation {
	inv := cloudassistant.Invocation{CommandName: "backup", RepeatMode: "Once", InvocationStatus: "Running"}
	for i, id := range []string{"i-a", "i-bp1a2b3c4d5e6f7g8h9i", "i-bp1abc", "i-bp1def", "i-bp1j2k3l4m5n6o7p8q9r", "i-bp1s2t3u4v5w6x7y8z9a", "i-bp1xyz"} {
		status := "Pending"
		if i%2 == 0 {
			status = "Running"
		}
		inv.InvokeInstances.InvokeInstance = append(inv.InvokeInstances.InvokeInstance, cloudassistant.InvokeInstance{InstanceId: id, InvocationStatus: status})
	}
	return inv
}()

// newAPI is a Cloud Assistant where every invocation a test names exists
// and is active (anyInvocation), and that records every stop, so that
// tests prove that refused requests stop nothing.
func newAPI() *fakeapi.API {
	api := fakeapi.New()
	api.Unlisted = &anyInvocation
	return api
}

// describeAny answers a read of one invocation (a stop reads it first) with
// anyInvocation, for the fuzzers' own fakes.
func describeAny(req cloudassistant.DescribeInvocationsRequest) *cloudassistant.DescribeInvocationsResponse {
	resp := &cloudassistant.DescribeInvocationsResponse{RequestId: "upstream"}
	if req.InvokeId == "" || (req.Timed != nil && *req.Timed) {
		return resp
	}
	inv := anyInvocation
	inv.InvokeId = req.InvokeId
	inv.InvokeInstances.InvokeInstance = slices.Clone(inv.InvokeInstances.InvokeInstance)
	resp.Invocations.Invocation = []cloudassistant.Invocation{inv}
	return resp
}

// logBuffer collects JSON log lines; safe for concurrent writers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the log lines decoded.
func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(l.buf.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		out = append(out, m)
	}
	return out
}

type testEnv struct {
	handler *Handler
	api     *fakeapi.API
	logs    *logBuffer
}

// newEnv builds a Handler as config.Handler does, over a fake API, with
// the webhook secret testSecret, the token testToken and a fixed clock.
func newEnv(t testing.TB) *testEnv {
	api := newAPI()
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	return &testEnv{
		api:  api,
		logs: logs,
		handler: &Handler{
			Function: &stopper.Function{API: api, RegionId: "cn-hangzhou", Log: log, Now: func() time.Time { return testNow }},
			Webhook:  &webhook.Verifier{Secret: testSecret, Token: testToken, Now: func() time.Time { return testNow }},
			Log:      log,
		},
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// httpShape is one webhook trigger's sample event and where its method lives.
type httpShape struct {
	kind Kind
	file string
	// lowerCaseHeaders is how the platform spells header names.
	lowerCaseHeaders bool
}

var httpShapes = []httpShape{
	{APIGatewayV1, "apigw-request.json", false},
	{APIGatewayV2, "apigw-v2-request-no-authorizer.json", true},
	{FunctionURL, "lambda-urls-request.json", true},
	{FCHTTP, "fc-http-request.json", true},
}

// webhookCall describes the HTTP request to put into a sample event.
type webhookCall struct {
	method  string
	headers map[string]string // added to the sample's headers, replacing any Content-Type
	body    []byte
	base64  bool
}

// event rewrites the sample: method, body and the headers, as the platform
// would deliver that request. Everything else stays as the sample has it.
func (s httpShape) event(t testing.TB, c webhookCall) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readTestdata(t, s.file), &ev); err != nil {
		t.Fatal(err)
	}
	if s.kind == APIGatewayV1 {
		ev["httpMethod"] = c.method
		ev["requestContext"].(map[string]any)["httpMethod"] = c.method
	} else {
		ev["requestContext"].(map[string]any)["http"].(map[string]any)["method"] = c.method
	}
	headers, _ := ev["headers"].(map[string]any)
	if headers == nil {
		headers = map[string]any{}
	}
	for k := range headers {
		if strings.EqualFold(k, "content-type") || strings.EqualFold(k, "content-length") {
			delete(headers, k)
		}
	}
	for k, v := range c.headers {
		if s.lowerCaseHeaders {
			k = strings.ToLower(k)
		}
		headers[k] = v
	}
	ev["headers"] = headers
	delete(ev, "multiValueHeaders") // the function reads headers only; keep the sample honest
	if c.base64 {
		ev["body"] = base64.StdEncoding.EncodeToString(c.body)
	} else {
		ev["body"] = string(c.body)
	}
	ev["isBase64Encoded"] = c.base64
	// Platforms do not HTML-escape their events, so neither does the test.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// signed is a POST of body signed with testSecret at the given offset from testNow.
func signed(body []byte, skew time.Duration) webhookCall {
	ts, sig := webhook.Sign(testSecret, testNow.Add(skew), body)
	return webhookCall{method: "POST", body: body, headers: map[string]string{
		"Content-Type":        "application/json",
		"X-Stopper-Timestamp": ts,
		"X-Stopper-Signature": sig,
	}}
}

// withBearer is a POST of body with the given Authorization header and no signature.
func withBearer(body []byte, authorization string) webhookCall {
	return webhookCall{method: "POST", body: body, headers: map[string]string{
		"Content-Type":  "application/json",
		"Authorization": authorization,
	}}
}

var stopBody = []byte(`{"RegionId":"cn-hangzhou","InvokeId":"` + testInvokeID + `","InstanceIds":["i-bp1abc"]}`)

// httpAnswer is a webhook response decoded from any of the four shapes.
type httpAnswer struct {
	Status  int
	Headers map[string]string
	Body    map[string]any
}

// responseKeys is each response shape's exact top-level keys, as the
// platform's own types (aws-lambda-go's events, FC's documented shape) marshal.
var responseKeys = map[Kind][]string{
	APIGatewayV1: {"body", "headers", "multiValueHeaders", "statusCode"},
	APIGatewayV2: {"body", "cookies", "headers", "multiValueHeaders", "statusCode"},
	FunctionURL:  {"body", "cookies", "headers", "isBase64Encoded", "statusCode"},
	FCHTTP:       {"body", "headers", "isBase64Encoded", "statusCode"},
}

func decodeHTTPAnswer(t testing.TB, kind Kind, payload []byte) httpAnswer {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(payload, &top); err != nil {
		t.Fatalf("response is not a JSON object: %s", payload)
	}
	var keys []string
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := responseKeys[kind]; strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("%s response keys = %v, want %v", kind, keys, want)
	}
	if b, ok := top["isBase64Encoded"]; ok && string(b) != "false" {
		t.Errorf("isBase64Encoded = %s", b)
	}
	var resp struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}
	if err := json.Unmarshal(payload, &resp); err != nil {
		t.Fatal(err)
	}
	a := httpAnswer{Status: resp.StatusCode, Headers: resp.Headers}
	if err := json.Unmarshal([]byte(resp.Body), &a.Body); err != nil {
		t.Fatalf("response body is not a JSON object: %q", resp.Body)
	}
	if ct := resp.Headers["Content-Type"]; ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	return a
}

// checkRefusalLogged asserts the trigger wrote exactly one line for the
// refusal, naming the request, the kind and the code, and nothing secret.
func checkRefusalLogged(t *testing.T, logs *logBuffer, kind Kind, code string) {
	t.Helper()
	lines := logs.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1: %v", len(lines), lines)
	}
	l := lines[0]
	if l["request_id"] != testRequestID || l["kind"] != string(kind) || l["code"] != code {
		t.Errorf("log line %v, want request_id %q kind %q code %q", l, testRequestID, kind, code)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if bytes.Contains(logs.buf.Bytes(), []byte(testSecret)) || bytes.Contains(logs.buf.Bytes(), []byte(testToken)) {
		t.Errorf("the log reveals the secret or the token")
	}
}

// rollout is an invocation whose instances have the given statuses.
func rollout(id string, maxErrors string, statuses ...string) cloudassistant.Invocation {
	inv := cloudassistant.Invocation{RegionId: "cn-hangzhou", InvokeId: id, CommandName: "rollout", RepeatMode: "Once"}
	if maxErrors != "" {
		inv.Tags.Tag = []cloudassistant.Tag{{TagKey: stopper.TagMaxErrors, TagValue: maxErrors}}
	}
	for i, st := range statuses {
		inv.InvokeInstances.InvokeInstance = append(inv.InvokeInstances.InvokeInstance,
			cloudassistant.InvokeInstance{InstanceId: fmt.Sprintf("i-%s%d", id[2:], i), InvocationStatus: st})
	}
	return inv
}

func failFastEnv(t *testing.T) *testEnv {
	env := newEnv(t)
	env.api.Unlisted = nil
	env.api.Fleet = []cloudassistant.Invocation{
		rollout(testInvokeID, "2", "Failed", "Failed", "Running", "Pending"),
		rollout("t-belowlimit1", "3", "Failed", "Pending"),
	}
	return env
}

// withError is a call's result with its error as the *stopper.Error a caller
// finds with errors.As; an error of another type comes back under a code no
// test expects.
func withError[T any](result T, err error) (T, *stopper.Error) {
	if err == nil {
		return result, nil
	}
	if e, ok := errors.AsType[*stopper.Error](err); ok {
		return result, e
	}
	return result, &stopper.Error{Code: "NotAnError", Message: err.Error()}
}
