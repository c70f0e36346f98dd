package credentials

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/shared/acs"
)

const (
	testRole     = "acs:ram::1000000000000002:role/ecs-stopper"
	testProvider = "acs:ram::1000000000000001:oidc-provider/aws"
	testKeyID    = "LTAI5tResolveTestKey0001"
	testSecret   = "resolve-test-secret"
	testJWT      = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2ln-first"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every source is chosen by its settings, and every incomplete setting
// refuses start-up naming what is missing; none of it touches the network.
func TestResolve(t *testing.T) {
	dir := t.TempDir()
	tokenFile := writeFile(t, dir, "token", testJWT+"\n")
	emptyFile := writeFile(t, dir, "empty", "\n")
	tokens := func(string) (TokenSource, error) {
		return TokenSourceFunc(func(context.Context) (string, error) { return testJWT, nil }), nil
	}
	keys := func(string) (KeySource, error) {
		return KeySourceFunc(func(context.Context) (acs.Credentials, error) {
			return acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret}, nil
		}), nil
	}
	oidcEnv := map[string]string{EnvRoleArn: testRole, EnvOIDCProviderArn: testProvider, EnvOIDCTokenFile: tokenFile}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(out, kv[i])
			} else {
				out[kv[i]] = kv[i+1]
			}
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		env        map[string]string
		s          Settings
		wantSource string
		wantRole   string
		wantErr    []string
	}{
		{name: "env", env: map[string]string{EnvAccessKeyID: testKeyID, EnvAccessKeySecret: testSecret}, wantSource: "env"},
		{name: "env wins over OIDC", env: with(oidcEnv, EnvAccessKeyID, testKeyID, EnvAccessKeySecret, testSecret), wantSource: "env"},
		{name: "env key id without secret", env: map[string]string{EnvAccessKeyID: testKeyID},
			wantErr: []string{"env", EnvAccessKeyID + " is set but " + EnvAccessKeySecret + " is not"}},
		{name: "env token alone", env: map[string]string{EnvSecurityToken: "tok"},
			wantErr: []string{EnvSecurityToken + " is set but " + EnvAccessKeyID + " and " + EnvAccessKeySecret + " is not"}},
		{name: "oidc-file", env: oidcEnv, s: Settings{RegionID: "cn-hangzhou"}, wantSource: "oidc-file"},
		{name: "oidc-file with a role on top", env: oidcEnv, s: Settings{RegionID: "cn-hangzhou", AssumeRoleArn: "acs:ram::1000000000000003:role/x"},
			wantSource: "oidc-file", wantRole: "acs:ram::1000000000000003:role/x"},
		{name: "role ARN alone", env: map[string]string{EnvRoleArn: testRole}, s: Settings{RegionID: "cn-hangzhou"},
			wantErr: []string{"oidc-file", "the OIDC token has no source", EnvOIDCTokenFile, "STOPPER_AWS_OIDC_AUDIENCE"}},
		{name: "no provider ARN", env: with(oidcEnv, EnvOIDCProviderArn, ""), s: Settings{RegionID: "cn-hangzhou"},
			wantErr: []string{"oidc-file", EnvOIDCProviderArn + " is not set", "oidc-provider/<name>"}},
		{name: "no role ARN", env: with(oidcEnv, EnvRoleArn, ""), wantErr: []string{EnvRoleArn + " is not set"}},
		{name: "unreadable token file", env: with(oidcEnv, EnvOIDCTokenFile, filepath.Join(dir, "absent")), s: Settings{RegionID: "cn-hangzhou"},
			wantErr: []string{"oidc-file", EnvOIDCTokenFile, "cannot read", "absent", "no such file"}},
		{name: "empty token file", env: with(oidcEnv, EnvOIDCTokenFile, emptyFile), s: Settings{RegionID: "cn-hangzhou"},
			wantErr: []string{"oidc-file", "empty"}},
		{name: "OIDC without a region", env: oidcEnv, wantErr: []string{"oidc-file calls STS", "STOPPER_REGION_ID"}},
		{name: "OIDC with a plain-http remote STS", env: oidcEnv, s: Settings{STSEndpoint: "http://sts.example.com"},
			wantErr: []string{"oidc-file calls STS", "not this machine"}},
		{name: "oidc-aws", env: with(oidcEnv, EnvOIDCTokenFile, ""), s: Settings{RegionID: "cn-hangzhou", AWSOIDCAudience: "sts.aliyuncs.com", NewTokenSource: tokens},
			wantSource: "oidc-aws"},
		{name: "oidc-aws on a runtime without AWS tokens", env: with(oidcEnv, EnvOIDCTokenFile, ""), s: Settings{RegionID: "cn-hangzhou", AWSOIDCAudience: "sts.aliyuncs.com"},
			wantErr: []string{"oidc-aws", "STOPPER_AWS_OIDC_AUDIENCE is set but this runtime cannot"}},
		{name: "oidc-aws with its token source refusing", env: with(oidcEnv, EnvOIDCTokenFile, ""), s: Settings{RegionID: "cn-hangzhou", AWSOIDCAudience: "a",
			NewTokenSource: func(string) (TokenSource, error) { return nil, errors.New("AWS_REGION is not set") }},
			wantErr: []string{"oidc-aws", "AWS_REGION is not set"}},
		{name: "oidc-aws audience alone", s: Settings{AWSOIDCAudience: "a", NewTokenSource: tokens},
			wantErr: []string{"oidc-aws", EnvRoleArn + " and " + EnvOIDCProviderArn + " is not set"}},
		{name: "token file and audience both", env: oidcEnv, s: Settings{AWSOIDCAudience: "a", NewTokenSource: tokens},
			wantErr: []string{"both " + EnvOIDCTokenFile + " and STOPPER_AWS_OIDC_AUDIENCE"}},
		{name: "secrets-manager", s: Settings{AlibabaSecretID: "stopper/key", NewKeySource: keys}, wantSource: "secrets-manager"},
		{name: "secrets-manager with a role", s: Settings{AlibabaSecretID: "stopper/key", NewKeySource: keys, AssumeRoleArn: testRole, AssumeRoleExternalID: "x", STSEndpoint: "https://sts.cn-hangzhou.aliyuncs.com"},
			wantSource: "secrets-manager", wantRole: testRole},
		{name: "secrets-manager on a runtime without it", s: Settings{AlibabaSecretID: "stopper/key"},
			wantErr: []string{"secrets-manager", "STOPPER_ALIBABA_SECRET_ID is set but this runtime cannot"}},
		{name: "role ARN malformed", env: map[string]string{EnvAccessKeyID: testKeyID, EnvAccessKeySecret: testSecret}, s: Settings{AssumeRoleArn: "ecs-stopper", RegionID: "cn-hangzhou"},
			wantErr: []string{"STOPPER_ASSUME_ROLE_ARN", "acs:ram::<account id>:role/<role name>"}},
		{name: "role without a region", env: map[string]string{EnvAccessKeyID: testKeyID, EnvAccessKeySecret: testSecret}, s: Settings{AssumeRoleArn: testRole},
			wantErr: []string{"STOPPER_ASSUME_ROLE_ARN calls STS", "STOPPER_REGION_ID"}},
		{name: "external id without role", env: map[string]string{EnvAccessKeyID: testKeyID, EnvAccessKeySecret: testSecret}, s: Settings{AssumeRoleExternalID: "x"},
			wantErr: []string{"STOPPER_ASSUME_ROLE_EXTERNAL_ID is set without STOPPER_ASSUME_ROLE_ARN"}},
		{name: "nothing", env: map[string]string{"HOME": dir}, s: Settings{AllowCLIProfile: true},
			wantErr: []string{"no Alibaba Cloud credentials are configured", "(env)", "(oidc-file)", "(oidc-aws)", "(secrets-manager)", "(cli-profile)", "Function Compute"}},
		{name: "a CLI profile where none is read", env: map[string]string{EnvProfile: "dev"},
			wantErr: []string{"no Alibaba Cloud credentials are configured", EnvProfile + " are read by local runs only"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.s.Getenv = envOf(tc.env)
			id, err := Resolve(tc.s)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("resolved %+v, want an error", id)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				for _, secret := range []string{testSecret, testJWT} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q shows a secret", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.Source != tc.wantSource || id.RoleArn != tc.wantRole || id.Provider == nil {
				t.Fatalf("resolved %+v, want source %s role %q", id, tc.wantSource, tc.wantRole)
			}
		})
	}
}

func TestSTSEndpoint(t *testing.T) {
	for _, tc := range []struct {
		explicit, ecs, network, region, want, wantErr string
	}{
		{explicit: "https://sts.example.com", ecs: "http://127.0.0.1:1", region: "cn-hangzhou", want: "https://sts.example.com"},
		{ecs: "http://127.0.0.1:8080", network: "vpc", region: "cn-hangzhou", want: "http://127.0.0.1:8080"},
		{network: "vpc", region: "cn-shanghai", want: "https://sts-vpc.cn-shanghai.aliyuncs.com"},
		{network: "public", region: "cn-shanghai", want: "https://sts.cn-shanghai.aliyuncs.com"},
		{network: "vpc", wantErr: "needs a region: set STOPPER_REGION_ID"},
		// A real ECS endpoint override (a private endpoint) serves ECS only.
		{ecs: "https://ecs.example.internal", region: "cn-hangzhou", want: "https://sts.cn-hangzhou.aliyuncs.com"},
		{ecs: "https://ecs.example.internal", wantErr: "needs a region"},
	} {
		got, err := STSEndpoint(tc.explicit, tc.ecs, tc.network, tc.region)
		if got != tc.want || (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("STSEndpoint(%+v) = %q, %v", tc, got, err)
		}
	}
}

// The OIDC file source exchanges the file's current token at each
// exchange, and a role on top signs AssumeRole with the source's
// credentials.
func TestOIDCFileExchangesAndRoleOnTop(t *testing.T) {
	f := newFakeSTS(t)
	dir := t.TempDir()
	tokenFile := writeFile(t, dir, "token", testJWT)
	log, logs := newLog()
	outer := "acs:ram::1000000000000003:role/outer"
	id, err := Resolve(Settings{Getenv: envOf(map[string]string{EnvRoleArn: testRole, EnvOIDCProviderArn: testProvider, EnvOIDCTokenFile: tokenFile}),
		STSEndpoint: f.URL, AssumeRoleArn: outer, AssumeRoleExternalID: "ext-1", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if f.count() != 0 {
		t.Fatal("Resolve called STS")
	}
	got, err := id.Provider.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f.count() != 2 || got.AccessKeyID != "STS.issued2" {
		t.Fatalf("%d calls, credentials %v", f.count(), got)
	}
	oidc, assume := f.call(0), f.call(1)
	if oidc.Get("Action") != "AssumeRoleWithOIDC" || oidc.Get("OIDCToken") != testJWT || oidc.Get("RoleArn") != testRole ||
		oidc.Get("OIDCProviderArn") != testProvider || !strings.HasPrefix(oidc.Get("RoleSessionName"), "ecs-stopper-") {
		t.Errorf("first call %v", oidc)
	}
	if assume.Get("Action") != "AssumeRole" || assume.Get("RoleArn") != outer || assume.Get("ExternalId") != "ext-1" ||
		!strings.Contains(f.signers[1], "Credential=STS.issued1,") {
		t.Errorf("second call %v signed %q", assume, f.signers[1])
	}

	// The inner provider re-reads the file at its next exchange.
	writeFile(t, dir, "token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2ln-second")
	inner := f.client(t) // the same endpoint, an OIDC source alone
	src, err := OIDCFile(inner, OIDC{RoleArn: testRole, OIDCProviderArn: testProvider}, tokenFile, log)
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := src.Provider.Credentials(context.Background())
	writeFile(t, dir, "token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2ln-third")
	src.Provider.(acs.Invalidator).Invalidate(c1)
	if _, err := src.Provider.Credentials(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a, b := f.call(2).Get("OIDCToken"), f.call(3).Get("OIDCToken"); !strings.HasSuffix(a, "second") || !strings.HasSuffix(b, "third") {
		t.Errorf("tokens sent %q then %q, want the file's content each time", a, b)
	}
	for _, line := range logs.lines() {
		if strings.Contains(line, "c2ln") || strings.Contains(line, "issued-secret") {
			t.Errorf("log line shows a secret: %s", line)
		}
	}
}

// STS refusing the exchange is Credentials.Unavailable naming the source,
// STS's code and a fix, without the token STS echoed.
func TestExchangeRefusedBySTS(t *testing.T) {
	f := newFakeSTS(t)
	f.fail = "AuthenticationFail.OIDCToken.Invalid"
	dir := t.TempDir()
	tokenFile := writeFile(t, dir, "token", testJWT)
	id, err := OIDCFile(f.client(t), OIDC{RoleArn: testRole, OIDCProviderArn: testProvider}, tokenFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = id.Provider.Credentials(context.Background())
	if err == nil || strings.Contains(err.Error(), testJWT) {
		t.Fatalf("error %v", err)
	}
	for _, want := range []string{"Credentials.Unavailable", "oidc-file", "AuthenticationFail.OIDCToken.Invalid", "REQ-1", "check the OIDC provider ARN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// A role on top of a rotated key tells the key's source, which fetches it
// again at the next exchange.
func TestRoleOnRotatedKey(t *testing.T) {
	f := newFakeSTS(t)
	f.fail = "InvalidAccessKeyId.NotFound"
	fetches := 0
	base, _ := SecretsManager(KeySourceFunc(func(context.Context) (acs.Credentials, error) {
		fetches++
		return acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret}, nil
	}), nil)
	id, err := AssumeRole(base, f.client(t), testRole, "", nil)
	if err != nil || id.Source != SourceSecretsManager || id.RoleArn != testRole {
		t.Fatalf("%+v, %v", id, err)
	}
	for range 2 {
		_, err := id.Provider.Credentials(context.Background())
		if err == nil || !strings.Contains(err.Error(), "role "+testRole) || !strings.Contains(err.Error(), "check the source's AccessKey") {
			t.Fatalf("error %v", err)
		}
	}
	if fetches != 2 {
		t.Fatalf("the key was fetched %d times, want again after the refusal", fetches)
	}
}

func TestLogAttrs(t *testing.T) {
	id := Identity{Source: "oidc-aws", RoleArn: testRole}
	attrs := id.LogAttrs()
	if len(attrs) != 2 || attrs[0].String() != "credentials=oidc-aws" || attrs[1].String() != "role="+testRole {
		t.Errorf("%v", attrs)
	}
	if attrs := (Identity{Source: "env"}).LogAttrs(); len(attrs) != 1 {
		t.Errorf("%v", attrs)
	}
}
