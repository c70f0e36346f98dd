package ecs

import (
	"net/http"
	"testing"
	"time"
)

func TestBackoffFullJitter(t *testing.T) {
	c := &Client{baseDelay: 100 * time.Millisecond, maxDelay: 5 * time.Second}
	tests := []struct {
		attempt int
		ceiling time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{7, 5 * time.Second}, // 6.4s capped
		{70, 5 * time.Second},
		{1 << 20, 5 * time.Second}, // no overflow
	}
	for _, tt := range tests {
		var top time.Duration
		for range 2000 {
			d := c.backoff(tt.attempt)
			if d < 0 || d > tt.ceiling {
				t.Fatalf("backoff(%d) = %s, outside [0, %s]", tt.attempt, d, tt.ceiling)
			}
			top = max(top, d)
		}
		if top < tt.ceiling/2 { // 2000 uniform draws: not jittered over the range otherwise
			t.Errorf("backoff(%d) never above %s of a %s ceiling", tt.attempt, top, tt.ceiling)
		}
	}
}

func TestRateLimitWait(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"none", nil, 0},
		{"user-api", map[string]string{"x-ratelimit-user-api": "Limit:10,Remain:0,TimeLeft:350,Reset:1700000000"}, 350 * time.Millisecond},
		{"user", map[string]string{"x-ratelimit-user": "TimeLeft:1200"}, 1200 * time.Millisecond},
		{"larger wins", map[string]string{"x-ratelimit-user": "TimeLeft:100", "x-ratelimit-user-api": "TimeLeft: 900"}, 900 * time.Millisecond},
		{"garbage", map[string]string{"x-ratelimit-user": "TimeLeft:soon,TimeLeft:-5"}, 0},
		{"capped", map[string]string{"x-ratelimit-user": "TimeLeft:99999999999999999"}, maxHint},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		if got := rateLimitWait(h); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestBatch(t *testing.T) {
	for _, tt := range []struct{ n, want int }{{0, 1}, {1, 1}, {50, 1}, {51, 2}, {100, 2}, {120, 3}} {
		ids := make([]string, tt.n)
		if got := len(batch(ids, 50)); got != tt.want {
			t.Errorf("batch(%d) = %d batches, want %d", tt.n, got, tt.want)
		}
	}
}
