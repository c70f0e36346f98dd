// Package e2e is what the runtimes' end-to-end tests share (functions/aws
// under the Lambda RIE, functions/aliyun against a stand-in for FC): the
// repository's sample events, answers decoded, the emulator's view of an
// instance, and a buffer the function and the test may both use. Only tests
// import it.
package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/ecs-stopper/stopper/shared/emulator"
)

// ReadEvent reads a sample event from the repository's events/.
func ReadEvent(t testing.TB, name string) []byte {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("e2e: cannot locate its own source file")
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// DecodeObject decodes an answer that must be a JSON object.
func DecodeObject(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, b)
	}
	return m
}

// InstanceStatus is an instance's InvocationStatus in one of the
// emulator's invocations; a missing invocation or instance fails t.
func InstanceStatus(t testing.TB, emu *emulator.Server, region, invokeID, instanceID string) string {
	t.Helper()
	inv, ok := emu.Invocation(region, invokeID)
	if !ok {
		t.Fatalf("no invocation %s in %s", invokeID, region)
	}
	for _, in := range inv.InvokeInstances.InvokeInstance {
		if in.InstanceId == instanceID {
			return in.InvocationStatus
		}
	}
	t.Fatalf("no instance %s in %s", instanceID, invokeID)
	return ""
}

// Buffer is a bytes.Buffer safe for the concurrent writers a test has: the
// function's log and the test reading it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
