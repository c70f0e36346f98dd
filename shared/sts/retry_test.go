package sts_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/sts"
)

// STS's quota is per second: a throttled or faulted exchange is tried
// again, a refusal is final, and the tries are bounded.
func TestExchangesRetryThrottlingAndFaults(t *testing.T) {
	throttled := `{"RequestId":"R-T","Code":"Throttling.User","Message":"Request was denied due to user flow control."}`
	refused := `{"RequestId":"R-N","Code":"NoPermission","Message":"You are not authorized to do this action."}`
	for _, tc := range []struct {
		name      string
		answers   []func(w http.ResponseWriter)
		wantCalls int32
		wantCode  string
	}{
		{"throttled twice, then issued", []func(http.ResponseWriter){answer(400, throttled), answer(400, throttled), answer(200, okAnswer)}, 3, ""},
		{"a 503, then issued", []func(http.ResponseWriter){answer(503, "<html>busy</html>"), answer(200, okAnswer)}, 2, ""},
		{"a 500, then issued", []func(http.ResponseWriter){answer(500, `{"RequestId":"R-F","Code":"InternalError","Message":"fault"}`), answer(200, okAnswer)}, 2, ""},
		{"throttled without a subcode, then issued", []func(http.ResponseWriter){answer(400, `{"RequestId":"R-T","Code":"Throttling","Message":"slow down"}`), answer(200, okAnswer)}, 2, ""},
		{"a 4xx named like throttling is final", []func(http.ResponseWriter){answer(400, `{"RequestId":"R-X","Code":"ThrottlingPolicy.Invalid","Message":"no"}`), answer(200, okAnswer)}, 1, "ThrottlingPolicy.Invalid"},
		{"refused at once", []func(http.ResponseWriter){answer(403, refused), answer(200, okAnswer)}, 1, "NoPermission"},
		{"throttled every time", []func(http.ResponseWriter){answer(400, throttled)}, 6, "Throttling.User"},
	} {
		for _, action := range []string{"AssumeRole", "AssumeRoleWithOIDC"} {
			t.Run(tc.name+"/"+action, func(t *testing.T) {
				var calls atomic.Int32
				hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					n := int(calls.Add(1)) - 1
					tc.answers[min(n, len(tc.answers)-1)](w)
				}))
				t.Cleanup(hs.Close)
				c := newClient(t, hs.URL, acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret})
				var err error
				if action == "AssumeRole" {
					_, err = c.AssumeRole(context.Background(), sts.AssumeRoleInput{RoleArn: roleArn, RoleSessionName: "ecs-stopper-1"})
				} else {
					_, err = c.AssumeRoleWithOIDC(context.Background(), sts.AssumeRoleWithOIDCInput{OIDCProviderArn: providerArn, RoleArn: roleArn,
						OIDCToken: testOIDCToken, RoleSessionName: "ecs-stopper-1"})
				}
				var e *sts.Error
				switch {
				case tc.wantCode == "" && err != nil:
					t.Fatalf("%s = %v, want the credentials", action, err)
				case tc.wantCode != "" && (!errors.As(err, &e) || e.Code != tc.wantCode):
					t.Fatalf("%s = %v, want %s", action, err, tc.wantCode)
				}
				if got := calls.Load(); got != tc.wantCalls {
					t.Errorf("%d calls, want %d", got, tc.wantCalls)
				}
			})
		}
	}
}

func answer(status int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// The waits between tries are random, up to RetryDelay · 2^try (at most
// 2 s), and a try whose wait would pass the context's deadline is not
// made: short delays spend every try well within a deadline, the default
// delay (100 ms, also for a RetryDelay that is zero or negative) and
// longer ones do not fit six tries in 200 ms.
func TestRetryWaitsWithinADeadline(t *testing.T) {
	throttled := answer(400, `{"RequestId":"R-T","Code":"Throttling.User","Message":"Request was denied due to user flow control."}`)
	for _, tc := range []struct {
		name               string
		retryDelay         time.Duration
		deadline           time.Duration
		minCalls, maxCalls int32
	}{
		{"1 ms: every try within 5 s", time.Millisecond, 5 * time.Second, 6, 6},
		{"zero is the default", 0, 200 * time.Millisecond, 1, 5},
		{"negative is the default", -time.Millisecond, 200 * time.Millisecond, 1, 5},
		{"1 s", time.Second, 200 * time.Millisecond, 1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				throttled(w)
			}))
			t.Cleanup(hs.Close)
			c, err := sts.New(sts.Options{Endpoint: hs.URL, Credentials: acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret},
				RetryDelay: tc.retryDelay})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			_, err = c.AssumeRole(ctx, sts.AssumeRoleInput{RoleArn: roleArn, RoleSessionName: "ecs-stopper-1"})
			var e *sts.Error
			if !errors.As(err, &e) || e.Code != "Throttling.User" {
				t.Fatalf("AssumeRole = %v, want Throttling.User", err)
			}
			if got := calls.Load(); got < tc.minCalls || got > tc.maxCalls {
				t.Errorf("%d calls, want %d to %d", got, tc.minCalls, tc.maxCalls)
			}
		})
	}
}
