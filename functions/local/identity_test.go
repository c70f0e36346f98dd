package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/internal/fakeaws"
	"github.com/ecs-stopper/stopper/internal/testenv"
	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/sts"
)

// Where the runner's credentials come from, through `local invoke
// -endpoint` against a standalone emulator of two accounts: the
// management account's key, and the member account's role it may assume
// (and that trusts an OIDC provider's tokens).

const (
	idKeyID       = "LTAI5tIdentityTestKey01"
	idKeySecret   = "identity-test-secret-DO-NOT-LOG-3e7b"
	oidcAudience  = "sts.aliyuncs.com"
	oidcSubject   = "system:serviceaccount:ops:ecs-stopper"
	memberStopReq = `{"Action":"StopInvocation","RegionId":"cn-hangzhou","InvokeId":"` + sampleOnce + `"}`
)

// idEmulator is a standalone emulator on loopback, its log and the
// credentials its STS issued.
type idEmulator struct {
	*emulator.Server
	URL    string
	log    *e2e.EmulatorLog
	issued *e2e.IssuedCredentials
}

// secrets are every secret the runner's and the emulator's output must not
// show: the key pair's and those STS issued.
func (e *idEmulator) secrets(more ...string) []string {
	return append(append([]string{idKeySecret}, e.issued.Secrets()...), more...)
}

// identityEmulator serves a two-account fleet (the sample fleet's
// invocations in both accounts, or member's in the member account when
// given) with the issuer's provider when one is given.
func identityEmulator(t *testing.T, opts emulator.Options, member *emulator.Fleet, issuer *e2e.OIDCIssuer) (*idEmulator, *e2e.EmulatorLog) {
	t.Helper()
	invs := emulator.SampleFleet().Invocations
	if member != nil {
		invs = member.Invocations
	}
	fleet := e2e.IdentityFleet(invs, issuer)
	fleet.Invocations = emulator.SampleFleet().Invocations
	elog, logger := e2e.NewEmulatorLog()
	opts.AccessKeyID, opts.AccessKeySecret, opts.Fleet, opts.Log = idKeyID, idKeySecret, fleet, logger
	emu, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h, issued := e2e.RecordIssued(emu)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Setenv("STOPPER_REGION_ID", "cn-hangzhou")
	return &idEmulator{Server: emu, URL: srv.URL, log: elog, issued: issued}, elog
}

// answerOf decodes invoke's stdout.
func answerOf(t *testing.T, stdout, stderr string) map[string]any {
	t.Helper()
	var a map[string]any
	if err := json.Unmarshal([]byte(stdout), &a); err != nil {
		t.Fatalf("stdout is not one JSON answer: %v\n%s\nstderr: %s", err, stdout, stderr)
	}
	return a
}

// sourceLogged checks that the runner's log lines that name a credentials
// source all name source (and role, when given), and that there are some.
func sourceLogged(t *testing.T, log, source, role string) {
	t.Helper()
	n := 0
	for _, line := range e2e.LogLines(log) {
		if _, ok := line["credentials"]; !ok {
			continue
		}
		n++
		if line["credentials"] != source || (role != "" && line["role"] != role) {
			t.Errorf("log line names credentials %v, role %v; want %s, %q: %v", line["credentials"], line["role"], source, role, line)
		}
	}
	if n == 0 {
		t.Errorf("no log line names the credentials' source %s:\n%s", source, log)
	}
}

// onlyCalls checks the emulator's log: every call of action was made in
// account by principal, successfully, and there was at least one.
func onlyCalls(t *testing.T, elog *e2e.EmulatorLog, action, account, principal string) {
	t.Helper()
	calls := elog.Calls(t, action)
	if len(calls) == 0 {
		t.Fatalf("no %s call", action)
	}
	for _, c := range calls {
		if c.Account != account || c.Principal != principal || c.Code != "" {
			t.Fatalf("%s calls = %+v, want successes by %s in %s", action, calls, principal, account)
		}
	}
}

// stoppedIn checks that the sample one-time invocation was stopped once in
// account and nowhere else.
func stoppedIn(t *testing.T, emu *idEmulator, account string) {
	t.Helper()
	for _, acct := range []string{e2e.ManagementAccount, e2e.MemberAccount} {
		want := 0
		if acct == account {
			want = 1
		}
		if n := emu.StopCallsIn(acct, "cn-hangzhou", sampleOnce); n != want {
			t.Errorf("StopInvocation calls in %s = %d, want %d", acct, n, want)
		}
	}
}

// writeFile writes a file in a temporary folder, readable by its owner only.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// An OIDC token in a file, exchanged for the member account's role; bad
// tokens are refused by STS and nothing is stopped.
func TestOIDCTokenFile(t *testing.T) {
	key := fakeaws.NewKey(t, "issuer-key-1")
	other := fakeaws.NewKey(t, "issuer-key-1") // same kid, not the issuer's key
	iss := fakeaws.ServeJWKS(t, key)
	issuer := &e2e.OIDCIssuer{IssuerURL: iss.URL, JWKSURL: iss.URL + "/.well-known/jwks.json", Audience: oidcAudience, Subject: oidcSubject}
	now := time.Now()
	claims := func(aud string, exp time.Time) map[string]any {
		return map[string]any{"iss": iss.URL, "sub": oidcSubject, "aud": aud, "iat": now.Add(-time.Minute).Unix(), "exp": exp.Unix()}
	}
	for _, tc := range []struct {
		name  string
		token string
		code  string // STS's refusal; "" for a stop
	}{
		{"valid", key.Sign(t, claims(oidcAudience, now.Add(time.Hour))), ""},
		{"bad signature", other.Sign(t, claims(oidcAudience, now.Add(time.Hour))), emulator.CodeOIDCTokenSignature},
		{"expired", key.Sign(t, claims(oidcAudience, now.Add(-time.Minute))), emulator.CodeOIDCTokenExpired},
		{"wrong audience", key.Sign(t, claims("another-client", now.Add(time.Hour))), emulator.CodeOIDCTokenAudience},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, elog := identityEmulator(t, emulator.Options{}, nil, issuer)
			t.Setenv("ALIBABA_CLOUD_ROLE_ARN", e2e.MemberRole)
			t.Setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", e2e.OIDCProvider)
			t.Setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", writeFile(t, "token", tc.token))
			code, stdout, stderr := invokeEvent(t, memberStopReq, "-endpoint", emu.URL)
			a := answerOf(t, stdout, stderr)
			defer func() {
				testenv.NoSecret(t, stdout+stderr+elog.String(), emu.secrets(tc.token)...)
				if t.Failed() {
					t.Logf("stderr:\n%s\nemulator:\n%s", stderr, elog.String())
				}
			}()
			if tc.code == "" {
				if code != 0 || a["Action"] != "StopInvocation" || a["Code"] != nil {
					t.Fatalf("exit %d, answer %v: want a stop", code, a)
				}
				stoppedIn(t, emu, e2e.MemberAccount)
				onlyCalls(t, elog, "StopInvocation", e2e.MemberAccount, e2e.MemberRole)
				onlyCalls(t, elog, "AssumeRoleWithOIDC", e2e.MemberAccount, e2e.OIDCProvider)
				sourceLogged(t, stderr, "oidc-file", "")
				return
			}
			msg, _ := a["Message"].(string)
			if code != 1 || a["Code"] != "Credentials.Unavailable" || !strings.Contains(msg, tc.code) || !strings.Contains(msg, "oidc-file") {
				t.Fatalf("exit %d, answer %v: want a transient Credentials.Unavailable naming oidc-file and %s", code, a, tc.code)
			}
			if n := emu.Calls("StopInvocation"); n != 0 {
				t.Fatalf("%d StopInvocation calls with a refused token", n)
			}
			if ex := elog.Calls(t, "AssumeRoleWithOIDC"); len(ex) == 0 || ex[0].Code != tc.code {
				t.Fatalf("AssumeRoleWithOIDC calls = %+v, want refused with %s", ex, tc.code)
			}
		})
	}
}

// STOPPER_ASSUME_ROLE_ARN on top of the environment's AccessKey: the stop
// happens in the role's account, under the role.
func TestAssumeRoleOnTopOfEnvKey(t *testing.T) {
	emu, elog := identityEmulator(t, emulator.Options{}, nil, nil)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", idKeyID)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", idKeySecret)
	t.Setenv("STOPPER_ASSUME_ROLE_ARN", e2e.MemberRole)
	code, stdout, stderr := invokeEvent(t, memberStopReq, "-endpoint", emu.URL)
	if a := answerOf(t, stdout, stderr); code != 0 || a["Action"] != "StopInvocation" || a["Code"] != nil {
		t.Fatalf("exit %d, answer %v\nstderr: %s", code, a, stderr)
	}
	stoppedIn(t, emu, e2e.MemberAccount)
	onlyCalls(t, elog, "StopInvocation", e2e.MemberAccount, e2e.MemberRole)
	onlyCalls(t, elog, "AssumeRole", e2e.ManagementAccount, "key:"+acs.MaskKeyID(idKeyID))
	sourceLogged(t, stderr, "env", e2e.MemberRole)
	testenv.NoSecret(t, stdout+stderr+elog.String(), emu.secrets()...)
}

// The aliyun CLI's profile, in each mode the runner reads that needs no
// token file: the source named in the log is the profile.
func TestCLIProfile(t *testing.T) {
	emu, elog := identityEmulator(t, emulator.Options{}, nil, nil)
	// A StsToken profile holds credentials STS issued for the role.
	client, err := sts.New(sts.Options{Endpoint: emu.URL})
	if err != nil {
		t.Fatal(err)
	}
	issued, err := client.WithCredentials(acs.Credentials{AccessKeyID: idKeyID, AccessKeySecret: idKeySecret}).
		AssumeRole(context.Background(), sts.AssumeRoleInput{RoleArn: e2e.MemberRole, RoleSessionName: "cli-user"})
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`{"current": "ak", "profiles": [
  {"name": "ak", "mode": "AK", "access_key_id": %[1]q, "access_key_secret": %[2]q, "region_id": "cn-hangzhou"},
  {"name": "role", "mode": "RamRoleArn", "access_key_id": %[1]q, "access_key_secret": %[2]q, "ram_role_arn": %[3]q, "ram_session_name": "cli-role", "region_id": "cn-hangzhou"},
  {"name": "sts", "mode": "StsToken", "access_key_id": %[4]q, "access_key_secret": %[5]q, "sts_token": %[6]q, "region_id": "cn-hangzhou"}
]}`, idKeyID, idKeySecret, e2e.MemberRole, issued.Pair.AccessKeyID, issued.Pair.AccessKeySecret, issued.Pair.SecurityToken)
	t.Setenv("ALIBABA_CLOUD_CONFIG_FILE", writeFile(t, "config.json", conf))
	t.Setenv("HOME", t.TempDir())
	for _, tc := range []struct {
		profile, account, principal string
	}{
		{"", e2e.ManagementAccount, "key:" + acs.MaskKeyID(idKeyID)}, // the file's current profile: ak
		{"role", e2e.MemberAccount, e2e.MemberRole},
		{"sts", e2e.MemberAccount, e2e.MemberRole},
	} {
		name := tc.profile
		if name == "" {
			name = "current"
		}
		t.Run(name, func(t *testing.T) {
			before := len(elog.Calls(t, "StopInvocation"))
			t.Setenv("ALIBABA_CLOUD_PROFILE", tc.profile)
			account := tc.account
			code, stdout, stderr := invokeEvent(t, memberStopReq, "-endpoint", emu.URL)
			if a := answerOf(t, stdout, stderr); code != 0 || a["Action"] != "StopInvocation" || a["Code"] != nil {
				t.Fatalf("exit %d, answer %v\nstderr: %s", code, a, stderr)
			}
			calls := elog.Calls(t, "StopInvocation")[before:]
			if len(calls) != 1 || calls[0].Account != account || calls[0].Principal != tc.principal || calls[0].Code != "" {
				t.Fatalf("StopInvocation calls = %+v, want one by %s in %s", calls, tc.principal, account)
			}
			sourceLogged(t, stderr, "cli-profile:"+cmpOr(tc.profile, "ak"), "")
			testenv.NoSecret(t, stdout+stderr+elog.String(), emu.secrets(issued.Pair.AccessKeySecret, issued.Pair.SecurityToken)...)
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// A sweep that lasts longer than the role's credentials completes: they
// are renewed as they age, a few times, not at every call.
func TestSweepOutlivesItsCredentials(t *testing.T) {
	const (
		lifetime = 2 * time.Second
		stale    = 32
	)
	emu, elog := identityEmulator(t, emulator.Options{STSDuration: lifetime, ThrottleQPS: 12, ThrottleBurst: 4},
		emulator.StaleFleet("cn-hangzhou", stale, time.Now().Add(-3*time.Hour)), nil)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", idKeyID)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", idKeySecret)
	t.Setenv("STOPPER_ASSUME_ROLE_ARN", e2e.MemberRole)
	t.Setenv("STOPPER_SWEEP_REGION_IDS", "cn-hangzhou")
	t.Setenv("STOPPER_SWEEP_MAX_STOPS", "100")
	start := time.Now()
	code, stdout, stderr := invokeEvent(t, `{"Action":"Sweep"}`, "-endpoint", emu.URL)
	elapsed := time.Since(start)
	a := answerOf(t, stdout, stderr)
	stopped, _ := a["Stopped"].([]any)
	failed, _ := a["Failed"].([]any)
	if code != 0 || len(stopped) != stale || len(failed) != 0 || a["Truncated"] != false {
		t.Fatalf("exit %d: %d stopped, failed %v, truncated %v; want all %d stopped\nstderr: %s", code, len(stopped), failed, a["Truncated"], stale, stderr)
	}
	if elapsed <= lifetime {
		t.Fatalf("the sweep took %s, not longer than the credentials' %s: the test proves nothing", elapsed, lifetime)
	}
	onlyCalls(t, elog, "AssumeRole", e2e.ManagementAccount, "key:"+acs.MaskKeyID(idKeyID))
	for _, c := range elog.Calls(t, "") {
		if c.Code != "" && c.Code != emulator.CodeThrottlingUser {
			t.Fatalf("a call was refused with %s: %+v", c.Code, c)
		}
	}
	// Credentials issued for lifetime (the emulator rounds the expiry
	// down to the second: more than lifetime-1s) are renewed at half their
	// lifetime at the earliest.
	minRenewal := (lifetime - time.Second) / 2
	assumed := len(elog.Calls(t, "AssumeRole"))
	if most := int(elapsed/minRenewal) + 1; assumed < 2 || assumed > most {
		t.Fatalf("%d AssumeRole calls over a %s sweep, want from 2 to %d", assumed, elapsed.Round(time.Millisecond), most)
	}
	t.Logf("%d AssumeRole calls over a %s sweep", assumed, elapsed.Round(time.Millisecond))
	if n := len(emu.issued.Secrets()); n != 2*assumed {
		t.Errorf("%d issued secrets and tokens recorded, want those of the %d exchanges", n, assumed)
	}
	sourceLogged(t, stderr, "env", e2e.MemberRole)
	testenv.NoSecret(t, stdout+stderr+elog.String(), emu.secrets()...)
}
