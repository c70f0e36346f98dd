package credentials

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliyun/credentials-go/credentials/providers"
	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/sts"
)

const cliConfig = `{"current": "%s", "profiles": [
 {"name": "ak", "mode": "AK", "access_key_id": "LTAI5tProfileKey00000001", "access_key_secret": "profile-secret"},
 {"name": "sts", "mode": "StsToken", "access_key_id": "STS.profile", "access_key_secret": "profile-secret", "sts_token": "profile-token"},
 {"name": "role", "mode": "RamRoleArn", "access_key_id": "LTAI5tProfileKey00000001", "access_key_secret": "profile-secret",
  "ram_role_arn": "acs:ram::1000000000000002:role/ecs-stopper", "ram_session_name": "dev@laptop"},
 {"name": "oidc", "mode": "OIDC", "ram_role_arn": "acs:ram::1000000000000002:role/ecs-stopper",
  "oidc_provider_arn": "acs:ram::1000000000000001:oidc-provider/aws", "oidc_token_file": "%s"},
 {"name": "sso", "mode": "CloudSSO"},
 {"name": "half", "mode": "AK", "access_key_id": "LTAI5tProfileKey00000001"},
 {"name": "oidc-half", "mode": "OIDC", "ram_role_arn": "acs:ram::1:role/x"}
]}`

func TestCLIProfile(t *testing.T) {
	f := newFakeSTS(t)
	dir := t.TempDir()
	token := writeFile(t, dir, "token", testJWT)
	write := func(current string) string {
		return writeFile(t, dir, "config-"+current+".json", fmt.Sprintf(cliConfig, current, token))
	}
	for _, tc := range []struct {
		name       string
		env        map[string]string
		wantSource string
		wantPair   acs.Credentials
		wantCalls  []string // STS actions at the first Credentials call
		wantErr    []string
	}{
		{name: "AK, the file's current profile", env: map[string]string{EnvConfigFile: write("ak")}, wantSource: "cli-profile:ak",
			wantPair: acs.Credentials{AccessKeyID: "LTAI5tProfileKey00000001", AccessKeySecret: "profile-secret"}},
		{name: "StsToken named by ALIBABA_CLOUD_PROFILE", env: map[string]string{EnvConfigFile: write("ak"), EnvProfile: "sts"}, wantSource: "cli-profile:sts",
			wantPair: acs.Credentials{AccessKeyID: "STS.profile", AccessKeySecret: "profile-secret", SecurityToken: "profile-token"}},
		{name: "RamRoleArn", env: map[string]string{EnvConfigFile: write("role")}, wantSource: "cli-profile:role", wantCalls: []string{"AssumeRole"}},
		{name: "OIDC", env: map[string]string{EnvConfigFile: write("oidc")}, wantSource: "cli-profile:oidc", wantCalls: []string{"AssumeRoleWithOIDC"}},
		{name: "the default file under HOME", env: map[string]string{"HOME": dir, EnvProfile: "ak"}, wantErr: []string{filepath.Join(dir, ".aliyun", "config.json"), "cannot be read"}},
		{name: "disabled", env: map[string]string{EnvConfigFile: write("ak"), EnvProfileDisabled: "TRUE"}, wantErr: []string{"no Alibaba Cloud credentials are configured"}},
		{name: "unsupported mode", env: map[string]string{EnvConfigFile: write("sso")},
			wantErr: []string{"cli-profile:sso", "mode CloudSSO", "not supported", "AK, StsToken, RamRoleArn, OIDC"}},
		{name: "AK without secret", env: map[string]string{EnvConfigFile: write("half")}, wantErr: []string{"cli-profile:half", "no access_key_secret"}},
		{name: "OIDC incomplete", env: map[string]string{EnvConfigFile: write("oidc-half")}, wantErr: []string{"no oidc_provider_arn, oidc_token_file"}},
		{name: "unknown profile", env: map[string]string{EnvConfigFile: write("ak"), EnvProfile: "prod"}, wantErr: []string{`no profile "prod"`, "ak, sts, role"}},
		{name: "not JSON", env: map[string]string{EnvConfigFile: writeFile(t, dir, "bad.json", `{"profiles": [ profile-secret`)},
			wantErr: []string{"not valid JSON"}},
		{name: "no profiles", env: map[string]string{EnvConfigFile: writeFile(t, dir, "none.json", `{"current": "x"}`)}, wantErr: []string{"holds no profiles"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.count()
			id, err := Resolve(Settings{Getenv: envOf(tc.env), AllowCLIProfile: true, STSEndpoint: f.URL})
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("resolved %+v, want an error", id)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "profile-secret") {
					t.Errorf("error %q shows the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := id.Provider.Credentials(context.Background())
			if err != nil || id.Source != tc.wantSource {
				t.Fatalf("%+v: %v, %v", id, got, err)
			}
			if tc.wantCalls == nil && got != tc.wantPair {
				t.Errorf("pair %v, want %v", got, tc.wantPair)
			}
			if f.count()-before != len(tc.wantCalls) {
				t.Fatalf("%d STS calls, want %v", f.count()-before, tc.wantCalls)
			}
			for i, action := range tc.wantCalls {
				if c := f.call(before + i); c.Get("Action") != action {
					t.Errorf("call %d: %v, want %s", i, c, action)
				}
			}
			if tc.wantSource == "cli-profile:role" {
				if s := f.call(before).Get("RoleSessionName"); s != "dev@laptop" {
					t.Errorf("session %q, want the profile's ram_session_name", s)
				}
			}
		})
	}
}

// The profiles a static mode describes read the same as the aliyun
// credentials library reads them.
func TestCLIProfileMatchesReferenceLibrary(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "config.json", fmt.Sprintf(cliConfig, "ak", filepath.Join(dir, "token")))
	for _, name := range []string{"ak", "sts"} {
		t.Run(name, func(t *testing.T) {
			ref, err := providers.NewCLIProfileCredentialsProviderBuilder().WithProfileFile(path).WithProfileName(name).Build()
			if err != nil {
				t.Fatal(err)
			}
			want, err := ref.GetCredentials()
			if err != nil {
				t.Fatal(err)
			}
			id, err := Resolve(Settings{Getenv: envOf(map[string]string{EnvConfigFile: path, EnvProfile: name}), AllowCLIProfile: true})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := id.Provider.Credentials(context.Background())
			if got != (acs.Credentials{AccessKeyID: want.AccessKeyId, AccessKeySecret: want.AccessKeySecret, SecurityToken: want.SecurityToken}) {
				t.Errorf("got %v, the library read %s", got, acs.MaskKeyID(want.AccessKeyId))
			}
		})
	}
}

func TestCLIProfilePrintsNoSecret(t *testing.T) {
	p := CLIProfile{Name: "ak", Mode: "AK", AccessKeyID: "LTAI5tProfileKey00000001", AccessKeySecret: "profile-secret", StsToken: "profile-token"}
	for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p)} {
		if strings.Contains(s, "profile-secret") || strings.Contains(s, "profile-token") || strings.Contains(s, "ProfileKey") {
			t.Errorf("%s", s)
		}
	}
}

// The decoder takes any file without panicking, never quotes it in its
// errors, and a decoded configuration always has a profile.
func FuzzDecodeCLIConfig(f *testing.F) {
	f.Add([]byte(fmt.Sprintf(cliConfig, "ak", "/tmp/token")))
	f.Add([]byte(`{"current":"a","profiles":[{"name":"a","mode":"AK","access_key_secret":"fuzz-secret-value"}]}`))
	f.Add([]byte(`{"profiles":[{"access_key_secret":"fuzz-secret-value", "name": 1}]}`))
	f.Add([]byte(`{"profiles":[]}`))
	f.Add([]byte(`fuzz-secret-value`))
	f.Fuzz(func(t *testing.T, data []byte) {
		conf, err := DecodeCLIConfig(data)
		if err != nil {
			if len(data) >= 12 && strings.Contains(err.Error(), string(data[:12])) {
				t.Fatalf("the error %q quotes the file", err)
			}
			return
		}
		if len(conf.Profiles) == 0 {
			t.Fatal("a configuration without profiles was accepted")
		}
		if p, err := conf.Profile(""); err == nil {
			_, _ = CLIProfileIdentity(p, nil, nil)
		}
	})
}

// A RamRoleArn profile's ram_session_name, when it sets one, must be a name
// STS takes; none at all is fine (the exchange names its session itself).
func TestCLIProfileSessionName(t *testing.T) {
	client := mustSTSClient(t)
	base := CLIProfile{Name: "role", Mode: "RamRoleArn", AccessKeyID: "LTAI5tProfileKey00000001", AccessKeySecret: "profile-secret",
		RamRoleArn: "acs:ram::1000000000000002:role/ecs-stopper"}
	for _, tc := range []struct {
		session string
		ok      bool
	}{{"", true}, {"dev@laptop", true}, {"x", false}, {"has space", false}} {
		p := base
		p.RamSessionName = tc.session
		_, err := CLIProfileIdentity(p, client, nil)
		if (err == nil) != tc.ok {
			t.Errorf("ram_session_name %q: %v, want accepted %v", tc.session, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "ram_session_name") {
			t.Errorf("ram_session_name %q: the error %q does not name the field", tc.session, err)
		}
	}
}

func mustSTSClient(t *testing.T) *sts.Client {
	t.Helper()
	c, err := sts.New(sts.Options{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
