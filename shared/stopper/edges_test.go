package stopper

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// throttledLister throttles the first n listings, as a busy API does to a
// client that does not retry.
type throttledLister struct {
	*fakeAPI
	mu sync.Mutex
	n  int
}

func (l *throttledLister) DescribeInvocations(ctx context.Context, req ca.DescribeInvocationsRequest) (*ca.DescribeInvocationsResponse, error) {
	l.mu.Lock()
	if l.n > 0 {
		l.n--
		l.mu.Unlock()
		return nil, &ca.Error{Code: "Throttling.User", Message: "Request was denied due to user flow control.", HTTPStatus: 400}
	}
	l.mu.Unlock()
	return l.fakeAPI.DescribeInvocations(ctx, req)
}

// Throttled listings are waited out, not counted as faults: a sweep that
// lists first cannot do without its listing.
func TestSweepWaitsOutThrottledListings(t *testing.T) {
	var fleet []ca.Invocation
	for i := range 60 {
		fleet = append(fleet, inv(fmt.Sprintf("t-%03d", i), 3*time.Hour, ca.StatusRunning))
	}
	api := &throttledLister{fakeAPI: newFake(fleet...), n: listRetries + 2}
	a, err := testFunction(api, &bytes.Buffer{}).RunSweep(context.Background(), "r", SweepRequest{})
	if err != nil || len(a.Stopped) != 60 || len(a.Failed) != 0 || a.Truncated {
		t.Fatalf("err %v, %d stopped, Failed %v, Truncated %v", err, len(a.Stopped), a.Failed, a.Truncated)
	}
}
