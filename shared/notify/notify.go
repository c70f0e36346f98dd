// Package notify tells operators what was stopped: one chat message per
// request that stopped something, or with STOPPER_NOTIFY_DRY_RUN per dry
// run that would have (DingTalk, Lark, Slack, or the answer itself as
// JSON), the same summary as plain text (Text), and every request's
// numbers as metrics (CloudWatch
// embedded metric format on Lambda, a log line on Function Compute).
//
// A stop may kill someone's running job; the people who run the fleet read
// chat, not logs. Notifications are best effort: bounded by a short timeout
// and the request's deadline, retried at most once, held within the chat
// service's rate limit (ratelimit.go), and their failure is the caller's
// log line, never the request's failure. Outside text in them is escaped
// for the format (escape.go). Each format is one file behind the format
// interface (formats.go).
package notify

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds one notification (both attempts) when Options
// leaves Timeout zero. The request's deadline bounds it further.
const DefaultTimeout = 2 * time.Second

// Options configure a Notifier. URL, Format and Secret are
// STOPPER_NOTIFY_URL, STOPPER_NOTIFY_FORMAT and STOPPER_NOTIFY_SECRET.
type Options struct {
	URL    string
	Format string // json, dingtalk, lark, slack (formats.go); empty: inferred from the URL's host
	Secret string // DingTalk and Lark signed robots only
	// Timeout bounds one notification, retry included (default 2 s).
	Timeout time.Duration
	// Client sends the messages; nil: a client that never follows redirects.
	Client *http.Client
	Log    *slog.Logger
	// Now is the clock the signatures' timestamps and the rate limit's
	// bucket go by (default time.Now).
	Now func() time.Time
}

// Notifier posts one message per report to a chat webhook or JSON receiver.
// It implements stopper.Notifier and is safe for concurrent use.
type Notifier struct {
	url    *url.URL
	format format
	// signer is the format when it signs with secret (nil when unsigned).
	signer  signer
	secret  string
	timeout time.Duration
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
	redact  redactor
	// bucket holds the service's rate limit for every request the process
	// serves: the Notifier is built once per instance.
	bucket *bucket
}

// New checks the options and returns a Notifier. Its errors name the setting
// at fault and the fix, and never show the URL's secret parts nor the
// secret.
func New(o Options) (*Notifier, error) {
	raw := strings.TrimSpace(o.URL)
	if raw == "" {
		return nil, errors.New("STOPPER_NOTIFY_URL is empty: set it to the robot's or receiver's webhook address, or leave notifications off")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		// url.Parse's error quotes the whole URL, token included: not shown.
		return nil, errors.New("STOPPER_NOTIFY_URL is not an absolute URL: copy the whole webhook address, starting with https://")
	}
	hostFormat, claimed := formatOfHost(u.Hostname())
	rd := newRedactor(u, hostFormat, o.Secret)
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "https":
	case scheme == "http" && loopback(u.Hostname()):
	case scheme == "http":
		return nil, fmt.Errorf("STOPPER_NOTIFY_URL %s: use https:// (http:// is allowed only for a local receiver on localhost, 127.0.0.1 or ::1)", rd.url)
	default:
		return nil, fmt.Errorf("STOPPER_NOTIFY_URL %s: the scheme must be https://", rd.url)
	}
	f := hostFormat
	if name := strings.ToLower(strings.TrimSpace(o.Format)); name != "" {
		given, ok := formatNamed(name)
		if !ok {
			return nil, fmt.Errorf("STOPPER_NOTIFY_FORMAT %q is not one of %s: leave it empty to infer it from the URL's host", o.Format, formatNames())
		}
		if claimed && given.name() != hostFormat.name() {
			return nil, fmt.Errorf("STOPPER_NOTIFY_FORMAT is %s but STOPPER_NOTIFY_URL %s is a %s webhook: set STOPPER_NOTIFY_FORMAT=%s or leave it empty", name, rd.url, hostFormat.service(), hostFormat.name())
		}
		f = given
	}
	if err := hostFormat.checkURL(u, rd.url); err != nil {
		return nil, err
	}
	sg, err := checkSecret(o.Secret, f)
	if err != nil {
		return nil, err
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("notification timeout %s must be positive (0: the default %s)", o.Timeout, DefaultTimeout)
	}
	n := &Notifier{url: u, format: f, signer: sg, secret: o.Secret, timeout: o.Timeout, client: o.Client,
		log: o.Log, now: o.Now, redact: rd, bucket: newBucket(f.rateLimit())}
	if n.timeout == 0 {
		n.timeout = DefaultTimeout
	}
	if n.client == nil {
		n.client = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A webhook that redirects is misconfigured, and following a
			// redirect turns the POST into a GET elsewhere: answer the 3xx.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if n.log == nil {
		n.log = slog.Default()
	}
	if n.now == nil {
		n.now = time.Now
	}
	return n, nil
}

// String names the format and the redacted URL, for start-up logs.
func (n *Notifier) String() string { return n.format.name() + " " + n.redact.url }

// Format is the message format in use (given or inferred).
func (n *Notifier) Format() string { return n.format.name() }

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkSecret returns the format as a signer when a secret is set, or
// refuses a secret the format cannot use.
func checkSecret(secret string, f format) (signer, error) {
	if secret == "" {
		return nil, nil
	}
	sg, ok := f.(signer)
	if !ok {
		return nil, fmt.Errorf("STOPPER_NOTIFY_SECRET is set, but only %s robots sign their messages (the format is %s): unset it", signingServices(), f.name())
	}
	if strings.TrimSpace(secret) != secret {
		return nil, errors.New("STOPPER_NOTIFY_SECRET has leading or trailing white space: copy the secret alone")
	}
	return sg, sg.checkSecret(secret)
}
