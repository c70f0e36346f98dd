package fcruntime

import (
	"os"
	"strings"
	"testing"
)

// TestMain runs the tests in an environment cleared of the function's
// settings and credentials: the function reads STOPPER_* and
// ALIBABA_CLOUD_* at start-up, and what a developer exported (the README
// tells users to export STOPPER_WEBHOOK_SECRET; STOPPER_NOTIFY_URL would
// send notifications out of a test) must not change what the tests see.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "STOPPER_") || strings.HasPrefix(k, "ALIBABA_CLOUD_") {
			os.Unsetenv(k)
		}
	}
	os.Exit(m.Run())
}

// The tests see none of the function's settings but those they set
// themselves: TestMain cleared what the shell exported.
func TestEnvironmentIsCleared(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "STOPPER_") || strings.HasPrefix(k, "ALIBABA_CLOUD_") {
			t.Errorf("%s is set in the tests' environment", k)
		}
	}
}
