package config

import (
	"log/slog"
	"net/http"

	"github.com/ecs-stopper/stopper/shared/credentials"
)

// IdentityOptions are what a runtime adds to the configuration to find its
// credentials: the sources only it can offer.
type IdentityOptions struct {
	// Getenv reads ALIBABA_CLOUD_*, AWS_* and HOME; nil is os.Getenv.
	Getenv func(string) string
	// AllowCLIProfile lets the aliyun CLI's profile be a source (local runs).
	AllowCLIProfile bool
	// NewTokenSource and NewKeySource are the AWS Lambda sources
	// (STOPPER_AWS_OIDC_AUDIENCE, STOPPER_ALIBABA_SECRET_ID); nil elsewhere,
	// where those settings are refused.
	NewTokenSource func(audience string) (credentials.TokenSource, error)
	NewKeySource   func(secretID string) (credentials.KeySource, error)
	// Transport replaces the STS client's transport (tests).
	Transport http.RoundTripper
	// Log receives the providers' warnings (a failed refresh).
	Log *slog.Logger
}

func (c Config) credentialSettings(o IdentityOptions) credentials.Settings {
	return credentials.Settings{
		Getenv:               o.Getenv,
		RegionID:             c.RegionId,
		STSEndpoint:          c.STSEndpoint,
		ECSEndpoint:          c.ECSEndpoint,
		ECSNetwork:           c.ECSNetwork,
		AWSOIDCAudience:      c.AWSOIDCAudience,
		AlibabaSecretID:      c.AlibabaSecretID,
		AssumeRoleArn:        c.AssumeRoleArn,
		AssumeRoleExternalID: c.AssumeRoleExternalID,
		AllowCLIProfile:      o.AllowCLIProfile,
		NewTokenSource:       o.NewTokenSource,
		NewKeySource:         o.NewKeySource,
		Logger:               o.Log,
		Transport:            o.Transport,
	}
}

// Identity finds where the function's credentials come from, in the order
// docs/identity.md gives, without touching the network: temporary
// credentials are fetched on first use. A source that is configured but
// incomplete is an error naming what is missing; so is none at all
// (errors.Is credentials.ErrNotConfigured).
func (c Config) Identity(o IdentityOptions) (credentials.Identity, error) {
	return credentials.Resolve(c.credentialSettings(o))
}

// BaseIdentity is Identity without STOPPER_ASSUME_ROLE_ARN: the source a
// runtime falls back on, before OnTopOf assumes the role.
func (c Config) BaseIdentity(o IdentityOptions) (credentials.Identity, error) {
	s := c.credentialSettings(o)
	s.AssumeRoleArn, s.AssumeRoleExternalID = "", ""
	return credentials.Resolve(s)
}

// OnTopOf puts STOPPER_ASSUME_ROLE_ARN, when set, on top of credentials a
// runtime owns (Function Compute's role credentials).
func (c Config) OnTopOf(base credentials.Identity, o IdentityOptions) (credentials.Identity, error) {
	return credentials.WithAssumedRole(base, c.credentialSettings(o))
}
