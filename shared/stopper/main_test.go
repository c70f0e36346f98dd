package stopper

import (
	"os"
	"testing"
	"time"
)

// TestMain shortens the sweep's waits before a retry: the tests check what
// happens after them, not how long they last (the property tests over the
// emulator keep real clocks for everything else).
func TestMain(m *testing.M) {
	faultBackoff = time.Millisecond
	os.Exit(m.Run())
}
