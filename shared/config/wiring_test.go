package config_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/config"
	"github.com/ecs-stopper/stopper/shared/credentials"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// STOPPER_ALLOWED_REGIONS holds for every region of a sweep as the runtimes
// wire the function, the forbidden region sorting last. Nothing reaches the
// API. (A STOPPER_SWEEP_REGION_IDS outside the allowlist is refused at
// start-up: badvalues_test.go.)
func TestWiredSweepRefusesARegionOutsideTheAllowlist(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		event []byte
	}{
		{"request", map[string]string{"STOPPER_ALLOWED_REGIONS": "cn-beijing,cn-hangzhou"},
			[]byte(`{"Action":"Sweep","RegionIds":["cn-hangzhou","us-west-1","cn-beijing"]}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, h, _ := wire(t, emulator.Options{}, tc.env)
			res, err := h.Invoke(context.Background(), "req-allow", tc.event)
			if err != nil || res.Failure == nil || res.Failure.Code != stopper.CodeForbiddenRegion || !strings.Contains(res.Failure.Message, "us-west-1") {
				t.Fatalf("Invoke = %v, %+v, %s; want Forbidden.Region naming us-west-1", err, res.Failure, res.Payload)
			}
			if n := emu.Calls("DescribeInvocations") + emu.Calls("StopInvocation"); n != 0 {
				t.Fatalf("a refused sweep made %d API calls", n)
			}
		})
	}
}

// The production logger (config's JSON handler) at debug level, through
// calls the client retries, never shows the AccessKey secret or the STS
// token: not in the retry lines, the outcome lines, nor the answer.
func TestDebugLogOfRetriedCallsShowsNoCredentials(t *testing.T) {
	const token = "CAIS-wired-sts-token-DO-NOT-LOG-5d1c"
	emu, _, _ := wire(t, emulator.Options{FailFirst: 2}, map[string]string{"STOPPER_LOG_LEVEL": "debug", "STOPPER_MAX_ATTEMPTS": "5"})
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h, err := cfg.Handler(staticIdentity(acs.Credentials{AccessKeyID: akid, AccessKeySecret: akSecret, SecurityToken: token}), cfg.Logger(&logs))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var answers []string
	for _, event := range [][]byte{
		[]byte(`{"InvokeId":"` + sampleInvoke + `"}`),
		webhookEvent(`{"InvokeId":"` + sampleInvoke + `"}`),
		[]byte(`{"Action":"Sweep","DryRun":true}`),
	} {
		res, err := h.Invoke(ctx, "req-debug", event)
		if err != nil || res.Failure != nil {
			t.Fatalf("%s: %v %+v %s", event, err, res.Failure, res.Payload)
		}
		answers = append(answers, string(res.Payload))
	}
	if emu.Calls("DescribeInvocations")+emu.Calls("StopInvocation") < 3 {
		t.Fatal("no call was made")
	}
	var retries int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if m["msg"] == "ecs: retrying" && m["level"] == "DEBUG" {
			retries++
		}
	}
	if retries != 2 {
		t.Fatalf("%d retry lines, want 2 (the faults): the debug path did not run\n%s", retries, logs.String())
	}
	for _, secret := range []string{akSecret, token} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows %q:\n%s", secret, logs.String())
		}
		for _, a := range answers {
			if strings.Contains(a, secret) {
				t.Errorf("an answer shows %q: %s", secret, a)
			}
		}
	}
}

// staticIdentity signs with one fixed pair, as the env source does.
func staticIdentity(c acs.Credentials) credentials.Identity {
	return credentials.Identity{Provider: acs.Static(c), Source: credentials.SourceEnv}
}
