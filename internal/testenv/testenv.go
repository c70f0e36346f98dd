// Package testenv is what the module's tests share: an environment cleared
// of the function's settings, and the repository's sample events. Only
// tests import it.
package testenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// functionVariable reports whether k is read by the function at start-up:
// its settings and the Alibaba Cloud credentials. (A variable of the tests'
// own, such as ECS_STOPPER_RIE, must not start with STOPPER_: the function
// refuses a STOPPER_* name it does not know.)
func functionVariable(k string) bool {
	return strings.HasPrefix(k, "STOPPER_") || strings.HasPrefix(k, "ALIBABA_CLOUD_")
}

// ClearFunctionEnv unsets every STOPPER_* and ALIBABA_CLOUD_* variable but
// those in keep. A TestMain calls it: what a developer exported (the README
// tells users to export STOPPER_WEBHOOK_SECRET; STOPPER_NOTIFY_URL would
// send notifications out of a test) must not change what the tests see.
func ClearFunctionEnv(keep ...string) {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if functionVariable(k) && !slices.Contains(keep, k) {
			os.Unsetenv(k)
		}
	}
}

// CheckCleared fails t for each of the function's variables in the
// environment but those in keep: a package's TestMain forgot to clear it.
func CheckCleared(t testing.TB, keep ...string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); functionVariable(k) && !slices.Contains(keep, k) {
			t.Errorf("%s is set in the tests' environment", k)
		}
	}
}

// moduleRoot is the repository's root: two folders above this file.
func moduleRoot(tb testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("testenv: cannot locate its own source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// SampleEvents are the repository's sample events as they are: every file of
// events/ and shared/trigger/testdata.
func SampleEvents(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, dir := range []string{"events", filepath.Join("shared", "trigger", "testdata")} {
		files, _ := filepath.Glob(filepath.Join(moduleRoot(tb), dir, "*.json"))
		if len(files) == 0 {
			tb.Fatalf("testenv: no sample events in %s", dir)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// CarriedRequests are the requests inside a sample event, as a trigger hands
// them on: an HTTP event's body, a timer's payload, a queue record's body or
// an SNS message. An event that carries none (a direct invocation is its own
// request) gives none.
func CarriedRequests(event []byte) [][]byte {
	var ev struct {
		Body    *string `json:"body"`
		Payload *string `json:"payload"`
		Records []struct {
			Body *string `json:"body"`
			SNS  struct {
				Message *string `json:"Message"`
			} `json:"Sns"`
		} `json:"Records"`
	}
	if json.Unmarshal(event, &ev) != nil {
		return nil
	}
	var out [][]byte
	for _, s := range []*string{ev.Body, ev.Payload} {
		if s != nil {
			out = append(out, []byte(*s))
		}
	}
	for _, r := range ev.Records {
		for _, s := range []*string{r.Body, r.SNS.Message} {
			if s != nil {
				out = append(out, []byte(*s))
			}
		}
	}
	return out
}

// NoSecret fails t for each secret that text shows: a log line, an error
// or an answer must never carry a credential, even in part.
func NoSecret(t testing.TB, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("a secret (%q) shows in:\n%s", s, text)
		}
	}
}
