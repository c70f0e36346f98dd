package trigger

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// addSeeds adds every sample, and each webhook shape signed, unsigned and
// base64-encoded.
func addSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
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
	}
	for _, s := range []string{"", "{}", "null", `"x"`, `{"a":[1,2,{"b":null}]}`, `{"\u0068ttpMethod":"POST","resource":"/","requestContext":{}}`,
		`{"version":"2.0","requestContext":{"http":{"method":"POST"}},"body":"e30=","isBase64Encoded":true}`} {
		f.Add([]byte(s))
	}
}

// FuzzDetect runs arbitrary payloads through Invoke: it never panics,
// always answers JSON in the detected kind's shape, and never stops
// anything for a webhook kind without the secret's signature (the fuzz
// handler's secret is one no seed is signed with).
func FuzzDetect(f *testing.F) {
	addSeeds(f)
	api := &noopAPI{}
	discard := slog.New(slog.DiscardHandler)
	secure := &Handler{
		Function: &stopper.Function{API: api, RegionId: "cn-hangzhou", Log: discard},
		Webhook:  &webhook.Verifier{Secret: "fuzz-secret-in-no-seed", Now: func() time.Time { return testNow }},
		Log:      discard,
	}
	insecure := &Handler{
		Function: &stopper.Function{API: &noopAPI{}, RegionId: "cn-hangzhou", Log: discard},
		Webhook:  &webhook.Verifier{Insecure: true},
		Log:      discard,
	}
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
			if res.Failure == nil || res.Failure.Status == 200 {
				t.Fatalf("an unsigned %s event was not refused", res.Kind)
			}
			checkResponseShape(t, res)
		} else if err != nil && (res.Failure == nil || !res.Failure.Transient) {
			t.Fatalf("error %v is not a transient failure", err)
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

func checkResponseShape(t *testing.T, res Result) {
	t.Helper()
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(res.Payload, &resp); err != nil || !json.Valid([]byte(resp.Body)) {
		t.Fatalf("%s response %q", res.Kind, res.Payload)
	}
	want := 200
	if res.Failure != nil {
		want = res.Failure.Status
	}
	if resp.StatusCode != want {
		t.Fatalf("status %d, want %d", resp.StatusCode, want)
	}
}
