package fcruntime

import (
	"net/http"
	"strings"

	"github.com/ecs-stopper/stopper/shared/acs"
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
