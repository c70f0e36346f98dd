package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/emulator"
)

// The runner against a real account, without leaving the machine: the
// emulator is served over TLS with a certificate for Alibaba Cloud's host
// names, and apiTransport dials it whatever host a call names (nothing is
// resolved), trusting that certificate only.

const (
	accountID     = "1234567890123456"
	accountKeyID  = "LTAI5tRealAccountTestKey"
	accountSecret = "real-account-test-secret"
	ecsHangzhou   = "https://ecs.cn-hangzhou.aliyuncs.com"
	directStop    = `{"RegionId":"cn-hangzhou","InvokeId":"` + sampleOnce + `"}`
)

// cloud is an account's API as the runner sees it.
type cloud struct {
	emu *emulator.Server
	mu  sync.Mutex
	// dialed lists the host:port every connection was asked for.
	dialed []string
}

func (c *cloud) hosts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Compact(slices.Sorted(slices.Values(c.dialed)))
}

// realAccount serves an emulator as the account's ECS and STS, points the
// runner's clients at it, and exports the account's key as a user would.
func realAccount(t *testing.T) *cloud {
	t.Helper()
	emu, err := emulator.New(emulator.Options{AccessKeyID: accountKeyID, AccessKeySecret: accountSecret, AccountId: accountID,
		Fleet: emulator.SampleFleet()})
	if err != nil {
		t.Fatal(err)
	}
	cert, pool := aliyunCertificate(t)
	hs := httptest.NewUnstartedServer(emu)
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	hs.StartTLS()
	t.Cleanup(hs.Close)

	c := &cloud{emu: emu}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			c.mu.Lock()
			c.dialed = append(c.dialed, addr)
			c.mu.Unlock()
			return (&net.Dialer{}).DialContext(ctx, "tcp", hs.Listener.Addr().String())
		},
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}
	apiTransport = tr
	t.Cleanup(func() {
		apiTransport = nil
		tr.CloseIdleConnections()
	})
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", accountKeyID)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", accountSecret)
	t.Setenv("STOPPER_REGION_ID", "cn-hangzhou")
	return c
}

// aliyunCertificate is a self-signed certificate for the hosts the tests
// name, and a pool that trusts it and nothing else.
func aliyunCertificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "aliyuncs.com test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"*.cn-hangzhou.aliyuncs.com", "sts.aliyuncs.com"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(parsed)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// invokeEvent runs `local invoke` on body with args.
func invokeEvent(t *testing.T, body string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"invoke", "-event", file}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

const bannerStart = "local invoke: -endpoint is not on this machine: this run acts on a real Alibaba Cloud account"

func TestRealAccountGuard(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  string
		args  []string
		env   map[string]string
		code  int
		stops int
		// dryRun: the answer says DryRun true (exit 0 only).
		dryRun bool
		// stderr holds these, in this order.
		stderr []string
		// dialed is every host:port connected to.
		dialed []string
	}{
		{name: "no -yes: a stop is refused after the read", body: directStop, code: 2, stderr: []string{
			bannerStart,
			"  endpoint:      " + ecsHangzhou,
			"  STS endpoint:  https://sts.cn-hangzhou.aliyuncs.com",
			"  credentials:   env (ALIBABA_CLOUD_ACCESS_KEY_ID LTAI****tKey)",
			"  account:       " + accountID,
			"  principal:     acs:ram::" + accountID + ":root (Account)",
			"  requests:      dry runs only: one that is not a dry run is refused (add -yes to act on account " + accountID + ")",
			"local invoke: refused: the request is not a dry run and -yes was not given, so it was not carried out (nothing was stopped); " +
				"add -dry-run to see what it would stop, or -yes to act on account " + accountID,
		}, dialed: []string{"sts.cn-hangzhou.aliyuncs.com:443"}},
		{name: "no -yes: a sweep is refused", body: `{"Action":"Sweep"}`, code: 2,
			stderr: []string{"or -yes to act on account " + accountID}},
		{name: "no -yes: a sweep saying DryRun false is refused", body: `{"Action":"Sweep","DryRun":false}`, code: 2,
			env: map[string]string{"STOPPER_DRY_RUN": "true"}, stderr: []string{"add -dry-run"}},
		{name: "no -yes: an event's own dry run goes on", body: `{"Action":"Sweep","DryRun":true}`, dryRun: true,
			stderr: []string{"  requests:      dry runs only"}},
		{name: "no -yes: a dry run by STOPPER_DRY_RUN goes on", body: directStop, dryRun: true,
			env: map[string]string{"STOPPER_DRY_RUN": "true"}, stderr: []string{"  requests:      dry runs only"}},
		{name: "-dry-run", body: directStop, args: []string{"-dry-run"}, dryRun: true,
			stderr: []string{"  account:       " + accountID, "  requests:      dry runs (-dry-run): nothing is stopped"},
			dialed: []string{"ecs.cn-hangzhou.aliyuncs.com:443", "sts.cn-hangzhou.aliyuncs.com:443"}},
		{name: "-dry-run wins over the event's DryRun false", body: `{"RegionId":"cn-hangzhou","InvokeId":"` + sampleOnce + `","DryRun":false}`,
			args: []string{"-dry-run", "-yes"}, dryRun: true},
		{name: "-yes", body: directStop, args: []string{"-yes"}, stops: 1,
			stderr: []string{"  account:       " + accountID, "  requests:      as they say (-yes)"}},
		{name: "STS token from the environment", body: directStop, args: []string{"-yes"}, stops: 1,
			env:    map[string]string{"ALIBABA_CLOUD_SECURITY_TOKEN": "CAIS-test-token"},
			stderr: []string{"  credentials:   env (ALIBABA_CLOUD_ACCESS_KEY_ID LTAI****tKey, with ALIBABA_CLOUD_SECURITY_TOKEN)"}},
		{name: "wrong secret", body: directStop, args: []string{"-yes"}, code: 2,
			env: map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "not-the-secret"},
			stderr: []string{"  credentials:   env",
				"local invoke: GetCallerIdentity failed, so nothing else was sent: SignatureDoesNotMatch: ",
				"check the credentials (env)"}},
		{name: "unknown key", body: directStop, args: []string{"-dry-run"}, code: 2,
			env:    map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI5tSomebodyElsesKey00"},
			stderr: []string{"GetCallerIdentity failed, so nothing else was sent: InvalidAccessKeyId.NotFound: Specified access key is not found. (HTTP 404"}},
		{name: "-access-key-secret warns and works", body: directStop,
			args: []string{"-access-key-id", accountKeyID, "-access-key-secret", accountSecret, "-dry-run"}, dryRun: true,
			env: map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ""},
			stderr: []string{"  credentials:   flags (-access-key-id LTAI****tKey)", "  account:       " + accountID,
				"local invoke: warning: -access-key-secret puts the secret in your shell history and in the process list"}},
		{name: "-access-key-secret warns when STS refuses too", body: directStop,
			args: []string{"-access-key-id", accountKeyID, "-access-key-secret", "not-the-secret", "-yes"}, code: 2,
			stderr: []string{"  credentials:   flags (-access-key-id LTAI****tKey)",
				"local invoke: warning: -access-key-secret puts the secret",
				"local invoke: GetCallerIdentity failed, so nothing else was sent: SignatureDoesNotMatch: ",
				"check the credentials (flags)"}},
		{name: "VPC endpoint asks the VPC STS", body: directStop,
			args: []string{"-endpoint", "https://ecs-vpc.cn-hangzhou.aliyuncs.com", "-dry-run"}, dryRun: true,
			stderr: []string{"  STS endpoint:  https://sts-vpc.cn-hangzhou.aliyuncs.com"},
			dialed: []string{"ecs-vpc.cn-hangzhou.aliyuncs.com:443", "sts-vpc.cn-hangzhou.aliyuncs.com:443"}},
		{name: "-sts-endpoint", body: directStop, args: []string{"-sts-endpoint", "https://sts.aliyuncs.com", "-yes"}, stops: 1,
			stderr: []string{"  STS endpoint:  https://sts.aliyuncs.com"},
			dialed: []string{"ecs.cn-hangzhou.aliyuncs.com:443", "sts.aliyuncs.com:443"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := realAccount(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := tc.args
			if !slices.Contains(args, "-endpoint") {
				args = append([]string{"-endpoint", ecsHangzhou}, args...)
			}
			code, stdout, stderr := invokeEvent(t, tc.body, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			// The banner comes before anything else, logs included.
			if !strings.HasPrefix(stderr, bannerStart+"\n") {
				t.Fatalf("stderr does not start with the banner:\n%s", stderr)
			}
			rest := stderr
			for _, want := range tc.stderr {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("stderr lacks %q (after what came before it):\n%s", want, stderr)
				}
				rest = rest[i+len(want):]
			}
			for _, l := range linesWith(stderr, "GetCallerIdentity failed") {
				if !strings.Contains(l, "RequestId ") {
					t.Errorf("STS's error is not on one line: %q", l)
				}
			}
			if n := c.emu.Calls("GetCallerIdentity"); n != 1 {
				t.Errorf("%d GetCallerIdentity calls, want 1", n)
			}
			if n := c.emu.Stops(); n != tc.stops {
				t.Errorf("%d stops, want %d", n, tc.stops)
			}
			if tc.code == 2 {
				if n := c.emu.Calls("StopInvocation") + c.emu.Calls("DescribeInvocations"); n != 0 {
					t.Errorf("%d ECS calls after a refusal", n)
				}
				if stdout != "" && !strings.Contains(stdout, `"Code":"DryRun.Required"`) {
					t.Errorf("stdout after a refusal: %s", stdout)
				}
			} else {
				var a map[string]any
				if err := json.Unmarshal([]byte(stdout), &a); err != nil {
					t.Fatalf("stdout is not the answer: %v\n%s", err, stdout)
				}
				if a["DryRun"] != tc.dryRun {
					t.Errorf("answer DryRun = %v, want %v: %s", a["DryRun"], tc.dryRun, stdout)
				}
				if n := c.emu.Calls("StopInvocation"); tc.dryRun && n != 0 {
					t.Errorf("%d StopInvocation calls in a dry run", n)
				}
			}
			if tc.dialed != nil && !slices.Equal(c.hosts(), tc.dialed) {
				t.Errorf("dialed %v, want %v", c.hosts(), tc.dialed)
			}
			for _, secret := range []string{accountSecret, "not-the-secret", "CAIS-test-token", accountKeyID} {
				if strings.Contains(stderr, secret) || strings.Contains(stdout, secret) {
					t.Errorf("the output shows %q", secret)
				}
			}
		})
	}
}

// An emulator on this machine is no account: no banner, no STS call, no
// -yes needed.
func TestLoopbackEndpointNeedsNoYes(t *testing.T) {
	t.Setenv("STOPPER_REGION_ID", "cn-hangzhou")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", localAccessKeyID)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", localAccessKeySecret)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		t.Run(host, func(t *testing.T) {
			emu, err := emulator.Listen("127.0.0.1:0", emulator.Options{AccessKeyID: localAccessKeyID, AccessKeySecret: localAccessKeySecret,
				Fleet: emulator.SampleFleet()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { emu.Close() })
			endpoint := strings.Replace(emu.URL, "127.0.0.1", host, 1)
			code, stdout, stderr := invokeEvent(t, directStop, "-endpoint", endpoint)
			if code != 0 || strings.Contains(stderr, "real Alibaba Cloud account") {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if emu.Calls("GetCallerIdentity") != 0 || emu.Stops() != 1 {
				t.Fatalf("%d GetCallerIdentity calls, %d stops; want 0 and 1", emu.Calls("GetCallerIdentity"), emu.Stops())
			}
		})
	}
}

func TestDefaultSTSEndpoint(t *testing.T) {
	for _, tc := range []struct{ ecs, want string }{
		{"https://ecs.cn-hangzhou.aliyuncs.com", "https://sts.cn-hangzhou.aliyuncs.com"},
		{"https://ECS.cn-shanghai.aliyuncs.com/", "https://sts.cn-shanghai.aliyuncs.com"},
		{"https://ecs-vpc.ap-southeast-1.aliyuncs.com", "https://sts-vpc.ap-southeast-1.aliyuncs.com"},
		{"https://ecs.aliyuncs.com", "https://sts.aliyuncs.com"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"https://proxy.example.com/ecs/", "https://proxy.example.com/ecs"},
		{"https://ecs.cn-hangzhou.example.com", "https://ecs.cn-hangzhou.example.com"},
		{"https://ecs.a.b.aliyuncs.com", "https://ecs.a.b.aliyuncs.com"},
	} {
		if got := defaultSTSEndpoint(tc.ecs); got != tc.want {
			t.Errorf("defaultSTSEndpoint(%q) = %q, want %q", tc.ecs, got, tc.want)
		}
	}
}

func TestRealEndpoint(t *testing.T) {
	for endpoint, want := range map[string]bool{
		"https://ecs.cn-hangzhou.aliyuncs.com": true,
		"https://10.0.0.5:8443":                true,
		"http://127.0.0.1:8080":                false,
		"http://127.1.2.3:8080":                false,
		"http://localhost:8080":                false,
		"http://[::1]:8080":                    false,
	} {
		if got := realEndpoint(endpoint); got != want {
			t.Errorf("realEndpoint(%q) = %v, want %v", endpoint, got, want)
		}
	}
}

// -sts-endpoint only means something with a real -endpoint.
func TestSTSEndpointNeedsEndpoint(t *testing.T) {
	code, _, stderr := invokeEvent(t, directStop, "-sts-endpoint", "https://sts.aliyuncs.com")
	if code != 2 || !strings.Contains(stderr, "-sts-endpoint goes with a real -endpoint") {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
}
