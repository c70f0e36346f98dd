package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addSeeds adds every sample (testdata and the repository's events/), and
// each webhook shape signed, unsigned, base64-encoded and with bearer
// tokens (right and wrong for testToken), carrying a request, an
// Alertmanager payload or an EventBridge event or batch.
func addSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	events, _ := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	files = append(files, events...)
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range httpShapes {
		f.Add(s.event(f, signed(stopBody, 0)))
		c := signed(stopBody, 0)
		c.base64 = true
		f.Add(s.event(f, c))
		f.Add(s.event(f, webhookCall{method: "POST", body: stopBody, headers: map[string]string{"Content-Type": "application/json"}}))
		for _, auth := range []string{"Bearer " + testToken, "bearer " + testToken + " ", "Bearer  " + testToken, "Bearer " + testToken + ",Bearer x", "Basic " + testToken} {
			f.Add(s.event(f, withBearer(stopBody, auth)))
		}
		c = signed(stopBody, 0)
		c.headers["Authorization"] = "Bearer " + testToken
		f.Add(s.event(f, c))
		// Sweeps: the fuzz handlers have sweep regions, so these reach the
		// sweep path once authenticated.
		for _, sweep := range [][]byte{[]byte(`{"Action":"Sweep"}`), []byte(`{"Action":"Sweep","RegionIds":["cn-shanghai"],"OlderThan":"3h"}`)} {
			f.Add(s.event(f, signed(sweep, 0)))
			f.Add(s.event(f, withBearer(sweep, "Bearer "+testToken)))
			f.Add(s.event(f, webhookCall{method: "POST", body: sweep, headers: map[string]string{"Content-Type": "application/json"}}))
		}
		for _, body := range sourceBodies(f) {
			f.Add(s.event(f, withBearer(body, "Bearer "+testToken)))
			f.Add(s.event(f, withBearer(body, "Bearer "+strings.Repeat("x", len(testToken)))))
			f.Add(s.event(f, webhookCall{method: "POST", body: body, headers: map[string]string{"Content-Type": "application/json"}}))
		}
	}
	// The Alertmanager sample behind API Gateway with the token.
	if am, err := os.ReadFile(filepath.Join("..", "..", "events", "alertmanager-apigw-v2.json")); err == nil {
		var ev map[string]any
		if json.Unmarshal(am, &ev) == nil {
			ev["headers"].(map[string]any)["authorization"] = "Bearer " + testToken
			b, _ := json.Marshal(ev)
			f.Add(b)
		}
	}
	for _, s := range []string{"", "{}", "null", `"x"`, `{"a":[1,2,{"b":null}]}`, `{"\u0068ttpMethod":"POST","resource":"/","requestContext":{}}`,
		`{"version":"2.0","requestContext":{"http":{"method":"POST"}},"body":"e30=","isBase64Encoded":true}`} {
		f.Add([]byte(s))
	}
}

// FuzzDetect runs arbitrary payloads through Invoke: it never panics,
// always answers JSON in the detected kind's shape, and never stops
// anything for a webhook kind that is not authenticated: the secure
// handler's secret and token are in no seed, so nothing authenticates with
// it; the token handler's token is in the seeds, and it may stop only for
// an event whose one Authorization header is that token. The handlers
// have sweep regions and their API lists a stale invocation, so a sweep a
// payload asks for stops something (TestFuzzHandlersReachTheSweep).
func FuzzDetect(f *testing.F) {
	addSeeds(f)
	api := &sweepAPI{}
	secure := fuzzHandler(api, "fuzz-secret-in-no-seed", "fuzz-token-in-no-seed-0123456789abcdef")
	tokenAPI := &sweepAPI{}
	withToken := fuzzHandler(tokenAPI, "fuzz-secret-in-no-seed", testToken)
	insecure := fuzzHandler(&sweepAPI{}, "", "")
	insecure.Webhook.Insecure = true
	f.Fuzz(func(t *testing.T, payload []byte) {
		before := api.stops.Load()
		res, err := secure.Invoke(context.Background(), testRequestID, payload)
		if res.Kind != Detect(payload) {
			t.Fatalf("Invoke's kind %q, Detect's %q", res.Kind, Detect(payload))
		}
		if !json.Valid(res.Payload) {
			t.Fatalf("answer is not JSON: %q", res.Payload)
		}
		if res.Kind.IsWebhook() {
			if err != nil {
				t.Fatalf("webhook kinds answer every failure; got error %v", err)
			}
			if after := api.stops.Load(); after != before {
				t.Fatalf("an unsigned %s event stopped an invocation: %q", res.Kind, payload)
			}
			if res.Failure == nil || HTTPStatus(res.Failure) == 200 {
				t.Fatalf("an unsigned %s event was not refused", res.Kind)
			}
			checkResponseShape(t, res)
		} else if err != nil && (res.Failure == nil || !res.Failure.Transient) {
			t.Fatalf("error %v is not a transient failure", err)
		}

		before = tokenAPI.stops.Load()
		res, _ = withToken.Invoke(context.Background(), testRequestID, payload)
		if res.Kind.IsWebhook() && tokenAPI.stops.Load() != before && !carriesToken(payload, testToken) {
			t.Fatalf("a %s event without the token stopped an invocation: %q", res.Kind, payload)
		}

		res, _ = insecure.Invoke(context.Background(), testRequestID, payload)
		if !json.Valid(res.Payload) {
			t.Fatalf("insecure: answer is not JSON: %q", res.Payload)
		}
		if res.Kind.IsWebhook() {
			checkResponseShape(t, res)
		}
	})
}

// sourceBodies are the webhook bodies of senders that cannot sign: an
// Alertmanager payload, an EventBridge event and a batch of them.
func sourceBodies(f *testing.F) [][]byte {
	return [][]byte{[]byte(alertmanagerBody), readTestdata(f, "eventbridge-taskcompleted-event.json"), readTestdata(f, "eventbridge-taskcompleted-event-batch.json")}
}

func checkResponseShape(t *testing.T, res Result) {
	t.Helper()
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(res.Payload, &resp); err != nil || !json.Valid([]byte(resp.Body)) {
		t.Fatalf("%s response %q", res.Kind, res.Payload)
	}
	var body struct{ Results []json.RawMessage }
	if json.Unmarshal([]byte(resp.Body), &body) == nil && body.Results != nil {
		// A batch (Alertmanager alerts, EventBridge events) answers each
		// item: 200, or 503 when one failed transiently (so that the
		// sender retries); Failure is then its first failed item.
		if resp.StatusCode != 200 && (resp.StatusCode != 503 || res.Failure == nil) {
			t.Fatalf("batch status %d, want 200 or 503", resp.StatusCode)
		}
		return
	}
	want := 200
	if res.Failure != nil {
		want = HTTPStatus(res.Failure)
	}
	if resp.StatusCode != want {
		t.Fatalf("status %d, want %d", resp.StatusCode, want)
	}
}

// carriesToken is the fuzz oracle for bearer tokens, written without the
// trigger's JSON walker: the event's headers object holds exactly one
// Authorization header (in any case), and it is "Bearer " (scheme in any
// case) followed by the token, give or take surrounding white space.
func carriesToken(event []byte, token string) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(event, &top) != nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(top["headers"]))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	var values []string
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return false
		}
		var value any
		if dec.Decode(&value) != nil {
			return false
		}
		if k, _ := key.(string); strings.EqualFold(k, "authorization") {
			v, _ := value.(string)
			values = append(values, v)
		}
	}
	if len(values) != 1 {
		return false
	}
	v := strings.Trim(values[0], " \t")
	return len(v) > 7 && strings.EqualFold(v[:7], "bearer ") && v[7:] == token
}
