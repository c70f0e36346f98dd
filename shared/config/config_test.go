package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoadDefaults(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.SweepOlderThan != 2*time.Hour || c.ECSNetwork != "public" || c.SweepConcurrency != 8 || c.MaxAttempts != 5 || c.SweepMaxStops != 100 {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestLoadParses(t *testing.T) {
	t.Setenv("STOPPER_REGION_ID", "cn-hangzhou")
	t.Setenv("STOPPER_ALLOWED_REGIONS", "cn-hangzhou,cn-shanghai")
	t.Setenv("STOPPER_SWEEP_TAGS", "env:prod,team:ops")
	t.Setenv("STOPPER_SWEEP_OLDER_THAN", "90m")
	t.Setenv("STOPPER_ECS_ENDPOINT", "http://127.0.0.1:8080")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.RegionId != "cn-hangzhou" || len(c.AllowedRegions) != 2 || c.SweepTags["team"] != "ops" || c.SweepOlderThan != 90*time.Minute {
		t.Fatalf("parsed = %+v", c)
	}
	f := c.Function(nil, nil)
	if len(f.Sweep.RegionIds) != 1 || f.Sweep.RegionIds[0] != "cn-hangzhou" || f.Sweep.RestrictRegions || f.Sweep.MaxStops != 100 {
		t.Fatalf("sweep regions default to the region, unrestricted: %+v", f.Sweep)
	}
	if !f.FailFastMaxErrors.IsZero() {
		t.Fatalf("fail-fast watches only tagged invocations by default: %+v", f.FailFastMaxErrors)
	}
	t.Setenv("STOPPER_FAILFAST_MAX_ERRORS", "10%")
	t.Setenv("STOPPER_SWEEP_REGION_IDS", "cn-beijing")
	t.Setenv("STOPPER_SWEEP_MAX_STOPS", "0")
	c, _ = Load()
	if f := c.Function(nil, nil); !f.Sweep.RestrictRegions || f.Sweep.RegionIds[0] != "cn-beijing" || f.Sweep.MaxStops != 0 || f.FailFastMaxErrors.String() != "10%" {
		t.Fatalf("STOPPER_SWEEP_REGION_IDS bounds the sweep's regions: %+v", f.Sweep)
	}
}

// Every bad value stops start-up with the variable's name in the message.
func TestLoadRejectsBadValues(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"STOPPER_DRY_RUN", "maybe"},
		{"STOPPER_REGION_ID", "CN_Hangzhou"},
		{"STOPPER_ALLOWED_REGIONS", "cn-hangzhou,Bad Region"},
		{"STOPPER_ECS_ENDPOINT", "ecs.cn-hangzhou.aliyuncs.com"},
		{"STOPPER_ECS_NETWORK", "intranet"},
		{"STOPPER_WEBHOOK_SECRET", "short"},
		{"STOPPER_WEBHOOK_TOKEN", "too-short-0123456789"},
		{"STOPPER_WEBHOOK_TOKEN", "has a space 0123456789abcdefghijklmnop"},
		{"STOPPER_WEBHOOK_TOKEN_PREVIOUS", "0123456789abcdef0123456789abcdef"},
		{"STOPPER_SWEEP_OLDER_THAN", "2 hours"},
		{"STOPPER_SWEEP_OLDER_THAN", "-1h"},
		{"STOPPER_SWEEP_CONCURRENCY", "0"},
		{"STOPPER_SWEEP_TAGS", "novalue"},
		{"STOPPER_SWEEP_TAGS", ":prod"},
		{"STOPPER_SWEEP_MAX_STOPS", "-1"},
		{"STOPPER_NOTIFY_URL", "ftp://chat.example/hook"},
		{"STOPPER_NOTIFY_URL", "http://chat.example/hook"},
		{"STOPPER_NOTIFY_FORMAT", "teams"},
		{"STOPPER_NOTIFY_SECRET", "SEC0123"},
		{"STOPPER_NOTIFY_TIMEOUT", "0s"},
		{"STOPPER_FAILFAST_MAX_ERRORS", "0"},
		{"STOPPER_FAILFAST_MAX_ERRORS", "150%"},
		{"STOPPER_FAILFAST_MAX_ERRORS", "three"},
		{"STOPPER_SWEEP_MAX_STOPS", "many"},
		{"STOPPER_MAX_ATTEMPTS", "100"},
		{"STOPPER_MAX_THROTTLE_RETRIES", "-1"},
		{"STOPPER_MAX_THROTTLE_RETRIES", "101"},
		{"STOPPER_ECS_ENDPOINT", "http://ecs.cn-hangzhou.aliyuncs.com"},
		{"STOPPER_ECS_ENDPOINT", "https://user:pass@ecs.cn-hangzhou.aliyuncs.com"},
		{"STOPPER_READ_TIMEOUT", "0s"},
		{"STOPPER_LOG_LEVEL", "loud"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			_, err := Load()
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("Load() error = %v, want one naming %s", err, tc.name)
			}
		})
	}
}

// Start-up errors about the endpoint never show what it hides.
func TestEndpointErrorsAreRedacted(t *testing.T) {
	t.Setenv("STOPPER_ECS_ENDPOINT", "https://admin:hunter2@proxy.example/?token=sekrit")
	_, err := Load()
	if err == nil || !strings.Contains(err.Error(), "STOPPER_ECS_ENDPOINT") || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "sekrit") {
		t.Fatalf("Load() error = %v", err)
	}
}

// Notification settings: a bad one names its variable, and the URL's
// secret parts never show.
func TestNotifySettings(t *testing.T) {
	t.Setenv("STOPPER_NOTIFY_URL", "https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789")
	t.Setenv("STOPPER_NOTIFY_FORMAT", "slack")
	_, err := Load()
	if err == nil || !strings.Contains(err.Error(), "STOPPER_NOTIFY_FORMAT") || strings.Contains(err.Error(), "abcdef0123456789") {
		t.Fatalf("Load() error = %v", err)
	}
	t.Setenv("STOPPER_NOTIFY_FORMAT", "")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Notifier(nil)
	if err != nil || n == nil || n.Format() != "dingtalk" {
		t.Fatalf("notifier %v, %v", n, err)
	}
}
