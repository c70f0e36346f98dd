package stopper

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/fakeapi"
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// quotaAPI is one account's Cloud Assistant with a quota of its own: every
// call takes latency, and calls above qps (a token bucket of burst 1) are
// throttled, as the real API's per-account quota answers them.
type quotaAPI struct {
	*fakeapi.API
	latency time.Duration
	qps     float64
	calls   *atomic.Int64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func (q *quotaAPI) admit() error {
	time.Sleep(q.latency)
	q.calls.Add(1)
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	if q.last.IsZero() {
		q.tokens, q.last = 1, now
	}
	q.tokens = math.Min(1, q.tokens+now.Sub(q.last).Seconds()*q.qps)
	q.last = now
	if q.tokens < 1 {
		return &ca.Error{Code: "Throttling.User", Message: "Request was denied due to user flow control.", HTTPStatus: 400}
	}
	q.tokens--
	return nil
}

func (q *quotaAPI) DescribeInvocations(ctx context.Context, req ca.DescribeInvocationsRequest) (*ca.DescribeInvocationsResponse, error) {
	if err := q.admit(); err != nil {
		return nil, err
	}
	return q.API.DescribeInvocations(ctx, req)
}

// quotaAccounts is n accounts, each a quotaAPI over its own fleet.
type quotaAccounts struct {
	ids  []string
	apis map[string]*quotaAPI
}

func (q quotaAccounts) Self(context.Context) (string, error)         { return q.ids[0], nil }
func (q quotaAccounts) List(context.Context) ([]string, error)       { return q.ids, nil }
func (q quotaAccounts) Listed(context.Context, string) (bool, error) { return true, nil }
func (q quotaAccounts) API(_ context.Context, id string) (CloudAssistant, error) {
	return q.apis[id], nil
}

// BenchmarkSweepAccounts: a dry-run sweep of 200 accounts × 5 regions,
// each account with two stale invocations a region and a quota of its own
// (50 calls a second, 2 ms a call), at the default concurrency of 8. It
// reports the wall time against the least the concurrency bound allows
// (calls × latency / 8), the API calls made (STS aside: each account's API
// is had once), and the goroutines left after the sweep (none may be).
func BenchmarkSweepAccounts(b *testing.B) {
	const accounts, perRegion, qps, latency, concurrency = 200, 2, 50.0, 2 * time.Millisecond, 8
	regions := []string{"cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen", "ap-southeast-1"}
	now := time.Now().UTC()
	var calls atomic.Int64
	build := func() quotaAccounts {
		q := quotaAccounts{apis: map[string]*quotaAPI{}}
		for i := range accounts {
			id := fmt.Sprintf("%016d", 1000000000000001+i)
			var fleet []ca.Invocation
			for _, r := range regions {
				for k := range perRegion {
					fleet = append(fleet, ca.Invocation{RegionId: r, InvokeId: fmt.Sprintf("t-%s%d", id, k), InvocationStatus: ca.StatusRunning,
						RepeatMode: ca.RepeatOnce, CommandName: "backup", CreationTime: now.Add(-3 * time.Hour).Format(creationLayout)})
				}
			}
			q.ids = append(q.ids, id)
			q.apis[id] = &quotaAPI{API: fakeapi.New(fleet...), latency: latency, qps: qps, calls: &calls}
		}
		return q
	}
	dryRun := true
	var elapsed time.Duration
	var ideal float64
	var leaked int
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		q := build()
		calls.Store(0)
		f := &Function{Accounts: q, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
			Sweep: SweepDefaults{RegionIds: regions, OlderThan: 2 * time.Hour, Concurrency: concurrency}}
		before := runtime.NumGoroutine()
		b.StartTimer()
		start := time.Now()
		a, err := f.RunSweep(context.Background(), "req-bench", SweepRequest{DryRun: &dryRun})
		elapsed += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if want := accounts * len(regions) * perRegion; len(a.WouldStop) != want || len(a.Failed) != 0 || a.Truncated {
			b.Fatalf("would stop %d of %d, failed %d, truncated %v", len(a.WouldStop), want, len(a.Failed), a.Truncated)
		}
		ideal += float64(calls.Load()) * latency.Seconds() / concurrency
		time.Sleep(10 * time.Millisecond)
		leaked = max(leaked, runtime.NumGoroutine()-before)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(elapsed.Seconds()/n, "wall-s/sweep")
	b.ReportMetric(elapsed.Seconds()/ideal, "x_bound")
	b.ReportMetric(float64(calls.Load()), "api-calls/sweep")
	b.ReportMetric(float64(leaked), "goroutines-left")
}
