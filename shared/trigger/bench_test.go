package trigger

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/fakeapi"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// BenchmarkInvoke measures decode, validate and render per trigger shape,
// against an API that does nothing and a logger that drops everything.
func BenchmarkInvoke(b *testing.B) {
	discard := slog.New(slog.DiscardHandler)
	// Each benchmark has its own handler: its Verifier remembers the
	// signatures it accepted.
	handler := func(api stopper.CloudAssistant) *Handler {
		f := &stopper.Function{API: api, RegionId: "cn-hangzhou", Log: discard}
		f.Sweep.RegionIds = []string{"cn-hangzhou"}
		return &Handler{
			Function: f,
			Webhook:  &webhook.Verifier{Secret: testSecret, Token: testToken, Now: func() time.Time { return testNow }},
			Log:      discard,
		}
	}
	one := func(p []byte) [][]byte { return [][]byte{p} }
	benches := []invokeBench{
		{name: "direct", payloads: one(readTestdata(b, "direct-stop-request.json"))},
		{name: "eventbridge-schedule", payloads: one(readTestdata(b, "eventbridge-scheduled-event.json"))},
		{name: "fc-timer-stop", payloads: one(readTestdata(b, "fc-timer-event-stop.json"))},
		{name: "fc-timer-empty", payloads: one(readTestdata(b, "fc-timer-event-empty.json"))},
	}
	bodies := distinctStopBodies(webhook.RememberedSignatures + 1)
	for _, s := range httpShapes {
		var events [][]byte
		for _, body := range bodies {
			events = append(events, s.event(b, signed(body, 0)))
		}
		benches = append(benches, invokeBench{name: string(s.kind), payloads: events})
	}
	for _, s := range httpShapes {
		benches = append(benches, invokeBench{name: string(s.kind) + "-bearer", payloads: one(s.event(b, withBearer(stopBody, "Bearer "+testToken)))})
	}
	for _, s := range httpShapes {
		benches = append(benches, invokeBench{name: string(s.kind) + "-refused-401", payloads: one(s.event(b, signed(stopBody, -time.Hour))), refused: true})
	}
	benches = append(benches, sourceBenches(b)...)
	ctx := context.Background()
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			var api stopper.CloudAssistant = noopAPI()
			sources := &sourcesAPI{}
			if bb.sources {
				api = sources
			}
			h := handler(api)
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.payloads[0])))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			i := 0
			for b.Loop() {
				res, err := h.Invoke(ctx, testRequestID, bb.payloads[i])
				if err != nil || (res.Failure != nil) != bb.refused {
					b.Fatal(err, res.Failure)
				}
				if i++; i == len(bb.payloads) {
					i = 0
				}
			}
			runtime.ReadMemStats(&after)
			if got := sources.stops.Load(); got != int64(b.N*bb.stops) {
				b.Fatalf("%d stops in %d deliveries, want %d each: the row does not take the path it names", got, b.N, bb.stops)
			}
			if bb.events > 1 {
				reportPerEvent(b, bb.events, after.Mallocs-before.Mallocs, after.TotalAlloc-before.TotalAlloc)
			}
		})
	}
	b.Run("serve-http", func(b *testing.B) {
		h := handler(noopAPI())
		b.ReportAllocs()
		requests := make([]*http.Request, len(bodies))
		for i, body := range bodies {
			requests[i] = signedRequest("POST", body, 0)
		}
		w := httptest.NewRecorder()
		i := 0
		for b.Loop() {
			r := requests[i]
			r.Body = readCloser{bytes.NewReader(bodies[i])}
			w.Body.Reset()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatal(w.Code, w.Body)
			}
			if i++; i == len(bodies) {
				i = 0
			}
		}
	})
}

// noopAPI succeeds at everything and only counts stops: for benchmarks,
// where recording every call would grow without end.
func noopAPI() *fakeapi.API {
	api := newAPI()
	api.CountOnly = true
	return api
}

// invokeBench is one row of BenchmarkInvoke.
type invokeBench struct {
	name string
	// payloads are used in turn: a signature is accepted once, so a
	// signed webhook needs more distinct ones than the replay memory
	// holds (each then evicts the oldest, as on a busy instance).
	payloads [][]byte
	refused  bool
	// sources is set for the event sources that stop what their samples
	// in events/ name (sourceBenches), which run against sourcesAPI (the invocations their samples name); stops is
	// how many stops each of their deliveries sends.
	sources bool
	stops   int
	// events is how many events (batch items, records, alerts) one
	// delivery carries, when more than one: the row then reports per
	// event (see reportPerEvent).
	events int
}

// reportPerEvent turns a delivery of several events into figures per
// event, the unit of the bench harness's bounds (tools/bench): ns/op, B/op and allocs/op become the delivery's
// divided by its events (testing lets ReportMetric override them), and the
// delivery's own figures stay in the row as ns/delivery and
// allocs/delivery, beside events/delivery. MB/s is still the delivery's
// bytes over time.
func reportPerEvent(b *testing.B, events int, mallocs, bytes uint64) {
	n := float64(b.N)
	perDelivery := float64(b.Elapsed().Nanoseconds()) / n
	b.ReportMetric(perDelivery, "ns/delivery")
	b.ReportMetric(float64(mallocs)/n, "allocs/delivery")
	b.ReportMetric(float64(events), "events/delivery")
	b.ReportMetric(perDelivery/float64(events), "ns/op")
	b.ReportMetric(float64(mallocs)/n/float64(events), "allocs/op")
	b.ReportMetric(float64(bytes)/n/float64(events), "B/op")
}

// distinctStopBodies are n stop requests for stopBody's instance that
// differ only in the last digits of the invocation id, so that each has
// its own signature and all have stopBody's size.
func distinctStopBodies(n int) [][]byte {
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"RegionId":"cn-hangzhou","InvokeId":"%s%06d","InstanceIds":["i-bp1abc"]}`, testInvokeID[:len(testInvokeID)-6], i)
		if len(bodies[i]) != len(stopBody) {
			panic(fmt.Sprintf("body %s is not the size of %s", bodies[i], stopBody))
		}
	}
	return bodies
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
