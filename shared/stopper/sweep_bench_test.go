package stopper_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/ecs"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// staleFleet is n one-time Running invocations, all older than the cut-off,
// spread over both regions.
func staleFleet(n int) []fleetSpec {
	out := make([]fleetSpec, 0, n)
	for i := range n {
		out = append(out, fleetSpec{region: sweepRegions[i%2], id: fmt.Sprintf("t-bench%06d", i), name: "backup",
			age: 3 * time.Hour, status: ca.StatusRunning, repeat: ca.RepeatOnce})
	}
	return out
}

// benchSweep sweeps n stale invocations against an emulator whose
// StopInvocation is throttled at qps (token bucket, burst), with the client's
// and the sweep's default settings: the sweep is not told the rate. It
// reports the stop rate achieved and its fraction of the limit.
func benchSweep(b *testing.B, n int, qps float64, burst int) {
	benchSweepWith(b, n, qps, burst, emulator.Options{}, ecs.Options{})
}

func benchSweepWith(b *testing.B, n int, qps float64, burst int, eo emulator.Options, co ecs.Options) {
	now := time.Now()
	fleet := staleFleet(n)
	var stops, calls int
	var elapsed time.Duration
	eo.ThrottleQPS, eo.ThrottleBurst = qps, burst
	for b.Loop() {
		b.StopTimer()
		r := newRig(b, fleet, now, eo, co)
		b.StartTimer()
		start := time.Now()
		a, err := r.fn.RunSweep(context.Background(), "req-bench", stopper.SweepRequest{})
		elapsed += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if len(a.Stopped) != n || len(a.Failed) != 0 {
			b.Fatalf("stopped %d of %d, failed %d", len(a.Stopped), n, len(a.Failed))
		}
		stops += r.emu.Stops()
		calls += r.emu.Calls("StopInvocation")
		b.StartTimer()
	}
	rate := float64(stops) / elapsed.Seconds()
	b.ReportMetric(rate, "stops/s")
	b.ReportMetric(rate/qps, "fraction_of_limit")
	b.ReportMetric(float64(calls-stops)/float64(stops), "throttled/stop")
}

// BenchmarkSweepThrottled: 1,000 stale invocations, StopInvocation throttled
// at 200 QPS with a small burst (20, a tenth of a second) so that the burst
// does not flatter the figure.
func BenchmarkSweepThrottled(b *testing.B) { benchSweep(b, 1000, 200, 20) }

// BenchmarkSweepThrottledRates: other rates the sweep is not told, each for
// about five seconds' worth of stops.
func BenchmarkSweepThrottledRates(b *testing.B) {
	for _, qps := range []float64{50, 500, 1000} {
		b.Run(fmt.Sprintf("qps=%g", qps), func(b *testing.B) { benchSweep(b, int(qps*5), qps, int(qps/10)) })
	}
}

// BenchmarkSweepThrottledVariants: the 200 QPS sweep with an API that takes
// 10 ms to answer, and with a client that does not retry (every throttling
// answer reaches the sweep's pacer).
func BenchmarkSweepThrottledVariants(b *testing.B) {
	b.Run("latency=10ms", func(b *testing.B) {
		benchSweepWith(b, 1000, 200, 20, emulator.Options{Latency: 10 * time.Millisecond}, ecs.Options{})
	})
	b.Run("client-retries=none", func(b *testing.B) {
		benchSweepWith(b, 1000, 200, 20, emulator.Options{}, ecs.Options{MaxAttempts: 1, MaxThrottleRetries: -1})
	})
}
