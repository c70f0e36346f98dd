package stopper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/fakeapi"
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// ledgerAt is a ledger whose clock the test moves.
func ledgerAt(now *time.Time) *StopLedger {
	l := NewStopLedger()
	l.now = func() time.Time { return *now }
	return l
}

// What a remembered stop answers, by when the request read the invocation
// and what it found, and how long ago and on what the stop was.
func TestLedgerAlreadyStopped(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	all := keyOf("cn-hangzhou", "t-a", nil)
	two := keyOf("cn-hangzhou", "t-a", []string{"i-2", "i-1", "i-2"})
	for _, tc := range []struct {
		name    string
		stopped ledgerKey
		asked   ledgerKey
		read    time.Duration // after t0; the stop ends at t0+1s
		pending bool
		later   time.Duration // the question is asked at t0+1s+later
		want    bool
	}{
		{name: "nothing pending, read after the stop", stopped: all, asked: all, read: 2 * time.Second, want: true},
		{name: "pending, read before the stop ended", stopped: all, asked: all, read: 0, pending: true, want: true},
		{name: "pending, read after the stop", stopped: all, asked: all, read: 2 * time.Second, pending: true},
		{name: "just within memory", stopped: all, asked: all, read: StopMemory, later: StopMemory - time.Second, want: true},
		{name: "forgotten after StopMemory", stopped: all, asked: all, read: StopMemory + 2*time.Second, later: StopMemory},
		{name: "a stop of every instance covers some", stopped: all, asked: two, read: 2 * time.Second, want: true},
		{name: "a stop of some does not cover all", stopped: two, asked: all, read: 2 * time.Second},
		{name: "instances in any order, repeated", stopped: two, asked: keyOf("cn-hangzhou", "t-a", []string{"i-1", "i-2"}), read: 2 * time.Second, want: true},
		{name: "another region", stopped: all, asked: keyOf("cn-shanghai", "t-a", nil), read: 2 * time.Second},
		{name: "another invocation", stopped: all, asked: keyOf("cn-hangzhou", "t-b", nil), read: 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(time.Second)
			l := ledgerAt(&now)
			already, done, err := l.claim(context.Background(), tc.stopped, t0, true)
			if already || err != nil {
				t.Fatalf("first claim: already %v, err %v", already, err)
			}
			done(true)
			now = now.Add(tc.later)
			if got := l.alreadyStopped(tc.asked, t0.Add(tc.read), tc.pending); got != tc.want {
				t.Fatalf("alreadyStopped = %v, want %v", got, tc.want)
			}
			already, done, _ = l.claim(context.Background(), tc.asked, t0.Add(tc.read), tc.pending)
			if already != tc.want {
				t.Fatalf("claim: already = %v, want %v", already, tc.want)
			}
			if done != nil {
				done(false)
			}
		})
	}
}

// A stop that was not sent leaves nothing behind: the next request claims
// the key. Waiting ends with the waiter's context.
func TestLedgerFailedStopAndWaiting(t *testing.T) {
	l := NewStopLedger()
	k := keyOf("cn-hangzhou", "t-a", nil)
	_, done, _ := l.claim(context.Background(), k, l.clock(), true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := l.claim(ctx, k, l.clock(), true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a claim of a key in flight ended with %v, want the context's deadline", err)
	}
	done(false)
	already, done, err := l.claim(context.Background(), k, l.clock(), true)
	if already || err != nil {
		t.Fatalf("after a failed stop: already %v, err %v", already, err)
	}
	done(true)
}

// The ledger forgets its oldest stops past its bound.
func TestLedgerBound(t *testing.T) {
	now := time.Now()
	l := ledgerAt(&now)
	for i := range maxLedgerStops + 10 {
		_, done, _ := l.claim(context.Background(), keyOf("cn-hangzhou", fmt.Sprintf("t-%d", i), nil), now, false)
		done(true)
		now = now.Add(time.Millisecond)
	}
	if len(l.stopped) != maxLedgerStops || len(l.order) != maxLedgerStops {
		t.Fatalf("%d stops remembered (%d in order), want %d", len(l.stopped), len(l.order), maxLedgerStops)
	}
	if l.alreadyStopped(keyOf("cn-hangzhou", "t-0", nil), now, false) || !l.alreadyStopped(keyOf("cn-hangzhou", "t-10", nil), now, false) {
		t.Fatal("the oldest stops were not the ones forgotten")
	}
	now = now.Add(StopMemory)
	l.alreadyStopped(keyOf("cn-hangzhou", "t-0", nil), now, false)
	if len(l.stopped) != 0 || len(l.order) != 0 {
		t.Fatalf("%d stops remembered after StopMemory", len(l.stopped))
	}
}

// slowStops is a CloudAssistant whose stops take a while, so that
// concurrent requests overlap, and cancel the pending instances (running
// ones run on, as the API page says); it counts them.
type slowStops struct {
	*fakeapi.API
	delay time.Duration
}

func (s slowStops) StopInvocation(ctx context.Context, region, invokeID string, ids []string) error {
	time.Sleep(s.delay)
	if err := s.API.StopInvocation(ctx, region, invokeID, ids); err != nil {
		return err
	}
	s.Edit(func(fleet []ca.Invocation) {
		for j, inv := range fleet {
			if inv.RegionId != region || inv.InvokeId != invokeID {
				continue
			}
			instances := slices.Clone(inv.InvokeInstances.InvokeInstance)
			for i := range instances {
				if instances[i].InvocationStatus == ca.StatusPending && (len(ids) == 0 || slices.Contains(ids, instances[i].InstanceId)) {
					instances[i].InvocationStatus = ca.StatusCancelled
				}
			}
			fleet[j].InvokeInstances.InvokeInstance = instances
		}
	})
	return nil
}

func discardLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// Concurrent and repeated requests for one invocation, on every path that
// stops one, make one StopInvocation; the others answer "already stopped".
// Without a ledger each makes its own.
func TestRequestsStopOnce(t *testing.T) {
	rollout := rollout("t-a", []string{"Failed", "Failed", "Running", "Pending", "Pending"}, tag(TagMaxErrors, "2"))
	for _, tc := range []struct {
		name string
		run  func(f *Function) (stopped bool, reason string, e *Error)
	}{
		{"stop", func(f *Function) (bool, string, *Error) {
			a, e := withError(f.Stop(context.Background(), "r", StopRequest{InvokeId: "t-a"}))
			return isTrue(a.Stopped), a.Reason, e
		}},
		{"alert on an instance after a stop of all", func(f *Function) (bool, string, *Error) {
			a, e := withError(f.Stop(context.Background(), "r", StopRequest{InvokeId: "t-a", InstanceIds: []string{"i-a2"}, Alert: "TooLong"}))
			return isTrue(a.Stopped), a.Reason, e
		}},
		{"fail-fast", func(f *Function) (bool, string, *Error) {
			a, e := withError(f.FailFast(context.Background(), "r", FailFastRequest{EventId: "ev", InvokeId: "t-a", InstanceId: "i-a0", Status: "Failed"}))
			return isTrue(a.Stopped), a.Reason, e
		}},
	} {
		for _, ledger := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/ledger=%v", tc.name, ledger), func(t *testing.T) {
				api := slowStops{newRecorder(rollout), 20 * time.Millisecond}
				f := &Function{API: api, RegionId: "cn-hangzhou", Log: discardLog()}
				if ledger {
					f.Ledger = NewStopLedger()
				}
				if strings.HasPrefix(tc.name, "alert") {
					_, _ = f.Stop(context.Background(), "first", StopRequest{InvokeId: "t-a"}) // what it leaves is what the case checks
				}
				var mu sync.Mutex
				stopped := 0
				var wg sync.WaitGroup
				for range 10 {
					wg.Go(func() {
						// Each copy shares the ledger, as the runtimes' copies do.
						instance := *f
						ok, reason, e := tc.run(&instance)
						mu.Lock()
						defer mu.Unlock()
						switch {
						case e != nil:
							t.Errorf("error %v", e)
						case ok:
							stopped++
						case reason != ReasonAlreadyStopped:
							t.Errorf("not stopped, Reason %q", reason)
						}
					})
				}
				wg.Wait()
				want, before := map[bool]int{true: 1, false: 10}[ledger], 0
				if strings.HasPrefix(tc.name, "alert") {
					before = 1
					if ledger {
						want = 0 // the first stop, of every instance, covers them all
					}
				}
				if stopped != want {
					t.Errorf("%d answers say stopped, want %d", stopped, want)
				}
				if calls := len(api.Stops()) - before; calls != want {
					t.Errorf("%d StopInvocation calls, want %d", calls, want)
				}
			})
		}
	}
}

// A dry run says what a real run would do now (so "already stopped" after
// a stop), and leaves nothing in the ledger.
func TestDryRunsConsultTheLedger(t *testing.T) {
	api := newRecorder(sampleInvocation())
	f := &Function{API: api, RegionId: "cn-hangzhou", Ledger: NewStopLedger(), Log: discardLog()}
	dry := func() StopAnswer {
		a, e := f.Stop(context.Background(), "r", StopRequest{InvokeId: "t-abc", DryRun: boolp(true)})
		if e != nil {
			t.Fatal(e)
		}
		return a
	}
	if a := dry(); !isTrue(a.WouldStop) {
		t.Fatalf("dry run before any stop: %+v", a)
	}
	if a, _ := f.Stop(context.Background(), "r", StopRequest{InvokeId: "t-abc"}); !isTrue(a.Stopped) {
		t.Fatalf("a dry run filled the ledger: %+v", a)
	}
	// The recorder leaves the invocation as it was (one instance pending):
	// what was read after the stop has pending work, so a new read decides.
	api.Edit(func(fleet []ca.Invocation) {
		fleet[0] = rollout("t-abc", []string{"Running", "Cancelled"})
		fleet[0].RegionId = "cn-hangzhou"
	})
	if a := dry(); a.WouldStop == nil || *a.WouldStop || a.Reason != ReasonAlreadyStopped {
		t.Fatalf("dry run after the stop: %+v", a)
	}
	if len(api.Stops()) != 1 {
		t.Fatalf("%d stops", len(api.Stops()))
	}
}

// Sweeps of one instance take turns: one that cannot have its turn before
// its time for starting work answers Truncated, having read and stopped
// nothing, and says why.
func TestSweepsTakeTurns(t *testing.T) {
	api := newFake(inv("t-old", 3*time.Hour, ca.StatusRunning))
	api.StopDelay = 300 * time.Millisecond
	var logs bytes.Buffer
	f := testFunction(api, &logs)
	f.Ledger = NewStopLedger()
	first := make(chan SweepAnswer)
	go func() {
		a, _ := f.RunSweep(context.Background(), "first", SweepRequest{})
		first <- a
	}()
	// The first has its turn once it lists.
	reads := api.Describes
	for reads() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	describes := reads()
	a, e := f.RunSweep(ctx, "second", SweepRequest{})
	if e != nil || !a.Truncated || a.Scanned != 0 || len(a.Stopped) != 0 || reads() > 5 {
		t.Fatalf("second sweep: %+v, err %v, %d reads in all (the first sweep makes 5)", a, e, reads()-describes)
	}
	if a := <-first; len(a.Stopped) != 1 {
		t.Fatalf("first sweep: %+v", a)
	}
	if !strings.Contains(logs.String(), "waited for another sweep") {
		t.Fatalf("no line says the sweep waited:\n%s", logs.String())
	}
	// Its turn over, the next sweep runs, and leaves what the first stopped.
	a, e = f.RunSweep(context.Background(), "third", SweepRequest{})
	if e != nil || a.Truncated || a.Matched != 0 || len(a.Spared) != 1 || a.Spared[0].Reason != ReasonAlreadyStopped {
		t.Fatalf("third sweep: %+v, err %v", a, e)
	}
	if n := api.StopCount("cn-hangzhou", "t-old"); n != 1 {
		t.Fatalf("%d stops", n)
	}
}

// changeOnStop is a fake API that, at its first stop, changes the other
// invocations as change says: what a sweep's read just before each stop
// must catch.
type changeOnStop struct {
	*fakeapi.API
	once   sync.Once
	change func(fleet []ca.Invocation)
}

func (c *changeOnStop) StopInvocation(ctx context.Context, region, id string, instances []string) error {
	err := c.API.StopInvocation(ctx, region, id, instances)
	c.once.Do(func() {
		c.Edit(c.change)
	})
	return err
}

// The sweep reads each invocation again just before its stop: what ended,
// went or got every active instance Stopping meanwhile is counted in
// NoLongerStoppable, what was tagged stopper:protect meanwhile is Spared.
func TestSweepRereadsBeforeStopping(t *testing.T) {
	api := &changeOnStop{API: newFake(
		inv("t-0first", 3*time.Hour, ca.StatusRunning),
		inv("t-ended", 3*time.Hour, ca.StatusRunning),
		inv("t-gone", 3*time.Hour, ca.StatusRunning),
		inv("t-protected", 3*time.Hour, ca.StatusRunning),
		inv("t-stopping", 3*time.Hour, ca.StatusRunning, func(i *ca.Invocation) {
			i.InvokeInstances.InvokeInstance = []ca.InvokeInstance{{InstanceId: "i-1", InvocationStatus: ca.StatusRunning}}
		}),
		inv("t-still", 3*time.Hour, ca.StatusRunning),
	), change: func(fleet []ca.Invocation) {
		for i := range fleet {
			switch inv := &fleet[i]; inv.InvokeId {
			case "t-ended":
				inv.InvocationStatus = ca.StatusFinished
			case "t-gone":
				inv.RegionId = "gone"
			case "t-protected":
				inv.Tags.Tag = append(inv.Tags.Tag, ca.Tag{TagKey: TagProtect, TagValue: "true"})
			case "t-stopping":
				inv.InvokeInstances.InvokeInstance[0].InvocationStatus = ca.StatusStopping
			}
		}
	}}
	f := testFunction(api, &bytes.Buffer{})
	f.Sweep.Concurrency = 1 // in listing order: t-0first is stopped first
	a, e := f.RunSweep(context.Background(), "r", SweepRequest{})
	if e != nil {
		t.Fatal(e)
	}
	if ids(a.Stopped) != "cn-hangzhou/t-0first cn-hangzhou/t-still" || a.NoLongerStoppable != 3 || a.Matched != 6 ||
		len(a.Spared) != 1 || a.Spared[0].InvokeId != "t-protected" || a.Spared[0].Reason != TagProtect || len(a.Failed) != 0 {
		t.Fatalf("answer %+v", a)
	}
	// Each stop cost one read more than the listing.
	if api.Describes() != 4+6 {
		t.Errorf("%d reads, want 4 listings and 6 reads again", api.Describes())
	}
}

// What a sweep left undone, for a queue to hand it back.
func TestSweepUnfinished(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    SweepAnswer
		want string
	}{
		{"done", SweepAnswer{Failed: []FailedInvoke{{RegionId: "cn-hangzhou", InvokeId: "t-a", Code: "InvalidInvokeId.NotFound"}}}, ""},
		{"truncated", SweepAnswer{Truncated: true}, "truncated"},
		{"a region not listed", SweepAnswer{Failed: []FailedInvoke{{RegionId: "cn-beijing", Code: "InvalidRegionId.NotFound"}}}, "region cn-beijing not listed: InvalidRegionId.NotFound"},
		{"a transient stop failure", SweepAnswer{Failed: []FailedInvoke{{RegionId: "cn-hangzhou", InvokeId: "t-a", Code: "InternalError", transient: true}}},
			"invocation t-a in cn-hangzhou not stopped: InternalError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.a.Unfinished()
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Fatalf("Unfinished() = %q, want %q", got, tc.want)
			}
		})
	}
	// Through a sweep: a stop that keeps failing transiently.
	api := newFake(inv("t-5xx", 3*time.Hour, ca.StatusRunning))
	api.StopErr["t-5xx"] = fmt.Errorf("ecs: failed after 5 attempts: %w", &ca.Error{Code: "InternalError", Message: "boom", HTTPStatus: 500})
	a, _ := testFunction(api, &bytes.Buffer{}).RunSweep(context.Background(), "r", SweepRequest{})
	if got := a.Unfinished(); !strings.Contains(got, "t-5xx") || a.Truncated {
		t.Fatalf("Unfinished() = %q, answer %+v", got, a)
	}
}

// A request whose deadline passes while another stops the same invocation
// fails transiently, saying so, and sends nothing.
func TestStopWaitingPastTheDeadline(t *testing.T) {
	api := newRecorder(sampleInvocation())
	f := &Function{API: api, RegionId: "cn-hangzhou", Ledger: NewStopLedger(), Log: discardLog()}
	_, done, _ := f.Ledger.claim(context.Background(), keyOf("cn-hangzhou", "t-abc", nil), f.Ledger.clock(), true)
	defer done(false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, e := withError(f.Stop(ctx, "r", StopRequest{InvokeId: "t-abc"}))
	if e == nil || !e.Transient || e.Code != CodeServiceUnavailable || !strings.Contains(e.Message, "another request") || len(api.Stops()) != 0 {
		t.Fatalf("err %+v, %d stops", e, len(api.Stops()))
	}
}
