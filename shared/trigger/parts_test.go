package trigger

import (
	"testing"
)

func BenchmarkParts(b *testing.B) {
	for _, s := range httpShapes {
		ev := s.event(b, signed(stopBody, 0))
		b.Run("detect/"+string(s.kind), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Detect(ev)
			}
		})
		b.Run("extract/"+string(s.kind), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var p probe
				p.read(ev)
				k := p.kind()
				r, _ := p.webhookRequest(k)
				_ = r
			}
		})
		b.Run("render/"+string(s.kind), func(b *testing.B) {
			b.ReportAllocs()
			out := outcome{answer: map[string]any{}}
			for b.Loop() {
				renderHTTPEvent(s.kind, "x", out)
			}
		})
	}
}
