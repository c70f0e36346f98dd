package config_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/config"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// STOPPER_MAX_THROTTLE_RETRIES=0 means no retry after a throttling answer
// (0 is the client's own "default", so the wiring must say so).
func TestNoThrottleRetries(t *testing.T) {
	// One token, refilled in two seconds: the first call passes, the next is
	// throttled (and a retry, were there one, would pass).
	emu, h, _ := wire(t, emulator.Options{ThrottleQPS: 0.5, ThrottleBurst: 1},
		map[string]string{"STOPPER_MAX_THROTTLE_RETRIES": "0"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 2 {
		h.Invoke(ctx, "req-throttle", []byte(`{"InvokeId":"`+sampleInvoke+`","DryRun":true}`))
		if n := emu.Calls("DescribeInvocations"); n != i+1 {
			t.Fatalf("after request %d: %d DescribeInvocations calls, want %d (no retry after throttling)", i+1, n, i+1)
		}
	}
}

// A repeated tag key is named in the start-up error, cut after 32 characters.
func TestLongValuesAreShortenedInErrors(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{strings.Repeat("k", 32), `"` + strings.Repeat("k", 32) + `"`},
		{strings.Repeat("k", 33), `"` + strings.Repeat("k", 32) + `..."`},
	} {
		t.Setenv("STOPPER_SWEEP_TAGS", tc.key+":a,"+tc.key+":b")
		_, err := config.Load()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("key of %d characters: error %v, want %s in it", len(tc.key), err, tc.want)
		}
	}
}
