package ecs_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/ecs"
)

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
