package credentials

import (
	"strings"
	"testing"
)

// What an exchange's failure tells the operator to check, by STS's code,
// then by source.
func TestHint(t *testing.T) {
	for _, tc := range []struct{ source, code, want string }{
		{SourceEnv, "InvalidAccessKeyId.NotFound", "unknown or disabled"},
		{SourceEnv, "InvalidAccessKeyId.Inactive", "unknown or disabled"},
		{SourceEnv, "SignatureDoesNotMatch", "secret does not match"},
		{SourceEnv, "IncompleteSignature", "secret does not match"},
		{SourceEnv, "EntityNotExist.Role", "role does not exist"},
		{SourceEnv, "NoPermission", "trust policy"},
		{SourceEnv, "Forbidden.RAM", "trust policy"},
		{SourceEnv, "NotAuthorized", "trust policy"},
		{SourceOIDCFile, "AuthenticationFail.OIDCToken.Expired", "refused the OIDC token"},
		{SourceOIDCAWS, "InvalidSecurityToken.Expired", "refused the OIDC token"},
		{SourceEnv, "Throttling", "busy or failing"},
		{SourceEnv, "Throttling.User", "busy or failing"},
		{SourceEnv, "HTTP502", "busy or failing"},
		{SourceEnv, "InternalError", "busy or failing"},
		{SourceEnv, "ServiceUnavailable", "busy or failing"},
		{SourceSecretsManager, "", "secret exists"},
		{SourceOIDCFile, "", "token file exists"},
		{SourceOIDCAWS, "", "outbound identity federation"},
		{SourceEnv, "", "the source's settings"},
		{SourceEnv, "Throttlingish", "the source's settings"},
		{SourceEnv, "HTTP404", "the source's settings"},
	} {
		if got := hint(tc.source, tc.code); !strings.Contains(got, tc.want) {
			t.Errorf("hint(%s, %q) = %q, want it to say %q", tc.source, tc.code, got, tc.want)
		}
	}
}
