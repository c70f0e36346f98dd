package ecs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/ecs"
)

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("i-bp%04d", i)
	}
	return out
}

// instancesOf reads InstanceId.1..N back from a call, checking there are no gaps.
func instancesOf(t *testing.T, q url.Values) []string {
	t.Helper()
	var out []string
	for k := range q {
		if strings.HasPrefix(k, "InstanceId.") {
			out = append(out, "")
		}
	}
	for i := range out {
		v := q.Get("InstanceId." + strconv.Itoa(i+1))
		if v == "" {
			t.Fatalf("InstanceId.%d missing in %v", i+1, q)
		}
		out[i] = v
	}
	return out
}

func TestStopInvocationBatches(t *testing.T) {
	tests := []struct {
		name  string
		ids   []string
		sizes []int // instances per call; 0 = no InstanceId.N (all instances)
	}{
		{"all instances", nil, []int{0}},
		{"empty list", []string{}, []int{0}},
		{"one", ids(1), []int{1}},
		{"exactly 50", ids(50), []int{50}},
		{"51", ids(51), []int{50, 1}},
		{"120", ids(120), []int{50, 50, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub(t, answers(status(200, okStopped)))
			c := newClient(t, s.srv.URL, nil)
			if err := c.StopInvocation(context.Background(), regionHZ, invokeID, tt.ids); err != nil {
				t.Fatalf("StopInvocation: %v", err)
			}
			calls := s.Calls()
			if len(calls) != len(tt.sizes) {
				t.Fatalf("%d calls, want %d", len(calls), len(tt.sizes))
			}
			var sent []string
			for i, call := range calls {
				if call.Method != http.MethodPost || call.Path != "/" || len(call.Body) != 0 {
					t.Errorf("call %d: %s %s with %d body bytes, want POST / with an empty body", i, call.Method, call.Path, len(call.Body))
				}
				for h, want := range map[string]string{"x-acs-action": "StopInvocation", "x-acs-version": "2014-05-26", "Accept": "application/json"} {
					if got := call.Header.Get(h); got != want {
						t.Errorf("call %d: %s = %q, want %q", i, h, got, want)
					}
				}
				if ua := call.Header.Get("User-Agent"); !strings.Contains(ua, "ecs-stopper") {
					t.Errorf("User-Agent %q does not name the project", ua)
				}
				if call.Query.Get("RegionId") != regionHZ || call.Query.Get("InvokeId") != invokeID {
					t.Errorf("call %d: query %v", i, call.Query)
				}
				got := instancesOf(t, call.Query)
				if len(got) != tt.sizes[i] {
					t.Errorf("call %d: %d instances, want %d", i, len(got), tt.sizes[i])
				}
				sent = append(sent, got...)
			}
			if len(tt.ids) > 0 && !reflect.DeepEqual(sent, tt.ids) {
				t.Errorf("instances sent out of order or lost")
			}
		})
	}
}

func TestStopInvocationBatchFailure(t *testing.T) {
	all := ids(120)
	s := newStub(t, answers(status(200, okStopped), status(403, apiErr("Operation.Forbidden", "denied"))))
	c := newClient(t, s.srv.URL, nil)
	err := c.StopInvocation(context.Background(), regionHZ, invokeID, all)
	var se *ecs.StopError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *StopError", err, err)
	}
	if se.Batch != 2 || se.Batches != 3 {
		t.Errorf("batch %d of %d, want 2 of 3", se.Batch, se.Batches)
	}
	if !reflect.DeepEqual(se.Stopped, all[:50]) || !reflect.DeepEqual(se.Failed, all[50:100]) || !reflect.DeepEqual(se.NotTried, all[100:]) {
		t.Errorf("stopped %d, failed %d, not tried %d; want 50/50/20", len(se.Stopped), len(se.Failed), len(se.NotTried))
	}
	var api *cloudassistant.Error
	if !errors.As(err, &api) || api.Code != "Operation.Forbidden" || api.HTTPStatus != 403 {
		t.Errorf("errors.As does not reach the API error: %v", err)
	}
	for _, want := range []string{"batch 2 of 3", "already stopped: 50", all[0], all[50], "Operation.Forbidden"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if n := len(s.Calls()); n != 2 {
		t.Errorf("%d calls, want 2 (no call after the failed batch)", n)
	}
}

func TestDescribeInvocationsParams(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		req  cloudassistant.DescribeInvocationsRequest
		want url.Values
	}{
		{"region only", cloudassistant.DescribeInvocationsRequest{RegionId: regionHZ},
			url.Values{"RegionId": {regionHZ}}},
		{"timed true", cloudassistant.DescribeInvocationsRequest{RegionId: regionHZ, Timed: &yes},
			url.Values{"RegionId": {regionHZ}, "Timed": {"true"}}},
		{"timed false", cloudassistant.DescribeInvocationsRequest{RegionId: regionHZ, Timed: &no},
			url.Values{"RegionId": {regionHZ}, "Timed": {"false"}}},
		{"everything", cloudassistant.DescribeInvocationsRequest{
			RegionId: regionHZ, InvokeId: invokeID, InvokeStatus: "Running", CommandName: "back up & rotate",
			RepeatMode: "Period", InstanceId: "i-a", MaxResults: 50, NextToken: "tok+/=en",
			Tags: []cloudassistant.Tag{{TagKey: "env", TagValue: "prod"}, {TagKey: "team name", TagValue: "数据 ~*"}, {TagKey: "any"}},
		}, url.Values{
			"RegionId": {regionHZ}, "InvokeId": {invokeID}, "InvokeStatus": {"Running"}, "CommandName": {"back up & rotate"},
			"RepeatMode": {"Period"}, "InstanceId": {"i-a"}, "MaxResults": {"50"}, "NextToken": {"tok+/=en"},
			"Tag.1.Key": {"env"}, "Tag.1.Value": {"prod"}, "Tag.2.Key": {"team name"}, "Tag.2.Value": {"数据 ~*"}, "Tag.3.Key": {"any"},
		}},
	}
	const answer = `{"RequestId":"r1","TotalCount":1,"NextToken":"next","Invocations":{"Invocation":[
		{"InvokeId":"t-1","InvocationStatus":"Running","RepeatMode":"Once","Timed":false,"CreationTime":"2020-01-19T09:15:46Z",
		 "Tags":{"Tag":[{"TagKey":"env","TagValue":"prod"}]},
		 "InvokeInstances":{"InvokeInstance":[{"InstanceId":"i-a","InvocationStatus":"Running","Repeats":1}]}}]}}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStub(t, answers(status(200, answer)))
			c := newClient(t, s.srv.URL, nil)
			resp, err := c.DescribeInvocations(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("DescribeInvocations: %v", err)
			}
			calls := s.Calls()
			if len(calls) != 1 {
				t.Fatalf("%d calls", len(calls))
			}
			if got := calls[0].Query; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("query\n got %v\nwant %v", got, tt.want)
			}
			if a := calls[0].Header.Get("x-acs-action"); a != "DescribeInvocations" {
				t.Errorf("x-acs-action %q", a)
			}
			inv := resp.Invocations.Invocation
			if resp.RequestId != "r1" || resp.NextToken != "next" || len(inv) != 1 || inv[0].InvokeId != "t-1" ||
				inv[0].Tags.Tag[0].TagValue != "prod" || inv[0].InvokeInstances.InvokeInstance[0].InstanceId != "i-a" {
				t.Errorf("answer decoded as %+v", resp)
			}
		})
	}
}

func TestSTSTokenSentAndSigned(t *testing.T) {
	s := newStub(t, answers(status(200, okStopped)))
	c := newClient(t, s.srv.URL, nil).WithCredentials(stsCred)
	if err := c.StopInvocation(context.Background(), regionHZ, invokeID, []string{"i-a"}); err != nil {
		t.Fatal(err)
	}
	h := s.Calls()[0].Header
	if got := h.Get("x-acs-security-token"); got != stsCred.SecurityToken {
		t.Errorf("x-acs-security-token %q", got)
	}
	// verifyV3 already required the token header to be signed; check the key used.
	if !strings.Contains(h.Get("Authorization"), "Credential="+stsCred.AccessKeyID+",") {
		t.Errorf("Authorization %q does not use the STS key", h.Get("Authorization"))
	}
}

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

// TestStopErrorMessageListsIds: a single batch's failure reads as a plain stop
// failure; a later batch's lists up to five ids in full and longer lists as
// the first four and the last.
func TestStopErrorMessageListsIds(t *testing.T) {
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
