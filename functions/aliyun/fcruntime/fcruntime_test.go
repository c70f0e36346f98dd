package fcruntime

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
)

// TestListenAddr: the custom runtime listens on every interface, on
// FC_CUSTOM_LISTEN_PORT, else FC_SERVER_PORT, else 9000; a value that is
// not a TCP port (1 to 65535) stops the start with an error naming it.
func TestListenAddr(t *testing.T) {
	for _, tc := range []struct {
		custom, server string
		addr           string // "" when refused
	}{
		{"", "", "0.0.0.0:9000"},
		{"", "8080", "0.0.0.0:8080"},
		{"9001", "8080", "0.0.0.0:9001"},
		{"1", "", "0.0.0.0:1"},
		{"65535", "", "0.0.0.0:65535"},
		{"0", "", ""},
		{"65536", "", ""},
		{"-1", "", ""},
		{"9000x", "", ""},
		{"", "http", ""},
	} {
		env := map[string]string{"FC_CUSTOM_LISTEN_PORT": tc.custom, "FC_SERVER_PORT": tc.server}
		addr, err := listenAddr(func(k string) string { return env[k] })
		switch {
		case tc.addr != "" && (err != nil || addr != tc.addr):
			t.Errorf("%q/%q: %q %v, want %s", tc.custom, tc.server, addr, err, tc.addr)
		case tc.addr == "" && (err == nil || !strings.Contains(err.Error(), "FC_CUSTOM_LISTEN_PORT") || !strings.Contains(err.Error(), "is not a port number")):
			t.Errorf("%q/%q: %q %v, want a refusal naming the variable", tc.custom, tc.server, addr, err)
		}
	}
}

// TestRunReportsWhereItCannotListen: Run ends with the error when the
// port is not a port or is taken, rather than serving nothing.
func TestRunReportsWhereItCannotListen(t *testing.T) {
	setEnv(t, "http://127.0.0.1:1")
	taken, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, port, _ := net.SplitHostPort(taken.Addr().String())
	for _, tc := range []struct{ port, says string }{
		{"70000", "is not a port number"},
		{port, "address already in use"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // were it to serve, it would stop at once and answer nil
		err := Run(ctx, func(k string) string {
			if k == "FC_CUSTOM_LISTEN_PORT" {
				return tc.port
			}
			return ""
		}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("port %s: Run = %v, want an error saying %q", tc.port, err, tc.says)
		}
	}
}

// TestEveryWaitIsBounded: the custom runtime bounds how long a client may
// take to send a request, and the go1 loop bounds its dial and each
// answer's post, while next may wait for an event as long as FC takes
// (it long-polls). Waiting out each bound would take seconds; the bounds
// themselves are checked.
func TestEveryWaitIsBounded(t *testing.T) {
	srv := newServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout < srv.ReadHeaderTimeout || srv.ReadTimeout > 5*time.Minute {
		t.Errorf("server read timeouts %v (headers), %v (request): want both bounded", srv.ReadHeaderTimeout, srv.ReadTimeout)
	}
	l := appOver(&blockingAPI{}, io.Discard).runtimeAPI("127.0.0.1:1")
	if l.next.Timeout != 0 {
		t.Errorf("next times out after %v: it long-polls", l.next.Timeout)
	}
	if l.post.Timeout <= 0 || l.post.Timeout > 5*time.Minute {
		t.Errorf("an answer's post times out after %v, want a bound", l.post.Timeout)
	}
	for name, c := range map[string]*http.Client{"next": l.next, "post": l.post} {
		tr := c.Transport.(*http.Transport)
		if tr.Proxy != nil || tr.IdleConnTimeout <= 0 || tr.MaxIdleConnsPerHost < 200 {
			t.Errorf("%s transport: proxy %v, idle %v, %d idle per host: want no proxy, idle connections kept a while for 200 invocations",
				name, tr.Proxy != nil, tr.IdleConnTimeout, tr.MaxIdleConnsPerHost)
		}
	}
	if d := runtimeAPIDialer.Timeout; d <= 0 || d > time.Minute {
		t.Errorf("dial timeout %v, want a bound", d)
	}
}

// TestLogLinesCarryOnePrintableID: FC's marker lines carry the request id
// on one line, at most 128 bytes, without control characters.
func TestLogLinesCarryOnePrintableID(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{strings.Repeat("a", 128), strings.Repeat("a", 128)},
		{strings.Repeat("b", 129), strings.Repeat("b", 128)},
		{"req with spaces~", "req with spaces~"},
		{"a\x00b\x1fc\x7fd\ne\rf\tg", "abcdefg"},
		{"中文-é", "中文-é"},
	} {
		var out bytes.Buffer
		appOver(&blockingAPI{}, &out).logLine("Invoke Start", tc.id)
		if want := "FC Invoke Start RequestId: " + tc.want + "\n"; out.String() != want {
			t.Errorf("id %q: line %q, want %q", tc.id, out.String(), want)
		}
	}
}

// exactlyMaxEvent is a dry-run stop request padded in front to exactly
// maxEvent bytes: any byte lost at the end makes it invalid JSON.
func exactlyMaxEvent() []byte {
	req := []byte(`{"InvokeId":"t-fine0000000001","DryRun":true}`)
	return append(bytes.Repeat([]byte(" "), maxEvent-len(req)), req...)
}

// TestEventOfExactlyTheLimit: an event of exactly the limit (6 MiB) is
// read whole and handled, on the go1 loop and on the custom runtime.
func TestEventOfExactlyTheLimit(t *testing.T) {
	event := exactlyMaxEvent()
	check := func(what string, body []byte) {
		t.Helper()
		got := e2e.DecodeObject(t, body)
		if got["Action"] != "StopInvocation" || got["DryRun"] != true {
			t.Errorf("%s: answer %.300s, want the dry run's", what, body)
		}
	}

	fc := newFakeFC(t)
	runLoop(t, appOver(&blockingAPI{}, io.Discard).runtimeAPI(fc.addr()))
	fc.push("req-max", fcHeaders(), event)
	a := fc.wait(t, "req-max")
	if a.kind != "response" {
		t.Fatalf("go1: %s %.300s", a.kind, a.body)
	}
	check("go1", a.body)

	srv := httptest.NewServer(appOver(&blockingAPI{}, io.Discard).customHandler())
	defer srv.Close()
	resp, body := send(t, http.MethodPost, srv.URL+"/invoke", invokeHeaders("req-max"), event)
	if resp.StatusCode != 200 || resp.Header.Get("x-fc-status") != "200" {
		t.Fatalf("custom: %d %.300s", resp.StatusCode, body)
	}
	check("custom", body)
}
