package config_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	"github.com/ecs-stopper/stopper/internal/fakeaws"
	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/awssecrets"
	"github.com/ecs-stopper/stopper/shared/awssts"
	"github.com/ecs-stopper/stopper/shared/config"
	"github.com/ecs-stopper/stopper/shared/credentials"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// What the first-call benchmark's sources share: the emulator's region, the
// audience of OIDC tokens and the secret holding the AccessKey pair.
const (
	benchRegion      = "cn-hangzhou"
	benchAudience    = "sts.aliyuncs.com"
	benchSecretID    = "ecs-stopper/alibaba-access-key"
	benchSessionTok  = "IQoJ-bench-extension-session-token"
	benchProfileFile = "config.json"
)

// identitySource is one way the function finds its credentials: the
// STOPPER_* settings it reads through config.Load, and the identity
// options a runtime adds (ALIBABA_CLOUD_* through Getenv, the AWS sources).
type identitySource struct {
	name     string
	settings map[string]string
	options  config.IdentityOptions
	source   string // the Source the wired identity must have
}

// identityBench is one emulator (with STS) and the AWS stand-ins every
// source of the benchmark is pointed at, kept for the whole benchmark so
// that each iteration pays for the function's work only.
type identityBench struct {
	emuURL string
	emu    *emulator.Server
	// exchanges counts the credential fetches every service saw: STS's
	// AssumeRole and AssumeRoleWithOIDC, AWS STS, the extension.
	exchanges func() int
	closeAll  func()    // drops the function's connections: the next client dials again
	stopReqs  [2][]byte // a direct stop of each invocation
	sources   []identitySource
}

func newIdentityBench(b *testing.B) *identityBench {
	b.Helper()
	aws := fakeaws.NewSTS(b, fakeaws.STSOptions{})
	awsOpt := aws.Options()
	ext := fakeaws.NewSecrets(b, benchSessionTok)
	ext.PutAccessKey(benchSecretID, acs.Credentials{AccessKeyID: akid, AccessKeySecret: akSecret})

	// Two stale invocations, in the key's account and in the role's: each
	// new function stops the first again (its instance keeps running, as
	// the API documents), and its second request stops the other (a
	// function answers a repeated stop from its memory, without a call).
	invs := emulator.StaleFleet(benchRegion, 2, time.Now().Add(-3*time.Hour)).Invocations
	fleet := e2e.IdentityFleet(invs, &e2e.OIDCIssuer{IssuerURL: aws.URL, JWKSURL: aws.URL + "/.well-known/jwks.json",
		Audience: benchAudience, Subject: awsOpt.RoleARN})
	fleet.Invocations = invs
	emu, err := emulator.New(emulator.Options{AccessKeyID: akid, AccessKeySecret: akSecret, Fleet: fleet,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	b.Cleanup(srv.Close)

	// oidc-file: a token the AWS stand-in's issuer signed, as a projected
	// service account token would be, valid for the whole benchmark.
	dir := b.TempDir()
	tokenFile := filepath.Join(dir, "token")
	now := time.Now()
	token := aws.Key.Sign(b, map[string]any{"iss": aws.URL, "sub": awsOpt.RoleARN, "aud": benchAudience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	profiles := filepath.Join(dir, benchProfileFile)
	conf := fmt.Sprintf(`{"current": "ak", "profiles": [
  {"name": "ak", "mode": "AK", "access_key_id": %[1]q, "access_key_secret": %[2]q, "region_id": %[4]q},
  {"name": "role", "mode": "RamRoleArn", "access_key_id": %[1]q, "access_key_secret": %[2]q, "ram_role_arn": %[3]q, "ram_session_name": "bench", "region_id": %[4]q}
]}`, akid, akSecret, e2e.MemberRole, benchRegion)
	for path, content := range map[string]string{tokenFile: token, profiles: conf} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}

	getenv := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	key := getenv(credentials.EnvAccessKeyID, akid, credentials.EnvAccessKeySecret, akSecret)
	tokens := func(audience string) (credentials.TokenSource, error) {
		return awssts.New(awssts.Options{Audience: audience, Region: awsOpt.Region, Endpoint: aws.URL,
			AccessKeyID: awsOpt.AccessKeyID, SecretAccessKey: awsOpt.SecretAccessKey, SessionToken: awsOpt.SessionToken})
	}
	keys := func(secretID string) (credentials.KeySource, error) {
		return awssecrets.New(awssecrets.Options{SecretID: secretID, Port: ext.Port, SessionToken: benchSessionTok})
	}
	profile := func(name string) config.IdentityOptions {
		return config.IdentityOptions{AllowCLIProfile: true,
			Getenv: getenv(credentials.EnvConfigFile, profiles, credentials.EnvProfile, name)}
	}
	return &identityBench{
		emuURL: srv.URL,
		emu:    emu,
		exchanges: func() int {
			return emu.Calls("AssumeRole") + emu.Calls("AssumeRoleWithOIDC") + aws.Calls() + ext.Calls()
		},
		closeAll: srv.CloseClientConnections,
		stopReqs: [2][]byte{fmt.Appendf(nil, `{"RegionId":%q,"InvokeId":%q}`, benchRegion, invs[0].InvokeId),
			fmt.Appendf(nil, `{"RegionId":%q,"InvokeId":%q}`, benchRegion, invs[1].InvokeId)},
		sources: []identitySource{
			{name: "env", options: config.IdentityOptions{Getenv: key}, source: credentials.SourceEnv},
			{name: "env+assume-role", settings: map[string]string{"STOPPER_ASSUME_ROLE_ARN": e2e.MemberRole},
				options: config.IdentityOptions{Getenv: key}, source: credentials.SourceEnv},
			{name: "oidc-file", options: config.IdentityOptions{Getenv: getenv(credentials.EnvRoleArn, e2e.MemberRole,
				credentials.EnvOIDCProviderArn, e2e.OIDCProvider, credentials.EnvOIDCTokenFile, tokenFile)},
				source: credentials.SourceOIDCFile},
			{name: "oidc-aws", settings: map[string]string{"STOPPER_AWS_OIDC_AUDIENCE": benchAudience, "STOPPER_AWS_STS_ENDPOINT": aws.URL},
				options: config.IdentityOptions{NewTokenSource: tokens, Getenv: getenv(credentials.EnvRoleArn, e2e.MemberRole,
					credentials.EnvOIDCProviderArn, e2e.OIDCProvider)},
				source: credentials.SourceOIDCAWS},
			{name: "secrets-manager", settings: map[string]string{"STOPPER_ALIBABA_SECRET_ID": benchSecretID},
				options: config.IdentityOptions{NewKeySource: keys, Getenv: getenv()}, source: credentials.SourceSecretsManager},
			{name: "cli-profile-AK", options: profile("ak"), source: credentials.SourceCLIProfile + ":ak"},
			{name: "cli-profile-RamRoleArn", options: profile("role"), source: credentials.SourceCLIProfile + ":role"},
		},
	}
}

// load reads the configuration a source's function would have.
func (ib *identityBench) load(b *testing.B, src identitySource) config.Config {
	b.Helper()
	b.Setenv("STOPPER_ECS_ENDPOINT", ib.emuURL)
	b.Setenv("STOPPER_REGION_ID", benchRegion)
	for k, v := range src.settings {
		b.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// start wires the function as a runtime does at start-up: no network.
func (ib *identityBench) start(b *testing.B, cfg config.Config, src identitySource) stopFunc {
	b.Helper()
	log := slog.New(slog.DiscardHandler)
	opts := src.options
	opts.Log = log
	id, err := cfg.Identity(opts)
	if err != nil {
		b.Fatalf("%s: %v", src.name, err)
	}
	if id.Source != src.source {
		b.Fatalf("%s: the identity's source is %s", src.name, id.Source)
	}
	h, err := cfg.Handler(id, log)
	if err != nil {
		b.Fatal(err)
	}
	calls := 0
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req := ib.stopReqs[calls%2]
		calls++
		res, err := h.Invoke(ctx, fmt.Sprintf("bench-%d", calls), req)
		switch {
		case err != nil:
			return err
		case res.Failure != nil:
			return fmt.Errorf("%s: %s", res.Failure.Code, res.Failure.Message)
		}
		return nil
	}
}

// stopFunc is one direct stop request through the handler: a
// DescribeInvocations read, then StopInvocation; the first and second
// requests of one function stop different invocations.
type stopFunc func() error

// BenchmarkFirstCall is what the first API call of a fresh function costs
// with each credential source: each iteration wires a new identity and
// handler (untimed) and times their first stop, which fetches the
// temporary credentials first (STS AssumeRole or AssumeRoleWithOIDC, the
// AWS token or the secret). "warm" times a second stop: the floor. The
// emulator answers at once, so the figures are the work of the function
// and of the stand-ins on loopback, without any network's round trips.
func BenchmarkFirstCall(b *testing.B) {
	ib := newIdentityBench(b)
	for _, src := range ib.sources {
		b.Run(src.name, func(b *testing.B) {
			cfg := ib.load(b, src)
			ib.measure(b, func() stopFunc { return ib.start(b, cfg, src) }, false)
		})
	}
	b.Run("warm", func(b *testing.B) {
		cfg := ib.load(b, ib.sources[0])
		ib.measure(b, func() stopFunc { return ib.start(b, cfg, ib.sources[0]) }, true)
	})
}

// measure times one stop per iteration of a function fresh is wired anew
// for, its first one or (warm) its second; one untimed round first fills
// what the emulator keeps for the whole run (the issuer's keys).
func (ib *identityBench) measure(b *testing.B, fresh func() stopFunc, warm bool) {
	round := func() {
		b.StopTimer()
		ib.closeAll()
		stop := fresh()
		if warm {
			if err := stop(); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		err := stop()
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
	}
	round()
	stops, exchanges := ib.emu.Stops(), ib.exchanges()
	b.ResetTimer()
	for range b.N {
		round()
	}
	if n := ib.emu.Stops() - stops; n != b.N*(1+btoi(warm)) {
		b.Fatalf("%d stops for %d rounds", n, b.N)
	}
	b.ReportMetric(float64(ib.exchanges()-exchanges)/float64(b.N), "exchanges/op")
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}
