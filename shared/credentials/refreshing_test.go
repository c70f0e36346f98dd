package credentials

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/sts"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// issuer is an Exchange that numbers the credentials it issues; lifetime
// is measured on clk. fail, when set, is its error.
type issuer struct {
	clk      *clock
	lifetime time.Duration
	n        atomic.Int32
	mu       sync.Mutex
	fail     error
	gate     chan struct{} // when set, each exchange waits for it
}

func (is *issuer) exchange(ctx context.Context) (sts.Credentials, error) {
	n := is.n.Add(1)
	is.mu.Lock()
	fail, gate := is.fail, is.gate
	is.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if fail != nil {
		return sts.Credentials{}, fail
	}
	return sts.Credentials{Pair: pair(int(n)), Expiration: is.clk.now().Add(is.lifetime)}, nil
}

func (is *issuer) setFail(err error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.fail = err
}

func pair(n int) acs.Credentials {
	return acs.Credentials{AccessKeyID: fmt.Sprintf("STS.pair%d", n), AccessKeySecret: fmt.Sprintf("secret-%d", n), SecurityToken: fmt.Sprintf("token-%d", n)}
}

func newTestRefreshing(t *testing.T, lifetime time.Duration) (*Refreshing, *issuer, *clock, *logBuffer) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
	is := &issuer{clk: clk, lifetime: lifetime}
	log, buf := newLog()
	r := NewRefreshing("oidc-file", is.exchange, log)
	r.now = clk.now
	return r, is, clk, buf
}

func get(t *testing.T, r *Refreshing) acs.Credentials {
	t.Helper()
	c, err := r.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Credentials are refreshed RefreshMargin before they expire, or at half
// their lifetime when that is later: short-lived credentials do not cost an
// exchange per call.
func TestRefreshSchedule(t *testing.T) {
	for _, tc := range []struct {
		name          string
		lifetime      time.Duration
		cached, fresh time.Duration // ages at which the first pair is still served / replaced
	}{
		{"one hour: three minutes ahead", time.Hour, 57*time.Minute - time.Second, 57 * time.Minute},
		{"ten seconds: at half-life", 10 * time.Second, 5*time.Second - time.Millisecond, 5 * time.Second},
		{"six minutes: exactly the margin at half-life", 6 * time.Minute, 3*time.Minute - time.Second, 3 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, is, clk, _ := newTestRefreshing(t, tc.lifetime)
			if is.n.Load() != 0 {
				t.Fatal("an exchange before the first call")
			}
			first := get(t, r)
			clk.advance(tc.cached)
			if got := get(t, r); got != first || is.n.Load() != 1 {
				t.Fatalf("at %s: %v after %d exchanges, want the first pair", tc.cached, got, is.n.Load())
			}
			clk.advance(tc.fresh - tc.cached)
			if got := get(t, r); got != pair(2) || is.n.Load() != 2 {
				t.Fatalf("at %s: %v after %d exchanges, want the second pair", tc.fresh, got, is.n.Load())
			}
		})
	}
}

// Fifty callers at expiry share one exchange.
func TestConcurrentCallersShareOneExchange(t *testing.T) {
	r, is, clk, _ := newTestRefreshing(t, time.Hour)
	get(t, r)
	clk.advance(time.Hour)
	is.gate = make(chan struct{})
	var wg sync.WaitGroup
	got := make([]acs.Credentials, 50)
	errs := make([]error, 50)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = r.Credentials(context.Background())
		}()
	}
	for is.n.Load() < 2 { // the one exchange has started
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let every caller reach the wait
	close(is.gate)
	wg.Wait()
	if n := is.n.Load(); n != 2 {
		t.Fatalf("%d exchanges, want 2 (the first and one refresh)", n)
	}
	for i := range got {
		if errs[i] != nil || got[i] != pair(2) {
			t.Fatalf("caller %d: %v, %v", i, got[i], errs[i])
		}
	}
}

// A caller waiting on an exchange gives up with its context; the exchange
// goes on for the others.
func TestWaitingHonoursContext(t *testing.T) {
	r, is, _, _ := newTestRefreshing(t, time.Hour)
	is.gate = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := r.Credentials(ctx)
		done <- err
	}()
	for is.n.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	close(is.gate)
	if got := get(t, r); got != pair(1) || is.n.Load() != 1 {
		t.Fatalf("%v after %d exchanges: the cancelled caller's exchange should have completed", got, is.n.Load())
	}
}

// A failed refresh keeps the still-valid credentials and warns once; once
// they expired, requests get the transient Credentials.Unavailable.
func TestFailedRefresh(t *testing.T) {
	r, is, clk, logs := newTestRefreshing(t, time.Hour)
	first := get(t, r)
	stsErr := &sts.Error{Action: "AssumeRoleWithOIDC", Code: "AuthenticationFail.OIDCToken.Expired", Message: "the token expired", HTTPStatus: 400, RequestId: "R-1"}
	is.setFail(stsErr)

	clk.advance(58 * time.Minute)
	for range 3 { // within the retry pause: one attempt
		if got := get(t, r); got != first {
			t.Fatalf("got %v, want the still-valid pair", got)
		}
	}
	if n := is.n.Load(); n != 2 {
		t.Fatalf("%d exchanges, want 2", n)
	}
	lines := logs.lines()
	if len(lines) != 1 || !strings.Contains(lines[0], `"level":"WARN"`) || !strings.Contains(lines[0], `"credentials":"oidc-file"`) ||
		!strings.Contains(lines[0], `"code":"AuthenticationFail.OIDCToken.Expired"`) {
		t.Fatalf("log lines %q, want one warning naming the source and the code", lines)
	}
	clk.advance(retryPause)
	get(t, r)
	if n := is.n.Load(); n != 3 {
		t.Fatalf("%d exchanges after the pause, want 3", n)
	}

	clk.advance(time.Hour)
	_, err := r.Credentials(context.Background())
	var ce *cloudassistant.Error
	if !errors.As(err, &ce) || ce.Code != CodeUnavailable || ce.HTTPStatus != 503 || !ce.Retryable() {
		t.Fatalf("error %#v, want a retryable %s", err, CodeUnavailable)
	}
	for _, want := range []string{"oidc-file", "AuthenticationFail.OIDCToken.Expired", "check the OIDC provider ARN"} {
		if !strings.Contains(ce.Message, want) {
			t.Errorf("message %q lacks %q", ce.Message, want)
		}
	}
	for _, line := range append(logs.lines(), err.Error()) {
		for _, secret := range []string{first.AccessKeySecret, first.SecurityToken, first.AccessKeyID} {
			if strings.Contains(line, secret) {
				t.Errorf("%q shows %q", line, secret)
			}
		}
	}
	// Recovery: the next success is served again.
	is.setFail(nil)
	if got := get(t, r); got.AccessKeyID == "" {
		t.Fatal("no credentials after recovery")
	}
}

// The first exchange failing is Credentials.Unavailable at once, and a
// later call tries again.
func TestFirstExchangeFails(t *testing.T) {
	r, is, _, logs := newTestRefreshing(t, time.Hour)
	is.setFail(errors.New("reading the OIDC token file: permission denied"))
	for range 2 {
		_, err := r.Credentials(context.Background())
		var ce *cloudassistant.Error
		if !errors.As(err, &ce) || ce.Code != CodeUnavailable || !strings.Contains(ce.Message, "permission denied") ||
			!strings.Contains(ce.Message, "token file exists") {
			t.Fatalf("error %v", err)
		}
	}
	if is.n.Load() != 2 || len(logs.lines()) != 0 {
		t.Fatalf("%d exchanges, logs %q", is.n.Load(), logs.lines())
	}
}

func TestInvalidate(t *testing.T) {
	r, is, _, _ := newTestRefreshing(t, time.Hour)
	first := get(t, r)
	r.Invalidate(pair(99)) // not held: nothing happens
	if got := get(t, r); got != first || is.n.Load() != 1 {
		t.Fatalf("invalidating other credentials dropped the cached ones")
	}
	r.Invalidate(first)
	if got := get(t, r); got != pair(2) || is.n.Load() != 2 {
		t.Fatalf("got %v after %d exchanges, want fresh credentials", got, is.n.Load())
	}
}

// secrets-manager fetches the key on first use, keeps it, and fetches it
// again once the API refused it.
func TestSecretsManagerRefetchesAfterInvalidate(t *testing.T) {
	var fetched atomic.Int32
	keys := KeySourceFunc(func(context.Context) (acs.Credentials, error) {
		n := fetched.Add(1)
		return acs.Credentials{AccessKeyID: fmt.Sprintf("LTAI5tRotatedKey%08d", n), AccessKeySecret: "s"}, nil
	})
	id, err := SecretsManager(keys, nil)
	if err != nil || id.Source != SourceSecretsManager || fetched.Load() != 0 {
		t.Fatalf("%+v, %v, %d fetches at construction", id, err, fetched.Load())
	}
	ctx := context.Background()
	a, _ := id.Provider.Credentials(ctx)
	b, _ := id.Provider.Credentials(ctx)
	if a != b || fetched.Load() != 1 {
		t.Fatalf("the key was fetched %d times", fetched.Load())
	}
	id.Provider.(acs.Invalidator).Invalidate(a)
	c, _ := id.Provider.Credentials(ctx)
	if c == a || fetched.Load() != 2 {
		t.Fatalf("after Invalidate: %v, %d fetches", c, fetched.Load())
	}
}

func TestRefreshTime(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		exp, want time.Time
	}{
		{time.Time{}, time.Time{}},
		{now.Add(time.Hour), now.Add(57 * time.Minute)},
		{now.Add(10 * time.Second), now.Add(5 * time.Second)},
		{now.Add(-time.Second), now.Add(-time.Second)}, // already expired (a clock ahead): due now
	} {
		if got := refreshTime(now, tc.exp); !got.Equal(tc.want) {
			t.Errorf("refreshTime(now, %v) = %v, want %v", tc.exp, got, tc.want)
		}
	}
}

// Near expiry the pause after a failed refresh shrinks to half the time
// left, so that a few tries still come before the credentials run out.
func TestFailedRefreshPausesHalfTheTimeLeft(t *testing.T) {
	r, is, clk, _ := newTestRefreshing(t, time.Hour)
	get(t, r)
	is.setFail(&sts.Error{Action: "AssumeRole", Code: "ServiceUnavailable", HTTPStatus: 503})
	clk.advance(time.Hour - 8*time.Second) // 8 s left: the pause is 4 s, not retryPause
	get(t, r)
	if n := is.n.Load(); n != 2 {
		t.Fatalf("%d exchanges, want 2", n)
	}
	clk.advance(3 * time.Second)
	get(t, r)
	if n := is.n.Load(); n != 2 {
		t.Fatalf("%d exchanges 3 s after the failure, want still 2", n)
	}
	clk.advance(1500 * time.Millisecond)
	get(t, r)
	if n := is.n.Load(); n != 3 {
		t.Fatalf("%d exchanges 4.5 s after the failure, want 3", n)
	}
}

// A provider says which source it refreshes, and prints nothing else.
func TestRefreshingNamesItsSource(t *testing.T) {
	r, _, _, _ := newTestRefreshing(t, time.Hour)
	c := get(t, r)
	if r.Source() != "oidc-file" {
		t.Errorf("Source() = %q, want oidc-file", r.Source())
	}
	for _, s := range []string{r.String(), fmt.Sprint(r), fmt.Sprintf("%+v", r)} {
		if !strings.Contains(s, "oidc-file") || strings.Contains(s, c.AccessKeySecret) || strings.Contains(s, c.SecurityToken) {
			t.Errorf("%q: want the source and no secret", s)
		}
	}
}
