package config_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/internal/testenv"
	"github.com/ecs-stopper/stopper/shared/config"
	"github.com/ecs-stopper/stopper/shared/credentials"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// Requests that all arrive when the role's credentials have expired share
// one exchange: the handler as config wires it, with STOPPER_ASSUME_ROLE_ARN
// on top of an AccessKey, against the emulator's STS.
func TestConcurrentRequestsAtExpiryShareOneExchange(t *testing.T) {
	const (
		lifetime   = 2 * time.Second
		concurrent = 50
	)
	elog, logger := e2e.NewEmulatorLog()
	fleet := e2e.IdentityFleet(emulator.StaleFleet("cn-hangzhou", concurrent+1, time.Now().Add(-3*time.Hour)).Invocations, nil)
	emu, err := emulator.New(emulator.Options{AccessKeyID: akid, AccessKeySecret: akSecret,
		Fleet: fleet, Log: logger, STSDuration: lifetime})
	if err != nil {
		t.Fatal(err)
	}
	served, issued := e2e.RecordIssued(emu)
	srv := httptest.NewServer(served)
	t.Cleanup(srv.Close)
	t.Setenv("STOPPER_ECS_ENDPOINT", srv.URL)
	t.Setenv("STOPPER_REGION_ID", "cn-hangzhou")
	t.Setenv("STOPPER_ASSUME_ROLE_ARN", e2e.MemberRole)
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{credentials.EnvAccessKeyID: akid, credentials.EnvAccessKeySecret: akSecret}
	var logs e2e.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	id, err := cfg.Identity(config.IdentityOptions{Getenv: func(k string) string { return env[k] }, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if id.Source != credentials.SourceEnv || id.RoleArn != e2e.MemberRole {
		t.Fatalf("identity %s, role %s; want env with the role on top", id.Source, id.RoleArn)
	}
	if n := emu.Calls("AssumeRole"); n != 0 {
		t.Fatalf("%d AssumeRole calls at start-up, want none", n)
	}
	h, err := cfg.Handler(id, log)
	if err != nil {
		t.Fatal(err)
	}
	stop := func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		res, err := h.Invoke(ctx, fmt.Sprintf("req-%d", i), fmt.Appendf(nil, `{"RegionId":"cn-hangzhou","InvokeId":"t-late%04d"}`, i))
		switch {
		case err != nil:
			return err
		case res.Failure != nil:
			return fmt.Errorf("%s: %s", res.Failure.Code, res.Failure.Message)
		}
		return nil
	}
	if err := stop(0); err != nil {
		t.Fatal(err)
	}
	if n := emu.Calls("AssumeRole"); n != 1 {
		t.Fatalf("%d AssumeRole calls for the first request, want 1", n)
	}
	// The credentials were issued for at most lifetime.
	time.Sleep(lifetime + 100*time.Millisecond)

	var wg sync.WaitGroup
	errs := make([]error, concurrent+1)
	start := make(chan struct{})
	for i := 1; i <= concurrent; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = stop(i)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if n := len(elog.Calls(t, "AssumeRole")); n != 2 {
		t.Fatalf("%d AssumeRole calls in the emulator's log, want 2: one at the first request, one for the %d at expiry", n, concurrent)
	}
	stops := elog.Calls(t, "StopInvocation")
	if len(stops) != concurrent+1 {
		t.Fatalf("%d StopInvocation calls, want %d", len(stops), concurrent+1)
	}
	for _, c := range stops {
		if c.Account != e2e.MemberAccount || c.Principal != e2e.MemberRole || c.Code != "" {
			t.Fatalf("StopInvocation call %+v: want a success by %s in %s (expired credentials never reach the API)", c, e2e.MemberRole, e2e.MemberAccount)
		}
	}
	lines := 0
	for _, line := range e2e.LogLines(logs.String()) {
		if line["credentials"] != nil {
			lines++
			if line["credentials"] != credentials.SourceEnv || line["role"] != e2e.MemberRole {
				t.Errorf("log line %v: want credentials env, role %s", line, e2e.MemberRole)
			}
		}
	}
	if lines < concurrent+1 {
		t.Errorf("%d log lines name the credentials' source, want one per request at least", lines)
	}
	if n := len(issued.Secrets()); n != 4 {
		t.Errorf("%d issued secrets and tokens recorded, want those of the 2 exchanges", n)
	}
	testenv.NoSecret(t, logs.String()+elog.String(), append(issued.Secrets(), akSecret)...)
}
