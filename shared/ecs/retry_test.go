package ecs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/ecs"
)

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(http.ResponseWriter, *http.Request)
		attempts  int
		wantCalls int
		code      string
		status    int
		requestID string
		inMessage string
		retryable bool
	}{
		{"not found is final", status(404, apiErr("InvalidInvokeId.NotFound", "The specified invoke id does not exist.")),
			5, 1, "InvalidInvokeId.NotFound", 404, "req-InvalidInvokeId.NotFound", "does not exist", false},
		{"missing parameter is final", status(400, apiErr("MissingParameter.InvokeId", "InvokeId is mandatory")),
			5, 1, "MissingParameter.InvokeId", 400, "req-MissingParameter.InvokeId", "mandatory", false},
		{"forbidden is final", status(403, apiErr("Operation.Forbidden", "no")),
			5, 1, "Operation.Forbidden", 403, "req-Operation.Forbidden", "no", false},
		{"503 retried until attempts run out", status(503, apiErr("ServiceUnavailable", "busy")),
			3, 3, "ServiceUnavailable", 503, "req-ServiceUnavailable", "busy", true},
		{"throttling retried until attempts run out", status(400, apiErr("Throttling.User", "slow down")),
			2, 2, "Throttling.User", 400, "req-Throttling.User", "slow down", true},
		{"HTML 502 from a gateway", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("x-acs-request-id", "req-from-header")
			w.WriteHeader(502)
			_, _ = w.Write([]byte("<html><body>Bad Gateway" + strings.Repeat(" padding", 500) + "</body></html>"))
		}, 2, 2, "HTTP502", 502, "req-from-header", "Bad Gateway", true},
		{"200 that is not JSON", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(200)
			_, _ = w.Write([]byte("<html>captive portal</html>"))
		}, 5, 1, "InvalidResponse", 200, "", "captive portal", false},
		{"redirect is not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusFound)
		}, 5, 1, "HTTP302", 302, "", "302", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub(t, answers(tt.answer))
			c := newClient(t, s.srv.URL, func(o *ecs.Options) {
				// attempts bounds the faulted attempts and, for the
				// throttling row, the throttled ones (first try included).
				o.MaxAttempts, o.MaxThrottleRetries = tt.attempts, tt.attempts-1
			})
			_, err := c.DescribeInvocations(context.Background(), cloudassistant.DescribeInvocationsRequest{RegionId: regionHZ})
			var api *cloudassistant.Error
			if !errors.As(err, &api) {
				t.Fatalf("error %v (%T) does not wrap a *cloudassistant.Error", err, err)
			}
			if api.Code != tt.code || api.HTTPStatus != tt.status || api.RequestId != tt.requestID || !strings.Contains(api.Message, tt.inMessage) {
				t.Errorf("got %+v, want Code %s, HTTP %d, RequestId %q, message with %q", api, tt.code, tt.status, tt.requestID, tt.inMessage)
			}
			if len(api.Message) > 1024 {
				t.Errorf("message of %d bytes: the body prefix is not bounded", len(api.Message))
			}
			if n := len(s.Calls()); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
			if ecs.IsRetryable(err) != tt.retryable {
				t.Errorf("IsRetryable = %v", !tt.retryable)
			}
			if tt.wantCalls > 1 && !strings.Contains(err.Error(), fmt.Sprintf("after %d attempts", tt.wantCalls)) {
				t.Errorf("error %q does not count the attempts", err)
			}
		})
	}
}

func TestRetryThenSuccess(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		select { // outlive the client's ReadTimeout; the client hangs up first
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
	tests := []struct {
		name      string
		first     func(http.ResponseWriter, *http.Request)
		throttled bool
	}{
		{"503 ServiceUnavailable", status(503, apiErr("ServiceUnavailable", "busy")), false},
		{"500 InternalError.Dispatch", status(500, apiErr("InternalError.Dispatch", "oops")), false},
		{"400 Throttling.User", status(400, apiErr("Throttling.User", "slow down")), true},
		{"429 Throttling.Api", status(429, apiErr("Throttling.Api", "slow down")), true},
		{"dropped connection", dropConnection, false},
		{"no answer within ReadTimeout", slow, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub(t, answers(tt.first, status(200, okStopped)))
			var mu sync.Mutex
			var events []ecs.RetryEvent
			c := newClient(t, s.srv.URL, func(o *ecs.Options) {
				o.ReadTimeout = 300 * time.Millisecond
				o.OnRetry = func(e ecs.RetryEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }
			})
			if err := c.StopInvocation(context.Background(), regionHZ, invokeID, []string{"i-a"}); err != nil {
				t.Fatalf("StopInvocation: %v", err)
			}
			if n := len(s.Calls()); n != 2 {
				t.Errorf("%d calls, want 2", n)
			}
			if len(events) != 1 || events[0].Attempt != 1 || events[0].Action != "StopInvocation" || events[0].Throttled != tt.throttled {
				t.Errorf("retry events %+v", events)
			}
		})
	}
}

func TestDeadlineBoundsRetries(t *testing.T) {
	s := newStub(t, answers(status(503, apiErr("ServiceUnavailable", "The request has failed due to a temporary failure of the server."))))
	c := newClient(t, s.srv.URL, func(o *ecs.Options) {
		o.MaxAttempts = 1000
		o.BaseDelay = 20 * time.Millisecond
		o.MaxDelay = 80 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.StopInvocation(ctx, regionHZ, invokeID, nil)
	elapsed := time.Since(start)
	if elapsed > 3*time.Second { // generous: the point is "about the deadline", not "MaxAttempts sleeps"
		t.Errorf("returned after %s with a 300ms deadline", elapsed)
	}
	var api *cloudassistant.Error
	if !errors.As(err, &api) || api.Code != "ServiceUnavailable" {
		t.Fatalf("error %v does not carry the last API error", err)
	}
	if n := len(s.Calls()); n < 2 {
		t.Errorf("%d calls: the client did not retry within the deadline", n)
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	s := newStub(t, answers(status(503, apiErr("ServiceUnavailable", "busy"))))
	ctx, cancel := context.WithCancel(context.Background())
	c := newClient(t, s.srv.URL, func(o *ecs.Options) {
		o.BaseDelay, o.MaxDelay = 10*time.Second, 10*time.Second
		o.OnRetry = func(ecs.RetryEvent) { cancel() }
	})
	start := time.Now()
	err := c.StopInvocation(ctx, regionHZ, invokeID, nil)
	if time.Since(start) > 5*time.Second {
		t.Errorf("cancel did not interrupt the backoff sleep")
	}
	var api *cloudassistant.Error
	if !errors.As(err, &api) || api.Code != "ServiceUnavailable" || !errors.Is(err, context.Canceled) {
		t.Errorf("error %v: want the last API error and context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "gave up after 1 attempts (0 throttled, 1 faulted)") {
		t.Errorf("error %q does not count the attempts", err)
	}
}

func TestRateLimitHint(t *testing.T) {
	throttled := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("x-ratelimit-user-api", "Limit:10,Remain:0,TimeLeft:250,Reset:1700000000")
		writeJSON(w, 400, apiErr("Throttling.User", "Request was denied due to user flow control."))
	}
	t.Run("waits at least TimeLeft", func(t *testing.T) {
		s := newStub(t, answers(throttled, status(200, okStopped)))
		c := newClient(t, s.srv.URL, nil) // backoff of at most 10ms: the wait comes from the hint
		start := time.Now()
		if err := c.StopInvocation(context.Background(), regionHZ, invokeID, nil); err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed < 250*time.Millisecond {
			t.Errorf("retried after %s, before the TimeLeft of 250ms", elapsed)
		}
	})
	t.Run("a hint past the deadline returns at once", func(t *testing.T) {
		s := newStub(t, answers(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("x-ratelimit-user", "TimeLeft:60000")
			writeJSON(w, 403, apiErr("Throttling.User", "slow down"))
		}))
		c := newClient(t, s.srv.URL, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		err := c.StopInvocation(ctx, regionHZ, invokeID, nil)
		if elapsed := time.Since(start); elapsed > 1500*time.Millisecond {
			t.Errorf("slept %s towards a deadline it could not beat", elapsed)
		}
		if !ecs.IsThrottled(err) || len(s.Calls()) != 1 {
			t.Errorf("error %v after %d calls: want the throttling error after 1", err, len(s.Calls()))
		}
	})
}

func TestRetryLogNamesNoSecret(t *testing.T) {
	for name, newHandler := range map[string]func(io.Writer) slog.Handler{
		"text": func(w io.Writer) slog.Handler {
			return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
		},
		"json": func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
		},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			var mu sync.Mutex
			s := newStub(t, answers(status(503, apiErr("ServiceUnavailable", "busy")), status(200, okStopped)))
			c := newClient(t, s.srv.URL, func(o *ecs.Options) {
				o.Log = slog.New(newHandler(&lockedWriter{w: &buf, mu: &mu}))
			}).WithCredentials(stsCred)
			if err := c.StopInvocation(context.Background(), regionHZ, invokeID, nil); err != nil {
				t.Fatal(err)
			}
			out := strings.NewReplacer(`"`, "", ":", "=").Replace(buf.String()) // one spelling for both handlers
			for _, want := range []string{"action=StopInvocation", "attempt=1", "faulted=1", "throttled=0", "code=ServiceUnavailable", "delay="} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %q:\n%s", want, buf.String())
				}
			}
			for _, secret := range []string{stsCred.AccessKeySecret, stsCred.SecurityToken} {
				if strings.Contains(buf.String(), secret) {
					t.Errorf("log shows a secret:\n%s", buf.String())
				}
			}
		})
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestIsThrottled(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("Throttling"), false},
		{&cloudassistant.Error{Code: "Throttling", HTTPStatus: 400}, true},
		{&cloudassistant.Error{Code: "Throttling.Api", HTTPStatus: 403}, true},
		{&ecs.StopError{Err: &cloudassistant.Error{Code: "Throttling.User", HTTPStatus: 400}}, true},
		{&cloudassistant.Error{Code: "ServiceUnavailable", HTTPStatus: 503}, false},
	}
	for _, tt := range tests {
		if got := ecs.IsThrottled(tt.err); got != tt.want {
			t.Errorf("IsThrottled(%v) = %v", tt.err, got)
		}
	}
}

func TestDeadlineDuringFirstAttempt(t *testing.T) {
	s := newStub(t, answers(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	c := newClient(t, s.srv.URL, nil) // ReadTimeout 5s: the caller's deadline comes first
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.StopInvocation(ctx, regionHZ, invokeID, nil)
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("returned after %s: ReadTimeout outlived the deadline", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) || len(s.Calls()) != 1 {
		t.Errorf("error %v after %d calls, want the deadline after 1", err, len(s.Calls()))
	}
}

// firstRetryDelay makes one call against a 503 and returns the delay the
// client chose before its first retry (the retry itself is cancelled).
func firstRetryDelay(t *testing.T, opts ecs.Options) time.Duration {
	t.Helper()
	s := newStub(t, answers(status(503, apiErr("ServiceUnavailable", "busy"))))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var delay time.Duration = -1
	opts.Credentials, opts.Endpoint = testCred, s.srv.URL
	opts.OnRetry = func(e ecs.RetryEvent) { delay = e.Delay; cancel() }
	c, err := ecs.New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	_ = c.StopInvocation(ctx, regionHZ, invokeID, nil)
	if delay < 0 {
		t.Fatal("no retry")
	}
	return delay
}

// TestOneDelaySetCapWins: setting only one of BaseDelay and MaxDelay, across
// the other's default, is accepted and the cap bounds every sleep.
func TestOneDelaySetCapWins(t *testing.T) {
	if d := firstRetryDelay(t, ecs.Options{MaxDelay: 50 * time.Millisecond}); d > 50*time.Millisecond {
		t.Errorf("MaxDelay 50ms under the default BaseDelay: slept %s", d)
	}
	if d := firstRetryDelay(t, ecs.Options{BaseDelay: 10 * time.Second}); d > ecs.DefaultMaxDelay {
		t.Errorf("BaseDelay 10s over the default MaxDelay: slept %s", d)
	}
}

// TestNanosecondDelays: the smallest delays allowed still retry, sleeping at
// most 1ns.
func TestNanosecondDelays(t *testing.T) {
	s := newStub(t, answers(status(503, apiErr("ServiceUnavailable", "busy")), status(200, okStopped)))
	var delays []time.Duration
	c := newClient(t, s.srv.URL, func(o *ecs.Options) {
		o.BaseDelay, o.MaxDelay = time.Nanosecond, time.Nanosecond
		o.OnRetry = func(e ecs.RetryEvent) { delays = append(delays, e.Delay) }
	})
	if err := c.StopInvocation(context.Background(), regionHZ, invokeID, nil); err != nil {
		t.Fatal(err)
	}
	if len(delays) != 1 || delays[0] > time.Nanosecond {
		t.Errorf("retry delays %v, want one of at most 1ns", delays)
	}
}

// TestCancelDuringRetryKeepsTheAPIError: when the caller's context ends
// during a retry, the error is what the API said last (and the cause), not
// the cut connection.
func TestCancelDuringRetryKeepsTheAPIError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newStub(t, answers(status(503, apiErr("ServiceUnavailable", "busy")), func(_ http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done() // the client hangs up
	}))
	err := newClient(t, s.srv.URL, nil).StopInvocation(ctx, regionHZ, invokeID, nil)
	var api *cloudassistant.Error
	if !errors.As(err, &api) || api.Code != "ServiceUnavailable" || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v: want the API's ServiceUnavailable and context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "gave up after 1 attempts (0 throttled, 1 faulted)") {
		t.Errorf("error %q does not count the attempts the API answered", err)
	}
	if n := len(s.Calls()); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

// A backoff bound so large that drawing a delay from it would overflow is
// refused when the client is built, not found by a panic on a retry.
func TestHugeDelaysAreRefused(t *testing.T) {
	for _, o := range []ecs.Options{{MaxDelay: time.Duration(math.MaxInt64)}, {BaseDelay: 2 * time.Hour}} {
		if _, err := ecs.New(o); err == nil || !strings.Contains(err.Error(), "at most 1h") {
			t.Errorf("New(%+v) = %v", o, err)
		}
	}
	for _, o := range []ecs.Options{{MaxDelay: time.Hour}, {BaseDelay: time.Hour, MaxDelay: time.Hour}} {
		if _, err := ecs.New(o); err != nil {
			t.Errorf("an hour is allowed: New(%+v) = %v", o, err)
		}
	}
}
