package config

import (
	"os"
	"strings"
	"testing"
)

// TestMain runs the tests in an environment cleared of the function's
// settings, so that what a developer exported (the README tells users to
// export STOPPER_WEBHOOK_SECRET) does not change what the tests see.
func TestMain(m *testing.M) {
	clearEnv()
	os.Exit(m.Run())
}

// clearEnv unsets every STOPPER_* and ALIBABA_CLOUD_* variable.
func clearEnv() {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, Prefix+"_") || strings.HasPrefix(k, "ALIBABA_CLOUD_") {
			os.Unsetenv(k)
		}
	}
}
