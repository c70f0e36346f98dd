package emulator

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/ecs"
)

var hangzhou = url.Values{"RegionId": {"cn-hangzhou"}}

func TestFailFirst(t *testing.T) {
	s, hs := start(t, Options{FailFirst: 2})
	c := newClient(hs)
	for i := 0; i < 2; i++ {
		checkError(t, c.call(t, actionDescribe, hangzhou), 503, "ServiceUnavailable", hostOf(hs))
	}
	if r := c.call(t, actionDescribe, hangzhou); r.status != 200 {
		t.Fatalf("third call: %d %s", r.status, r.raw)
	}
	if s.Calls(actionDescribe) != 3 || s.Succeeded(actionDescribe) != 1 {
		t.Fatalf("Calls %d Succeeded %d", s.Calls(actionDescribe), s.Succeeded(actionDescribe))
	}
}

func TestThrottle(t *testing.T) {
	s, hs := start(t, Options{ThrottleQPS: 2, ThrottleBurst: 2})
	c := newClient(hs)
	var throttled reply
	ok := 0
	for i := 0; i < 5; i++ {
		r := c.call(t, actionDescribe, hangzhou)
		if r.status == 200 {
			ok++
		} else {
			throttled = r
		}
	}
	if ok < 2 || ok > 3 {
		t.Fatalf("%d of 5 immediate calls passed a 2 QPS, burst 2 throttle", ok)
	}
	checkError(t, throttled, 400, "Throttling.User", hostOf(hs))
	if m := throttled.body["Message"]; m != "Request was denied due to user flow control." {
		t.Errorf("Message %q", m)
	}
	if h := throttled.header.Get("x-ratelimit-user-api"); !strings.Contains(h, "TimeLeft:") {
		t.Errorf("x-ratelimit-user-api = %q", h)
	}
	// Buckets are per action: StopInvocation still has its burst.
	if r := c.stop(t, "cn-shanghai", shStuck); r.status != 200 {
		t.Fatalf("other action throttled: %s", r.raw)
	}
	// Tokens come back with time.
	time.Sleep(600 * time.Millisecond)
	if r := c.call(t, actionDescribe, hangzhou); r.status != 200 {
		t.Fatalf("after waiting: %s", r.raw)
	}
	if s.Calls(actionDescribe) != 6 {
		t.Fatalf("Calls %d", s.Calls(actionDescribe))
	}
}

func TestDrop(t *testing.T) {
	s, hs := start(t, Options{DropRate: 1})
	c := newClient(hs)
	_, err := c.hc.Do(c.request(t, actionStop, url.Values{"RegionId": {"cn-shanghai"}, "InvokeId": {shStuck}}))
	if err == nil {
		t.Fatal("a dropped call got an answer")
	}
	if s.Calls(actionStop) != 1 || s.Stops() != 0 || s.StopCalls("cn-shanghai", shStuck) != 0 {
		t.Fatalf("Calls %d Stops %d", s.Calls(actionStop), s.Stops())
	}
	if inv, _ := s.Invocation("cn-shanghai", shStuck); inv.InvocationStatus != "Pending" {
		t.Fatalf("a dropped stop changed the invocation: %s", inv.InvocationStatus)
	}
}

// With a seed, which calls are dropped is repeatable.
func TestDropIsSeeded(t *testing.T) {
	pattern := func() string {
		_, hs := start(t, Options{DropRate: 0.5, Seed: 42})
		c := newClient(hs)
		var b strings.Builder
		for i := 0; i < 20; i++ {
			c.hc.CloseIdleConnections()
			if resp, err := c.hc.Do(c.request(t, actionDescribe, hangzhou)); err != nil {
				b.WriteByte('x')
			} else {
				resp.Body.Close()
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b := pattern(), pattern()
	if a != b || !strings.Contains(a, "x") || !strings.Contains(a, ".") {
		t.Fatalf("patterns %q and %q", a, b)
	}
}

func TestLatency(t *testing.T) {
	s, hs := start(t, Options{Latency: 150 * time.Millisecond})
	c := newClient(hs)
	began := time.Now()
	if r := c.call(t, actionDescribe, hangzhou); r.status != 200 {
		t.Fatal(r.status)
	}
	if d := time.Since(began); d < 150*time.Millisecond {
		t.Fatalf("answered after %v", d)
	}
	// A caller that gives up while waiting changes nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	req := c.request(t, actionStop, url.Values{"RegionId": {"cn-shanghai"}, "InvokeId": {shStuck}}).WithContext(ctx)
	if _, err := c.hc.Do(req); err == nil {
		t.Fatal("no timeout")
	}
	time.Sleep(200 * time.Millisecond)
	if inv, _ := s.Invocation("cn-shanghai", shStuck); inv.InvocationStatus != "Pending" || s.Stops() != 0 {
		t.Fatalf("abandoned stop took effect: %s", inv.InvocationStatus)
	}
}

// hangUp must work without a hijackable connection too (HTTP/2, recorders).
func TestDropWithoutHijacker(t *testing.T) {
	s, err := New(Options{AccessKeyID: "a", AccessKeySecret: "b", DropRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		r := recover()
		if err, _ := r.(error); !errors.Is(err, http.ErrAbortHandler) {
			t.Fatalf("recovered %v", r)
		}
	}()
	s.ServeHTTP(&plainWriter{header: http.Header{}}, mustRequest(t))
	t.Fatal("answered")
}

type plainWriter struct{ header http.Header }

func (w *plainWriter) Header() http.Header         { return w.header }
func (w *plainWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *plainWriter) WriteHeader(int)             {}

func mustRequest(t *testing.T) *http.Request {
	r, err := http.NewRequest("GET", "http://ecs.aliyuncs.com/?Action=DescribeInvocations", nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// DropAfterRate performs the call, then closes the connection without its
// answer: the stop took effect though the client saw only an EOF.
func TestDropAfter(t *testing.T) {
	s, hs := start(t, Options{DropAfterRate: 1})
	c := newClient(hs)
	if _, err := c.hc.Do(c.request(t, actionStop, url.Values{"RegionId": {"cn-shanghai"}, "InvokeId": {shStuck}})); err == nil {
		t.Fatal("a call dropped after it ran got an answer")
	}
	if inv, _ := s.Invocation("cn-shanghai", shStuck); inv.InvocationStatus != "Stopped" {
		t.Fatalf("the stop was not applied: %s", inv.InvocationStatus)
	}
	if s.Calls(actionStop) != 1 || s.Stops() != 1 || s.StopCalls("cn-shanghai", shStuck) != 1 || s.DroppedAfter(actionStop) != 1 {
		t.Fatalf("Calls %d Stops %d StopCalls %d DroppedAfter %d", s.Calls(actionStop), s.Stops(),
			s.StopCalls("cn-shanghai", shStuck), s.DroppedAfter(actionStop))
	}
	// A call refused before its action ran is answered: nothing happened
	// whose answer could be lost.
	c.cred.AccessKeySecret = "wrong"
	checkError(t, c.call(t, actionStop, url.Values{"RegionId": {"cn-hangzhou"}, "InvokeId": {hzOnce}}), 400, "SignatureDoesNotMatch", hostOf(hs))
	if s.DroppedAfter(actionStop) != 1 {
		t.Fatalf("DroppedAfter %d", s.DroppedAfter(actionStop))
	}
}

// The project's client retries a stop whose answer was lost; the retry of an
// already-applied stop must succeed, in both stop modes, whatever the random seed.
func TestDropAfterRetriedStopSucceeds(t *testing.T) {
	for _, mode := range StopModes {
		dropped := 0
		defer func() {
			// The property is only exercised if answers were lost.
			if dropped < 10 {
				t.Errorf("%s: only %d answers dropped over 20 seeds", mode, dropped)
			}
		}()
		for seed := int64(1); seed <= 20; seed++ {
			clock := newFakeClock(testNow)
			s, hs := start(t, Options{DropAfterRate: 0.5, Seed: seed, StopMode: mode, Now: clock.Now})
			client, err := ecs.New(ecs.Options{Credentials: acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret},
				Endpoint: hs.URL, MaxAttempts: 12, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			for _, target := range []struct{ region, id string }{{"cn-hangzhou", hzOnce}, {"cn-shanghai", shPeriodic}, {"cn-shanghai", shStuck}} {
				if err := client.StopInvocation(context.Background(), target.region, target.id, nil); err != nil {
					t.Fatalf("%s seed %d: %s: %v", mode, seed, target.id, err)
				}
				inv, _ := s.Invocation(target.region, target.id)
				for _, in := range inv.InvokeInstances.InvokeInstance {
					if st := in.InvocationStatus; st == "Pending" || st == "Scheduled" || (mode == StopModeKill && st == "Running") {
						t.Fatalf("%s seed %d: %s %s still %s", mode, seed, target.id, in.InstanceId, st)
					}
				}
			}
			dropped += s.DroppedAfter(actionStop)
			if got, want := s.Stops(), 3+s.DroppedAfter(actionStop); got != want {
				t.Fatalf("%s seed %d: %d stops applied, want 3 answered + %d dropped", mode, seed, got, s.DroppedAfter(actionStop))
			}
		}
	}
}
