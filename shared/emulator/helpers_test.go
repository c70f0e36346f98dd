package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

const (
	testKeyID  = "LTAI5tEmulatorTestKey"
	testSecret = "emulator-test-secret"
)

// testNow is "now" for the tests: the sample fleet's anchor, so that the
// fleet's times are exactly those of sample-fleet.json.
var testNow = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// start serves an emulator on a real loopback server. A nil fleet is the
// sample fleet as of testNow.
func start(t testing.TB, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.AccessKeyID == "" {
		opts.AccessKeyID, opts.AccessKeySecret = testKeyID, testSecret
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	if opts.Fleet == nil {
		opts.Fleet = SampleFleetAt(testNow)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs
}

var nonceSeq atomic.Int64

// client signs calls the way a real client does, V3 or V1.
type client struct {
	base   string
	cred   acs.Credentials
	now    time.Time
	v1     bool
	post   bool   // POST with the parameters in a form body (else GET, query)
	nonce  string // fixed nonce; "" is a fresh one per call
	hc     *http.Client
	mutate func(*http.Request) // after signing
}

func newClient(hs *httptest.Server) *client {
	return &client{base: hs.URL, cred: acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret}, now: testNow, hc: hs.Client()}
}

// reply is an answer as the wire carried it.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r reply) code() string { s, _ := r.body["Code"].(string); return s }

func (c *client) call(t testing.TB, action string, params url.Values) reply {
	t.Helper()
	return c.send(t, c.request(t, action, params))
}

// send sends a request built elsewhere and reads the answer.
func (c *client) send(t testing.TB, req *http.Request) reply {
	t.Helper()
	action := req.Header.Get("x-acs-action")
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("%s: answer is not JSON: %v\n%s", action, err, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json;charset=utf-8" {
		t.Errorf("%s: Content-Type = %q", action, ct)
	}
	return r
}

func (c *client) request(t testing.TB, action string, params url.Values) *http.Request {
	t.Helper()
	p := url.Values{}
	for k, v := range params {
		p[k] = v
	}
	nonce := c.nonce
	if nonce == "" {
		nonce = fmt.Sprintf("nonce-%d-%d", time.Now().UnixNano(), nonceSeq.Add(1))
	}
	method := http.MethodGet
	if c.post {
		method = http.MethodPost
	}
	if c.v1 {
		p.Set("Action", action)
		p.Set("Version", ca.Version)
		p.Set("Format", "JSON")
		p.Set("AccessKeyId", c.cred.AccessKeyID)
		p.Set("SignatureMethod", "HMAC-SHA1")
		p.Set("SignatureVersion", "1.0")
		p.Set("SignatureNonce", nonce)
		p.Set("Timestamp", c.now.UTC().Format("2006-01-02T15:04:05Z"))
		if c.cred.SecurityToken != "" {
			p.Set("SecurityToken", c.cred.SecurityToken)
		}
		p.Set("Signature", acs.SignatureV1(c.cred.AccessKeySecret, acs.StringToSignV1(method, p)))
	}
	var body []byte
	u := c.base + "/"
	if c.post {
		body = []byte(p.Encode())
	} else {
		u += "?" + p.Encode()
	}
	req, err := http.NewRequest(method, u, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	if c.post {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if !c.v1 {
		req.Header.Set("x-acs-action", action)
		req.Header.Set("x-acs-version", ca.Version)
		acs.SignV3(req, body, c.cred, c.now, nonce)
	}
	if c.mutate != nil {
		c.mutate(req)
	}
	return req
}

// stop and describe are the two actions with their parameters spelled out.
func (c *client) stop(t testing.TB, region, invokeID string, instances ...string) reply {
	t.Helper()
	p := url.Values{"RegionId": {region}, "InvokeId": {invokeID}}
	for i, id := range instances {
		p.Set(fmt.Sprintf("InstanceId.%d", i+1), id)
	}
	return c.call(t, actionStop, p)
}

func (c *client) describe(t testing.TB, params url.Values) ca.DescribeInvocationsResponse {
	t.Helper()
	r := c.call(t, actionDescribe, params)
	if r.status != http.StatusOK {
		t.Fatalf("DescribeInvocations %v: %d %s", params, r.status, r.raw)
	}
	var out ca.DescribeInvocationsResponse
	if err := json.Unmarshal(r.raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func ids(invs []ca.Invocation) []string {
	out := make([]string, len(invs))
	for i, inv := range invs {
		out[i] = inv.InvokeId
	}
	return out
}

var requestIDPattern = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`)

// checkError asserts an error answer: status, code, and the API's body shape.
func checkError(t testing.TB, r reply, status int, code, host string) {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Fatalf("got %d %s, want %d %s\n%s", r.status, r.code(), status, code, r.raw)
	}
	if len(r.body) != 4 {
		t.Errorf("error body has fields %v, want RequestId, HostId, Code, Message", r.body)
	}
	if id, _ := r.body["RequestId"].(string); !requestIDPattern.MatchString(id) {
		t.Errorf("RequestId %q is not an upper-case UUID", id)
	}
	if h, _ := r.body["HostId"].(string); h != host {
		t.Errorf("HostId = %q, want %q", h, host)
	}
	if m, _ := r.body["Message"].(string); m == "" {
		t.Error("empty Message")
	}
}

func hostOf(hs *httptest.Server) string { return strings.TrimPrefix(hs.URL, "http://") }

func itoa(i int) string { return fmt.Sprint(i) }

func nopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

// fakeClock is an injected clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
