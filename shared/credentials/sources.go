package credentials

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/sts"
)

// Source names, as logs show them in their "credentials" field.
const (
	SourceFCRole         = "fc-role"
	SourceEnv            = "env"
	SourceOIDCFile       = "oidc-file"
	SourceOIDCAWS        = "oidc-aws"
	SourceSecretsManager = "secrets-manager"
	// SourceCLIProfile is followed by ":<profile name>".
	SourceCLIProfile = "cli-profile"
)

// SessionPrefix starts every role session name the function opens, so
// that the role's audit trail tells its sessions apart.
const SessionPrefix = "ecs-stopper"

// Identity is where the function's credentials come from: the provider to
// sign with, the source's name for logs, and the role assumed on top of
// it, if any.
type Identity struct {
	Provider acs.CredentialsProvider
	// Source is the "credentials" log field: fc-role, env, oidc-file,
	// oidc-aws, secrets-manager or cli-profile:<name>.
	Source string
	// RoleArn is the role assumed on top of the source (the "role" log
	// field), empty when none is.
	RoleArn string
}

// LogAttrs are the fields that say where the credentials come from.
func (id Identity) LogAttrs() []slog.Attr {
	attrs := []slog.Attr{slog.String("credentials", id.Source)}
	if id.RoleArn != "" {
		attrs = append(attrs, slog.String("role", id.RoleArn))
	}
	return attrs
}

// TokenSource yields an OIDC token (a JWT) for AssumeRoleWithOIDC; on AWS
// Lambda, from AWS STS GetWebIdentityToken. It is called at each exchange.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// KeySource yields an AccessKey pair kept elsewhere (AWS Secrets Manager).
// It is called on first use and again after the key was refused.
type KeySource interface {
	AccessKey(ctx context.Context) (acs.Credentials, error)
}

// TokenSourceFunc adapts a function to TokenSource.
type TokenSourceFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenSourceFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// KeySourceFunc adapts a function to KeySource.
type KeySourceFunc func(ctx context.Context) (acs.Credentials, error)

// AccessKey calls f.
func (f KeySourceFunc) AccessKey(ctx context.Context) (acs.Credentials, error) { return f(ctx) }

// Env is a static AccessKey pair (with its STS token when temporary) from
// ALIBABA_CLOUD_ACCESS_KEY_ID, _SECRET and _SECURITY_TOKEN.
func Env(c acs.Credentials) (Identity, error) {
	if !c.Set() {
		return Identity{}, fmt.Errorf("credentials: %s: both an AccessKey id and its secret are needed", SourceEnv)
	}
	return Identity{Provider: acs.Static(c), Source: SourceEnv}, nil
}

// OIDC names the role and the identity provider of an OIDC exchange.
type OIDC struct {
	RoleArn         string // ALIBABA_CLOUD_ROLE_ARN
	OIDCProviderArn string // ALIBABA_CLOUD_OIDC_PROVIDER_ARN
}

// OIDCFile exchanges the token in tokenFile for the role's credentials. The
// file is read again at each exchange: whoever writes it (a Kubernetes
// projected volume, a sidecar) replaces it before the token expires.
// Nothing is read until the first Credentials call.
func OIDCFile(client *sts.Client, o OIDC, tokenFile string, logger *slog.Logger) (Identity, error) {
	if tokenFile == "" {
		return Identity{}, fmt.Errorf("credentials: %s: no token file", SourceOIDCFile)
	}
	tokens := TokenSourceFunc(func(context.Context) (string, error) {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return "", fmt.Errorf("reading the OIDC token file: %w", err)
		}
		if strings.TrimSpace(string(b)) == "" {
			return "", fmt.Errorf("the OIDC token file %s is empty", tokenFile)
		}
		return string(b), nil
	})
	return oidcIdentity(SourceOIDCFile, client, o, tokens, logger)
}

// OIDCToken exchanges the tokens ts yields for the role's credentials:
// the oidc-aws source, with the token from AWS.
func OIDCToken(client *sts.Client, o OIDC, ts TokenSource, logger *slog.Logger) (Identity, error) {
	if ts == nil {
		return Identity{}, fmt.Errorf("credentials: %s: no token source", SourceOIDCAWS)
	}
	return oidcIdentity(SourceOIDCAWS, client, o, ts, logger)
}

func oidcIdentity(source string, client *sts.Client, o OIDC, ts TokenSource, logger *slog.Logger) (Identity, error) {
	switch {
	case client == nil:
		return Identity{}, fmt.Errorf("credentials: %s: no STS client", source)
	case o.RoleArn == "" || o.OIDCProviderArn == "":
		return Identity{}, fmt.Errorf("credentials: %s: both the role ARN and the OIDC provider ARN are needed", source)
	}
	exchange := func(ctx context.Context) (sts.Credentials, error) {
		token, err := ts.Token(ctx)
		if err != nil {
			return sts.Credentials{}, err
		}
		return client.AssumeRoleWithOIDC(ctx, sts.AssumeRoleWithOIDCInput{OIDCProviderArn: o.OIDCProviderArn, RoleArn: o.RoleArn,
			OIDCToken: token, RoleSessionName: sts.SessionName(SessionPrefix, time.Now())})
	}
	return Identity{Provider: NewRefreshing(source, exchange, logger), Source: source}, nil
}

// SecretsManager is the AccessKey ks yields, fetched on first use and
// cached until the API refuses it (Invalidate): then fetched again, since
// the key was probably rotated.
func SecretsManager(ks KeySource, logger *slog.Logger) (Identity, error) {
	if ks == nil {
		return Identity{}, fmt.Errorf("credentials: %s: no key source", SourceSecretsManager)
	}
	exchange := func(ctx context.Context) (sts.Credentials, error) {
		c, err := ks.AccessKey(ctx)
		return sts.Credentials{Pair: c}, err
	}
	return Identity{Provider: NewRefreshing(SourceSecretsManager, exchange, logger), Source: SourceSecretsManager}, nil
}

// AssumeRole assumes roleArn (with externalID when set) with the
// credentials base provides, and refreshes the role's credentials as they
// expire. It works on top of any source, including the role credentials
// a runtime hands over (Source fc-role). When STS refuses base's AccessKey
// as unknown, base is told (acs.Invalidator), so that a rotated key is
// fetched again.
func AssumeRole(base Identity, client *sts.Client, roleArn, externalID string, logger *slog.Logger) (Identity, error) {
	return assumeRole(base, client, roleArn, externalID, "", logger)
}

// assumeRole is AssumeRole with a fixed session name; empty: a new
// ecs-stopper-<unix seconds> at each exchange.
func assumeRole(base Identity, client *sts.Client, roleArn, externalID, session string, logger *slog.Logger) (Identity, error) {
	switch {
	case base.Provider == nil:
		return Identity{}, fmt.Errorf("credentials: role %s: no base credentials", roleArn)
	case client == nil:
		return Identity{}, fmt.Errorf("credentials: role %s: no STS client", roleArn)
	case roleArn == "":
		return Identity{}, fmt.Errorf("credentials: %s: the role ARN to assume is empty", base.Source)
	}
	exchange := func(ctx context.Context) (sts.Credentials, error) {
		cred, err := base.Provider.Credentials(ctx)
		if err != nil {
			return sts.Credentials{}, err
		}
		name := session
		if name == "" {
			name = sts.SessionName(SessionPrefix, time.Now())
		}
		got, err := client.WithCredentials(cred).AssumeRole(ctx, sts.AssumeRoleInput{RoleArn: roleArn, ExternalId: externalID, RoleSessionName: name})
		if inv, ok := base.Provider.(acs.Invalidator); ok && errorCode(err) == "InvalidAccessKeyId.NotFound" {
			inv.Invalidate(cred)
		}
		return got, err
	}
	r := NewRefreshing(base.Source, exchange, logger)
	r.role = roleArn
	r.log = r.log.With("role", roleArn)
	return Identity{Provider: r, Source: base.Source, RoleArn: roleArn}, nil
}

// hint says what to check when a source's exchange failed with code.
func hint(source, code string) string {
	switch {
	case code == "InvalidAccessKeyId.NotFound" || code == "InvalidAccessKeyId.Inactive":
		return "The AccessKey the exchange was signed with is unknown or disabled: check the source's AccessKey."
	case code == "SignatureDoesNotMatch" || code == "IncompleteSignature":
		return "The AccessKey secret does not match its id: check the source's AccessKey secret."
	case strings.HasPrefix(code, "EntityNotExist.Role"):
		return "The role does not exist: check the role ARN."
	case code == "NoPermission" || strings.HasPrefix(code, "Forbidden") || strings.HasPrefix(code, "NotAuthorized"):
		return "The role's trust policy does not let this caller assume it (or its ExternalId condition is not met): check the role's trust policy."
	case strings.Contains(code, "OIDC") || strings.Contains(code, "Token"):
		return "STS refused the OIDC token: check the OIDC provider ARN, the token's issuer and audience (the provider's client ids), that it has not expired, and the role's trust policy."
	case code == "Throttling" || strings.HasPrefix(code, "Throttling.") || strings.HasPrefix(code, "HTTP5") || code == "InternalError" || code == "ServiceUnavailable":
		return "STS is busy or failing; the next request tries again."
	}
	switch source {
	case SourceSecretsManager:
		return "Check that the secret exists and holds AccessKeyId and AccessKeySecret, and that the function may read it."
	case SourceOIDCFile:
		return "Check that the token file exists, is readable and holds a current token, and that STS is reachable."
	case SourceOIDCAWS:
		return "Check that AWS issues web identity tokens to this role (outbound identity federation enabled) and that STS is reachable."
	}
	return "Check the source's settings and that STS is reachable."
}
