package emulator

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
)

func TestListen(t *testing.T) {
	run, err := Listen("127.0.0.1:0", Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Fleet: SampleFleet()})
	if err != nil {
		t.Fatal(err)
	}
	// Options.Now was left nil: the emulator runs on the real clock.
	c := &client{base: run.URL, cred: acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret}, now: time.Now(), hc: http.DefaultClient}
	if r := c.stop(t, "cn-shanghai", shStuck); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if run.Stops() != 1 || run.Addr == "" {
		t.Fatalf("Stops %d Addr %q", run.Stops(), run.Addr)
	}
	if err := run.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(run.URL + "/?" + url.Values{"Action": {"DescribeInvocations"}}.Encode()); err == nil {
		t.Fatal("still serving after Close")
	}
	if _, err := Listen("127.0.0.1:0", Options{}); err == nil {
		t.Fatal("Listen without a key pair")
	}
}

// The emulator's HTTP server bounds slow and idle clients, leaving room for
// the injected latency.
func TestHTTPServerTimeouts(t *testing.T) {
	s, err := New(Options{AccessKeyID: "a", AccessKeySecret: "b", Latency: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv := s.HTTPServer()
	if srv.Handler != s || srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 || srv.ReadTimeout <= time.Minute {
		t.Fatalf("ReadHeaderTimeout %v ReadTimeout %v IdleTimeout %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout)
	}
}
