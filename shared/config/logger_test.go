package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Durations are logged as Go duration strings, in groups too, and only
// durations: other values keep their JSON type.
func TestLoggerWritesDurationsAsText(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, nil)
	log.Info("sweep", "took", 2*time.Second, "count", 3, slog.Group("retry", "after", 1500*time.Millisecond), "d", time.Duration(0))
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %s", buf.String())
	}
	if line["took"] != "2s" || line["count"] != 3.0 || line["retry"].(map[string]any)["after"] != "1.5s" || line["d"] != "0s" {
		t.Fatalf("line = %s", buf.String())
	}
}

// A nil level is info; Config.Logger uses STOPPER_LOG_LEVEL.
func TestLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&buf, nil).Debug("hidden")
	NewLogger(&buf, nil).Info("shown")
	Config{LogLevel: "warn"}.Logger(&buf).Info("hidden too")
	Config{LogLevel: "debug"}.Logger(&buf).Debug("shown too", "wait", time.Minute)
	got := buf.String()
	if strings.Contains(got, "hidden") || !strings.Contains(got, `"msg":"shown"`) || !strings.Contains(got, `"msg":"shown too","wait":"1m0s"`) {
		t.Fatalf("log:\n%s", got)
	}
}
