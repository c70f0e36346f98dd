package trigger

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// staleInvokeID is the invocation sweepAPI lists as stale and running.
const staleInvokeID = "t-fuzz0stale0a1b2c3d4e5f6a7b8c9d"

// sweepAPI succeeds at everything and counts stops, as noopAPI does, but its
// listings hold one stale running invocation in every region: a sweep
// run by a fuzz input stops it, so a sweep that nobody authenticated shows
// as a stop.
type sweepAPI struct{ stops atomic.Int64 }

func (s *sweepAPI) StopInvocation(ctx context.Context, regionID, invokeID string, instanceIDs []string) error {
	s.stops.Add(1)
	return nil
}

func (s *sweepAPI) DescribeInvocations(ctx context.Context, req cloudassistant.DescribeInvocationsRequest) (*cloudassistant.DescribeInvocationsResponse, error) {
	if req.InvokeId != "" {
		return describeAny(req), nil
	}
	resp := &cloudassistant.DescribeInvocationsResponse{RequestId: "upstream"}
	if req.InvokeStatus == cloudassistant.StatusRunning && (req.Timed == nil || !*req.Timed) {
		created := testNow.Add(-3 * time.Hour).UTC().Format("2006-01-02T15:04:05Z")
		resp.Invocations.Invocation = []cloudassistant.Invocation{{
			InvokeId: staleInvokeID, CommandName: "backup", RepeatMode: "Once", InvocationStatus: "Running", CreationTime: created,
			InvokeInstances: cloudassistant.InvokeInstances{InvokeInstance: []cloudassistant.InvokeInstance{
				{InstanceId: "i-bp1abc", InvocationStatus: "Running", CreationTime: created}}},
		}}
	}
	return resp, nil
}

// fuzzFunction is the core as the fuzz targets run it: a fixed clock and
// sweep regions, so that every request kind, sweeps included, reaches api.
func fuzzFunction(api stopper.CloudAssistant) *stopper.Function {
	return &stopper.Function{API: api, RegionId: "cn-hangzhou", Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return testNow },
		Sweep: stopper.SweepDefaults{RegionIds: []string{"cn-hangzhou", "cn-shanghai"}, OlderThan: 2 * time.Hour}}
}

// fuzzHandler is a Handler over api whose verifier knows secret and token
// (either may be empty) at testNow.
func fuzzHandler(api stopper.CloudAssistant, secret, token string) *Handler {
	return &Handler{
		Function: fuzzFunction(api),
		Webhook:  &webhook.Verifier{Secret: secret, Token: token, Now: func() time.Time { return testNow }},
		Log:      slog.New(slog.DiscardHandler),
	}
}

// httpSeedBodies are the bodies the plain-HTTP fuzz target starts from: a
// stop, a sweep, what senders that cannot sign post, and every sample
// event of events/ and testdata/ as a body.
func httpSeedBodies(f *testing.F) [][]byte {
	bodies := append([][]byte{stopBody, []byte(`{"Action":"Sweep"}`), []byte(`{"Action":"Sweep","RegionIds":["cn-shanghai"],"DryRun":false}`)},
		sourceBodies(f)...)
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	events, _ := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	for _, file := range append(files, events...) {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	return bodies
}

// headerBlock writes headers one "Name: value" a line, the fuzz target's
// spelling of a request's headers.
func headerBlock(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(kv[i] + ": " + kv[i+1] + "\n")
	}
	return b.String()
}

// parseHeaderBlock reads headerBlock's format leniently: a line without a
// colon is a header with an empty value; names and values go into the
// http.Header as they are (repeated names add values), as a server that
// does no validation of its own would hand them on.
func parseHeaderBlock(s string) http.Header {
	h := http.Header{}
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return h
}

// FuzzServeHTTP sends arbitrary requests (method, headers, body, declared
// length or chunked) to Handler.ServeHTTP, the FC custom runtime's and the
// local runner's webhook path. It never panics, always answers a JSON
// object with a RequestId as application/json, and nothing unauthenticated
// stops anything — the sweep path included, which a request may ask for:
//   - a handler whose secret and token are in no seed refuses everything
//     and never calls StopInvocation;
//   - a handler holding testSecret and testToken (both in the seeds) may
//     stop only for a request that carries exactly one Authorization
//     header of "Bearer " and testToken, or one X-Stopper-Timestamp and one
//     X-Stopper-Signature holding HMAC-SHA256(testSecret, timestamp + "." +
//     body) for a timestamp within 300 s of the clock: an oracle written
//     from docs/security.md, without the webhook package.
func FuzzServeHTTP(f *testing.F) {
	for _, body := range httpSeedBodies(f) {
		ts, sig := webhook.Sign(testSecret, testNow, body)
		for _, headers := range []string{
			headerBlock("Content-Type", "application/json", webhook.TimestampHeader, ts, webhook.SignatureHeader, sig),
			headerBlock("Content-Type", "application/json; charset=utf-8", "Authorization", "Bearer "+testToken),
			headerBlock("Content-Type", "application/json", "Authorization", "Bearer "+testToken, "Authorization", "Basic eDp5"),
			headerBlock("Content-Type", "application/json", "Authorization", "bearer  "+testToken),
			headerBlock("Content-Type", "application/cloudevents+json", "Authorization", "Bearer "+strings.Repeat("x", len(testToken))),
			headerBlock("Content-Type", "application/json", "Authorization", "Bearer "+testToken, webhook.SignatureHeader, sig),
			headerBlock("Content-Type", "application/json"),
			headerBlock("Content-Type", "text/plain", webhook.TimestampHeader, ts, webhook.SignatureHeader, sig),
		} {
			f.Add("POST", headers, body, false)
		}
		f.Add("POST", headerBlock("Content-Type", "application/json", "Authorization", "Bearer "+testToken), body, true)
		f.Add("GET", headerBlock("Authorization", "Bearer "+testToken), body, false)
	}
	f.Add("PUT", "", []byte(nil), false)
	f.Add("post", headerBlock("Content-Type", "application/json"), []byte("{}"), false)

	secureAPI := &sweepAPI{}
	secure := fuzzHandler(secureAPI, "fuzz-secret-in-no-seed", "fuzz-token-in-no-seed-0123456789abcdef")
	knownAPI := &sweepAPI{}
	f.Fuzz(func(t *testing.T, method, headers string, body []byte, chunked bool) {
		request := func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/stop", bytes.NewReader(body))
			r.Method = method
			r.Header = parseHeaderBlock(headers)
			if chunked {
				r.ContentLength = -1
			}
			return r
		}

		before := secureAPI.stops.Load()
		w := serveFuzz(t, secure, request())
		if w.Code == http.StatusOK || secureAPI.stops.Load() != before {
			t.Fatalf("a request nobody could authenticate was answered %d with %d stops:\n%q %q %q", w.Code, secureAPI.stops.Load()-before, method, headers, body)
		}

		// A verifier per request: a signed seed is accepted once per
		// verifier, and each input should have its chance.
		known := fuzzHandler(knownAPI, testSecret, testToken)
		before = knownAPI.stops.Load()
		serveFuzz(t, known, request())
		if knownAPI.stops.Load() != before && !authorizedHTTP(request(), body) {
			t.Fatalf("an unauthenticated request stopped an invocation:\n%q %q %q", method, headers, body)
		}
	})
}

// serveFuzz serves one request and checks the answer's form.
func serveFuzz(t *testing.T, h *Handler, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var answer map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
		t.Fatalf("answer %d is not a JSON object: %q", w.Code, w.Body)
	}
	if id, _ := answer["RequestId"].(string); id == "" {
		t.Fatalf("answer without a RequestId: %s", w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if _, failed := answer["Code"]; failed == (w.Code == http.StatusOK) && answer["Results"] == nil {
		t.Fatalf("status %d with answer %s", w.Code, w.Body)
	}
	return w
}

// authorizedHTTP is the fuzz oracle for a request the known handler may
// act on: the right bearer token, or a fresh signature of the body.
func authorizedHTTP(r *http.Request, body []byte) bool {
	if r.Method != http.MethodPost {
		return false
	}
	if auth := r.Header.Values("Authorization"); len(auth) == 1 {
		v := strings.Trim(auth[0], " \t")
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") && v[7:] == testToken {
			return true
		}
	}
	ts, sig := r.Header.Values(webhook.TimestampHeader), r.Header.Values(webhook.SignatureHeader)
	if len(ts) != 1 || len(sig) != 1 {
		return false
	}
	timestamp := strings.Trim(ts[0], " \t")
	unix, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || unix < testNow.Unix()-300 || unix > testNow.Unix()+300 {
		return false
	}
	m := hmac.New(sha256.New, []byte(testSecret))
	_, _ = io.WriteString(m, timestamp+".") // a hash never fails to write
	m.Write(body)
	got, ok := strings.CutPrefix(strings.Trim(sig[0], " \t"), "sha256=")
	return ok && strings.EqualFold(got, hex.EncodeToString(m.Sum(nil)))
}

// The fuzz targets' handlers reach the sweep: an authenticated sweep
// request stops sweepAPI's stale invocation, through ServeHTTP and through
// an event, so that a fuzz input that slipped past authentication into a
// sweep would show as a stop.
func TestFuzzHandlersReachTheSweep(t *testing.T) {
	sweep := []byte(`{"Action":"Sweep"}`)
	api := &sweepAPI{}
	h := fuzzHandler(api, testSecret, testToken)
	w := httptest.NewRecorder()
	r := bearerRequest(sweep, "Bearer "+testToken)
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || api.stops.Load() != 2 || !strings.Contains(w.Body.String(), staleInvokeID) {
		t.Fatalf("ServeHTTP: %d %s, %d stops; want the stale invocation stopped in both sweep regions", w.Code, w.Body, api.stops.Load())
	}
	for _, s := range httpShapes {
		before := api.stops.Load()
		res, err := h.Invoke(context.Background(), testRequestID, s.event(t, withBearer(sweep, "Bearer "+testToken)))
		if err != nil || res.Failure != nil || api.stops.Load() != before+2 {
			t.Fatalf("%s: %v %+v %s, %d stops", s.kind, err, res.Failure, res.Payload, api.stops.Load()-before)
		}
	}
	if !authorizedHTTP(r, sweep) {
		t.Fatal("the oracle refuses the right token")
	}
	signed := signedRequest("POST", sweep, 0)
	if !authorizedHTTP(signed, sweep) || authorizedHTTP(signedRequest("POST", sweep, time.Hour), sweep) {
		t.Fatal("the oracle misjudges signatures")
	}
}
