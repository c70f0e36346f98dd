package main

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/internal/fakeaws"
	"github.com/ecs-stopper/stopper/internal/testenv"
	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// The function on AWS Lambda without an Alibaba Cloud secret in its
// configuration: the real bootstrap under the RIE finds its credentials
// through AWS (an OIDC token from AWS STS exchanged with Alibaba Cloud STS,
// or an AccessKey kept in Secrets Manager), against the emulator.

const (
	oidcAudience       = "sts.aliyuncs.com"
	extensionToken     = "IQoJ-extension-session-token-DO-NOT-LOG-4f1e"
	alibabaSecretID    = "ecs-stopper/alibaba-access-key"
	stuckDirectStopReq = `{"Action":"StopInvocation","RegionId":"` + stuckRegion + `","InvokeId":"` + stuckInvoke + `"}`
)

// lambdaEnv is what every case's function has besides its credentials.
func lambdaEnv(endpoint string, more map[string]string) map[string]string {
	env := map[string]string{
		"STOPPER_ECS_ENDPOINT":        endpoint,
		"STOPPER_REGION_ID":           sampleRegion,
		"STOPPER_WEBHOOK_SECRET":      hookSecret,
		"AWS_LAMBDA_FUNCTION_TIMEOUT": "30",
		"AWS_LAMBDA_FUNCTION_NAME":    "StopperFunction",
	}
	for k, v := range more {
		env[k] = v
	}
	return env
}

// credentialLines checks that the function logged at least one line, and
// that every line that names a credentials source names source.
func credentialLines(t *testing.T, log, source string) {
	t.Helper()
	n := 0
	for _, line := range e2e.LogLines(log) {
		got, ok := line["credentials"]
		if !ok {
			continue
		}
		n++
		if got != source {
			t.Errorf("a log line names credentials %v, want %s: %v", got, source, line)
		}
	}
	if n == 0 {
		t.Errorf("no log line names the credentials' source %s:\n%s", source, log)
	}
}

func TestRIEIdentityWithoutStoredSecrets(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Runtime Interface Emulator runs on Linux only")
	}
	rie := findRIE(t)
	bootstrap := buildBootstrap(t)

	// An AWS role's web identity token, exchanged for the member account's
	// role: no Alibaba Cloud secret anywhere.
	t.Run("oidc-aws", func(t *testing.T) {
		aws := fakeaws.NewSTS(t, fakeaws.STSOptions{})
		awsOpt := aws.Options()
		elog, logger := e2e.NewEmulatorLog()
		fleet := e2e.IdentityFleet(emulator.SampleFleet().Invocations, &e2e.OIDCIssuer{IssuerURL: aws.URL,
			JWKSURL: aws.URL + "/.well-known/jwks.json", Audience: oidcAudience, Subject: awsOpt.RoleARN})
		emu, err := emulator.New(emulator.Options{AccessKeyID: testKeyID, AccessKeySecret: testKeySecret, Fleet: fleet, Log: logger})
		if err != nil {
			t.Fatal(err)
		}
		h, issued := e2e.RecordIssued(emu)
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)

		fn := startRIE(t, rie, bootstrap, lambdaEnv(srv.URL, map[string]string{
			"AWS_REGION":                      awsOpt.Region,
			"AWS_ACCESS_KEY_ID":               awsOpt.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY":           awsOpt.SecretAccessKey,
			"AWS_SESSION_TOKEN":               awsOpt.SessionToken,
			"STOPPER_AWS_OIDC_AUDIENCE":       oidcAudience,
			"STOPPER_AWS_STS_ENDPOINT":        aws.URL,
			"ALIBABA_CLOUD_ROLE_ARN":          e2e.MemberRole,
			"ALIBABA_CLOUD_OIDC_PROVIDER_ARN": e2e.OIDCProvider,
		}))
		got := fn.answer(t, "req-oidc-aws", e2e.ReadEvent(t, "direct-stop.json"))
		if got["Action"] != "StopInvocation" || got["InvokeId"] != sampleInvoke || got["Code"] != nil {
			t.Fatalf("answer = %v, want the StopInvocation answer", got)
		}
		if n := emu.StopCallsIn(e2e.MemberAccount, sampleRegion, sampleInvoke); n != 1 {
			t.Fatalf("StopInvocation calls in the role's account = %d, want 1", n)
		}
		inv, _ := emu.InvocationIn(e2e.MemberAccount, sampleRegion, sampleInvoke)
		for _, in := range inv.InvokeInstances.InvokeInstance {
			if in.InstanceId == samplePendingB && in.InvocationStatus != "Cancelled" {
				t.Errorf("%s is %s, want Cancelled", in.InstanceId, in.InvocationStatus)
			}
		}
		stops := elog.Calls(t, "StopInvocation")
		if len(stops) != 1 || stops[0].Account != e2e.MemberAccount || stops[0].Principal != e2e.MemberRole || stops[0].Code != "" {
			t.Fatalf("emulator's StopInvocation lines = %+v, want one success by %s in %s", stops, e2e.MemberRole, e2e.MemberAccount)
		}
		if ex := elog.Calls(t, "AssumeRoleWithOIDC"); len(ex) != 1 || ex[0].Code != "" || ex[0].Account != e2e.MemberAccount {
			t.Fatalf("emulator's AssumeRoleWithOIDC lines = %+v, want one success", ex)
		}
		if n := aws.Calls(); n != 1 || aws.LastToken() == "" {
			t.Fatalf("AWS STS saw %d calls (token issued: %v), want one signed GetWebIdentityToken", n, aws.LastToken() != "")
		}
		if form := aws.LastForm(); form.Get("Audience.member.1") != oidcAudience || form.Get("SigningAlgorithm") != "RS256" {
			t.Errorf("GetWebIdentityToken form = %v", form)
		}
		out := fn.out.String()
		credentialLines(t, out, "oidc-aws")
		secrets := append([]string{aws.LastToken(), awsOpt.SecretAccessKey, awsOpt.SessionToken, testKeySecret}, issued.Secrets()...)
		if len(secrets) != 6 {
			t.Fatalf("%d STS secrets recorded, want the one exchange's secret and token", len(secrets)-4)
		}
		testenv.NoSecret(t, out, secrets...)
		testenv.NoSecret(t, elog.String(), secrets...)
		if strings.Contains(out, "ALIBABA_CLOUD_ACCESS_KEY") {
			t.Errorf("the function's log mentions an AccessKey variable:\n%s", out)
		}
	})

	// The AccessKey pair kept in Secrets Manager, through the extension;
	// after a rotation, the key the API no longer knows makes the function
	// read the secret again, once.
	t.Run("secrets-manager", func(t *testing.T) {
		ext := fakeaws.NewSecrets(t, extensionToken)
		first := acs.Credentials{AccessKeyID: "LTAI5tSecretsManager01", AccessKeySecret: "first-secret-DO-NOT-LOG-7a0c"}
		ext.PutAccessKey(alibabaSecretID, first)
		ca := newSwitchableEmulator(t)
		keyed := func(cred acs.Credentials) (*emulator.Server, *e2e.EmulatorLog) {
			elog, logger := e2e.NewEmulatorLog()
			emu, err := emulator.New(emulator.Options{AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret,
				Fleet: emulator.SampleFleet(), Log: logger})
			if err != nil {
				t.Fatal(err)
			}
			ca.mu.Lock()
			ca.cur = emu
			ca.mu.Unlock()
			return emu, elog
		}
		emu, _ := keyed(first)
		fn := startRIE(t, rie, bootstrap, lambdaEnv(ca.url, map[string]string{
			"STOPPER_ALIBABA_SECRET_ID":              alibabaSecretID,
			"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": ext.Port,
			"AWS_SESSION_TOKEN":                      extensionToken,
		}))
		got := fn.answer(t, "req-secret-1", e2e.ReadEvent(t, "direct-stop.json"))
		if got["Action"] != "StopInvocation" || emu.StopCalls(sampleRegion, sampleInvoke) != 1 {
			t.Fatalf("answer = %v, want the stop made with the secret's key", got)
		}
		if n := ext.Calls(); n != 1 {
			t.Fatalf("the secret was read %d times, want 1", n)
		}

		// The key is rotated: the secret holds a new one, and the account
		// knows only that one.
		second := ext.Rotate(alibabaSecretID)
		emu, elog := keyed(second)
		got = fn.answer(t, "req-secret-2", []byte(stuckDirectStopReq))
		if got["Action"] != "StopInvocation" || got["Code"] != nil || emu.StopCalls(stuckRegion, stuckInvoke) != 1 {
			t.Fatalf("answer = %v, want the stop made with the rotated key", got)
		}
		if n := ext.Calls(); n != 2 {
			t.Fatalf("the secret was read %d times in all, want 2: once more after the rotation", n)
		}
		// The first call after the rotation is refused, then every call
		// succeeds under the new key.
		calls := elog.Calls(t, "")
		if len(calls) < 2 || calls[0].Code != "InvalidAccessKeyId.NotFound" {
			t.Fatalf("emulator's calls = %+v, want the old key refused first", calls)
		}
		for _, c := range calls[1:] {
			if c.Code != "" || c.Principal != "key:"+acs.MaskKeyID(second.AccessKeyID) {
				t.Fatalf("emulator's calls = %+v, want only successes with the new key after the refusal", calls)
			}
		}
		// The next stop uses the key it has.
		got = fn.answer(t, "req-secret-3", e2e.ReadEvent(t, "direct-stop.json"))
		if got["Action"] != "StopInvocation" || ext.Calls() != 2 {
			t.Fatalf("answer = %v, %d secret reads; want a stop with no new read", got, ext.Calls())
		}
		out := fn.out.String()
		credentialLines(t, out, "secrets-manager")
		testenv.NoSecret(t, out, first.AccessKeySecret, second.AccessKeySecret, extensionToken)
		testenv.NoSecret(t, elog.String(), first.AccessKeySecret, second.AccessKeySecret, extensionToken)
	})
}

// A source that is configured but incomplete stops the bootstrap at
// start-up, naming what is missing, before any network call.
func TestBadIdentityConfiguration(t *testing.T) {
	bootstrap := buildBootstrap(t)
	aws := fakeaws.NewSTS(t, fakeaws.STSOptions{})
	ext := fakeaws.NewSecrets(t, extensionToken)
	awsOpt := aws.Options()
	oidc := map[string]string{
		"STOPPER_AWS_OIDC_AUDIENCE":       oidcAudience,
		"STOPPER_AWS_STS_ENDPOINT":        aws.URL,
		"ALIBABA_CLOUD_ROLE_ARN":          e2e.MemberRole,
		"ALIBABA_CLOUD_OIDC_PROVIDER_ARN": e2e.OIDCProvider,
		"AWS_REGION":                      awsOpt.Region,
		"AWS_ACCESS_KEY_ID":               awsOpt.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":           awsOpt.SecretAccessKey,
		"AWS_SESSION_TOKEN":               awsOpt.SessionToken,
	}
	without := func(env map[string]string, names ...string) map[string]string {
		out := map[string]string{}
		for k, v := range env {
			out[k] = v
		}
		for _, n := range names {
			delete(out, n)
		}
		return out
	}
	with := func(env map[string]string, kv ...string) map[string]string {
		out := without(env)
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"audience without AWS_REGION", without(oidc, "AWS_REGION"), []string{"AWS_REGION", "STOPPER_AWS_OIDC_AUDIENCE"}},
		{"audience without the AWS role's key", without(oidc, "AWS_SECRET_ACCESS_KEY"), []string{"AWS_SECRET_ACCESS_KEY"}},
		{"audience without the role", without(oidc, "ALIBABA_CLOUD_ROLE_ARN"), []string{"ALIBABA_CLOUD_ROLE_ARN"}},
		{"audience without the provider", without(oidc, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"), []string{"ALIBABA_CLOUD_OIDC_PROVIDER_ARN"}},
		{"audience and a token file", with(oidc, "ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/var/run/token"), []string{"ALIBABA_CLOUD_OIDC_TOKEN_FILE", "STOPPER_AWS_OIDC_AUDIENCE"}},
		{"secret without the session token", map[string]string{"STOPPER_ALIBABA_SECRET_ID": alibabaSecretID,
			"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": ext.Port}, []string{"AWS_SESSION_TOKEN"}},
		{"secret with a bad extension port", map[string]string{"STOPPER_ALIBABA_SECRET_ID": alibabaSecretID,
			"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "port", "AWS_SESSION_TOKEN": extensionToken}, []string{"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"}},
		{"no credentials at all", map[string]string{}, []string{"ALIBABA_CLOUD_ACCESS_KEY_ID", "STOPPER_ALIBABA_SECRET_ID", "STOPPER_AWS_OIDC_AUDIENCE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bootstrap)
			cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=127.0.0.1:1", "STOPPER_REGION_ID=" + sampleRegion}
			for k, v := range tc.env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit = %v, output %q: want exit 1", err, out)
			}
			for _, w := range tc.want {
				if !bytes.Contains(out, []byte(w)) {
					t.Errorf("output %q does not name %s", out, w)
				}
			}
			testenv.NoSecret(t, string(out), awsOpt.SecretAccessKey, awsOpt.SessionToken, extensionToken)
		})
	}
	if aws.Calls() != 0 || ext.Calls() != 0 {
		t.Fatalf("start-up touched the network: %d AWS STS calls, %d secret reads", aws.Calls(), ext.Calls())
	}
}
