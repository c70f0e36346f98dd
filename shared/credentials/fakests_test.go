package credentials

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/sts"
)

// fakeSTS is a loopback STS answering AssumeRole and AssumeRoleWithOIDC
// with numbered credentials, or with the error fail holds.
type fakeSTS struct {
	*httptest.Server
	mu       sync.Mutex
	calls    []url.Values // every parameter of every call, the action included
	signers  []string     // the Authorization header of each call
	lifetime time.Duration
	fail     string // an STS error code to answer with, HTTP 400
	release  chan struct{}
}

func newFakeSTS(t *testing.T) *fakeSTS {
	t.Helper()
	f := &fakeSTS{lifetime: time.Hour}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSTS) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	params := r.URL.Query()
	form, _ := url.ParseQuery(string(body))
	for k, v := range form {
		params[k] = v
	}
	params.Set("Action", r.Header.Get("x-acs-action"))
	f.mu.Lock()
	f.calls = append(f.calls, params)
	f.signers = append(f.signers, r.Header.Get("Authorization"))
	n, fail, lifetime, release := len(f.calls), f.fail, f.lifetime, f.release
	f.mu.Unlock()
	if release != nil {
		<-release
	}
	w.Header().Set("Content-Type", "application/json")
	if fail != "" {
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"RequestId":"REQ-%d","Code":%q,"Message":"refused; token was %s"}`, n, fail, params.Get("OIDCToken"))
		return
	}
	fmt.Fprintf(w, `{"RequestId":"REQ-%d","AssumedRoleUser":{"Arn":"%s/%s"},"Credentials":{"AccessKeyId":"STS.issued%d","AccessKeySecret":"issued-secret-%d","SecurityToken":"issued-token-%d","Expiration":%q}}`,
		n, strings.Replace(params.Get("RoleArn"), ":role/", ":assumed-role/", 1), params.Get("RoleSessionName"), n, n, n,
		time.Now().Add(lifetime).UTC().Format(time.RFC3339))
}

func (f *fakeSTS) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeSTS) call(i int) url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[i]
}

func (f *fakeSTS) client(t *testing.T) *sts.Client {
	t.Helper()
	c, err := sts.New(sts.Options{Endpoint: f.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// logBuffer collects JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.FieldsFunc(b.buf.String(), func(r rune) bool { return r == '\n' })
}

func newLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, nil)), b
}
