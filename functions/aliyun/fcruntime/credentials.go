package fcruntime

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/config"
	"github.com/ecs-stopper/stopper/shared/credentials"
)

// The headers FC hands each invocation its role's temporary credentials in.
const (
	headerAccessKeyID     = "x-fc-access-key-id"
	headerAccessKeySecret = "x-fc-access-key-secret"
	headerSecurityToken   = "x-fc-security-token"
	headerRegion          = "x-fc-region"
)

// headerCredentials reads the per-invocation credentials FC sends when the
// function has a role. They win over the ALIBABA_CLOUD_* variables; ok is
// false when the invocation carries no key pair (no role: the environment's
// credentials apply).
func headerCredentials(h http.Header) (cred acs.Credentials, ok bool) {
	cred = acs.Credentials{
		AccessKeyID:     strings.TrimSpace(h.Get(headerAccessKeyID)),
		AccessKeySecret: strings.TrimSpace(h.Get(headerAccessKeySecret)),
		SecurityToken:   strings.TrimSpace(h.Get(headerSecurityToken)),
	}
	if !cred.Set() {
		return acs.Credentials{}, false
	}
	return cred, true
}

// stripCredentials removes the credential headers from a request before it
// reaches code that might log or echo headers: the secret and the token must
// never leave this file except inside the signing client.
func stripCredentials(h http.Header) {
	h.Del(headerAccessKeyID)
	h.Del(headerAccessKeySecret)
	h.Del(headerSecurityToken)
}

// roleCredentials is the fc-role source: the role credentials the latest
// invocation brought. Every invocation of a function carries its one
// role's credentials, which FC renews before they expire, so the latest
// pair is good for all. Until an invocation brings one — or when the
// function has no role — the source configured in the environment, if
// any, signs instead.
type roleCredentials struct {
	latest   atomic.Pointer[acs.Credentials]
	fallback acs.CredentialsProvider // nil: none configured
}

func (r *roleCredentials) set(c acs.Credentials) {
	if cur := r.latest.Load(); cur == nil || *cur != c {
		r.latest.Store(&c)
	}
}

func (r *roleCredentials) Credentials(ctx context.Context) (acs.Credentials, error) {
	if c := r.latest.Load(); c != nil {
		return *c, nil
	}
	if r.fallback != nil {
		return r.fallback.Credentials(ctx)
	}
	return acs.Credentials{}, nil // the client answers ErrNoCredentials
}

// Invalidate passes a refusal on to the environment's source; FC's own
// credentials are renewed by FC with the next invocation.
func (r *roleCredentials) Invalidate(c acs.Credentials) {
	if inv, ok := r.fallback.(acs.Invalidator); ok {
		inv.Invalidate(c)
	}
}

// identity is the function's identity on FC: the invocations' role
// credentials, with STOPPER_ASSUME_ROLE_ARN on top when set.
func identity(cfg config.Config, log *slog.Logger) (credentials.Identity, *roleCredentials, error) {
	opts := config.IdentityOptions{Log: log}
	role := &roleCredentials{}
	base := credentials.Identity{Provider: role, Source: credentials.SourceFCRole}
	env, err := cfg.BaseIdentity(opts)
	switch {
	case err == nil:
		role.fallback = env.Provider
		log.Info("credentials: the invocations' role credentials sign; " + env.Source + " signs for invocations that bring none")
	case !errors.Is(err, credentials.ErrNotConfigured):
		return credentials.Identity{}, nil, err
	}
	id, err := cfg.OnTopOf(base, opts)
	return id, role, err
}
