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
// for the format (escape.go).
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

// Formats of STOPPER_NOTIFY_FORMAT.
const (
	FormatJSON     = "json"     // the request's answer itself
	FormatDingTalk = "dingtalk" // DingTalk custom robot, markdown message
	FormatLark     = "lark"     // Lark / Feishu custom bot, rich text ("post") message
	FormatSlack    = "slack"    // Slack incoming webhook, blocks
)

// DefaultTimeout bounds one notification (both attempts) when Options
// leaves Timeout zero. The request's deadline bounds it further.
const DefaultTimeout = 2 * time.Second

// Options configure a Notifier. URL, Format and Secret are
// STOPPER_NOTIFY_URL, STOPPER_NOTIFY_FORMAT and STOPPER_NOTIFY_SECRET.
type Options struct {
	URL    string
	Format string // json, dingtalk, lark, slack; empty: inferred from the URL's host
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
	url     *url.URL
	format  string
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
	service := serviceOf(u.Hostname())
	rd := newRedactor(u, service, o.Secret)
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "https":
	case scheme == "http" && loopback(u.Hostname()):
	case scheme == "http":
		return nil, fmt.Errorf("STOPPER_NOTIFY_URL %s: use https:// (http:// is allowed only for a local receiver on localhost, 127.0.0.1 or ::1)", rd.url)
	default:
		return nil, fmt.Errorf("STOPPER_NOTIFY_URL %s: the scheme must be https://", rd.url)
	}
	format := strings.ToLower(strings.TrimSpace(o.Format))
	switch format {
	case "":
		format = service
	case FormatJSON, FormatDingTalk, FormatLark, FormatSlack:
		if service != FormatJSON && format != service {
			return nil, fmt.Errorf("STOPPER_NOTIFY_FORMAT is %s but STOPPER_NOTIFY_URL %s is a %s webhook: set STOPPER_NOTIFY_FORMAT=%s or leave it empty", format, rd.url, serviceName(service), service)
		}
	default:
		return nil, fmt.Errorf("STOPPER_NOTIFY_FORMAT %q is not one of json, dingtalk, lark, slack: leave it empty to infer it from the URL's host", o.Format)
	}
	if err := checkServiceURL(u, service, rd.url); err != nil {
		return nil, err
	}
	if err := checkSecret(o.Secret, format); err != nil {
		return nil, err
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("notification timeout %s must be positive (0: the default %s)", o.Timeout, DefaultTimeout)
	}
	n := &Notifier{url: u, format: format, secret: o.Secret, timeout: o.Timeout, client: o.Client,
		log: o.Log, now: o.Now, redact: rd, bucket: newBucket(rateLimits[format])}
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
func (n *Notifier) String() string { return n.format + " " + n.redact.url }

// Format is the message format in use (given or inferred).
func (n *Notifier) Format() string { return n.format }

// serviceOf infers the format from the webhook's host. The hosts are the
// services' documented webhook hosts (docs/reference/chat-services.md: DingTalk
// oapi.dingtalk.com, and oapi.dingtalk.io in the international docs; Feishu
// open.feishu.cn, Lark open.larksuite.com; Slack hooks.slack.com).
func serviceOf(host string) string {
	switch strings.TrimSuffix(strings.ToLower(host), ".") {
	case "oapi.dingtalk.com", "oapi.dingtalk.io":
		return FormatDingTalk
	case "open.feishu.cn", "open.larksuite.com":
		return FormatLark
	case "hooks.slack.com":
		return FormatSlack
	}
	return FormatJSON
}

func serviceName(format string) string {
	switch format {
	case FormatDingTalk:
		return "DingTalk"
	case FormatLark:
		return "Lark"
	case FormatSlack:
		return "Slack"
	}
	return "JSON"
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

const larkHookPath = "/open-apis/bot/v2/hook/"

// checkServiceURL catches a partly copied webhook of a known service, which
// would otherwise fail at the first stop with an answer nobody reads.
func checkServiceURL(u *url.URL, service, shown string) error {
	switch service {
	case FormatDingTalk:
		if u.Path != "/robot/send" || u.Query().Get("access_token") == "" {
			return fmt.Errorf("STOPPER_NOTIFY_URL %s is not a DingTalk robot webhook (https://oapi.dingtalk.com/robot/send?access_token=…): copy it whole from the robot's settings", shown)
		}
	case FormatLark:
		if !strings.HasPrefix(u.Path, larkHookPath) || len(u.Path) == len(larkHookPath) {
			return fmt.Errorf("STOPPER_NOTIFY_URL %s is not a Lark bot webhook (https://open.feishu.cn/open-apis/bot/v2/hook/…): copy it whole from the bot's settings", shown)
		}
	case FormatSlack:
		if !strings.HasPrefix(u.Path, "/services/") || len(u.Path) == len("/services/") {
			return fmt.Errorf("STOPPER_NOTIFY_URL %s is not a Slack incoming webhook (https://hooks.slack.com/services/…): copy it whole from the app's Incoming Webhooks page", shown)
		}
	}
	return nil
}

func checkSecret(secret, format string) error {
	if secret == "" {
		return nil
	}
	switch format {
	case FormatDingTalk, FormatLark:
	default:
		return fmt.Errorf("STOPPER_NOTIFY_SECRET is set, but only DingTalk and Lark robots sign their messages (the format is %s): unset it", format)
	}
	if strings.TrimSpace(secret) != secret {
		return errors.New("STOPPER_NOTIFY_SECRET has leading or trailing white space: copy the secret alone")
	}
	// DingTalk's docs describe the secret as "the string starting with SEC
	// shown under 加签 (Additional Signature) in the robot's security
	// settings" (help.dingtalk.io/open/dingstart/customize-robot-security-settings;
	// docs/reference/chat-services.md). Anything else cannot sign for it (answer 310000
	// "sign not match" at the first stop); most often it is the access_token.
	if format == FormatDingTalk && !strings.HasPrefix(secret, "SEC") {
		return errors.New("STOPPER_NOTIFY_SECRET does not start with SEC: use the secret shown under Additional Signature (加签) in the DingTalk robot's security settings, not the access_token")
	}
	return nil
}
