package fcruntime

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/internal/testenv"
)

// TestMain runs the tests in an environment cleared of the function's
// settings and credentials: what a developer exported (the README tells
// users to export STOPPER_WEBHOOK_SECRET; STOPPER_NOTIFY_URL would send
// notifications out of a test) must not change what the tests see.
func TestMain(m *testing.M) {
	testenv.ClearFunctionEnv()
	os.Exit(m.Run())
}

// The tests see none of the function's settings but those they set
// themselves: TestMain cleared what the shell exported.
func TestEnvironmentIsCleared(t *testing.T) { testenv.CheckCleared(t) }

// The webhook handling never sees FC's credential headers, and the
// caller's request is left as it was.
func TestWebhookRequestHasNoCredentials(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/stop", strings.NewReader("{}"))
	r.Header.Set("x-fc-access-key-id", "STS.id")
	r.Header.Set("x-fc-access-key-secret", "sts-secret")
	r.Header.Set("x-fc-security-token", "sts-token")
	r.Header.Set("x-fc-request-id", "client-chosen")
	got := webhookRequest(r, "req-1")
	for _, h := range []string{"x-fc-access-key-id", "x-fc-access-key-secret", "x-fc-security-token"} {
		if got.Header.Get(h) != "" {
			t.Errorf("%s reached the webhook handling", h)
		}
		if r.Header.Get(h) == "" {
			t.Errorf("%s was removed from the caller's request", h)
		}
	}
	if got.Header.Get("x-fc-request-id") != "req-1" {
		t.Errorf("request id %q", got.Header.Get("x-fc-request-id"))
	}
}
