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
	if c.Function(nil, nil).NotifyDryRun {
		t.Fatal("dry runs are told by default")
	}
	t.Setenv("STOPPER_NOTIFY_DRY_RUN", "true")
	if c, err = Load(); err != nil || !c.Function(nil, nil).NotifyDryRun {
		t.Fatalf("STOPPER_NOTIFY_DRY_RUN=true does not reach the function: %v", err)
	}
}
