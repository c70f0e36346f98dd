package main

import (
	"os"
	"testing"

	"github.com/ecs-stopper/stopper/internal/testenv"
)

// TestMain runs the tests in an environment cleared of the function's
// settings, so that what a developer exported (the README tells users to
// export STOPPER_WEBHOOK_SECRET) does not change what the tests see.
func TestMain(m *testing.M) {
	testenv.ClearFunctionEnv()
	os.Exit(m.Run())
}

// The tests see none of the function's settings but those they set
// themselves: TestMain cleared what the shell exported.
func TestEnvironmentIsCleared(t *testing.T) { testenv.CheckCleared(t) }
