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
// segment) and Slack's /services/T…/B…/… path are the secrets; a JSON
// receiver's path, query values, user info and fragment may be. The
// redactor shows the URL without them, and removes them (and
// STOPPER_NOTIFY_SECRET) from any text that might echo them: errors, logs,
// the services' own error messages, and the messages themselves.
type redactor struct {
	url    string // the URL as shown in errors and logs
	values acs.Redactor
}

// minSecret is the shortest piece of the URL removed from free text: shorter
// pieces (a query value "1") are not secrets worth garbling text for, and
// the URL as shown hides them anyway.
const minSecret = 4

func newRedactor(u *url.URL, service, secret string) redactor {
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
	path := u.EscapedPath()
	switch service {
	case FormatDingTalk:
		out += path // /robot/send: the token is in the query
	case FormatLark:
		token := strings.TrimPrefix(u.Path, larkHookPath)
		secrets = append(secrets, token)
		out += larkHookPath + redacted
	case FormatSlack:
		rest := strings.TrimPrefix(u.Path, "/services/")
		secrets = append(secrets, rest)
		secrets = append(secrets, strings.Split(rest, "/")...)
		out += "/services/" + redacted
	default:
		if path != "" && path != "/" {
			secrets = append(secrets, strings.TrimPrefix(u.Path, "/"), strings.TrimPrefix(path, "/"))
			for _, seg := range strings.Split(u.Path, "/") {
				if tokenLike(seg) {
					secrets = append(secrets, seg)
				}
			}
			out += "/" + redacted
		} else {
			out += path
		}
	}
	if u.RawQuery != "" {
		var keys []string
		for k, vs := range u.Query() {
			keys = append(keys, k)
			secrets = append(secrets, vs...)
		}
		slices.Sort(keys)
		for i, k := range keys {
			keys[i] = url.QueryEscape(k) + "=" + redacted
		}
		out += "?" + strings.Join(keys, "&")
		secrets = append(secrets, u.RawQuery)
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

// tokenLike tells a path segment that may be a token (a relay's
// /hook/7c1e0d2a-…) from a word (/hooks/, /services/), which stays readable
// in texts that mention it.
func tokenLike(seg string) bool {
	return len(seg) >= 16 || len(seg) >= 8 && strings.ContainsAny(seg, "0123456789")
}

// Text removes every secret from s.
func (r redactor) Text(s string) string { return r.values.Redact(s) }
