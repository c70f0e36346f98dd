package ecs_test

// Edge tests: the exact boundaries of what the client accepts, sends, reads
// and reports (issue 13, mutation testing). Each test names the promise it
// holds; the mutants it kills are a consequence.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// TestStopInvocationLogsEachBatch: one debug line per batch stopped, naming
// the batch (from 1) out of how many, and its size.
func TestStopInvocationLogsEachBatch(t *testing.T) {
	var (
		buf bytes.Buffer
		mu  sync.Mutex
	)
	s := newStub(t, answers(status(200, okStopped)))
	c := newClient(t, s.srv.URL, func(o *ecs.Options) {
		o.Log = slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if err := c.StopInvocation(context.Background(), regionHZ, invokeID, ids(51)); err != nil {
		t.Fatal(err)
	}
	type line struct {
		Msg       string `json:"msg"`
		Instances int    `json:"instances"`
		Batch     int    `json:"batch"`
		Batches   int    `json:"batches"`
		RequestID string `json:"request_id"`
	}
	var got []line
	for _, raw := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var l line
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		if l.Msg == "ecs: stopped" {
			got = append(got, l)
		}
	}
	want := []line{
		{"ecs: stopped", 50, 1, 2, "req-ok"},
		{"ecs: stopped", 1, 2, 2, "req-ok"},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("stop lines %+v, want %+v", got, want)
	}
}

// TestStopErrorMessageEdges: a single batch's failure reads as a plain stop
// failure; a later batch's lists up to five ids in full and longer lists as
// the first four and the last.
func TestStopErrorMessageEdges(t *testing.T) {
	forbidden := status(403, apiErr("Operation.Forbidden", "denied"))
	tests := []struct {
		name    string
		n       int
		answers []func(http.ResponseWriter, *http.Request)
		batches int
		want    []string
		notWant []string
	}{
		{"50 instances are one batch", 50, []func(http.ResponseWriter, *http.Request){forbidden}, 1,
			[]string{"stopping " + invokeID + " in " + regionHZ + ": ecs: StopInvocation: Operation.Forbidden"},
			[]string{"batch", "already stopped"}},
		{"five failed ids are listed in full", 55, []func(http.ResponseWriter, *http.Request){status(200, okStopped), forbidden}, 2,
			[]string{
				"batch 2 of 2 (5 instances: i-bp0050, i-bp0051, i-bp0052, i-bp0053, i-bp0054) failed",
				"already stopped: 50 instances (i-bp0000, i-bp0001, i-bp0002, i-bp0003, … i-bp0049); not tried: 0",
			}, nil},
		{"six failed ids are cut", 56, []func(http.ResponseWriter, *http.Request){status(200, okStopped), forbidden}, 2,
			[]string{"batch 2 of 2 (6 instances: i-bp0050, i-bp0051, i-bp0052, i-bp0053, … i-bp0055) failed"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub(t, answers(tt.answers...))
			c := newClient(t, s.srv.URL, nil)
			err := c.StopInvocation(context.Background(), regionHZ, invokeID, ids(tt.n))
			var se *ecs.StopError
			if !errors.As(err, &se) || se.Batches != tt.batches {
				t.Fatalf("error %v (%T): want a *StopError of %d batches", err, err, tt.batches)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("message %q has %q", err, w)
				}
			}
		})
	}
}

// TestAnswerSizeBound: an answer of exactly 32 MiB is read; one byte more
// is refused as too large, not misread as broken JSON.
func TestAnswerSizeBound(t *testing.T) {
	const bound = 32 << 20 // the client's bound on an answer
	answer := func(size int) string {
		head := `{"RequestId":"req-big"}`
		return head + strings.Repeat(" ", size-len(head)) // trailing blanks are valid JSON
	}
	t.Run("exactly the bound", func(t *testing.T) {
		s := newStub(t, answers(status(200, answer(bound))))
		out, err := newClient(t, s.srv.URL, nil).DescribeInvocations(context.Background(), cloudassistant.DescribeInvocationsRequest{RegionId: regionHZ})
		if err != nil || out.RequestId != "req-big" {
			t.Fatalf("answer of %d bytes: %v, %+v", bound, err, out)
		}
	})
	t.Run("one byte more", func(t *testing.T) {
		s := newStub(t, answers(status(200, answer(bound+1))))
		_, err := newClient(t, s.srv.URL, nil).DescribeInvocations(context.Background(), cloudassistant.DescribeInvocationsRequest{RegionId: regionHZ})
		var api *cloudassistant.Error
		if !errors.As(err, &api) || api.Code != "InvalidResponse" || !strings.Contains(api.Message, "larger than 33554432 bytes") {
			t.Fatalf("answer of %d bytes: %v, want InvalidResponse naming the bound", bound+1, err)
		}
	})
}

// TestStatusRange: every 2xx answer is a success, 299 included; 300 is not.
func TestStatusRange(t *testing.T) {
	t.Run("299", func(t *testing.T) {
		s := newStub(t, answers(status(299, okStopped)))
		if err := newClient(t, s.srv.URL, nil).StopInvocation(context.Background(), regionHZ, invokeID, nil); err != nil {
			t.Errorf("a 299 answer failed: %v", err)
		}
	})
	t.Run("300", func(t *testing.T) {
		s := newStub(t, answers(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(300)
			_, _ = io.WriteString(w, "multiple choices")
		}))
		err := newClient(t, s.srv.URL, nil).StopInvocation(context.Background(), regionHZ, invokeID, nil)
		var api *cloudassistant.Error
		if !errors.As(err, &api) || api.Code != "HTTP300" || api.HTTPStatus != 300 {
			t.Errorf("a 300 answer gave %v, want the error HTTP300", err)
		}
	})
}

// TestUnexpectedBodyQuotedUpTo256Bytes: a body that is not the API's JSON is
// quoted whole up to 256 bytes and cut, with an ellipsis, past that.
func TestUnexpectedBodyQuotedUpTo256Bytes(t *testing.T) {
	x256 := strings.Repeat("x", 256)
	for _, tt := range []struct {
		body, suffix string
	}{
		{x256, `: "` + x256 + `"`},
		{x256 + "y", `: "` + x256 + `"…`},
	} {
		s := newStub(t, answers(status(200, tt.body)))
		_, err := newClient(t, s.srv.URL, nil).DescribeInvocations(context.Background(), cloudassistant.DescribeInvocationsRequest{RegionId: regionHZ})
		var api *cloudassistant.Error
		if !errors.As(err, &api) || !strings.HasSuffix(api.Message, tt.suffix) {
			t.Errorf("body of %d bytes: message %v does not end with %q", len(tt.body), err, tt.suffix)
		}
	}
}

// answering is a transport that answers every request itself, recording the
// hosts it was asked for.
type answering struct {
	mu    sync.Mutex
	hosts []string
}

func (a *answering) RoundTrip(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.hosts = append(a.hosts, r.URL.Host)
	a.mu.Unlock()
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(okStopped)), Request: r}, nil
}

func (a *answering) Hosts() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.hosts...)
}

// TestRegionIDs: a region id goes into the endpoint's host name only when it
// is a DNS label of lower-case letters, digits and inner '-' (1 to 63
// characters); anything else is refused before the network.
func TestRegionIDs(t *testing.T) {
	long := "cn-" + strings.Repeat("a", 60)
	tests := []struct {
		region string
		ok     bool
	}{
		{"cn-hangzhou", true},
		{"az09", true}, // the ends of both ranges
		{"a", true},
		{"9-0", true},
		{long, true}, // 63 characters
		{long + "b", false},
		{"", false},
		{"-cn", false},
		{"cn-", false},
		{"cn`", false}, // the characters either side of each range
		{"cn{", false},
		{"cn/", false},
		{"cn:", false},
		{"CN-hangzhou", false},
		{"cn_hangzhou", false},
		{"cn.hangzhou", false},
	}
	for _, tt := range tests {
		rt := &answering{}
		c, err := ecs.New(ecs.Options{Credentials: testCred, Transport: rt, MaxAttempts: 1, ReadTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = c.StopInvocation(context.Background(), tt.region, invokeID, nil)
		hosts := rt.Hosts()
		if tt.ok {
			if want := "ecs." + tt.region + ".aliyuncs.com"; err != nil || len(hosts) != 1 || hosts[0] != want {
				t.Errorf("region %q: %v, calls to %v; want one call to %s", tt.region, err, hosts, want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "is not a region id") || len(hosts) != 0 {
			t.Errorf("region %q: %v after calls to %v; want a refusal before the network", tt.region, err, hosts)
		}
	}
}

// TestTransportOptionIsUsed: Options.Transport carries every call.
func TestTransportOptionIsUsed(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		t.Error("the call bypassed Options.Transport")
		writeJSON(w, 400, apiErr("Bypassed", "no"))
	})
	rt := &answering{}
	c := newClient(t, s.srv.URL, func(o *ecs.Options) { o.Transport = rt })
	if err := c.StopInvocation(context.Background(), regionHZ, invokeID, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(rt.Hosts()); n != 1 {
		t.Errorf("Options.Transport carried %d calls, want 1", n)
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

// TestRedactURLEdges: the rule holds at the very start of the text too: a
// query or fragment first, a "://" with no scheme, an '@' right after it.
func TestRedactURLEdges(t *testing.T) {
	for in, want := range map[string]string{
		"?Secret=hunter2":   "?[redacted]",
		"#hunter2":          "#[redacted]",
		"?a=b#hunter2":      "?[redacted]#[redacted]",
		"://u:hunter2@host": "://[redacted]@host",
		"https://@host/x":   "https://[redacted]@host/x",
		"@host":             "[redacted]@host",
	} {
		if got := ecs.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
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
