package trigger

import (
	"bytes"
	"context"
	"log/slog"
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
	h := &Handler{
		Function: &stopper.Function{API: &noopAPI{}, RegionId: "cn-hangzhou", Log: discard},
		Webhook:  &webhook.Verifier{Secret: testSecret, Now: func() time.Time { return testNow }},
		Log:      discard,
	}
	type bench struct {
		name    string
		payload []byte
	}
	benches := []bench{
		{"direct", readTestdata(b, "direct-stop.json")},
		{"eventbridge-schedule", readTestdata(b, "eventbridge-scheduled-event.json")},
		{"fc-timer-stop", readTestdata(b, "fc-timer-stop.json")},
		{"fc-timer-empty", readTestdata(b, "fc-timer-empty.json")},
	}
	for _, s := range httpShapes {
		benches = append(benches, bench{string(s.kind), s.event(b, signed(stopBody, 0))})
	}
	for _, s := range httpShapes {
		benches = append(benches, bench{string(s.kind) + "-refused-401", s.event(b, signed(stopBody, -time.Hour))})
	}
	ctx := context.Background()
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.payload)))
			for b.Loop() {
				if _, err := h.Invoke(ctx, testRequestID, bb.payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("serve-http", func(b *testing.B) {
		b.ReportAllocs()
		w := httptest.NewRecorder()
		r := signedRequest("POST", stopBody, 0)
		for b.Loop() {
			r.Body = readCloser{bytes.NewReader(stopBody)}
			w.Body.Reset()
			h.ServeHTTP(w, r)
		}
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body)
		}
	})
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
