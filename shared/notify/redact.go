package notify

import (
	"cmp"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

const redacted = "[redacted]"

// A webhook URL is a credential: whoever has it can post to the group.
// DingTalk's access_token query, Lark's hook token (the path's last
// segment) and Slack's /services/T…/B…/… path are the secrets; a JSON
// receiver's path, query values, user info and fragment may be. The
// redactor shows the URL without them, and removes them (and
// STOPPER_NOTIFY_SECRET) from any text that might echo them: errors, logs,
// the services' own error messages, and the messages themselves.
type redactor struct {
	url      string // the URL as shown in errors and logs
	secrets  []string
	replacer *strings.Replacer
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
	all := variants(secrets)
	pairs := make([]string, 0, 2*len(all))
	for _, s := range all {
		pairs = append(pairs, s, redacted)
	}
	return redactor{url: out, secrets: all, replacer: strings.NewReplacer(pairs...)}
}

// variants are the secrets as written and as they appear escaped in URLs
// and JSON strings, longest first (a replacer tries them in order, so that
// a secret containing another goes whole).
func variants(secrets []string) []string {
	var all []string
	for _, s := range secrets {
		if len(s) < minSecret {
			continue
		}
		q, _ := json.Marshal(s)
		all = append(all, s, url.QueryEscape(s), url.PathEscape(s), string(q[1:len(q)-1]))
	}
	slices.SortFunc(all, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	return slices.Compact(all)
}

// tokenLike tells a path segment that may be a token (a relay's
// /hook/7c1e0d2a-…) from a word (/hooks/, /services/), which stays readable
// in texts that mention it.
func tokenLike(seg string) bool {
	return len(seg) >= 16 || len(seg) >= 8 && strings.ContainsAny(seg, "0123456789")
}

// Text removes every secret from s. Most texts hold none: looking for each
// is much faster than the replacer's walk.
func (r redactor) Text(s string) string {
	for _, secret := range r.secrets {
		if strings.Contains(s, secret) {
			return r.replacer.Replace(s)
		}
	}
	return s
}
