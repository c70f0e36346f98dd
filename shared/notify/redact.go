package notify

import (
	"net/url"
	"slices"
	"strings"

	"github.com/ecs-stopper/stopper/shared/acs"
)

const redacted = acs.Redacted

// A webhook URL is a credential: whoever has it can post to the group.
// DingTalk's access_token query, Lark's hook token (the path's last
// segment) and Slack's /services/T…/B…/… path are the secrets (each
// format's redactPath names its path's); a JSON receiver's user info,
// fragment, token-like path segments and credential-like query values may
// be. The redactor shows the URL without them (and without any query
// value), and removes them (and STOPPER_NOTIFY_SECRET) from any text that
// might echo them: errors, logs, the services' own error messages, and the
// messages themselves. A plain query value or path segment (async=false,
// region=cn-hangzhou, /hooks/) is not a secret: removing it from text would
// garble the very messages that mention it.
type redactor struct {
	url    string // the URL as shown in errors and logs
	values acs.Redactor
}

// minSecret is the shortest piece of the URL removed from free text: shorter
// pieces (a query value "1") are not secrets worth garbling text for, and
// the URL as shown hides them anyway.
const minSecret = 4

// newRedactor is the redactor of webhook u of format f (the format of its
// host: the path's secrets are the service's) and secret.
func newRedactor(u *url.URL, f format, secret string) redactor {
	var secrets []string
	out := u.Scheme + "://"
	if u.User != nil {
		out += redacted + "@"
		secrets = append(secrets, u.User.String(), u.User.Username())
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
	}
	out += u.Host
	path, pathSecrets := f.redactPath(u)
	out += path
	secrets = append(secrets, pathSecrets...)
	if u.RawQuery != "" {
		var keys []string
		secretQuery := false
		for k, vs := range u.Query() {
			keys = append(keys, k)
			for _, v := range vs {
				if credentialKey(k) || !plainValue(v) {
					secrets = append(secrets, v)
					secretQuery = true
				}
			}
		}
		slices.Sort(keys)
		for i, k := range keys {
			keys[i] = url.QueryEscape(k) + "=" + redacted
		}
		out += "?" + strings.Join(keys, "&")
		if secretQuery {
			secrets = append(secrets, u.RawQuery)
		}
	}
	if u.Fragment != "" {
		secrets = append(secrets, u.Fragment)
		out += "#" + redacted
	}
	if secret != "" {
		secrets = append(secrets, secret)
	}
	// Each is also removed as URLs and JSON strings escape it (acs.NewRedactor).
	return redactor{url: out, values: acs.NewRedactor(slices.DeleteFunc(secrets, func(s string) bool { return len(s) < minSecret })...)}
}

// credentialKey tells a query parameter whose name says it carries a
// credential (access_token, key, sig, X-Amz-Signature, auth, password…):
// its value is a secret whatever it looks like.
func credentialKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"token", "key", "secret", "sig", "auth", "pass", "pwd", "credential", "session", "ticket", "code", "hmac", "hash", "nonce", "jwt", "bearer"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// plainValue tells a query value or path segment that reads as a setting
// or a name (false, 30, cn-hangzhou, ap-southeast-1, json, 2h0m0s,
// ecs-stopper) from one that may be a token: words and numbers joined by
// '-', '_' or '.', none of them long, no run of 8 or more mixing letters
// and digits (a7f3c9e1…, a UUID), and no other character (Base64's +/=,
// percent escapes). What is not plain is treated as a secret.
func plainValue(v string) bool {
	if v == "" || len(v) > 40 {
		return false
	}
	for _, seg := range strings.FieldsFunc(v, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
		letters, digits := 0, 0
		for _, r := range seg {
			switch {
			case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
				letters++
			case r >= '0' && r <= '9':
				digits++
			default:
				return false
			}
		}
		switch {
		case digits == 0 && letters > 16, letters == 0 && digits > 13, letters > 0 && digits > 0 && len(seg) >= 8:
			return false
		}
	}
	return true
}

// Text removes every secret from s.
func (r redactor) Text(s string) string { return r.values.Redact(s) }
