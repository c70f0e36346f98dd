package credentials

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/sts"
)

// Settings are what Resolve needs, as plain values the caller fills from
// its configuration and the environment.
type Settings struct {
	// Getenv reads ALIBABA_CLOUD_* and HOME; nil is os.Getenv.
	Getenv func(string) string

	// RegionID (STOPPER_REGION_ID) gives the regional STS endpoint.
	RegionID string
	// STSEndpoint (STOPPER_STS_ENDPOINT) overrides the STS endpoint.
	STSEndpoint string
	// ECSEndpoint (STOPPER_ECS_ENDPOINT): when set, STS is asked there too,
	// as the emulator answers both on one listener.
	ECSEndpoint string
	// ECSNetwork (STOPPER_ECS_NETWORK): "vpc" selects sts-vpc.<region>.
	ECSNetwork string

	// AWSOIDCAudience (STOPPER_AWS_OIDC_AUDIENCE) selects the oidc-aws
	// source: the token comes from NewTokenSource(AWSOIDCAudience).
	AWSOIDCAudience string
	// AlibabaSecretID (STOPPER_ALIBABA_SECRET_ID) selects the
	// secrets-manager source: the key comes from NewKeySource(AlibabaSecretID).
	AlibabaSecretID string
	// AssumeRoleArn (STOPPER_ASSUME_ROLE_ARN), with AssumeRoleExternalID
	// (STOPPER_ASSUME_ROLE_EXTERNAL_ID), is assumed on top of the source.
	AssumeRoleArn        string
	AssumeRoleExternalID string

	// AllowCLIProfile lets the aliyun CLI's profile be a source: local runs.
	AllowCLIProfile bool

	// NewTokenSource and NewKeySource build the AWS-side sources; nil when
	// this runtime has none, and then the settings that need them are
	// refused. They must not touch the network; their errors (AWS_REGION
	// missing, …) refuse start-up.
	NewTokenSource func(audience string) (TokenSource, error)
	NewKeySource   func(secretID string) (KeySource, error)

	// Logger receives the providers' warnings; nil is slog.Default().
	Logger *slog.Logger
	// Transport replaces the STS client's HTTP transport (tests).
	Transport http.RoundTripper
}

// Environment variables the sources read.
const (
	EnvAccessKeyID     = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	EnvAccessKeySecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	EnvSecurityToken   = "ALIBABA_CLOUD_SECURITY_TOKEN"
	EnvRoleArn         = "ALIBABA_CLOUD_ROLE_ARN"
	EnvOIDCProviderArn = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
	EnvOIDCTokenFile   = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"
	EnvConfigFile      = "ALIBABA_CLOUD_CONFIG_FILE"
	EnvProfile         = "ALIBABA_CLOUD_PROFILE"
	EnvProfileDisabled = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED"
)

// STSEndpoint is the STS base URL: explicit (STOPPER_STS_ENDPOINT) when
// set; else ecsEndpoint when it is the emulator's (a loopback URL: the
// emulator answers STS on its ECS listener; a real ECS endpoint override,
// such as a private endpoint, serves ECS only); else
// https://sts-vpc.<region>.aliyuncs.com when network is "vpc"; else
// https://sts.<region>.aliyuncs.com.
func STSEndpoint(explicit, ecsEndpoint, network, regionID string) (string, error) {
	switch {
	case explicit != "":
		return explicit, nil
	case acs.LoopbackURL(ecsEndpoint):
		return ecsEndpoint, nil
	case regionID == "":
		return "", errors.New("the STS endpoint needs a region: set STOPPER_REGION_ID (such as cn-hangzhou) or STOPPER_STS_ENDPOINT")
	}
	return sts.Endpoint(regionID, network == "vpc"), nil
}

// ErrNotConfigured is what Resolve's error wraps when no source is
// configured at all: Function Compute's runtime then relies on the role
// credentials each invocation brings.
var ErrNotConfigured = errors.New("credentials: no Alibaba Cloud credentials are configured")

// sourceList is what the "nothing configured" error offers.
const sourceList = `set one of:
  - ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (+ ALIBABA_CLOUD_SECURITY_TOKEN) (env);
  - ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE (oidc-file);
  - ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and STOPPER_AWS_OIDC_AUDIENCE, on AWS Lambda (oidc-aws);
  - STOPPER_ALIBABA_SECRET_ID, on AWS Lambda (secrets-manager);
  - an aliyun CLI profile (~/.aliyun/config.json, ALIBABA_CLOUD_CONFIG_FILE, ALIBABA_CLOUD_PROFILE), local runs only (cli-profile);
  on Function Compute, give the function a role`

// Resolve picks where the credentials come from, in this order, and
// touches no network: the environment's AccessKey (env); an OIDC role
// (oidc-file, oidc-aws); an AccessKey in Secrets Manager (secrets-manager);
// the aliyun CLI's profile when allowed (cli-profile:<name>). Then
// AssumeRoleArn, when set, is assumed on top. The first configured source
// wins; one that is configured but incomplete refuses start-up, naming
// what is missing. Function Compute's role credentials are the runtime's:
// it puts AssumeRoleArn on top of them with WithAssumedRole.
func Resolve(s Settings) (Identity, error) {
	getenv := s.getenv()
	var (
		id  Identity
		err error
	)
	switch {
	case anySet(getenv, EnvAccessKeyID, EnvAccessKeySecret, EnvSecurityToken):
		id, err = s.env(getenv)
	case anySet(getenv, EnvRoleArn, EnvOIDCProviderArn, EnvOIDCTokenFile) || s.AWSOIDCAudience != "":
		id, err = s.oidc(getenv)
	case s.AlibabaSecretID != "":
		id, err = s.secretsManager()
	default:
		var ok bool
		if id, ok, err = s.cliProfile(getenv); err == nil && !ok {
			err = s.nothing(getenv)
		}
	}
	if err != nil {
		return Identity{}, err
	}
	return WithAssumedRole(id, s)
}

// WithAssumedRole puts s.AssumeRoleArn (with s.AssumeRoleExternalID) on top
// of base; base as it is when no role is set. A runtime calls it on the
// provider it owns (Function Compute's role credentials, Source fc-role).
func WithAssumedRole(base Identity, s Settings) (Identity, error) {
	if s.AssumeRoleArn == "" {
		if s.AssumeRoleExternalID != "" {
			return Identity{}, errors.New("credentials: STOPPER_ASSUME_ROLE_EXTERNAL_ID is set without STOPPER_ASSUME_ROLE_ARN: set the role to assume, or unset the external id")
		}
		return base, nil
	}
	if !strings.HasPrefix(s.AssumeRoleArn, "acs:ram::") || !strings.Contains(s.AssumeRoleArn, ":role/") {
		return Identity{}, fmt.Errorf("credentials: STOPPER_ASSUME_ROLE_ARN %q is not a role ARN: give acs:ram::<account id>:role/<role name>", s.AssumeRoleArn)
	}
	client, err := s.stsClient("STOPPER_ASSUME_ROLE_ARN")
	if err != nil {
		return Identity{}, err
	}
	return AssumeRole(base, client, s.AssumeRoleArn, s.AssumeRoleExternalID, s.Logger)
}

func (s Settings) getenv() func(string) string {
	if s.Getenv != nil {
		return s.Getenv
	}
	return os.Getenv
}

func anySet(getenv func(string) string, names ...string) bool {
	for _, n := range names {
		if getenv(n) != "" {
			return true
		}
	}
	return false
}

// unset lists, for an error, which of names have no value.
func unset(getenv func(string) string, names ...string) []string {
	var out []string
	for _, n := range names {
		if getenv(n) == "" {
			out = append(out, n)
		}
	}
	return out
}

func (s Settings) env(getenv func(string) string) (Identity, error) {
	if missing := unset(getenv, EnvAccessKeyID, EnvAccessKeySecret); len(missing) > 0 {
		return Identity{}, fmt.Errorf("credentials: env: %s is set but %s is not: set both the AccessKey id and its secret, or unset them all",
			strings.Join(setOf(getenv, EnvAccessKeyID, EnvAccessKeySecret, EnvSecurityToken), " and "), strings.Join(missing, " and "))
	}
	return Env(acs.Credentials{AccessKeyID: getenv(EnvAccessKeyID), AccessKeySecret: getenv(EnvAccessKeySecret), SecurityToken: getenv(EnvSecurityToken)})
}

func setOf(getenv func(string) string, names ...string) []string {
	var out []string
	for _, n := range names {
		if getenv(n) != "" {
			out = append(out, n)
		}
	}
	return out
}

func (s Settings) oidc(getenv func(string) string) (Identity, error) {
	source := SourceOIDCFile
	if s.AWSOIDCAudience != "" {
		source = SourceOIDCAWS
	}
	fail := func(format string, args ...any) (Identity, error) {
		return Identity{}, fmt.Errorf("credentials: %s: %s", source, fmt.Sprintf(format, args...))
	}
	tokenFile := getenv(EnvOIDCTokenFile)
	switch {
	case tokenFile != "" && s.AWSOIDCAudience != "":
		return fail("both %s and STOPPER_AWS_OIDC_AUDIENCE give the OIDC token: unset one of them", EnvOIDCTokenFile)
	case tokenFile == "" && s.AWSOIDCAudience == "":
		return fail("the OIDC token has no source: set %s (a file holding the token) or, on AWS Lambda, STOPPER_AWS_OIDC_AUDIENCE", EnvOIDCTokenFile)
	}
	if missing := unset(getenv, EnvRoleArn, EnvOIDCProviderArn); len(missing) > 0 {
		return fail("%s is not set: an OIDC exchange needs the role to assume (%s, acs:ram::<account id>:role/<name>) and the identity provider registered in RAM (%s, acs:ram::<account id>:oidc-provider/<name>)",
			strings.Join(missing, " and "), EnvRoleArn, EnvOIDCProviderArn)
	}
	o := OIDC{RoleArn: getenv(EnvRoleArn), OIDCProviderArn: getenv(EnvOIDCProviderArn)}
	var ts TokenSource
	if source == SourceOIDCAWS {
		if s.NewTokenSource == nil {
			return fail("STOPPER_AWS_OIDC_AUDIENCE is set but this runtime cannot obtain AWS web identity tokens (only the AWS Lambda runtime can): unset it, or use %s", EnvOIDCTokenFile)
		}
		var err error
		if ts, err = s.NewTokenSource(s.AWSOIDCAudience); err != nil {
			return fail("%v", err)
		}
	} else if err := readableToken(tokenFile); err != nil {
		return fail("%s: %v", EnvOIDCTokenFile, err)
	}
	client, err := s.stsClient(source)
	if err != nil {
		return Identity{}, err
	}
	if source == SourceOIDCAWS {
		return OIDCToken(client, o, ts, s.Logger)
	}
	return OIDCFile(client, o, tokenFile, s.Logger)
}

func (s Settings) secretsManager() (Identity, error) {
	if s.NewKeySource == nil {
		return Identity{}, errors.New("credentials: secrets-manager: STOPPER_ALIBABA_SECRET_ID is set but this runtime cannot read AWS Secrets Manager (only the AWS Lambda runtime can): unset it")
	}
	ks, err := s.NewKeySource(s.AlibabaSecretID)
	if err != nil {
		return Identity{}, fmt.Errorf("credentials: secrets-manager: %w", err)
	}
	return SecretsManager(ks, s.Logger)
}

// cliProfile reads the CLI's configuration when allowed and present; ok is
// false when there is none to read.
func (s Settings) cliProfile(getenv func(string) string) (id Identity, ok bool, err error) {
	if !s.AllowCLIProfile || strings.EqualFold(getenv(EnvProfileDisabled), "true") {
		return Identity{}, false, nil
	}
	path := getenv(EnvConfigFile)
	explicit := path != "" || getenv(EnvProfile) != ""
	if path == "" {
		home := getenv("HOME")
		if home == "" {
			if explicit {
				return Identity{}, false, fmt.Errorf("credentials: %s: %s is set but there is no HOME to find ~/.aliyun/config.json in: set %s", SourceCLIProfile, EnvProfile, EnvConfigFile)
			}
			return Identity{}, false, nil
		}
		path = filepath.Join(home, ".aliyun", "config.json")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return Identity{}, false, nil
	}
	fail := func(format string, args ...any) (Identity, bool, error) {
		return Identity{}, false, fmt.Errorf("credentials: %s: the aliyun CLI configuration %s: %s", SourceCLIProfile, path, fmt.Sprintf(format, args...))
	}
	if err != nil {
		return fail("cannot be read: %v (run `aliyun configure`, or set %s)", unwrapPath(err), EnvConfigFile)
	}
	conf, err := DecodeCLIConfig(data)
	if err != nil {
		return fail("%v", err)
	}
	p, err := conf.Profile(getenv(EnvProfile))
	if err != nil {
		return fail("%v", err)
	}
	var client *sts.Client
	if p.Mode == ModeRamRoleArn || p.Mode == ModeOIDC {
		if client, err = s.stsClient(SourceCLIProfile + ":" + p.Name); err != nil {
			return Identity{}, false, err
		}
	}
	id, err = CLIProfileIdentity(p, client, s.Logger)
	return id, err == nil, err
}

// nothing is the error when no source is configured, with a word on
// settings this runtime ignores.
func (s Settings) nothing(getenv func(string) string) error {
	msg := sourceList
	if !s.AllowCLIProfile && anySet(getenv, EnvConfigFile, EnvProfile) {
		msg += fmt.Sprintf(" (%s and %s are read by local runs only)", EnvConfigFile, EnvProfile)
	}
	return fmt.Errorf("%w: %s", ErrNotConfigured, msg)
}

// stsClient builds the STS client a source needs; why names the source or
// setting that needs it, for the error.
func (s Settings) stsClient(why string) (*sts.Client, error) {
	ep, err := STSEndpoint(s.STSEndpoint, s.ECSEndpoint, s.ECSNetwork, s.RegionID)
	if err != nil {
		return nil, fmt.Errorf("credentials: %s calls STS, and %w", why, err)
	}
	client, err := sts.New(sts.Options{Endpoint: ep, Transport: s.Transport})
	if err != nil {
		return nil, fmt.Errorf("credentials: %s calls STS, and STOPPER_STS_ENDPOINT (or STOPPER_ECS_ENDPOINT) is refused: %w", why, err)
	}
	return client, nil
}
