package fcruntime

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/trigger"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// panicAPI panics on the stop of one invocation and succeeds otherwise.
type panicAPI struct{}

func (panicAPI) StopInvocation(ctx context.Context, region, invokeID string, ids []string) error {
	if invokeID == "t-panic" {
		panic("boom")
	}
	return nil
}

func (panicAPI) DescribeInvocations(ctx context.Context, req ca.DescribeInvocationsRequest) (*ca.DescribeInvocationsResponse, error) {
	return activeInvocation(req), nil
}

// activeInvocation answers a stop's read of the invocation it names with a
// running one-time invocation on one instance.
func activeInvocation(req ca.DescribeInvocationsRequest) *ca.DescribeInvocationsResponse {
	resp := &ca.DescribeInvocationsResponse{}
	if req.InvokeId != "" && (req.Timed == nil || !*req.Timed) {
		resp.Invocations.Invocation = []ca.Invocation{{InvokeId: req.InvokeId, RepeatMode: "Once",
			InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{{InstanceId: "i-a", InvocationStatus: "Running"}}}}}
	}
	return resp
}

func panicApp(out io.Writer) *app {
	log := slog.New(slog.NewJSONHandler(out, nil))
	h := &trigger.Handler{
		Function: &stopper.Function{API: panicAPI{}, RegionId: sampleRegion, Log: log,
			Sweep: stopper.SweepDefaults{OlderThan: time.Hour, Concurrency: 1}},
		Webhook: &webhook.Verifier{Secret: hookSecret},
		Log:     log,
	}
	return newApp(h, "", out)
}

// A panic in one invocation is a function error for it alone: the loop and
// the invocations after it carry on.
func TestPanicIsAFunctionError(t *testing.T) {
	t.Run("go1 runtime API", func(t *testing.T) {
		fc := newFakeFC(t)
		l := panicApp(io.Discard).runtimeAPI(fc.addr())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { l.run(ctx); close(done) }()
		defer func() { cancel(); <-done }()

		fc.push("req-panic", fcHeaders(), []byte(`{"InvokeId":"t-panic"}`))
		fc.push("req-after", fcHeaders(), []byte(`{"InvokeId":"t-fine"}`))
		a := fc.wait(t, "req-panic")
		var e errorBody
		if err := json.Unmarshal(a.body, &e); err != nil || a.kind != "error" || e.ErrorType != "Runtime.Panic" {
			t.Fatalf("answer = %s %s, want a Runtime.Panic error", a.kind, a.body)
		}
		if a := fc.wait(t, "req-after"); a.kind != "response" {
			t.Fatalf("the next invocation = %s %s", a.kind, a.body)
		}
	})
	t.Run("custom runtime", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = panicApp(io.Discard).serve(ctx, ln); close(done) }() // ended by cancel
		defer func() { cancel(); <-done }()
		base := "http://" + ln.Addr().String()

		resp, body := send(t, http.MethodPost, base+"/invoke", invokeHeaders("req-panic"), []byte(`{"InvokeId":"t-panic"}`))
		if resp.Header.Get("x-fc-status") != "404" || resp.StatusCode != 404 {
			t.Fatalf("panic = %d x-fc-status=%q %s", resp.StatusCode, resp.Header.Get("x-fc-status"), body)
		}
		resp, body = send(t, http.MethodPost, base+"/invoke", invokeHeaders("req-after"), []byte(`{"InvokeId":"t-fine"}`))
		if resp.Header.Get("x-fc-status") != "200" {
			t.Fatalf("the next invocation = %d %s", resp.StatusCode, body)
		}
	})
}
