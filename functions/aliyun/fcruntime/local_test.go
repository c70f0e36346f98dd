package fcruntime

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// The local runner takes events on /invoke only from a loopback Host and
// as application/json, so that no web page (cross-origin, or same-origin
// after DNS rebinding) can drive it.
func TestLocalEventGuard(t *testing.T) {
	emu, url := newEmulator(t, emulator.Options{})
	setEnv(t, url)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", testKeyID) // the local runner's credentials
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", testKeySecret)
	local := httptest.NewServer(CustomRuntime(newTestApp(t, io.Discard, "").h, "", io.Discard))
	defer local.Close()
	event := []byte(`{"RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76","DryRun":true}`)
	for _, tc := range []struct {
		name, host, contentType string
		status                  int
		code                    string
	}{
		{"127.0.0.1 with port", "127.0.0.1:9000", "application/json", 200, ""},
		{"127.0.0.1", "127.0.0.1", "application/json", 200, ""},
		{"localhost", "localhost:9000", "application/json; charset=utf-8", 200, ""},
		{"LOCALHOST", "LOCALHOST", "Application/JSON", 200, ""},
		{"[::1] with port", "[::1]:9000", "application/json", 200, ""},
		{"[::1]", "[::1]", "application/json", 200, ""},
		{"rebound name", "attacker.example:9000", "application/json", 403, "Forbidden.Host"},
		{"name ending in localhost", "evil-localhost:9000", "application/json", 403, "Forbidden.Host"},
		{"localhost subdomain", "localhost.attacker.example", "application/json", 403, "Forbidden.Host"},
		{"127.0.0.1 as a name", "127.0.0.1.nip.io:9000", "application/json", 403, "Forbidden.Host"},
		{"private address", "192.168.1.10:9000", "application/json", 403, "Forbidden.Host"},
		{"unspecified address", "0.0.0.0:9000", "application/json", 403, "Forbidden.Host"},
		{"bad port", "127.0.0.1:x", "application/json", 403, "Forbidden.Host"},
		{"text/plain", "127.0.0.1:9000", "text/plain", 415, "UnsupportedMediaType"},
		{"form", "127.0.0.1:9000", "application/x-www-form-urlencoded", 415, "UnsupportedMediaType"},
		{"multipart", "127.0.0.1:9000", "multipart/form-data; boundary=x", 415, "UnsupportedMediaType"},
		{"no content type", "127.0.0.1:9000", "", 415, "UnsupportedMediaType"},
		{"json suffix", "127.0.0.1:9000", "application/problem+json", 415, "UnsupportedMediaType"},
	} {
		req, err := http.NewRequest(http.MethodPost, local.URL+"/invoke", bytes.NewReader(event))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tc.host
		if tc.contentType != "" {
			req.Header.Set("Content-Type", tc.contentType)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := e2e.DecodeObject(t, b)
		switch {
		case tc.status == 200 && (resp.StatusCode != 200 || got["Action"] != "StopInvocation"):
			t.Errorf("%s: POST /invoke = %d %s, want the dry-run answer", tc.name, resp.StatusCode, b)
		case tc.status != 200 && (resp.StatusCode != tc.status || got["Code"] != tc.code || got["Message"] == ""):
			t.Errorf("%s: POST /invoke = %d %s, want %d %s", tc.name, resp.StatusCode, b, tc.status, tc.code)
		}
	}
	if n := emu.Calls("StopInvocation"); n != 0 {
		t.Fatalf("%d StopInvocation calls for dry runs", n)
	}
}

// TestLocalRefusalsQuoteTheHeader: the local runner's refusals quote the
// Host or Content-Type they refuse, "(missing)" when there is none, cut at
// 64 bytes and without control characters.
func TestLocalRefusalsQuoteTheHeader(t *testing.T) {
	h := CustomRuntime(appOver(&blockingAPI{}, io.Discard).h, "", io.Discard)
	long := strings.Repeat("h", 60) + ".com"
	for _, tc := range []struct {
		name, host, contentType string
		status                  int
		message                 string
	}{
		{"no Host", "", "application/json", 403, `Host (missing) is not a loopback name`},
		{"Host of 64 bytes", long, "application/json", 403, `Host "` + long + `" is not a loopback name`},
		{"Host of 65 bytes", long + "x", "application/json", 403, `Host "` + long + `..." is not a loopback name`},
		{"Host with a control character", "evil\x01.example", "application/json", 403, `Host "evil.example" is not`},
		{"no Content-Type", "127.0.0.1:9000", "", 415, `Content-Type (missing) is not application/json`},
		{"text/plain", "localhost", "text/plain", 415, `Content-Type "text/plain" is not application/json`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/invoke", strings.NewReader(`{"InvokeId":"t-fine","DryRun":true}`))
			r.Host = tc.host
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := e2e.DecodeObject(t, w.Body.Bytes())
			msg, _ := got["Message"].(string)
			if w.Code != tc.status || !strings.HasPrefix(msg, tc.message) {
				t.Errorf("%d %q, want %d %q", w.Code, msg, tc.status, tc.message)
			}
		})
	}
}
