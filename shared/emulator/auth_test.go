package emulator

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
)

func TestSignaturesAccepted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		v1, post bool
		token    string
	}{
		{name: "V3 GET"},
		{name: "V3 POST form", post: true},
		{name: "V3 STS", token: "sts-token-anything"},
		{name: "V1 GET", v1: true},
		{name: "V1 POST form", v1: true, post: true},
		{name: "V1 STS", v1: true, token: "sts-token-anything"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, hs := start(t, Options{})
			c := newClient(hs)
			c.v1, c.post, c.cred.SecurityToken = tc.v1, tc.post, tc.token
			r := c.call(t, actionDescribe, url.Values{"RegionId": {"cn-hangzhou"}, "Tag.1.Key": {"env"}, "Tag.1.Value": {"prod env*~"}})
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if r := c.stop(t, "cn-shanghai", "t-sh0stuck9a8b7c6d5e4f3a2b1c0d9e8f", "i-uf6stuck000000000001"); r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	region := url.Values{"RegionId": {"cn-hangzhou"}}
	for _, tc := range []struct {
		name   string
		setup  func(c *client)
		action string
		params url.Values
		status int
		code   string
		msg    string // part of the message
	}{
		{name: "V3 wrong secret", setup: func(c *client) { c.cred.AccessKeySecret = "wrong" },
			status: 400, code: "SignatureDoesNotMatch", msg: "server string to sign is:ACS3-HMAC-SHA256\n"},
		{name: "V1 wrong secret", setup: func(c *client) { c.v1, c.cred.AccessKeySecret = true, "wrong" },
			status: 400, code: "SignatureDoesNotMatch", msg: "server string to sign is:GET&%2F&AccessKeyId%3D"},
		{name: "V3 unknown key", setup: func(c *client) { c.cred.AccessKeyID = "LTAInobody" },
			status: 404, code: "InvalidAccessKeyId.NotFound", msg: "Specified access key is not found."},
		{name: "V1 unknown key", setup: func(c *client) { c.v1, c.cred.AccessKeyID = true, "LTAInobody" },
			status: 404, code: "InvalidAccessKeyId.NotFound"},
		{name: "no signature", setup: func(c *client) {
			c.mutate = func(r *http.Request) { r.Header.Del("Authorization") }
		}, status: 400, code: "IncompleteSignature"},
		{name: "malformed Authorization", setup: func(c *client) {
			c.mutate = func(r *http.Request) { r.Header.Set("Authorization", "ACS3-HMAC-SHA256 garbage") }
		}, status: 400, code: "IncompleteSignature"},
		{name: "other algorithm", setup: func(c *client) {
			c.mutate = func(r *http.Request) {
				r.Header.Set("Authorization", "ACS3-HMAC-SM3 Credential=a,SignedHeaders=host,Signature=00")
			}
		}, status: 400, code: "IncompleteSignature", msg: "ACS3-HMAC-SM3"},
		{name: "V3 stale date", setup: func(c *client) { c.now = testNow.Add(-16 * time.Minute) },
			status: 400, code: "InvalidTimeStamp.Expired"},
		{name: "V3 future date", setup: func(c *client) { c.now = testNow.Add(16 * time.Minute) },
			status: 400, code: "InvalidTimeStamp.Expired"},
		{name: "V1 stale timestamp", setup: func(c *client) { c.v1, c.now = true, testNow.Add(-time.Hour) },
			status: 400, code: "InvalidTimeStamp.Expired"},
		{name: "V3 missing date", setup: func(c *client) {
			c.mutate = func(r *http.Request) { r.Header.Del("x-acs-date") }
		}, status: 400, code: "IncompleteSignature", msg: "x-acs-date"},
		{name: "V3 body tampered", setup: func(c *client) {
			c.post = true
			c.mutate = func(r *http.Request) {
				r.Body = http.NoBody
				b := "RegionId=cn-shanghai"
				r.Body, r.ContentLength = nopCloser(b), int64(len(b))
			}
		}, status: 400, code: "SignatureDoesNotMatch", msg: "x-acs-content-sha256"},
		{name: "V3 query tampered", setup: func(c *client) {
			c.mutate = func(r *http.Request) { r.URL.RawQuery = "RegionId=cn-shanghai" }
		}, status: 400, code: "SignatureDoesNotMatch"},
		{name: "V1 bad method", setup: func(c *client) {
			c.v1 = true
			c.mutate = func(r *http.Request) {
				q := r.URL.Query()
				q.Set("SignatureMethod", "HMAC-SHA256")
				r.URL.RawQuery = q.Encode()
			}
		}, status: 400, code: "IncompleteSignature"},
		{name: "bad version", setup: func(c *client) {
			c.mutate = func(r *http.Request) { r.Header.Set("x-acs-version", "2016-03-14") }
		}, status: 400, code: "InvalidVersion"},
		{name: "unknown action", action: "RunCommand", status: 404, code: "InvalidAction.NotFound"},
		{name: "missing action", setup: func(c *client) {
			c.mutate = func(r *http.Request) { r.Header.Del("x-acs-action") }
		}, status: 400, code: "MissingParameter.Action"},
		{name: "malformed query", setup: func(c *client) {
			c.mutate = func(r *http.Request) { r.URL.RawQuery = "RegionId=%zz" }
		}, status: 400, code: "InvalidParameter"},

		{name: "stop: missing RegionId", action: actionStop, params: url.Values{"InvokeId": {"t-1fad2a8876de47068cc734d57703aa76"}},
			status: 400, code: "MissingParameter.RegionId"},
		{name: "stop: missing InvokeId", action: actionStop, params: region, status: 400, code: "MissingParameter.InvokeId"},
		{name: "stop: unknown region", action: actionStop, params: url.Values{"RegionId": {"cn-atlantis"}, "InvokeId": {"t-1fad2a8876de47068cc734d57703aa76"}},
			status: 404, code: "InvalidRegionId.NotFound", msg: "The RegionId provided does not exist in our items."},
		{name: "stop: unknown invocation", action: actionStop, params: url.Values{"RegionId": {"cn-hangzhou"}, "InvokeId": {"t-nosuchinvocation"}},
			status: 404, code: "InvalidInvokeId.NotFound", msg: "The specified InvokeId does not exist."},
		{name: "stop: invocation of another region", action: actionStop, params: url.Values{"RegionId": {"cn-hangzhou"}, "InvokeId": {"t-sh0stuck9a8b7c6d5e4f3a2b1c0d9e8f"}},
			status: 404, code: "InvalidInvokeId.NotFound"},
		{name: "stop: known region without invocations", action: actionStop, params: url.Values{"RegionId": {"eu-central-1"}, "InvokeId": {"t-1fad2a8876de47068cc734d57703aa76"}},
			status: 404, code: "InvalidInvokeId.NotFound"},
		{name: "stop: instance not in invocation", action: actionStop, params: url.Values{"RegionId": {"cn-hangzhou"},
			"InvokeId": {"t-1fad2a8876de47068cc734d57703aa76"}, "InstanceId.1": {"i-bp1a2b3c4d5e6f7g8h9i"}, "InstanceId.2": {"i-uf6stuck000000000001"}},
			status: 404, code: "InvalidInstanceId.NotFound", msg: "i-uf6stuck000000000001"},
		{name: "stop: 51 instances", action: actionStop, params: manyInstances(51), status: 403, code: "InstanceIds.ExceedLimit"},
		{name: "stop: bad InstanceId.N", action: actionStop, params: url.Values{"RegionId": {"cn-hangzhou"},
			"InvokeId": {"t-1fad2a8876de47068cc734d57703aa76"}, "InstanceId.x": {"i-a"}}, status: 400, code: "InvalidParameter.InstanceId.x"},

		{name: "describe: missing RegionId", action: actionDescribe, params: url.Values{}, status: 400, code: "MissingParameter.RegionId"},
		{name: "describe: unknown region", action: actionDescribe, params: url.Values{"RegionId": {"xx-nowhere-1"}}, status: 404, code: "InvalidRegionId.NotFound"},
		{name: "describe: MaxResults 0", action: actionDescribe, params: url.Values{"RegionId": {"cn-hangzhou"}, "MaxResults": {"0"}},
			status: 400, code: "InvalidParameter.MaxResults"},
		{name: "describe: MaxResults 51", action: actionDescribe, params: url.Values{"RegionId": {"cn-hangzhou"}, "MaxResults": {"51"}},
			status: 400, code: "InvalidParameter.MaxResults"},
		{name: "describe: bad NextToken", action: actionDescribe, params: url.Values{"RegionId": {"cn-hangzhou"}, "NextToken": {"not-a-token"}},
			status: 400, code: "InvalidParameter.NextToken"},
		{name: "describe: bad Timed", action: actionDescribe, params: url.Values{"RegionId": {"cn-hangzhou"}, "Timed": {"yes"}},
			status: 400, code: "InvalidParameter.Timed"},
		{name: "describe: bad InvokeStatus", action: actionDescribe, params: url.Values{"RegionId": {"cn-hangzhou"}, "InvokeStatus": {"Sleeping"}},
			status: 400, code: "InvalidParameter.InvokeStatus"},
		{name: "describe: tag value without key", action: actionDescribe, params: url.Values{"RegionId": {"cn-hangzhou"}, "Tag.1.Value": {"prod"}},
			status: 400, code: "InvalidParameter.Tag.1.Key"},
		{name: "describe: tag 21", action: actionDescribe, params: url.Values{"RegionId": {"cn-hangzhou"}, "Tag.21.Key": {"env"}},
			status: 400, code: "InvalidParameter.Tag.21.Key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, hs := start(t, Options{})
			c := newClient(hs)
			if tc.setup != nil {
				tc.setup(c)
			}
			action, params := tc.action, tc.params
			if action == "" {
				action, params = actionDescribe, region
			}
			r := c.call(t, action, params)
			checkError(t, r, tc.status, tc.code, hostOf(hs))
			if m, _ := r.body["Message"].(string); !strings.Contains(m, tc.msg) {
				t.Errorf("Message %q does not contain %q", m, tc.msg)
			}
		})
	}
}

func manyInstances(n int) url.Values {
	p := url.Values{"RegionId": {"cn-hangzhou"}, "InvokeId": {"t-1fad2a8876de47068cc734d57703aa76"}}
	for i := 1; i <= n; i++ {
		p.Set("InstanceId."+itoa(i), "i-bp1many"+itoa(i))
	}
	return p
}

func TestNonceReuse(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		_, hs := start(t, Options{})
		c := newClient(hs)
		c.v1, c.nonce = v1, "the-same-nonce"
		p := url.Values{"RegionId": {"cn-hangzhou"}}
		if r := c.call(t, actionDescribe, p); r.status != http.StatusOK {
			t.Fatalf("first call: %d %s", r.status, r.raw)
		}
		checkError(t, c.call(t, actionDescribe, p), 400, "SignatureNonceUsed", hostOf(hs))
	}
}

// A signature failure must not burn the nonce: the client's retry with the
// right key and the same nonce is not a replay.
func TestBadSignatureKeepsNonce(t *testing.T) {
	_, hs := start(t, Options{})
	c := newClient(hs)
	c.nonce = "n-1"
	c.cred.AccessKeySecret = "wrong"
	p := url.Values{"RegionId": {"cn-hangzhou"}}
	checkError(t, c.call(t, actionDescribe, p), 400, "SignatureDoesNotMatch", hostOf(hs))
	c.cred.AccessKeySecret = testSecret
	if r := c.call(t, actionDescribe, p); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

// signV3Only signs req (GET, or POST with body) like acs.SignV3 but with only
// the headers named in signed, whatever else it carries.
func signV3Only(req *http.Request, body []byte, signed ...string) {
	headers := map[string]string{}
	for _, name := range signed {
		if name == "host" {
			headers[name] = req.URL.Host
		} else {
			headers[name] = strings.Join(req.Header.Values(name), ",")
		}
	}
	canonical := acs.CanonicalRequestV3(req.Method, req.URL.EscapedPath(), req.URL.Query(), headers, signed, acs.HashHex(body))
	slices.Sort(signed)
	req.Header.Set("Authorization", "ACS3-HMAC-SHA256 Credential="+testKeyID+",SignedHeaders="+strings.Join(signed, ";")+
		",Signature="+acs.SignatureV3(testSecret, canonical))
}

// A V3 request must sign host and every x-acs-* header it sends (and
// Content-Type with a form body): a client that signs too little is refused,
// naming what it left out. Headers outside those may go unsigned.
func TestV3SignedHeaders(t *testing.T) {
	all := []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"}
	without := func(name string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == name })
	}
	for _, tc := range []struct {
		name    string
		post    bool
		token   bool
		extra   map[string]string
		signed  []string
		missing string // "" for accepted
	}{
		{name: "all signed, unsigned User-Agent", signed: all, extra: map[string]string{"User-Agent": "unsigned"}},
		{name: "host only", signed: []string{"host"},
			missing: "x-acs-action, x-acs-content-sha256, x-acs-date, x-acs-signature-nonce, x-acs-version"},
		{name: "without host", signed: without("host"), missing: "host"},
		{name: "without x-acs-action", signed: without("x-acs-action"), missing: "x-acs-action"},
		{name: "without x-acs-content-sha256", signed: without("x-acs-content-sha256"), missing: "x-acs-content-sha256"},
		{name: "with STS token, unsigned", token: true, signed: all, missing: "x-acs-security-token"},
		{name: "with STS token, signed", token: true, signed: append(slices.Clone(all), "x-acs-security-token")},
		{name: "another x-acs header, unsigned", extra: map[string]string{"X-Acs-Credentials-Provider": "static"}, signed: all,
			missing: "x-acs-credentials-provider"},
		{name: "form body without content-type", post: true, signed: all, missing: "content-type"},
		{name: "form body with content-type", post: true, signed: append(slices.Clone(all), "content-type")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, hs := start(t, Options{})
			method, target, body := http.MethodGet, hs.URL+"/?RegionId=cn-shanghai&InvokeId="+shStuck, []byte(nil)
			if tc.post {
				method, target, body = http.MethodPost, hs.URL+"/", []byte("RegionId=cn-shanghai&InvokeId="+shStuck)
			}
			req, _ := http.NewRequest(method, target, strings.NewReader(string(body)))
			if tc.post {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			req.Header.Set("x-acs-action", actionStop)
			req.Header.Set("x-acs-version", "2014-05-26")
			req.Header.Set("x-acs-date", testNow.Format(timeLayout))
			req.Header.Set("x-acs-signature-nonce", "n-"+tc.name)
			req.Header.Set("x-acs-content-sha256", acs.HashHex(body))
			if tc.token {
				req.Header.Set("x-acs-security-token", "CAIS-sts-token-for-signed-headers")
			}
			for k, v := range tc.extra {
				req.Header.Set(k, v)
			}
			signV3Only(req, body, tc.signed...)
			r := newClient(hs).send(t, req)
			if tc.missing == "" {
				if r.status != 200 || s.StopCalls("cn-shanghai", shStuck) != 1 {
					t.Fatalf("%d %s", r.status, r.raw)
				}
				return
			}
			checkError(t, r, 400, "IncompleteSignature", hostOf(hs))
			if m := r.body["Message"].(string); !strings.Contains(m, "SignedHeaders leaves out "+tc.missing+";") {
				t.Errorf("Message %q does not name %s", m, tc.missing)
			}
			if s.Stops() != 0 {
				t.Fatal("a request signing too little stopped something")
			}
		})
	}
}

// A V1 request's action and version are its signed parameters: an x-acs-action
// header added on the way cannot turn a signed Describe into a Stop.
func TestV1IgnoresActionHeaders(t *testing.T) {
	for _, post := range []bool{false, true} {
		s, hs := start(t, Options{})
		c := newClient(hs)
		c.v1, c.post = true, post
		c.mutate = func(r *http.Request) {
			r.Header.Set("x-acs-action", actionStop)
			r.Header.Set("x-acs-version", "2016-03-14")
		}
		r := c.call(t, actionDescribe, url.Values{"RegionId": {"cn-hangzhou"}, "InvokeId": {hzOnce}})
		if r.status != 200 || r.body["Invocations"] == nil {
			t.Fatalf("post=%v: %d %s", post, r.status, r.raw)
		}
		if s.Stops() != 0 || s.Calls(actionStop) != 0 || s.Calls(actionDescribe) != 1 {
			t.Fatalf("post=%v: the header's action ran: Stops %d, Calls(Stop) %d", post, s.Stops(), s.Calls(actionStop))
		}
		if inv, _ := s.Invocation("cn-hangzhou", hzOnce); statusesOf(inv)["i-bp1j2k3l4m5n6o7p8q9r"] != "Pending" {
			t.Fatalf("post=%v: the invocation was stopped", post)
		}
	}
}

// SignatureDoesNotMatch echoes what the server signed, as the real service
// does, but never the caller's STS token or AccessKey id, in any encoding;
// neither does the log.
func TestSignatureMismatchRedactsCredentials(t *testing.T) {
	const token = "CAIS+sts/token=DO-NOT-ECHO-4f1e"
	const keyID = "LTAI5tEmulatorTestKey"
	forms := func(v string) []string {
		return []string{v, url.QueryEscape(v), acs.PercentEncode(v), acs.PercentEncode(acs.PercentEncode(v))}
	}
	for _, tc := range []struct {
		name     string
		v1, post bool
		shown    string // how the placeholder shows in the message
	}{
		{name: "V3", shown: "x-acs-security-token:[redacted]\n"},
		{name: "V3 POST", post: true, shown: "x-acs-security-token:[redacted]\n"},
		{name: "V1", v1: true, shown: "AccessKeyId%3D%255Bredacted%255D"},
		{name: "V1 POST", v1: true, post: true, shown: "SecurityToken%3D%255Bredacted%255D"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			_, hs := start(t, Options{Log: slog.New(slog.NewJSONHandler(&logs, nil))})
			c := newClient(hs)
			c.v1, c.post = tc.v1, tc.post
			c.cred.SecurityToken, c.cred.AccessKeySecret = token, "wrong-secret"
			c.mutate = func(r *http.Request) {
				if !tc.v1 {
					// The SDK sends the key id as a header on some paths;
					// sign it so that it is part of the canonical request.
					r.Header.Set("x-acs-accesskey-id", keyID)
					r.Header.Del("Authorization")
					body, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(strings.NewReader(string(body)))
					acs.SignV3(r, body, c.cred, c.now, "n-redact-"+tc.name)
				}
			}
			r := c.call(t, actionDescribe, url.Values{"RegionId": {"cn-hangzhou"}})
			checkError(t, r, 400, "SignatureDoesNotMatch", hostOf(hs))
			msg := r.body["Message"].(string)
			if !strings.Contains(msg, tc.shown) {
				t.Errorf("Message %q does not show %q", msg, tc.shown)
			}
			for _, secret := range []string{token, keyID, "wrong-secret", testSecret} {
				for _, form := range forms(secret) {
					if strings.Contains(string(r.raw), form) || strings.Contains(logs.String(), form) {
						t.Fatalf("%q (as %q) echoed:\n%s\nlog: %s", secret, form, r.raw, logs.String())
					}
				}
			}
		})
	}
}

// The last guard scrubs any message, whatever built it.
func TestRedactScrubsEveryEncoding(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://ecs.aliyuncs.com/", nil)
	req.Header.Set("x-acs-security-token", "tok/en+1=")
	req.Header.Set("Authorization", "ACS3-HMAC-SHA256 Credential=LTAIkey,SignedHeaders=host,Signature=00")
	c := &call{r: req, params: url.Values{"SecurityToken": {"v1 token"}, "AccessKeyId": {"ab"}}}
	got := c.redact("a tok/en+1= b tok%2Fen%2B1%3D c tok%252Fen%252B1%253D d LTAIkey e v1+token f v1%20token g ab")
	if want := "a [redacted] b [redacted] c [redacted] d [redacted] e [redacted] f [redacted] g ab"; got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestNonceCacheIsBounded(t *testing.T) {
	c := newNonceCache(3)
	for _, n := range []string{"a", "b", "c", "d"} {
		if !c.use(n) {
			t.Fatalf("%s refused", n)
		}
	}
	if c.use("d") {
		t.Fatal("d accepted twice")
	}
	if !c.use("a") { // forgotten: the oldest went first
		t.Fatal("a still remembered")
	}
	if len(c.seen) != 3 {
		t.Fatalf("remembers %d nonces, want 3", len(c.seen))
	}
}
