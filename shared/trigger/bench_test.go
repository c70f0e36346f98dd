package trigger

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// BenchmarkInvoke measures decode, validate and render per trigger shape,
// against an API that does nothing and a logger that drops everything.
func BenchmarkInvoke(b *testing.B) {
	discard := slog.New(slog.DiscardHandler)
	// Each benchmark has its own handler: its Verifier remembers the
	// signatures it accepted.
	handler := func() *Handler {
		f := &stopper.Function{API: &noopAPI{}, RegionId: "cn-hangzhou", Log: discard}
		f.Sweep.RegionIds = []string{"cn-hangzhou"}
		return &Handler{
			Function: f,
			Webhook:  &webhook.Verifier{Secret: testSecret, Token: testToken, Now: func() time.Time { return testNow }},
			Log:      discard,
		}
	}
	type bench struct {
		name string
		// payloads are used in turn: a signature is accepted once, so a
		// signed webhook needs more distinct ones than the replay memory
		// holds (each then evicts the oldest, as on a busy instance).
		payloads [][]byte
		refused  bool
	}
	one := func(p []byte) [][]byte { return [][]byte{p} }
	benches := []bench{
		{name: "direct", payloads: one(readTestdata(b, "direct-stop.json"))},
		{name: "eventbridge-schedule", payloads: one(readTestdata(b, "eventbridge-scheduled-event.json"))},
		{name: "fc-timer-stop", payloads: one(readTestdata(b, "fc-timer-stop.json"))},
		{name: "fc-timer-empty", payloads: one(readTestdata(b, "fc-timer-empty.json"))},
	}
	bodies := distinctStopBodies(webhook.RememberedSignatures + 1)
	for _, s := range httpShapes {
		var events [][]byte
		for _, body := range bodies {
			events = append(events, s.event(b, signed(body, 0)))
		}
		benches = append(benches, bench{name: string(s.kind), payloads: events})
	}
	for _, s := range httpShapes {
		benches = append(benches, bench{name: string(s.kind) + "-bearer", payloads: one(s.event(b, withBearer(stopBody, "Bearer "+testToken)))})
	}
	for _, s := range httpShapes {
		benches = append(benches, bench{name: string(s.kind) + "-refused-401", payloads: one(s.event(b, signed(stopBody, -time.Hour))), refused: true})
	}
	ctx := context.Background()
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			h := handler()
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.payloads[0])))
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
		})
	}
	b.Run("serve-http", func(b *testing.B) {
		h := handler()
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
