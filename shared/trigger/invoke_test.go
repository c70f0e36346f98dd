package trigger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/fakeapi"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

func TestWebhookSignedStop(t *testing.T) {
	for _, s := range httpShapes {
		t.Run(string(s.kind), func(t *testing.T) {
			env := newEnv(t)
			res, err := env.handler.Invoke(context.Background(), testRequestID, s.event(t, signed(stopBody, 0)))
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != s.kind || res.Failure != nil {
				t.Fatalf("Kind %q Failure %v", res.Kind, res.Failure)
			}
			a := decodeHTTPAnswer(t, s.kind, res.Payload)
			want := map[string]any{"RequestId": testRequestID, "Action": "StopInvocation", "RegionId": "cn-hangzhou",
				"InvokeId": testInvokeID, "InstanceIds": []any{"i-bp1abc"}, "DryRun": false,
				"CommandName": "backup", "Pending": 0.0, "Running": 1.0, "Stopped": true}
			if a.Status != 200 || !reflect.DeepEqual(a.Body, want) {
				t.Errorf("answer %d %v, want 200 %v", a.Status, a.Body, want)
			}
			if _, ok := a.Headers["Allow"]; ok {
				t.Errorf("Allow header on a success")
			}
			wantStops := []fakeapi.Stop{{RegionID: "cn-hangzhou", InvokeID: testInvokeID, InstanceIDs: []string{"i-bp1abc"}}}
			if got := env.api.Stops(); !reflect.DeepEqual(got, wantStops) {
				t.Errorf("stops %v, want %v", got, wantStops)
			}
		})
	}
}

// TestWebhookRefusals runs every refusal through every webhook shape: the
// status and code, the request id, one log line, and nothing stopped.
func TestWebhookRefusals(t *testing.T) {
	big := make([]byte, MaxBodyBytes+1)
	for i := range big {
		big[i] = ' '
	}
	copy(big, `{"InvokeId":"`+testInvokeID+`"}`)
	withHeader := func(c webhookCall, k, v string) webhookCall {
		h := map[string]string{}
		for hk, hv := range c.headers {
			h[hk] = hv
		}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		c.headers = h
		return c
	}
	valid := signed(stopBody, 0)
	tests := []struct {
		name   string
		call   webhookCall
		status int
		code   string
		// inCore is set when the refusal comes from the core (which logs it), not the trigger.
		inCore bool
	}{
		{name: "GET", call: webhookCall{method: "GET", headers: valid.headers, body: stopBody}, status: 405, code: "MethodNotAllowed"},
		{name: "PUT", call: webhookCall{method: "PUT", headers: valid.headers, body: stopBody}, status: 405, code: "MethodNotAllowed"},
		{name: "lower-case post", call: webhookCall{method: "post", headers: valid.headers, body: stopBody}, status: 405, code: "MethodNotAllowed"},
		{name: "over 1 MiB", call: signed(big, 0), status: 413, code: "PayloadTooLarge"},
		{name: "over 1 MiB in base64", call: func() webhookCall { c := signed(big, 0); c.base64 = true; return c }(), status: 413, code: "PayloadTooLarge"},
		{name: "text/plain", call: withHeader(valid, "Content-Type", "text/plain"), status: 415, code: "UnsupportedMediaType"},
		{name: "no Content-Type", call: withHeader(valid, "Content-Type", ""), status: 415, code: "UnsupportedMediaType"},
		{name: "form", call: withHeader(valid, "Content-Type", "application/x-www-form-urlencoded"), status: 415, code: "UnsupportedMediaType"},
		{name: "no signature", call: withHeader(valid, "X-Stopper-Signature", ""), status: 401, code: "InvalidSignature"},
		{name: "no timestamp", call: withHeader(valid, "X-Stopper-Timestamp", ""), status: 401, code: "InvalidSignature"},
		{name: "no signature headers", call: withHeader(withHeader(valid, "X-Stopper-Signature", ""), "X-Stopper-Timestamp", ""), status: 401, code: "InvalidSignature"},
		{name: "wrong signature", call: withHeader(valid, "X-Stopper-Signature", "sha256="+strings.Repeat("ab", 32)), status: 401, code: "InvalidSignature"},
		{name: "signed with another secret", call: func() webhookCall {
			ts, sig := webhook.Sign("another-secret", testNow, stopBody)
			return withHeader(withHeader(valid, "X-Stopper-Timestamp", ts), "X-Stopper-Signature", sig)
		}(), status: 401, code: "InvalidSignature"},
		{name: "stale", call: signed(stopBody, -301*time.Second), status: 401, code: "InvalidSignature"},
		{name: "future", call: signed(stopBody, 301*time.Second), status: 401, code: "InvalidSignature"},
		{name: "body changed after signing", call: func() webhookCall {
			c := signed(stopBody, 0)
			c.body = []byte(strings.Replace(string(stopBody), "i-bp1abc", "i-bp1xyz", 1))
			return c
		}(), status: 401, code: "InvalidSignature"},
		{name: "malformed signature", call: withHeader(valid, "X-Stopper-Signature", "deadbeef"), status: 401, code: "InvalidSignature"},
	}
	for _, b := range badBearers {
		tests = append(tests, struct {
			name   string
			call   webhookCall
			status int
			code   string
			inCore bool
		}{name: b.name, call: b.call(stopBody), status: 401, code: "InvalidSignature"})
	}
	for _, b := range badSignedBodies {
		tests = append(tests, struct {
			name   string
			call   webhookCall
			status int
			code   string
			inCore bool
		}{name: "signed " + b.name, call: signed([]byte(b.body), 0), status: b.status, code: b.code, inCore: b.inCore},
			struct {
				name   string
				call   webhookCall
				status int
				code   string
				inCore bool
			}{name: "bearer " + b.name, call: withBearer([]byte(b.body), "Bearer "+testToken), status: b.status, code: b.code, inCore: b.inCore})
	}
	for _, s := range httpShapes {
		for _, tt := range tests {
			t.Run(string(s.kind)+"/"+tt.name, func(t *testing.T) {
				env := newEnv(t)
				env.handler.Function.AllowedRegions = []string{"cn-hangzhou"}
				res, err := env.handler.Invoke(context.Background(), testRequestID, s.event(t, tt.call))
				if err != nil {
					t.Fatalf("Invoke error %v: permanent refusals are answers", err)
				}
				checkRefused(t, s.kind, res, tt.status, tt.code)
				if got := env.api.Stops(); len(got) != 0 {
					t.Errorf("refused request stopped %v", got)
				}
				if !tt.inCore {
					checkRefusalLogged(t, env.logs, s.kind, tt.code)
				} else if n := len(env.logs.lines(t)); n != 1 {
					t.Errorf("%d log lines, want the core's one", n)
				}
			})
		}
	}
}

// badBearers are requests with a bearer token that must not get through,
// whatever else they carry: every webhook path refuses each 401
// InvalidSignature and stops nothing.
var badBearers = []struct {
	name string
	call func(body []byte) webhookCall
}{
	{"wrong token", func(b []byte) webhookCall { return withBearer(b, "Bearer "+strings.Repeat("x", len(testToken))) }},
	{"token one character short", func(b []byte) webhookCall { return withBearer(b, "Bearer "+testToken[:len(testToken)-1]) }},
	{"token in another case", func(b []byte) webhookCall { return withBearer(b, "Bearer "+strings.ToUpper(testToken)) }},
	{"scheme without a token", func(b []byte) webhookCall { return withBearer(b, "Bearer") }},
	{"two spaces before the token", func(b []byte) webhookCall { return withBearer(b, "Bearer  "+testToken) }},
	{"token sent twice, joined", func(b []byte) webhookCall { return withBearer(b, "Bearer "+testToken+",Bearer "+testToken) }},
	{"the secret as the token", func(b []byte) webhookCall { return withBearer(b, "Bearer "+testSecret) }},
	{"Basic credentials", func(b []byte) webhookCall { return withBearer(b, "Basic dXNlcjpwYXNzd29yZA==") }},
	{"the token without a scheme", func(b []byte) webhookCall { return withBearer(b, testToken) }},
	{"wrong token beside a right signature", func(b []byte) webhookCall {
		c := signed(b, 0)
		c.headers["Authorization"] = "Bearer " + strings.Repeat("x", len(testToken))
		return c
	}},
	{"right token beside a wrong signature", func(b []byte) webhookCall {
		c := signed(b, 0)
		c.headers["Authorization"] = "Bearer " + testToken
		c.headers["X-Stopper-Signature"] = "sha256=" + strings.Repeat("ab", 32)
		return c
	}},
	{"right token beside a stale signature", func(b []byte) webhookCall {
		c := signed(b, -time.Hour)
		c.headers["Authorization"] = "Bearer " + testToken
		return c
	}},
}

// badSignedBodies are well-signed webhooks whose request is bad: every
// webhook path must refuse each with its code and stop nothing.
var badSignedBodies = []struct {
	name, body string
	status     int
	code       string
	inCore     bool // refused by the core (which logs it), not the trigger
}{
	{"invalid JSON", `{"InvokeId":`, 400, "InvalidParameter", false},
	{"empty body", ``, 400, "InvalidParameter", false},
	{"not an object", `["` + testInvokeID + `"]`, 400, "InvalidParameter", false},
	{"a string", `"` + testInvokeID + `"`, 400, "InvalidParameter", false},
	{"nested too deep", `{"InvokeId":"` + testInvokeID + `","InstanceIds":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`, 400, "InvalidParameter", false},
	{"unknown field", `{"InvokeId":"` + testInvokeID + `","invokeid":"t-x"}`, 400, "InvalidParameter", false},
	{"field in another case", `{"invokeId":"` + testInvokeID + `"}`, 400, "InvalidParameter", false},
	{"unknown Action", `{"Action":"RunCommand","InvokeId":"` + testInvokeID + `"}`, 400, "InvalidParameter", false},
	{"without InvokeId", `{"RegionId":"cn-hangzhou"}`, 400, "MissingParameter.InvokeId", false},
	{"invoke id of the wrong form", `{"InvokeId":"1fad2a8876de47068cc734d57703aa76"}`, 400, "InvalidParameter", false},
	{"invoke id with symbols", `{"InvokeId":"t-1fad/../x"}`, 400, "InvalidParameter", false},
	{"instance id of the wrong form", `{"InvokeId":"` + testInvokeID + `","InstanceIds":["i-bp1abc","vm-1"]}`, 400, "InvalidParameter", false},
	{"region id of the wrong form", `{"RegionId":"CN","InvokeId":"` + testInvokeID + `"}`, 400, "InvalidParameter", false},
	{"sweep with a bad duration", `{"Action":"Sweep","OlderThan":"two hours"}`, 400, "InvalidParameter", false},
	{"region outside the allowlist", `{"RegionId":"us-east-1","InvokeId":"` + testInvokeID + `"}`, 403, "Forbidden.Region", true},
}

func checkRefused(t *testing.T, kind Kind, res Result, status int, code string) {
	t.Helper()
	if res.Kind != kind {
		t.Errorf("Kind = %q, want %q", res.Kind, kind)
	}
	if res.Failure == nil || res.Failure.Code != code || HTTPStatus(res.Failure) != status {
		t.Errorf("Failure = %+v, want %d %s", res.Failure, status, code)
	}
	a := decodeHTTPAnswer(t, kind, res.Payload)
	if a.Status != status || a.Body["Code"] != code || a.Body["RequestId"] != testRequestID || a.Body["Message"] == "" {
		t.Errorf("answer %d %v, want %d %s with RequestId %s", a.Status, a.Body, status, code, testRequestID)
	}
	if len(a.Body) != 3 {
		t.Errorf("error body %v, want exactly RequestId, Code, Message", a.Body)
	}
	if _, allow := a.Headers["Allow"]; allow != (status == 405) {
		t.Errorf("headers %v: Allow must be set exactly on 405", a.Headers)
	}
	if strings.Contains(string(res.Payload), testSecret) || strings.Contains(string(res.Payload), testToken) {
		t.Errorf("answer reveals the secret or the token")
	}
}

func TestWebhookHeaderNamesAnyCase(t *testing.T) {
	spellings := []map[string]string{
		{"content-type": "application/json", "x-stopper-timestamp": "", "x-stopper-signature": ""},
		{"Content-Type": "application/json", "X-Stopper-Timestamp": "", "X-Stopper-Signature": ""},
		{"CONTENT-TYPE": "application/json; charset=utf-8", "X-STOPPER-TIMESTAMP": "", "x-Stopper-signature": ""},
	}
	ts, sig := webhook.Sign(testSecret, testNow, stopBody)
	for _, s := range httpShapes {
		for _, names := range spellings {
			headers := map[string]string{}
			for k, v := range names {
				switch {
				case strings.EqualFold(k, webhook.TimestampHeader):
					v = ts
				case strings.EqualFold(k, webhook.SignatureHeader):
					v = sig
				}
				headers[k] = v
			}
			// Keep the spelling: this shape's platform is not the one lower-casing here.
			shape := s
			shape.lowerCaseHeaders = false
			env := newEnv(t)
			res, err := env.handler.Invoke(context.Background(), testRequestID,
				shape.event(t, webhookCall{method: "POST", headers: headers, body: stopBody}))
			if err != nil || res.Failure != nil {
				t.Errorf("%s %v: err %v failure %v", s.kind, names, err, res.Failure)
			}
			if len(env.api.Stops()) != 1 {
				t.Errorf("%s %v: not stopped", s.kind, names)
			}
		}
		for _, name := range []string{"authorization", "Authorization", "AUTHORIZATION", "aUTHORIZATION"} {
			shape := s
			shape.lowerCaseHeaders = false
			env := newEnv(t)
			res, err := env.handler.Invoke(context.Background(), testRequestID, shape.event(t, webhookCall{method: "POST", body: stopBody,
				headers: map[string]string{"Content-Type": "application/json", name: "Bearer " + testToken}}))
			if err != nil || res.Failure != nil || len(env.api.Stops()) != 1 {
				t.Errorf("%s %s: err %v failure %v stops %v", s.kind, name, err, res.Failure, env.api.Stops())
			}
		}
	}
}

func TestWebhookHeaderUnderTwoSpellingsIsRefused(t *testing.T) {
	ts, sig := webhook.Sign(testSecret, testNow, stopBody)
	_, other := webhook.Sign("x", testNow, stopBody)
	for name, headers := range map[string]map[string]string{
		"signature":                 {"Content-Type": "application/json", "X-Stopper-Timestamp": ts, "X-Stopper-Signature": sig, "x-stopper-signature": other},
		"authorization, both right": {"Content-Type": "application/json", "Authorization": "Bearer " + testToken, "authorization": "Bearer " + testToken},
		"authorization, one wrong":  {"Content-Type": "application/json", "Authorization": "Bearer " + testToken, "AUTHORIZATION": "Bearer x"},
	} {
		t.Run(name, func(t *testing.T) {
			shape := httpShapes[0] // v1 keeps the client's spelling
			shape.lowerCaseHeaders = false
			for _, s := range []httpShape{shape, {FCHTTP, "fc-http-request.json", false}} {
				env := newEnv(t)
				res, _ := env.handler.Invoke(context.Background(), testRequestID, s.event(t, webhookCall{method: "POST", body: stopBody, headers: headers}))
				checkRefused(t, s.kind, res, 401, "InvalidSignature")
				if len(env.api.Stops()) != 0 {
					t.Errorf("%s: an ambiguous credential stopped %v", s.kind, env.api.Stops())
				}
			}
		})
	}
}

// TestWebhookBearer: a sender that cannot sign authenticates with the
// token, on every webhook path; without a configured token the header is
// not a credential.
func TestWebhookBearer(t *testing.T) {
	tests := []struct {
		name          string
		token         string // the function's; "" unset
		authorization string
		signedToo     bool
		stopped       bool
		message       string // of the refusal
	}{
		{name: "right token", token: testToken, authorization: "Bearer " + testToken, stopped: true},
		{name: "scheme in lower case", token: testToken, authorization: "bearer " + testToken, stopped: true},
		{name: "right token and right signature", token: testToken, authorization: "Bearer " + testToken, signedToo: true, stopped: true},
		{name: "wrong token", token: testToken, authorization: "Bearer " + strings.Repeat("y", 40), message: "bearer token does not match"},
		{name: "wrong token beside a right signature", token: testToken, authorization: "Bearer " + strings.Repeat("y", 40), signedToo: true, message: "bearer token does not match"},
		{name: "token unset: bearer ignored, unsigned", authorization: "Bearer " + testToken, message: "no webhook token configured"},
		{name: "token unset: bearer ignored, signed", authorization: "Bearer " + strings.Repeat("y", 40), signedToo: true, stopped: true},
	}
	for _, s := range httpShapes {
		for _, tt := range tests {
			t.Run(string(s.kind)+"/"+tt.name, func(t *testing.T) {
				env := newEnv(t)
				env.handler.Webhook.Token = tt.token
				call := withBearer(stopBody, tt.authorization)
				if tt.signedToo {
					call = signed(stopBody, 0)
					call.headers["Authorization"] = tt.authorization
				}
				res, err := env.handler.Invoke(context.Background(), testRequestID, s.event(t, call))
				if err != nil {
					t.Fatal(err)
				}
				if got := len(env.api.Stops()) == 1; got != tt.stopped {
					t.Fatalf("stopped = %v, want %v (failure %v)", got, tt.stopped, res.Failure)
				}
				if tt.stopped {
					if res.Failure != nil {
						t.Errorf("failure %v", res.Failure)
					}
					return
				}
				checkRefused(t, s.kind, res, 401, "InvalidSignature")
				checkRefusalLogged(t, env.logs, s.kind, "InvalidSignature")
				if !strings.Contains(res.Failure.Message, tt.message) {
					t.Errorf("message %q does not say %q", res.Failure.Message, tt.message)
				}
			})
		}
	}
}

// TestWebhookReplay: a signed request is accepted once by a function
// instance, on every webhook path; a bearer token may be sent again.
func TestWebhookReplay(t *testing.T) {
	for _, s := range httpShapes {
		t.Run(string(s.kind), func(t *testing.T) {
			env := newEnv(t)
			event := s.event(t, signed(stopBody, 0))
			if res, _ := env.handler.Invoke(context.Background(), testRequestID, event); res.Failure != nil {
				t.Fatalf("first use: %v", res.Failure)
			}
			res, _ := env.handler.Invoke(context.Background(), testRequestID, event)
			checkRefused(t, s.kind, res, 401, "InvalidSignature")
			if !strings.Contains(res.Failure.Message, "already used") {
				t.Errorf("message %q does not say the signature was used", res.Failure.Message)
			}
			if n := len(env.api.Stops()); n != 1 {
				t.Errorf("%d stops, want 1", n)
			}

			bearer := s.event(t, withBearer(stopBody, "Bearer "+testToken))
			for range 2 {
				if res, _ := env.handler.Invoke(context.Background(), testRequestID, bearer); res.Failure != nil {
					t.Fatalf("bearer: %v", res.Failure)
				}
			}
		})
	}
}

func TestWebhookBase64Body(t *testing.T) {
	for _, s := range httpShapes {
		t.Run(string(s.kind), func(t *testing.T) {
			env := newEnv(t)
			c := signed(stopBody, 0)
			c.base64 = true
			res, err := env.handler.Invoke(context.Background(), testRequestID, s.event(t, c))
			if err != nil || res.Failure != nil {
				t.Fatalf("err %v failure %v", err, res.Failure)
			}
			if len(env.api.Stops()) != 1 {
				t.Errorf("not stopped")
			}

			env = newEnv(t)
			var ev map[string]any
			if err := json.Unmarshal(s.event(t, c), &ev); err != nil {
				t.Fatal(err)
			}
			ev["body"] = "not base64!"
			bad, _ := json.Marshal(ev)
			res, _ = env.handler.Invoke(context.Background(), testRequestID, bad)
			checkRefused(t, s.kind, res, 400, "InvalidParameter")
			if !strings.Contains(res.Failure.Message, "body") || len(env.api.Stops()) != 0 {
				t.Errorf("Failure %v, stops %v", res.Failure, env.api.Stops())
			}
		})
	}
}

func TestWebhookInsecureAndUnconfigured(t *testing.T) {
	unsigned := webhookCall{method: "POST", body: stopBody, headers: map[string]string{"Content-Type": "application/json"}}
	tests := []struct {
		name     string
		verifier *webhook.Verifier
		stopped  bool
	}{
		{"insecure without secret", &webhook.Verifier{Insecure: true}, true},
		{"no secret", &webhook.Verifier{}, false},
		{"no verifier", nil, false},
		{"insecure with a secret still checks", &webhook.Verifier{Secret: testSecret, Insecure: true}, false},
		{"insecure with a token still checks", &webhook.Verifier{Token: testToken, Insecure: true}, false},
		{"token only", &webhook.Verifier{Token: testToken}, false},
	}
	for _, s := range httpShapes {
		for _, tt := range tests {
			t.Run(string(s.kind)+"/"+tt.name, func(t *testing.T) {
				env := newEnv(t)
				env.handler.Webhook = tt.verifier
				res, err := env.handler.Invoke(context.Background(), testRequestID, s.event(t, unsigned))
				if err != nil {
					t.Fatal(err)
				}
				if got := len(env.api.Stops()) == 1; got != tt.stopped {
					t.Fatalf("stopped = %v, want %v (failure %v)", got, tt.stopped, res.Failure)
				}
				if !tt.stopped {
					checkRefused(t, s.kind, res, 401, "InvalidSignature")
				}
			})
		}
	}
}

func TestWebhookCoreFailures(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"not found", &cloudassistant.Error{Code: "InvalidInvokeId.NotFound", Message: "no such invocation", HTTPStatus: 404}, 404, "InvalidInvokeId.NotFound"},
		{"throttled", &cloudassistant.Error{Code: "Throttling.User", Message: "slow down", HTTPStatus: 400}, 503, "Throttling.User"},
		{"upstream fault", &cloudassistant.Error{Code: "ServiceUnavailable", Message: "down", HTTPStatus: 503}, 503, "ServiceUnavailable"},
		{"unreachable", errors.New("dial tcp: connection refused"), 503, "ServiceUnavailable"},
	}
	for _, s := range httpShapes {
		for _, tt := range tests {
			t.Run(string(s.kind)+"/"+tt.name, func(t *testing.T) {
				env := newEnv(t)
				env.api.StopErr[testInvokeID] = tt.err
				res, err := env.handler.Invoke(context.Background(), testRequestID, s.event(t, signed(stopBody, 0)))
				// Webhooks answer even transient failures: the caller needs a status.
				if err != nil {
					t.Fatalf("Invoke error %v on a webhook", err)
				}
				a := decodeHTTPAnswer(t, s.kind, res.Payload)
				if a.Status != tt.status || a.Body["Code"] != tt.code || a.Body["RequestId"] != testRequestID {
					t.Errorf("answer %d %v, want %d %s", a.Status, a.Body, tt.status, tt.code)
				}
				if res.Failure == nil || res.Failure.Code != tt.code {
					t.Errorf("Failure = %v", res.Failure)
				}
			})
		}
	}
}

func TestDirectAndTimers(t *testing.T) {
	tests := []struct {
		file  string
		kind  Kind
		stops []fakeapi.Stop
		// code is the failure's code; "" means success.
		code    string
		mention string // the failure message names this field
	}{
		{file: "direct-stop-request.json", kind: Direct, stops: []fakeapi.Stop{{RegionID: "cn-hangzhou", InvokeID: testInvokeID, InstanceIDs: []string{"i-bp1abc", "i-bp1def"}}}},
		{file: "fc-timer-event-stop.json", kind: FCTimer, stops: []fakeapi.Stop{{RegionID: "cn-hangzhou", InvokeID: testInvokeID, InstanceIDs: []string{"i-bp1abc", "i-bp1def"}}}},
		{file: "fc-timer-event.json", kind: FCTimer, code: "InvalidParameter", mention: "payload"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			env := newEnv(t)
			res, err := env.handler.Invoke(context.Background(), testRequestID, readTestdata(t, tt.file))
			if err != nil {
				t.Fatalf("Invoke error %v", err)
			}
			if res.Kind != tt.kind {
				t.Errorf("Kind = %q, want %q", res.Kind, tt.kind)
			}
			var answer map[string]any
			if err := json.Unmarshal(res.Payload, &answer); err != nil {
				t.Fatalf("answer is not JSON: %s", res.Payload)
			}
			if answer["RequestId"] != testRequestID {
				t.Errorf("answer %v lacks RequestId %s", answer, testRequestID)
			}
			if got := env.api.Stops(); !reflect.DeepEqual(got, tt.stops) {
				t.Errorf("stops %v, want %v", got, tt.stops)
			}
			if tt.code == "" {
				if res.Failure != nil || answer["Action"] != "StopInvocation" {
					t.Errorf("failure %v answer %v", res.Failure, answer)
				}
				return
			}
			if res.Failure == nil || res.Failure.Code != tt.code || answer["Code"] != tt.code {
				t.Fatalf("failure %v answer %v, want %s", res.Failure, answer, tt.code)
			}
			if !strings.HasPrefix(res.Failure.Message, tt.mention) {
				t.Errorf("message %q does not name %s", res.Failure.Message, tt.mention)
			}
			checkRefusalLogged(t, env.logs, tt.kind, tt.code)
		})
	}
}

// TestScheduledRequests checks the request each schedule asks the core for.
// (The sweep itself is the core's: here only what reaches it.)
func TestScheduledRequests(t *testing.T) {
	yes := true
	tests := []struct {
		file string
		want stopper.Request
		code string
	}{
		{"eventbridge-scheduled-event.json", stopper.Request{Sweep: &stopper.SweepRequest{}}, ""},
		{"fc-timer-event-empty.json", stopper.Request{Sweep: &stopper.SweepRequest{}}, ""},
		{"fc-timer-event-sweep.json", stopper.Request{Sweep: &stopper.SweepRequest{RegionIds: []string{"cn-hangzhou"}, OlderThan: 2 * time.Hour, DryRun: &yes}}, ""},
		{"fc-timer-event-stop.json", stopper.Request{Stop: &stopper.StopRequest{RegionId: "cn-hangzhou", InvokeId: testInvokeID, InstanceIds: []string{"i-bp1abc", "i-bp1def"}}}, ""},
		{"fc-timer-event.json", stopper.Request{}, "InvalidParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := scheduleRequest(t, readTestdata(t, tt.file))
			if tt.code != "" {
				if err == nil || err.Code != tt.code {
					t.Fatalf("err %v, want %s", err, tt.code)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("request %+v (err %v), want %+v", got, err, tt.want)
			}
		})
	}
}

// scheduleRequest is the request a schedule's event decodes to.
func scheduleRequest(t *testing.T, payload []byte) (stopper.Request, *stopper.Error) {
	t.Helper()
	switch k := Detect(payload); k {
	case FCTimer:
		return withError(timerRequest(payload))
	case EventBridgeSchedule:
		return withError(scheduledEventRequest(payload))
	default:
		t.Fatalf("%s is no schedule's event", k)
		return stopper.Request{}, nil
	}
}

func TestTimerPayloads(t *testing.T) {
	tests := []struct {
		payload string
		sweep   bool
		code    string
	}{
		{`""`, true, ""},
		{`"  "`, true, ""},
		{`null`, true, ""},
		{`"{\"Action\":\"Sweep\"}"`, true, ""},
		{`"{\"InvokeId\":\"` + testInvokeID + `\"}"`, false, ""},
		{`"[1]"`, false, "InvalidParameter"},
		{`"123"`, false, "InvalidParameter"},
		{`"{\"InvokeId\":"`, false, "InvalidParameter"},
		{`"{\"invokeid\":\"t-a\"}"`, false, "InvalidParameter"},
		{`"{}"`, false, "MissingParameter.InvokeId"},
		{`{"Action":"Sweep"}`, false, "InvalidParameter"},
		{`42`, false, "InvalidParameter"},
		{"", true, ""}, // no payload key at all: FC omits it when none is configured
	}
	for _, tt := range tests {
		payload := []byte(`{"triggerTime":"2026-11-26T07:00:00Z","triggerName":"t","payload":` + tt.payload + `}`)
		if tt.payload == "" {
			payload = []byte(`{"triggerTime":"2026-11-26T07:00:00Z","triggerName":"t"}`)
		}
		if k := Detect(payload); k != FCTimer {
			t.Fatalf("%s: kind %s", tt.payload, k)
		}
		req, err := withError(timerRequest(payload))
		switch {
		case tt.code != "":
			if err == nil || err.Code != tt.code {
				t.Errorf("payload %s: err %v, want %s", tt.payload, err, tt.code)
			}
		case err != nil:
			t.Errorf("payload %s: %v", tt.payload, err)
		case (req.Sweep != nil) != tt.sweep:
			t.Errorf("payload %s: request %+v", tt.payload, req)
		}
	}
}

func TestSweepEventsReachTheCore(t *testing.T) {
	for _, file := range []string{"eventbridge-scheduled-event.json", "fc-timer-event-empty.json", "fc-timer-event-sweep.json", "direct-sweep-request.json"} {
		t.Run(file, func(t *testing.T) {
			env := newEnv(t)
			res, err := env.handler.Invoke(context.Background(), testRequestID, readTestdata(t, file))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range env.logs.lines(t) {
				if l["msg"] == "refused" {
					t.Errorf("refused by the trigger: %v", l)
				}
			}
			var answer map[string]any
			if err := json.Unmarshal(res.Payload, &answer); err != nil || answer["RequestId"] != testRequestID {
				t.Errorf("answer %s lacks the request id", res.Payload)
			}
			if res.Failure == nil && answer["Action"] != "Sweep" {
				t.Errorf("answer %s is not a sweep's", res.Payload)
			}
			if len(env.api.Stops()) != 0 {
				t.Errorf("a sweep over an empty fleet stopped %v", env.api.Stops())
			}
		})
	}
}

func TestDirectEdgeCases(t *testing.T) {
	tests := []struct {
		name, payload string
		code          string
	}{
		{"empty", "", "InvalidParameter"},
		{"whitespace", " \n", "InvalidParameter"},
		{"empty object", "{}", "MissingParameter.InvokeId"},
		{"not JSON", "stop it", "InvalidParameter"},
		{"string", `"t-abc"`, "InvalidParameter"},
		{"other EventBridge event", `{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}`, "InvalidParameter"},
		{"deep", `{"InvokeId":"t-abc","InstanceIds":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "InvalidParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			res, err := env.handler.Invoke(context.Background(), testRequestID, []byte(tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != Direct || res.Failure == nil || res.Failure.Code != tt.code {
				t.Fatalf("kind %s failure %v, want %s", res.Kind, res.Failure, tt.code)
			}
			var answer stopper.ErrorAnswer
			if err := json.Unmarshal(res.Payload, &answer); err != nil || answer.RequestId != testRequestID || answer.Code != tt.code {
				t.Errorf("answer %s", res.Payload)
			}
			checkRefusalLogged(t, env.logs, Direct, tt.code)
		})
	}
}

func TestDirectFailures(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		transient bool
		code      string
	}{
		{"not found is an answer", &cloudassistant.Error{Code: "InvalidInvokeId.NotFound", HTTPStatus: 404}, false, "InvalidInvokeId.NotFound"},
		{"throttling is a function error", &cloudassistant.Error{Code: "Throttling", HTTPStatus: 400}, true, "Throttling"},
		{"5xx is a function error", &cloudassistant.Error{Code: "InternalError", HTTPStatus: 500}, true, "InternalError"},
		{"unreachable is a function error", errors.New("connection reset"), true, "ServiceUnavailable"},
	}
	for _, file := range []string{"direct-stop-request.json", "fc-timer-event-stop.json"} {
		for _, tt := range tests {
			t.Run(file+"/"+tt.name, func(t *testing.T) {
				env := newEnv(t)
				env.api.StopErr[testInvokeID] = tt.err
				res, err := env.handler.Invoke(context.Background(), testRequestID, readTestdata(t, file))
				if (err != nil) != tt.transient {
					t.Fatalf("Invoke error %v, want transient=%v", err, tt.transient)
				}
				if tt.transient {
					var e *stopper.Error
					if !errors.As(err, &e) || !e.Transient || e.Code != tt.code {
						t.Errorf("error %#v", err)
					}
				}
				if res.Failure == nil || res.Failure.Code != tt.code {
					t.Errorf("Failure %v", res.Failure)
				}
				var answer stopper.ErrorAnswer
				if err := json.Unmarshal(res.Payload, &answer); err != nil || answer.RequestId != testRequestID || answer.Code != tt.code {
					t.Errorf("answer %s", res.Payload)
				}
			})
		}
	}
}

func TestInvokeNilErrorIsUntyped(t *testing.T) {
	env := newEnv(t)
	_, err := env.handler.Invoke(context.Background(), testRequestID, readTestdata(t, "direct-stop-request.json"))
	if err != nil {
		t.Fatalf("err = %#v, want a plain nil (a typed nil would read as a failure)", err)
	}
}

func TestFor(t *testing.T) {
	env := newEnv(t)
	other := newAPI()
	h := env.handler.For(other, "")
	if _, err := h.Invoke(context.Background(), testRequestID, readTestdata(t, "direct-stop-request.json")); err != nil {
		t.Fatal(err)
	}
	if len(other.Stops()) != 1 || len(env.api.Stops()) != 0 {
		t.Errorf("For: the copy must call its own API and leave the original alone")
	}
	if env.handler.Function.API != env.api {
		t.Errorf("For changed the original")
	}

	// The invocation's region is the default only when none is configured.
	env.handler.Function.RegionId, env.handler.Function.Sweep.RegionIds = "", nil
	if f := env.handler.For(nil, "cn-beijing").Function; f.RegionId != "cn-beijing" || len(f.Sweep.RegionIds) != 1 || f.API != env.api {
		t.Errorf("For(nil, cn-beijing) = region %q, sweep %v", f.RegionId, f.Sweep.RegionIds)
	}
	if f := env.handler.For(nil, "Not A Region").Function; f.RegionId != "" {
		t.Errorf("an invalid region became the default: %q", f.RegionId)
	}
	env.handler.Function.RegionId = "cn-hangzhou"
	if f := env.handler.For(nil, "cn-beijing").Function; f.RegionId != "cn-hangzhou" {
		t.Errorf("the configured region must win, got %q", f.RegionId)
	}
	if env.handler.Function.RegionId != "cn-hangzhou" {
		t.Errorf("For changed the original")
	}
	_ = http.MethodPost
}

// TestScheduleEventsCarryNothingElse: a timer or schedule event may carry
// only its platform's keys. Anything else is refused naming the key, never
// ignored (a DryRun beside a timer's keys once ran a real sweep), and a
// request's keys beside an event's become no request either.
func TestScheduleEventsCarryNothingElse(t *testing.T) {
	const timer = `"triggerTime":"2026-11-26T07:00:00Z","triggerName":"sweep"`
	const rule = `"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events",` +
		`"account":"123456789012","time":"2026-11-26T07:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/r"]`
	stop := `"InvokeId":"` + testInvokeID + `"`
	tests := []struct {
		name, payload string
		kind          Kind
		field         string // the refusal names it; "" means accepted
		says          string // and says this
	}{
		{"timer with DryRun", `{` + timer + `,"payload":"","DryRun":true}`, FCTimer, "DryRun", "carries only triggerTime, triggerName, payload"},
		{"timer with a request", `{` + timer + `,` + stop + `}`, FCTimer, "InvokeId", "put the request in the timer trigger's payload"},
		{"timer with a sweep", `{` + timer + `,"payload":"","Action":"Sweep","OlderThan":"1m"}`, FCTimer, "Action", "carries only"},
		{"timer with a key in another case", `{` + timer + `,"Payload":"{\"Action\":\"Sweep\"}"}`, FCTimer, "Payload", "case-sensitive"},
		{"timer with webhook keys", `{` + timer + `,"httpMethod":"POST","resource":"/","requestContext":{},"body":"{}"}`, FCTimer, "httpMethod", "carries only"},
		{"timer time not a string", `{"triggerTime":1,"triggerName":"t"}`, FCTimer, "triggerTime", "must be a string"},
		{"timer name not a string", `{"triggerTime":"t","triggerName":{"DryRun":true}}`, FCTimer, "triggerName", "must be a string"},
		{"half a timer with a request", `{"triggerTime":"2026-11-26T07:00:00Z",` + stop + `}`, Direct, "triggerTime", "is not a parameter"},
		{"timer, payload repeated", `{` + timer + `,"payload":"","payload":"{\"Action\":\"Sweep\",\"DryRun\":true}"}`, Direct, "payload", "more than once"},
		{"rule with DryRun", `{` + rule + `,"detail":{},"DryRun":true}`, EventBridgeSchedule, "DryRun", "carries only version, id, detail-type, source, account, time, region, resources, detail"},
		{"rule with a request", `{` + rule + `,"detail":{},` + stop + `,"RegionId":"cn-hangzhou"}`, EventBridgeSchedule, "InvokeId", "constant input"},
		{"rule with settings in detail", `{` + rule + `,"detail":{"DryRun":true}}`, EventBridgeSchedule, "detail", "must be {}"},
		{"rule with a non-object detail", `{` + rule + `,"detail":"x"}`, EventBridgeSchedule, "detail", "must be {}"},
		{"rule with Detail", `{` + rule + `,"Detail":{}}`, EventBridgeSchedule, "Detail", "carries only"},
		{"rule with detail repeated", `{` + rule + `,"detail":{"DryRun":true},"detail":{}}`, EventBridgeSchedule, "detail", "more than once"},
		{"rule with replay-name", `{` + rule + `,"detail":{},"replay-name":"r"}`, EventBridgeSchedule, "replay-name", "carries only"},
		{"half a rule with a request", `{"source":"aws.events",` + stop + `}`, Direct, "source", "is not a parameter"},

		{"timer", `{` + timer + `,"payload":""}`, FCTimer, "", ""},
		{"timer without payload", `{` + timer + `}`, FCTimer, "", ""},
		{"timer with null payload", `{` + timer + `,"payload":null}`, FCTimer, "", ""},
		{"rule", `{` + rule + `,"detail":{}}`, EventBridgeSchedule, "", ""},
		{"rule, only what detection needs", `{"source":"aws.events","detail-type":"Scheduled Event"}`, EventBridgeSchedule, "", ""},
		// aws-lambda-go v1.55.1 events/cloudwatch_events_test.go, verbatim.
		{"aws-lambda-go's sample", `{"version":"0","id":"890abcde-f123-4567-890a-bcdef1234567","detail-type":"Scheduled Event","source":"aws.events",` +
			`"account":"123456789012","time":"2016-12-30T18:44:49Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/SampleRule"],"detail":{}}`,
			EventBridgeSchedule, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			env.handler.Function.Sweep.RegionIds = []string{"cn-hangzhou"}
			res, err := env.handler.Invoke(context.Background(), testRequestID, []byte(tt.payload))
			if err != nil {
				t.Fatalf("Invoke error %v", err)
			}
			if res.Kind != tt.kind {
				t.Errorf("Kind = %q, want %q", res.Kind, tt.kind)
			}
			if tt.field == "" {
				var answer map[string]any
				if err := json.Unmarshal(res.Payload, &answer); err != nil || res.Failure != nil || answer["Action"] != "Sweep" || answer["DryRun"] != false {
					t.Errorf("failure %v answer %s, want a sweep with the defaults", res.Failure, res.Payload)
				}
				return
			}
			if res.Failure == nil || res.Failure.Code != "InvalidParameter" {
				t.Fatalf("failure %v, want InvalidParameter (answer %s)", res.Failure, res.Payload)
			}
			if msg := res.Failure.Message; !strings.HasPrefix(msg, tt.field+":") || !strings.Contains(msg, tt.says) {
				t.Errorf("message %q, want it to name %s and say %q", msg, tt.field, tt.says)
			}
			if env.api.Describes() != 0 || len(env.api.Stops()) != 0 {
				t.Errorf("a refused event reached the API: %d lists, stops %v", env.api.Describes(), env.api.Stops())
			}
			checkRefusalLogged(t, env.logs, tt.kind, "InvalidParameter")
		})
	}
}

// padded is a stop request padded with spaces to exactly n bytes.
func padded(t *testing.T, n int) []byte {
	t.Helper()
	b := bytes.Repeat([]byte(" "), n)
	if copy(b, stopBody) != len(stopBody) {
		t.Fatal("n is shorter than the request")
	}
	return b
}

// TestWebhookBodyOfExactly1MiB: "at most 1 MiB" takes a body of 1 MiB,
// sent plain or base64-encoded, on every webhook path.
func TestWebhookBodyOfExactly1MiB(t *testing.T) {
	body := padded(t, MaxBodyBytes)
	for _, s := range httpShapes {
		for _, b64 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/base64=%v", s.kind, b64), func(t *testing.T) {
				env := newEnv(t)
				c := signed(body, 0)
				c.base64 = b64
				res, err := env.handler.Invoke(context.Background(), testRequestID, s.event(t, c))
				if err != nil || res.Failure != nil {
					t.Fatalf("err %v failure %v, want a 1 MiB body taken", err, res.Failure)
				}
				if a := decodeHTTPAnswer(t, s.kind, res.Payload); a.Status != 200 || len(env.api.Stops()) != 1 {
					t.Errorf("answer %d %v, stops %v", a.Status, a.Body, env.api.Stops())
				}
			})
		}
	}
	env := newEnv(t)
	w, answer := serve(t, env, signedRequest("POST", body, 0))
	if w.Code != 200 || answer["Action"] != "StopInvocation" || len(env.api.Stops()) != 1 {
		t.Errorf("ServeHTTP with 1 MiB: %d %v", w.Code, answer)
	}
}

// TestWebhookBase64SizeBeforeContent: size is checked before the body is
// read, so base64 text longer than any encoding of 1 MiB is a 413 even when
// it is not base64 at all, while text that could still hold 1 MiB is
// decoded (and refused as not base64).
func TestWebhookBase64SizeBeforeContent(t *testing.T) {
	limit := base64.StdEncoding.EncodedLen(MaxBodyBytes)
	for _, tc := range []struct {
		name   string
		length int
		status int
		code   string
	}{
		{"as long as 1 MiB encoded", limit, 400, "InvalidParameter"},
		{"one byte longer", limit + 1, 413, "PayloadTooLarge"},
	} {
		for _, s := range httpShapes {
			t.Run(tc.name+"/"+string(s.kind), func(t *testing.T) {
				env := newEnv(t)
				var ev map[string]any
				c := signed(stopBody, 0)
				c.base64 = true
				if err := json.Unmarshal(s.event(t, c), &ev); err != nil {
					t.Fatal(err)
				}
				ev["body"] = strings.Repeat("!", tc.length)
				event, _ := json.Marshal(ev)
				res, _ := env.handler.Invoke(context.Background(), testRequestID, event)
				checkRefused(t, s.kind, res, tc.status, tc.code)
				if tc.code == "InvalidParameter" && !strings.HasPrefix(res.Failure.Message, "body: ") {
					t.Errorf("message %q does not name the body", res.Failure.Message)
				}
			})
		}
	}
}

// TestWebhookEventFieldsOfTheWrongType: a webhook event whose HTTP fields
// are not what the platform sends is a 400 naming the field, on every
// webhook path, before anything is authenticated or stopped.
func TestWebhookEventFieldsOfTheWrongType(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(ev map[string]any)
		field string
	}{
		{"body a number", func(ev map[string]any) { ev["body"] = 42 }, "body"},
		{"body an object", func(ev map[string]any) { ev["body"] = map[string]any{"InvokeId": testInvokeID} }, "body"},
		{"headers an array", func(ev map[string]any) { ev["headers"] = []any{"Content-Type"} }, "headers"},
		{"a header's value a number", func(ev map[string]any) {
			for k := range ev["headers"].(map[string]any) {
				if strings.EqualFold(k, "content-type") {
					ev["headers"].(map[string]any)[k] = 1
				}
			}
		}, "headers"},
		{"isBase64Encoded a string", func(ev map[string]any) { ev["isBase64Encoded"] = "true" }, "isBase64Encoded"},
	} {
		for _, s := range httpShapes {
			t.Run(tc.name+"/"+string(s.kind), func(t *testing.T) {
				env := newEnv(t)
				var ev map[string]any
				if err := json.Unmarshal(s.event(t, signed(stopBody, 0)), &ev); err != nil {
					t.Fatal(err)
				}
				tc.edit(ev)
				event, _ := json.Marshal(ev)
				res, err := env.handler.Invoke(context.Background(), testRequestID, event)
				if err != nil {
					t.Fatal(err)
				}
				checkRefused(t, s.kind, res, 400, "InvalidParameter")
				if !strings.HasPrefix(res.Failure.Message, tc.field+": ") {
					t.Errorf("message %q, want it to name %s", res.Failure.Message, tc.field)
				}
				if len(env.api.Stops()) != 0 {
					t.Errorf("stops %v", env.api.Stops())
				}
				checkRefusalLogged(t, env.logs, s.kind, "InvalidParameter")
			})
		}
	}
}
