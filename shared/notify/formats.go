package notify

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// format is one value of STOPPER_NOTIFY_FORMAT: everything a service does
// its own way. Each lives in its own file (dingtalk.go, lark.go, slack.go,
// json.go) and registers itself there; the rest of the package goes
// through this interface only. What formats share (the summary, its
// layout, redaction of the URL's user info and query, the rate limit's
// bucket, retries) stays outside them.
type format interface {
	// name is the value of STOPPER_NOTIFY_FORMAT ("dingtalk").
	name() string
	// service names the service in messages and errors ("DingTalk").
	service() string
	// hosts are the service's documented webhook hosts, in lower case: a
	// URL on one of them is of this format.
	hosts() []string
	// checkURL catches a partly copied webhook on one of hosts, which
	// would otherwise fail at the first stop with an answer nobody reads.
	// shown is the URL redacted, for the error.
	checkURL(u *url.URL, shown string) error
	// redactPath returns the URL's path as shown in errors and logs, and
	// the parts of it that are secrets, for a URL on one of hosts (JSON:
	// any other host).
	redactPath(u *url.URL) (shown string, secrets []string)
	// rateLimit is the token bucket that keeps messages within the
	// service's published limit (ratelimit.go).
	rateLimit() rateLimit
	// render writes the message, unsigned, within the service's size
	// limits, escaping outside text for its markup (escape.go).
	render(d draft) ([]byte, error)
	// check reads the service's answer to a message that was not
	// throttled nor failed by a 5xx: "" when the message was accepted,
	// else what went wrong, with a hint naming the setting behind it.
	check(a reply) string
}

// signer is a format whose service signs messages with
// STOPPER_NOTIFY_SECRET.
type signer interface {
	format
	// checkSecret refuses a secret that cannot be the service's (it is
	// not empty and has no surrounding white space).
	checkSecret(secret string) error
	// sign returns the address and body of one attempt at now: the
	// rendered body signed with secret.
	sign(target string, body []byte, secret string, now time.Time) (string, []byte, error)
}

// formats are the registered formats, each once (register).
var formats []format

// register adds a format; each format's file calls it from init. A name or
// host taken twice is a mistake in the code, so it panics.
func register(f format) {
	for _, g := range formats {
		if g.name() == f.name() {
			panic("notify: format " + f.name() + " registered twice")
		}
		for _, h := range f.hosts() {
			if slices.Contains(g.hosts(), h) {
				panic("notify: host " + h + " claimed by " + g.name() + " and " + f.name())
			}
		}
	}
	formats = append(formats, f)
}

// formatNamed is the format of a STOPPER_NOTIFY_FORMAT value (lower case).
func formatNamed(name string) (format, bool) {
	for _, f := range formats {
		if f.name() == name {
			return f, true
		}
	}
	return nil, false
}

// formatOfHost infers the format from the webhook's host: the format that
// claims it (claimed), else JSON, for any other receiver.
func formatOfHost(host string) (f format, claimed bool) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, g := range formats {
		if slices.Contains(g.hosts(), host) {
			return g, true
		}
	}
	f, _ = formatNamed(FormatJSON)
	return f, false
}

// formatNames lists the formats for errors: JSON first (the default for
// other hosts), then the chat services by name.
func formatNames() string {
	var names []string
	for _, f := range formats {
		if f.name() != FormatJSON {
			names = append(names, f.name())
		}
	}
	slices.Sort(names)
	return strings.Join(append([]string{FormatJSON}, names...), ", ")
}

// signingServices names the services that sign, for errors ("DingTalk and
// Lark").
func signingServices() string {
	var names []string
	for _, f := range formats {
		if _, ok := f.(signer); ok {
			names = append(names, f.service())
		}
	}
	slices.Sort(names)
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// draft is what a format renders one message from.
type draft struct {
	report stopper.Report
	redact redactor
	// signed tells that sign will add a signature to the body.
	signed bool
	// untold messages were suppressed by the rate limit since since, and
	// notice says so in words ("" when none).
	untold int
	since  time.Time
	notice string
}

// summary is the report's summary for a chat message, with the notice.
func (d draft) summary() summary {
	s := summarize(d.report, d.redact)
	s.Notice = d.notice
	return s
}

// reply is a service's answer to one message.
type reply struct {
	status int
	body   []byte
	redact redactor
}

func newReply(resp *http.Response, body []byte, rd redactor) reply {
	return reply{status: resp.StatusCode, body: body, redact: rd}
}

// ok tells a 2xx status.
func (a reply) ok() bool { return a.status/100 == 2 }

// httpFailure is the status and the answer's text.
func (a reply) httpFailure() string {
	return "answered HTTP " + strconv.Itoa(a.status) + ": " + a.quote(string(a.body))
}

// quote is a service's own text, redacted, on one line, capped, quoted.
func (a reply) quote(s string) string {
	return strconv.Quote(clean(a.redact.Text(s), maxServiceText))
}

// notOwn is the failure of an answer that is not in the service's own
// shape (a proxy's page, another service's answer).
func (a reply) notOwn(service string) string {
	return a.httpFailure() + " (not " + service + "'s answer)"
}
