package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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

// FuzzScan holds the JSON walker to encoding/json: it accepts exactly what
// json.Valid accepts (up to its depth bound), and finds the same members
// and string values as decoding into map[string]json.RawMessage does.
func FuzzScan(f *testing.F) {
	addSeeds(f)
	for _, s := range []string{`{"a":1e5,"b":-0.5E-3,"c":"\ud83d\ude00","d":[true,false,null]}`, `{"a":"\u00"}`, `[01]`, `{"a" : 1 , }`, "{\"a\":\"\x01\"}", `{"a":1}x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ok := walkerValid(data)
		want := json.Valid(data)
		if ok && !want {
			t.Fatalf("walker accepts invalid JSON %q", data)
		}
		if !ok && want && nesting(data) <= maxDepth {
			t.Fatalf("walker refuses valid JSON %q", data)
		}
		if !ok {
			return
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(data, &fields) != nil || fields == nil {
			return // not an object
		}
		m, _ := objectMembers(data, 0)
		got := map[string][]byte{}
		for m.next() {
			got[string(m.key)] = m.value
		}
		if m.invalid() {
			t.Fatalf("walker failed on a valid object %q", data)
		}
		for k, v := range fields {
			if strings.ContainsRune(k, utf8.RuneError) {
				continue // encoding/json replaces invalid UTF-8 in keys; probed keys are ASCII
			}
			if !bytes.Equal(bytes.TrimSpace(got[k]), bytes.TrimSpace(v)) {
				t.Fatalf("key %q: walker %q, encoding/json %q", k, got[k], v)
			}
			var s string
			// encoding/json replaces invalid UTF-8 in strings; the walker keeps the bytes.
			if json.Unmarshal(v, &s) == nil && utf8.Valid(got[k]) {
				u, ok := unquote(got[k])
				if !ok || string(u) != s {
					t.Fatalf("key %q: unquote %q, encoding/json %q", k, u, s)
				}
			}
		}
		if len(got) != len(fields) {
			for k := range got {
				if utf8.ValidString(k) && !strings.ContainsRune(k, utf8.RuneError) {
					if _, ok := fields[k]; !ok {
						t.Fatalf("walker found key %q encoding/json did not", k)
					}
				}
			}
		}
	})
}

// walkerValid is json.Valid done by the walker.
func walkerValid(data []byte) bool {
	i := skipSpace(data, 0)
	end, ok := skipValue(data, i, 0)
	return ok && skipSpace(data, end) == len(data)
}

// nesting is data's deepest nesting, counting brackets outside strings.
func nesting(data []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
