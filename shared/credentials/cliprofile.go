package credentials

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/sts"
)

// The aliyun CLI's profile modes this package reads.
const (
	ModeAK         = "AK"
	ModeStsToken   = "StsToken"
	ModeRamRoleArn = "RamRoleArn"
	ModeOIDC       = "OIDC"
)

var supportedModes = []string{ModeAK, ModeStsToken, ModeRamRoleArn, ModeOIDC}

// CLIConfig is the aliyun CLI's configuration file (~/.aliyun/config.json),
// the fields this package reads.
// https://github.com/aliyun/aliyun-cli#configure
type CLIConfig struct {
	Current  string       `json:"current"`
	Profiles []CLIProfile `json:"profiles"`
}

// CLIProfile is one profile of the CLI's configuration file.
type CLIProfile struct {
	Name            string `json:"name"`
	Mode            string `json:"mode"`
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
	StsToken        string `json:"sts_token"`
	RamRoleArn      string `json:"ram_role_arn"`
	RamSessionName  string `json:"ram_session_name"`
	OIDCProviderArn string `json:"oidc_provider_arn"`
	OIDCTokenFile   string `json:"oidc_token_file"`
	RegionID        string `json:"region_id"`
}

// String keeps the profile's secrets out of anything that prints it.
func (p CLIProfile) String() string {
	return fmt.Sprintf("CLIProfile{Name:%q, Mode:%q, AccessKeyID:%q}", p.Name, p.Mode, acs.MaskKeyID(p.AccessKeyID))
}

// GoString is String, for %#v.
func (p CLIProfile) GoString() string { return p.String() }

// DecodeCLIConfig reads the CLI's configuration file. Its errors never
// quote the file: it holds secrets.
func DecodeCLIConfig(data []byte) (CLIConfig, error) {
	var c CLIConfig
	if err := json.Unmarshal(data, &c); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return CLIConfig{}, fmt.Errorf("it is not valid JSON (syntax error at byte %d)", se.Offset)
		}
		return CLIConfig{}, fmt.Errorf("it is not the aliyun CLI's configuration: a field has the wrong type")
	}
	if len(c.Profiles) == 0 {
		return CLIConfig{}, fmt.Errorf("it holds no profiles")
	}
	return c, nil
}

// Profile returns the profile called name, or the file's current one when
// name is empty.
func (c CLIConfig) Profile(name string) (CLIProfile, error) {
	if name == "" {
		name = c.Current
	}
	if name == "" {
		return CLIProfile{}, fmt.Errorf("it names no current profile: set ALIBABA_CLOUD_PROFILE or run `aliyun configure --profile NAME`")
	}
	var names []string
	for _, p := range c.Profiles {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return CLIProfile{}, fmt.Errorf("it has no profile %q (it has: %s)", name, strings.Join(names, ", "))
}

// CLIProfileIdentity is a profile of the CLI's configuration as a source,
// cli-profile:<name>. AK and StsToken are static pairs; RamRoleArn assumes
// ram_role_arn with the profile's AccessKey; OIDC exchanges the token in
// oidc_token_file. Any other mode is refused. client is needed for the
// modes that call STS.
func CLIProfileIdentity(p CLIProfile, client *sts.Client, logger *slog.Logger) (Identity, error) {
	source := SourceCLIProfile + ":" + p.Name
	fail := func(format string, args ...any) (Identity, error) {
		return Identity{}, fmt.Errorf("credentials: %s (mode %s): %s", source, p.Mode, fmt.Sprintf(format, args...))
	}
	key := acs.Credentials{AccessKeyID: p.AccessKeyID, AccessKeySecret: p.AccessKeySecret}
	switch p.Mode {
	case ModeAK, ModeStsToken, ModeRamRoleArn:
		if missing := missingFields(map[string]string{"access_key_id": p.AccessKeyID, "access_key_secret": p.AccessKeySecret}); missing != "" {
			return fail("the profile has no %s: run `aliyun configure --profile %s --mode %s`", missing, p.Name, p.Mode)
		}
	}
	switch p.Mode {
	case ModeAK:
		return Identity{Provider: acs.Static(key), Source: source}, nil
	case ModeStsToken:
		if p.StsToken == "" {
			return fail("the profile has no sts_token: run `aliyun configure --profile %s --mode StsToken`", p.Name)
		}
		key.SecurityToken = p.StsToken
		return Identity{Provider: acs.Static(key), Source: source}, nil
	case ModeRamRoleArn:
		if p.RamRoleArn == "" {
			return fail("the profile has no ram_role_arn: run `aliyun configure --profile %s --mode RamRoleArn`", p.Name)
		}
		if client == nil {
			return fail("no STS client")
		}
		session := p.RamSessionName
		if session != "" {
			if err := sts.CheckSessionName(session); err != nil {
				return fail("ram_session_name: %v", err)
			}
		}
		return assumeRole(Identity{Provider: acs.Static(key), Source: source}, client, p.RamRoleArn, "", session, logger)
	case ModeOIDC:
		if missing := missingFields(map[string]string{"ram_role_arn": p.RamRoleArn, "oidc_provider_arn": p.OIDCProviderArn,
			"oidc_token_file": p.OIDCTokenFile}); missing != "" {
			return fail("the profile has no %s: run `aliyun configure --profile %s --mode OIDC`", missing, p.Name)
		}
		if err := readableToken(p.OIDCTokenFile); err != nil {
			return fail("oidc_token_file: %v", err)
		}
		id, err := OIDCFile(client, OIDC{RoleArn: p.RamRoleArn, OIDCProviderArn: p.OIDCProviderArn}, p.OIDCTokenFile, logger)
		if err != nil {
			return fail("%v", err)
		}
		id.Provider.(*Refreshing).source = source
		id.Source = source
		return id, nil
	}
	return fail("this mode is not supported; use one of %s", strings.Join(supportedModes, ", "))
}

// missingFields lists, in name order, the fields whose value is empty.
func missingFields(fields map[string]string) string {
	var missing []string
	for name, v := range fields {
		if v == "" {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	return strings.Join(missing, ", ")
}

// readableToken checks, at start-up, that a token file can be read and is
// not empty. It never returns the token.
func readableToken(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", path, unwrapPath(err))
	}
	if strings.TrimSpace(string(b)) == "" {
		return fmt.Errorf("%s is empty", path)
	}
	return nil
}

// unwrapPath drops the path a *PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}
