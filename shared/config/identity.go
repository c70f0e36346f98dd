package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/ecs-stopper/stopper/shared/accounts"
	"github.com/ecs-stopper/stopper/shared/acs"
)

// validateIdentity checks the settings that say which credentials the
// function acts with and in which accounts.
func (c Config) validateIdentity() error {
	if c.AssumeRoleArn != "" && !validRoleArn(c.AssumeRoleArn) {
		return refuse("STOPPER_ASSUME_ROLE_ARN", c.AssumeRoleArn, "is not a RAM role ARN", "give acs:ram::<account id>:role/<role name>, such as acs:ram::1000000000000001:role/ecs-stopper")
	}
	if c.AssumeRoleExternalID != "" && c.AssumeRoleArn == "" {
		return refuse("STOPPER_ASSUME_ROLE_EXTERNAL_ID", c.AssumeRoleExternalID, "is set without STOPPER_ASSUME_ROLE_ARN", "set the role to assume as well, or unset it")
	}
	for _, id := range []struct{ name, value string }{
		{"STOPPER_ASSUME_ROLE_EXTERNAL_ID", c.AssumeRoleExternalID}, {"STOPPER_ACCOUNT_EXTERNAL_ID", c.AccountExternalID},
	} {
		if id.value != "" && !validExternalID(id.value) {
			return refuse(id.name, id.value, "is not an ExternalId STS accepts", "give 2 to 1224 letters, digits or =,.@:/-_, such as the value in the role's trust policy")
		}
	}
	for _, ep := range []struct{ name, value string }{
		{"STOPPER_STS_ENDPOINT", c.STSEndpoint}, {"STOPPER_AWS_STS_ENDPOINT", c.AWSSTSEndpoint},
	} {
		if err := checkServiceURL(ep.name, ep.value); err != nil {
			return err
		}
	}
	if c.AWSSTSEndpoint != "" && c.AWSOIDCAudience == "" {
		return refuse("STOPPER_AWS_STS_ENDPOINT", c.AWSSTSEndpoint, "is set without STOPPER_AWS_OIDC_AUDIENCE", "set the audience to get OIDC tokens from AWS STS, or unset it")
	}
	if a := c.AWSOIDCAudience; a != "" && (len(a) > 1000 || strings.TrimSpace(a) != a) {
		return refuse("STOPPER_AWS_OIDC_AUDIENCE", a, "is not an audience AWS STS accepts", "give 1 to 1000 characters without surrounding spaces: the client id of the RAM OIDC provider, such as sts.aliyuncs.com")
	}
	if s := c.AlibabaSecretID; s != "" && (len(s) > 2048 || strings.TrimSpace(s) != s) {
		return refuse("STOPPER_ALIBABA_SECRET_ID", s, "is not a secret name or ARN", "give the secret's name or ARN, such as ecs-stopper/alibaba-access-key")
	}
	if !validRoleName(c.AccountRoleName) {
		return refuse("STOPPER_ACCOUNT_ROLE_NAME", c.AccountRoleName, "is not a RAM role name", "give 1 to 64 letters, digits, dots or hyphens, such as ecs-stopper")
	}
	return checkAccounts(c.Accounts)
}

// validRoleName: 1-64 letters, digits, dots or hyphens.
// https://www.alibabacloud.com/help/en/ram/developer-reference/api-ram-2015-05-01-createrole
func validRoleName(s string) bool { return within(s, 1, 64, "-.") }

// validExternalID: 2-1224 letters, digits or =,.@:/-_.
// https://www.alibabacloud.com/help/en/ram/developer-reference/api-sts-2015-04-01-assumerole
func validExternalID(s string) bool { return within(s, 2, 1224, "=,.@:/_-") }

// ValidAccountID reports whether s is an Alibaba Cloud account id: digits
// only (16 of them today; up to 20 are accepted).
func ValidAccountID(s string) bool {
	return len(s) >= 1 && len(s) <= 20 && strings.Trim(s, "0123456789") == ""
}

// within reports whether s is minLen to maxLen bytes of ASCII letters,
// digits and the given punctuation.
func within(s string, minLen, maxLen int, punct string) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune(punct, r)) {
			return false
		}
	}
	return true
}

// validRoleArn reports whether arn is acs:ram::<account id>:role/<name>.
func validRoleArn(arn string) bool {
	rest, ok := strings.CutPrefix(arn, "acs:ram::")
	if !ok {
		return false
	}
	account, name, ok := strings.Cut(rest, ":role/")
	return ok && ValidAccountID(account) && validRoleName(name)
}

// checkAccounts refuses a STOPPER_ACCOUNTS list that is not ids and self,
// or resource-directory alone.
func checkAccounts(ids []string) error {
	const fix = "give account ids separated by commas (self for the credentials' own account), such as self,1000000000000002, or resource-directory alone"
	list := strings.Join(ids, ",")
	for i, a := range ids {
		switch {
		case a == accounts.ResourceDirectory && len(ids) > 1:
			return refuse("STOPPER_ACCOUNTS", list, "names resource-directory with other accounts", fix)
		case a != accounts.ResourceDirectory && a != accounts.Self && !ValidAccountID(a):
			return refuse("STOPPER_ACCOUNTS", list, fmt.Sprintf("names %q, which is not an account id", shorten(a)), fix)
		case slices.Contains(ids[:i], a):
			return refuse("STOPPER_ACCOUNTS", list, fmt.Sprintf("names %s twice", a), fix)
		}
	}
	return nil
}

// checkServiceURL refuses an endpoint override that is not an https:// URL
// of a host, or http:// to a loopback host (an emulator or a stand-in).
func checkServiceURL(name, value string) error {
	if value == "" {
		return nil
	}
	const fix = "give https://<host>, or http://127.0.0.1:<port> for a local emulator"
	u, err := url.Parse(value)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return refuse(name, value, "is not a URL", fix)
	case u.User != nil:
		return refuse(name, u.Redacted(), "carries a user name or password", fix)
	case u.Scheme == "http" && !acs.Loopback(u.Hostname()):
		return refuse(name, value, "is plain http to a host that is not loopback", "use https, or http only to 127.0.0.1 or ::1")
	case u.Scheme != "https" && u.Scheme != "http":
		return refuse(name, value, "is not an http(s) URL", fix)
	case strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return refuse(name, value, "has a path, query or fragment", fix)
	}
	return nil
}
