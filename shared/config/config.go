// Package config reads the function's settings from the environment
// (prefix STOPPER_, plus the standard ALIBABA_CLOUD_* credentials), once, at
// start-up, and refuses bad values with a message naming the variable.
package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/ecs"
	"github.com/ecs-stopper/stopper/shared/notify"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
	"github.com/kelseyhightower/envconfig"
)

// Prefix is the prefix of every setting's environment variable.
const Prefix = "STOPPER"

// Config is every setting; each field's variable is STOPPER_<envconfig tag>.
type Config struct {
	RegionId             string   `envconfig:"REGION_ID" desc:"default RegionId for requests that name none (on FC: the function's own region)"`
	ECSEndpoint          string   `envconfig:"ECS_ENDPOINT" desc:"full URL overriding the regional ECS endpoint (tests point it at the emulator)"`
	ECSNetwork           string   `envconfig:"ECS_NETWORK" default:"public" desc:"public (ecs.<region>.aliyuncs.com) or vpc (ecs-vpc.<region>.aliyuncs.com)"`
	WebhookSecret        string   `envconfig:"WEBHOOK_SECRET" desc:"HMAC-SHA256 key of the X-Stopper-Signature webhook header"`
	WebhookToken         string   `envconfig:"WEBHOOK_TOKEN" desc:"bearer token accepted instead of a signature (Authorization: Bearer ...), at least 32 characters"`
	WebhookTokenPrevious string   `envconfig:"WEBHOOK_TOKEN_PREVIOUS" desc:"the token being rotated out, accepted as well until senders use the new one"`
	WebhookInsecure      bool     `envconfig:"WEBHOOK_INSECURE" default:"false" desc:"accept unauthenticated webhooks when neither a secret nor a token is set (local use only)"`
	AllowedRegions       []string `envconfig:"ALLOWED_REGIONS" desc:"comma-separated regions requests may act on; empty allows all"`
	DryRun               bool     `envconfig:"DRY_RUN" default:"false" desc:"default of the requests' DryRun: check, stop nothing"`

	SweepRegionIds       []string          `envconfig:"SWEEP_REGION_IDS" desc:"regions a sweep scans when its request names none (default: STOPPER_REGION_ID)"`
	SweepOlderThan       time.Duration     `envconfig:"SWEEP_OLDER_THAN" default:"2h" desc:"a sweep stops invocations created longer ago than this"`
	SweepCommandName     string            `envconfig:"SWEEP_COMMAND_NAME" desc:"a sweep only stops invocations of this command"`
	SweepTags            map[string]string `envconfig:"SWEEP_TAGS" desc:"key:value,key:value tags every swept invocation must carry"`
	SweepIncludePeriodic bool              `envconfig:"SWEEP_INCLUDE_PERIODIC" default:"false" desc:"also stop periodic and reboot invocations"`
	SweepMaxStops        int               `envconfig:"SWEEP_MAX_STOPS" default:"100" desc:"a sweep that selects more invocations than this stops none (Sweep.LimitExceeded); 0 is no limit"`
	FailFastMaxErrors    string            `envconfig:"FAILFAST_MAX_ERRORS" desc:"fail-fast threshold of invocations without a stopper:max-errors tag: a count (3) or a share (10%); empty watches only tagged ones"`
	SweepConcurrency     int               `envconfig:"SWEEP_CONCURRENCY" default:"8" desc:"stops a sweep keeps in flight at once (1-64)"`
	SweepReserve         time.Duration     `envconfig:"SWEEP_RESERVE" default:"3s" desc:"time before the deadline at which a sweep stops starting work and answers Truncated"`

	NotifyURL     string        `envconfig:"NOTIFY_URL" desc:"where to tell people what was stopped: a DingTalk, Lark or Slack webhook, or any HTTPS endpoint (empty: no notifications)"`
	NotifyFormat  string        `envconfig:"NOTIFY_FORMAT" desc:"json, dingtalk, lark or slack (default: from the URL's host)"`
	NotifySecret  string        `envconfig:"NOTIFY_SECRET" desc:"signing secret of a DingTalk (SEC...) or Lark robot"`
	NotifyTimeout time.Duration `envconfig:"NOTIFY_TIMEOUT" default:"2s" desc:"most a notification may take, its one retry included (never past the deadline)"`
	NotifyDryRun  bool          `envconfig:"NOTIFY_DRY_RUN" default:"false" desc:"also tell of dry runs that would stop something (their messages say Dry run)"`

	ConnectTimeout     time.Duration `envconfig:"CONNECT_TIMEOUT" default:"5s" desc:"TCP/TLS connect timeout to the ECS API"`
	ReadTimeout        time.Duration `envconfig:"READ_TIMEOUT" default:"10s" desc:"timeout of one ECS API attempt"`
	MaxAttempts        int           `envconfig:"MAX_ATTEMPTS" default:"5" desc:"attempts per ECS API call that may fault (5xx, connection errors, timeouts); throttling has its own budget (1-20)"`
	MaxThrottleRetries int           `envconfig:"MAX_THROTTLE_RETRIES" default:"10" desc:"retries per ECS API call after throttling answers, never past the deadline (0-100)"`
	LogLevel           string        `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
}

// Load reads and checks the configuration from the environment.
func Load() (Config, error) {
	var c Config
	if err := envconfig.Process(Prefix, &c); err != nil {
		return Config{}, fmt.Errorf("configuration: %w", err)
	}
	// envconfig keeps the last of a repeated key; the parsed map cannot
	// tell, so the raw value is checked here.
	if k, ok := repeatedTagKey(os.Getenv(Prefix + "_SWEEP_TAGS")); ok {
		return Config{}, fmt.Errorf("configuration: %s_SWEEP_TAGS: the key %q is given more than once; no invocation carries two values of one key", Prefix, shorten(k))
	}
	return c, c.Validate()
}

// maxNameLen bounds a command name, a tag key and a tag value: the API's
// limit, which requests are held to as well (shared/stopper). A longer
// one could never match, so every sweep would silently stop nothing.
const maxNameLen = 128

// repeatedTagKey is a key that a key:value,key:value list gives twice.
func repeatedTagKey(raw string) (string, bool) {
	seen := map[string]bool{}
	for _, pair := range strings.Split(raw, ",") {
		k, _, ok := strings.Cut(pair, ":")
		if !ok {
			continue // envconfig refused it already
		}
		if seen[k] {
			return k, true
		}
		seen[k] = true
	}
	return "", false
}

// shorten keeps an over-long value from filling the start-up error.
func shorten(s string) string {
	if len(s) <= 32 {
		return s
	}
	return s[:32] + "..."
}

// Validate checks what envconfig's types cannot.
func (c Config) Validate() error {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("configuration: %s_%s: %s", Prefix, name, fmt.Sprintf(format, args...))
	}
	if c.RegionId != "" && !stopper.ValidRegionID(c.RegionId) {
		return bad("REGION_ID", "%q is not a region id such as cn-hangzhou", c.RegionId)
	}
	for name, list := range map[string][]string{"ALLOWED_REGIONS": c.AllowedRegions, "SWEEP_REGION_IDS": c.SweepRegionIds} {
		for _, r := range list {
			if !stopper.ValidRegionID(r) {
				return bad(name, "%q is not a region id such as cn-hangzhou (give a comma-separated list)", r)
			}
		}
	}
	// A default region outside the allowlist would make every request
	// that names none, or every default sweep, fail at run time.
	if len(c.AllowedRegions) > 0 {
		if c.RegionId != "" && !slices.Contains(c.AllowedRegions, c.RegionId) {
			return bad("REGION_ID", "%s is not in STOPPER_ALLOWED_REGIONS (%s): add it there, or choose an allowed region", c.RegionId, strings.Join(c.AllowedRegions, ","))
		}
		for _, r := range c.SweepRegionIds {
			if !slices.Contains(c.AllowedRegions, r) {
				return bad("SWEEP_REGION_IDS", "%s is not in STOPPER_ALLOWED_REGIONS (%s): a sweep of it would be refused", r, strings.Join(c.AllowedRegions, ","))
			}
		}
	}
	// The client's own check, so that the two never disagree; its errors
	// name STOPPER_ECS_ENDPOINT and show the URL redacted.
	if err := ecs.CheckEndpoint(c.ECSEndpoint); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if c.ECSNetwork != "public" && c.ECSNetwork != "vpc" {
		return bad("ECS_NETWORK", "%q must be public or vpc", c.ECSNetwork)
	}
	if c.WebhookSecret != "" && len(c.WebhookSecret) < 16 {
		return bad("WEBHOOK_SECRET", "is %d characters; use at least 16 random characters (openssl rand -hex 32)", len(c.WebhookSecret))
	}
	if c.WebhookToken != "" {
		if err := webhook.CheckToken(c.WebhookToken); err != nil {
			return bad("WEBHOOK_TOKEN", "%v", err)
		}
	}
	if c.WebhookTokenPrevious != "" {
		if c.WebhookToken == "" {
			return bad("WEBHOOK_TOKEN_PREVIOUS", "is set without STOPPER_WEBHOOK_TOKEN: set the new token there, the old one here")
		}
		if err := webhook.CheckToken(c.WebhookTokenPrevious); err != nil {
			return bad("WEBHOOK_TOKEN_PREVIOUS", "%v", err)
		}
	}
	if c.SweepOlderThan <= 0 {
		return bad("SWEEP_OLDER_THAN", "%s must be a positive duration such as 2h", c.SweepOlderThan)
	}
	if len(c.SweepTags) > stopper.MaxTags {
		return bad("SWEEP_TAGS", "has %d tags; at most %d are allowed", len(c.SweepTags), stopper.MaxTags)
	}
	for k, v := range c.SweepTags {
		if k == "" {
			return bad("SWEEP_TAGS", "has an empty tag key: give key:value,key:value (an empty value matches any value)")
		}
		if len(k) > maxNameLen || len(v) > maxNameLen {
			return bad("SWEEP_TAGS", "the tag %q has a key or value longer than %d characters, which no invocation's tag can match", shorten(k), maxNameLen)
		}
	}
	if len(c.SweepCommandName) > maxNameLen {
		return bad("SWEEP_COMMAND_NAME", "is %d characters; a command name has at most %d, so no invocation could match it", len(c.SweepCommandName), maxNameLen)
	}
	if len(c.SweepRegionIds) > stopper.MaxRegions {
		return bad("SWEEP_REGION_IDS", "names %d regions; at most %d are swept at once", len(c.SweepRegionIds), stopper.MaxRegions)
	}
	if c.SweepMaxStops < 0 {
		return bad("SWEEP_MAX_STOPS", "%d must be 0 (no limit) or a positive count such as 100", c.SweepMaxStops)
	}
	if _, err := c.failFastMaxErrors(); err != nil {
		return bad("FAILFAST_MAX_ERRORS", "%q is not a count of at least 1 such as 3, nor a share such as 10%%; leave it empty to watch only invocations tagged stopper:max-errors", c.FailFastMaxErrors)
	}
	if c.SweepConcurrency < 1 || c.SweepConcurrency > 64 {
		return bad("SWEEP_CONCURRENCY", "%d must be between 1 and 64", c.SweepConcurrency)
	}
	if c.SweepReserve < 0 {
		return bad("SWEEP_RESERVE", "%s must not be negative", c.SweepReserve)
	}
	if c.NotifyURL == "" && (c.NotifyFormat != "" || c.NotifySecret != "") {
		return bad("NOTIFY_URL", "is empty while STOPPER_NOTIFY_FORMAT or STOPPER_NOTIFY_SECRET is set: set the URL notifications go to, or unset both")
	}
	if c.NotifyTimeout <= 0 || c.NotifyTimeout > time.Minute {
		return bad("NOTIFY_TIMEOUT", "%s must be a positive duration of at most 1m such as 2s", c.NotifyTimeout)
	}
	if _, err := c.Notifier(nil); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if c.ConnectTimeout <= 0 {
		return bad("CONNECT_TIMEOUT", "%s must be a positive duration such as 5s", c.ConnectTimeout)
	}
	if c.ReadTimeout <= 0 {
		return bad("READ_TIMEOUT", "%s must be a positive duration such as 10s", c.ReadTimeout)
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 20 {
		return bad("MAX_ATTEMPTS", "%d must be between 1 and 20", c.MaxAttempts)
	}
	if c.MaxThrottleRetries < 0 || c.MaxThrottleRetries > 100 {
		return bad("MAX_THROTTLE_RETRIES", "%d must be between 0 and 100", c.MaxThrottleRetries)
	}
	if _, err := c.Level(); err != nil {
		return bad("LOG_LEVEL", "%q must be debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// failFastMaxErrors is FailFastMaxErrors parsed; empty is the zero Threshold.
func (c Config) failFastMaxErrors() (stopper.Threshold, error) {
	if strings.TrimSpace(c.FailFastMaxErrors) == "" {
		return stopper.Threshold{}, nil
	}
	return stopper.ParseThreshold(c.FailFastMaxErrors)
}

// Notifier builds the notifier of STOPPER_NOTIFY_*; nil when no URL is set.
// Its errors name the variable and never show the URL's secret parts.
func (c Config) Notifier(log *slog.Logger) (*notify.Notifier, error) {
	if c.NotifyURL == "" {
		return nil, nil
	}
	return notify.New(notify.Options{URL: c.NotifyURL, Format: c.NotifyFormat, Secret: c.NotifySecret, Timeout: c.NotifyTimeout, Log: log})
}

// Level is LogLevel as a slog level.
func (c Config) Level() (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(strings.ToUpper(c.LogLevel)))
	return l, err
}

// Credentials reads the standard Alibaba Cloud credential variables. On FC
// the per-invocation x-fc-* credentials win over these.
func Credentials() acs.Credentials {
	return acs.Credentials{
		AccessKeyID:     os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"),
		AccessKeySecret: os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
		SecurityToken:   os.Getenv("ALIBABA_CLOUD_SECURITY_TOKEN"),
	}
}

// Function builds the core with this configuration's defaults.
func (c Config) Function(api stopper.CloudAssistant, log *slog.Logger) *stopper.Function {
	sweepRegions := c.SweepRegionIds
	if len(sweepRegions) == 0 && c.RegionId != "" {
		sweepRegions = []string{c.RegionId}
	}
	failFast, _ := c.failFastMaxErrors() // Validate refused a bad one
	return &stopper.Function{
		API:               api,
		FailFastMaxErrors: failFast,
		RegionId:          c.RegionId,
		AllowedRegions:    c.AllowedRegions,
		DryRun:            c.DryRun,
		NotifyDryRun:      c.NotifyDryRun,
		Sweep: stopper.SweepDefaults{
			RegionIds:       sweepRegions,
			RestrictRegions: len(c.SweepRegionIds) > 0,
			MaxStops:        c.SweepMaxStops,
			OlderThan:       c.SweepOlderThan,
			CommandName:     c.SweepCommandName,
			Tags:            c.SweepTags,
			IncludePeriodic: c.SweepIncludePeriodic,
			Concurrency:     c.SweepConcurrency,
			Reserve:         c.SweepReserve,
		},
		Log: log,
	}
}

// Logger is the JSON logger every runtime writes its one line per outcome with.
func (c Config) Logger(w io.Writer) *slog.Logger {
	level, _ := c.Level()
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
