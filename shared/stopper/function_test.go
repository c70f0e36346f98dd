package stopper

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/internal/fakeapi"
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// newRecorder is a Cloud Assistant (internal/fakeapi) over fleet, each
// invocation in cn-hangzhou unless it names its region; it records stops.
func newRecorder(fleet ...ca.Invocation) *fakeapi.API {
	for i := range fleet {
		fleet[i].RegionId = cmp.Or(fleet[i].RegionId, "cn-hangzhou")
	}
	return fakeapi.New(fleet...)
}

// stopsOf is every stop api recorded, as "region/id[instances]".
func stopsOf(api *fakeapi.API) []string {
	var out []string
	for _, s := range api.Stops() {
		out = append(out, fmt.Sprintf("%s/%s%v", s.RegionID, s.InvokeID, s.InstanceIDs))
	}
	return out
}

// failStops makes every stop of api's fleet fail with err.
func failStops(api *fakeapi.API, err error) {
	for _, inv := range api.Fleet {
		api.StopErr[inv.InvokeId] = err
	}
}

func sampleInvocation() ca.Invocation {
	return ca.Invocation{InvokeId: "t-abc", CommandName: "backup", InvokeInstances: ca.InvokeInstances{
		InvokeInstance: []ca.InvokeInstance{{InstanceId: "i-a", InvocationStatus: "Running"}, {InstanceId: "i-b", InvocationStatus: "Pending"}}}}
}

func TestStop(t *testing.T) {
	boolp := func(b bool) *bool { return &b }
	for _, tc := range []struct {
		name      string
		fn        Function
		req       StopRequest
		wantCode  string
		wantStops string
		wantDry   bool
	}{
		{name: "stops all", req: StopRequest{RegionId: "cn-hangzhou", InvokeId: "t-abc"}, wantStops: "[cn-hangzhou/t-abc[]]"},
		{name: "default region", fn: Function{RegionId: "cn-shanghai"}, req: StopRequest{InvokeId: "t-abc", InstanceIds: []string{"i-a"}}, wantStops: "[cn-shanghai/t-abc[i-a]]"},
		{name: "no region anywhere", req: StopRequest{InvokeId: "t-abc"}, wantCode: "MissingParameter.RegionId", wantStops: "[]"},
		{name: "region not allowed", fn: Function{AllowedRegions: []string{"cn-shanghai"}}, req: StopRequest{RegionId: "cn-hangzhou", InvokeId: "t-abc"}, wantCode: "Forbidden.Region", wantStops: "[]"},
		{name: "dry run by config", fn: Function{DryRun: true}, req: StopRequest{RegionId: "cn-hangzhou", InvokeId: "t-abc"}, wantStops: "[]", wantDry: true},
		{name: "dry run by request", req: StopRequest{RegionId: "cn-hangzhou", InvokeId: "t-abc", DryRun: boolp(true)}, wantStops: "[]", wantDry: true},
		{name: "request overrides dry-run config", fn: Function{DryRun: true}, req: StopRequest{RegionId: "cn-hangzhou", InvokeId: "t-abc", DryRun: boolp(false)}, wantStops: "[cn-hangzhou/t-abc[]]"},
		{name: "forced dry run beats the request", fn: Function{ForceDryRun: true}, req: StopRequest{RegionId: "cn-hangzhou", InvokeId: "t-abc", DryRun: boolp(false)}, wantStops: "[]", wantDry: true},
		{name: "dry run unknown invocation", req: StopRequest{RegionId: "cn-hangzhou", InvokeId: "t-zzz", DryRun: boolp(true)}, wantCode: "InvalidInvokeId.NotFound", wantStops: "[]"},
		{name: "dry run unknown instance", req: StopRequest{RegionId: "cn-hangzhou", InvokeId: "t-abc", InstanceIds: []string{"i-x"}, DryRun: boolp(true)}, wantCode: "InvalidInstanceId.NotFound", wantStops: "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shanghai := sampleInvocation()
			inRegion("cn-shanghai")(&shanghai)
			api := newRecorder(sampleInvocation(), shanghai)
			var logs bytes.Buffer
			fn := tc.fn
			fn.API = api
			fn.Log = slog.New(slog.NewJSONHandler(&logs, nil))
			a, err := withError(fn.Stop(context.Background(), "req-1", tc.req))
			if got := fmt.Sprint(stopsOf(api)); got != tc.wantStops && !(got == "[]" && tc.wantStops == "[]") {
				t.Fatalf("stops = %s, want %s", got, tc.wantStops)
			}
			if tc.wantCode != "" {
				if err == nil || err.Code != tc.wantCode {
					t.Fatalf("err = %v, want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.RequestId != "req-1" || a.Action != ActionStopInvocation || a.InvokeId != "t-abc" || a.DryRun != tc.wantDry || a.InstanceIds == nil {
				t.Fatalf("answer = %+v", a)
			}
			if got, want := flags(a.Stopped, a.WouldStop), wantFlags(tc.wantDry, true); got != want || a.Reason != "" {
				t.Fatalf("answer says %s (Reason %q), want %s and no reason", got, a.Reason, want)
			}
			if !strings.Contains(logs.String(), `"request_id":"req-1"`) || !strings.Contains(logs.String(), `"invoke_id":"t-abc"`) || strings.Count(logs.String(), "\n") != 1 {
				t.Fatalf("want one log line with request and invoke id, got %s", logs.String())
			}
			checkStopLog(t, logs.String(), tc.wantDry, "true")
		})
	}
}

func TestAsError(t *testing.T) {
	api := &ca.Error{Code: "InvalidInvokeId.NotFound", Message: "The specified InvokeId does not exist.", RequestId: "R1", HTTPStatus: 404}
	for _, tc := range []struct {
		name      string
		err       error
		code      string
		transient bool
		apiStatus int // the API's status, reachable with errors.As; 0 for the function's own errors
	}{
		{"api not found", fmt.Errorf("batch 1: %w", api), "InvalidInvokeId.NotFound", false, 404},
		{"throttled", &ca.Error{Code: "Throttling.User", HTTPStatus: 400}, "Throttling.User", true, 400},
		{"server", &ca.Error{Code: "ServiceUnavailable", HTTPStatus: 503}, "ServiceUnavailable", true, 503},
		{"network", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, "ServiceUnavailable", true, 0},
		{"deadline", context.DeadlineExceeded, "ServiceUnavailable", true, 0},
		{"own error", Invalid("InvokeId", "bad"), "InvalidParameter", false, 0},
		{"no credentials", fmt.Errorf("ecs: %w: set ...", ca.ErrNoCredentials), "MissingCredentials", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := AsError(tc.err)
			if e.Code != tc.code || e.Transient != tc.transient {
				t.Fatalf("AsError = %+v", e)
			}
			status := 0
			if upstream, ok := errors.AsType[*ca.Error](e); ok {
				status = upstream.HTTPStatus
			}
			if status != tc.apiStatus {
				t.Fatalf("AsError(%v) carries the API's status %d, want %d", tc.err, status, tc.apiStatus)
			}
		})
	}
	if e := AsError(api); e.UpstreamRequestId != "R1" || !errors.Is(e, api) {
		t.Fatalf("upstream request id or error lost: %+v", e)
	}
}

func TestStopTransientError(t *testing.T) {
	api := newRecorder(sampleInvocation())
	failStops(api, &ca.Error{Code: "ServiceUnavailable", HTTPStatus: 503})
	fn := Function{API: api, Log: slog.New(slog.DiscardHandler)}
	_, err := withError(fn.Stop(context.Background(), "r", StopRequest{RegionId: "cn-hangzhou", InvokeId: "t-abc"}))
	if err == nil || !err.Transient {
		t.Fatalf("err = %+v", err)
	}
	if upstream, ok := errors.AsType[*ca.Error](err); !ok || upstream.HTTPStatus != 503 {
		t.Fatalf("err = %+v", err)
	}
}

// DryRunsOnly lets dry runs through and refuses everything else before a
// single API call, whichever kind of request it is.
func TestDryRunsOnly(t *testing.T) {
	yes, no := true, false
	stop := func(dry *bool) Request {
		return Request{Stop: &StopRequest{RegionId: "cn-hangzhou", InvokeId: "t-abc", DryRun: dry}}
	}
	for _, tc := range []struct {
		name    string
		fn      Function
		req     Request
		refused bool
	}{
		{name: "stop saying nothing", req: stop(nil), refused: true},
		{name: "stop saying DryRun false", req: stop(&no), refused: true},
		{name: "stop saying DryRun true", req: stop(&yes)},
		{name: "stop under a dry-run default", fn: Function{DryRun: true}, req: stop(nil)},
		{name: "dry-run default overridden", fn: Function{DryRun: true}, req: stop(&no), refused: true},
		{name: "forced dry run", fn: Function{ForceDryRun: true}, req: stop(&no)},
		{name: "sweep", req: Request{Sweep: &SweepRequest{RegionIds: []string{"cn-hangzhou"}}}, refused: true},
		{name: "dry-run sweep", req: Request{Sweep: &SweepRequest{RegionIds: []string{"cn-hangzhou"}, DryRun: &yes}}},
		{name: "fail-fast", req: Request{FailFast: &FailFastRequest{RegionId: "cn-hangzhou", InvokeId: "t-abc", Status: "Failed"}}, refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newRecorder(sampleInvocation())
			fn := tc.fn
			var logs bytes.Buffer
			fn.API, fn.DryRunsOnly, fn.Log = api, true, slog.New(slog.NewJSONHandler(&logs, nil))
			_, err := withError(fn.Handle(context.Background(), "r", tc.req))
			if tc.refused && !strings.Contains(logs.String(), `"code":"DryRun.Required"`) {
				t.Errorf("the refusal was not logged:\n%s", logs.String())
			}
			switch {
			case tc.refused && (err == nil || err.Code != CodeDryRunRequired || err.Transient):
				t.Fatalf("err = %+v, want a permanent %s", err, CodeDryRunRequired)
			case tc.refused && api.Describes()+len(api.Stops()) > 0:
				t.Fatalf("refused, yet %d reads and stops %v were sent", api.Describes(), stopsOf(api))
			case !tc.refused && err != nil && err.Code == CodeDryRunRequired:
				t.Fatalf("a dry run was refused: %+v", err)
			}
			if len(api.Stops()) > 0 {
				t.Fatalf("stops %v under DryRunsOnly", stopsOf(api))
			}
		})
	}
}

// failingReader answers every DescribeInvocations with an API error.
type failingReader struct {
	*fakeapi.API
	err error
}

func (f *failingReader) DescribeInvocations(ctx context.Context, req ca.DescribeInvocationsRequest) (*ca.DescribeInvocationsResponse, error) {
	return nil, f.err
}

// logLines decodes JSON log lines.
func logLines(t *testing.T, logs *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// A failed request's log line carries the API's RequestId (for a support
// ticket) when the API gave one, and no empty one otherwise.
func TestFailureLogCarriesUpstreamRequestId(t *testing.T) {
	for _, tc := range []struct {
		requestID string
		want      any
	}{{"4A2C-UP", "4A2C-UP"}, {"", nil}} {
		var logs bytes.Buffer
		api := &failingReader{API: fakeapi.New(), err: &ca.Error{Code: "InternalError", Message: "boom", HTTPStatus: 500, RequestId: tc.requestID}}
		fn := testFunction(api, &logs)
		fn.RegionId = "cn-hangzhou"
		if _, e := withError(fn.Stop(context.Background(), "r", StopRequest{InvokeId: "t-a"})); e == nil || e.Code != "InternalError" {
			t.Fatalf("error %v", e)
		}
		lines := logLines(t, &logs)
		if got := lines[len(lines)-1]["upstream_request_id"]; got != tc.want {
			t.Errorf("upstream_request_id %v, want %v: %s", got, tc.want, logs.String())
		}
	}
}

// withError is a call's answer with its error as the *Error a caller finds
// with errors.As; an error of another type comes back under a code no test
// expects.
func withError[T any](answer T, err error) (T, *Error) {
	if err == nil {
		return answer, nil
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return answer, e
	}
	return answer, &Error{Code: "NotAnError", Message: err.Error()}
}
