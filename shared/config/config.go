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
	"strconv"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/ecs"
	"github.com/ecs-stopper/stopper/shared/notify"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/webhook"
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

	AWSOIDCAudience      string `envconfig:"AWS_OIDC_AUDIENCE" desc:"AWS Lambda: get an OIDC token for this audience from AWS STS GetWebIdentityToken and exchange it for Alibaba Cloud STS credentials (ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN); docs/identity.md"`
	AWSSTSEndpoint       string `envconfig:"AWS_STS_ENDPOINT" desc:"AWS STS URL GetWebIdentityToken is called at (default https://sts.<AWS_REGION>.amazonaws.com)"`
	AlibabaSecretID      string `envconfig:"ALIBABA_SECRET_ID" desc:"AWS Lambda: read the AccessKey pair from this AWS Secrets Manager secret through the Parameters and Secrets extension"`
	AssumeRoleArn        string `envconfig:"ASSUME_ROLE_ARN" desc:"assume this RAM role (acs:ram::<account>:role/<name>) with whichever credentials the function has, and act as it"`
	AssumeRoleExternalID string `envconfig:"ASSUME_ROLE_EXTERNAL_ID" desc:"the ExternalId STOPPER_ASSUME_ROLE_ARN's trust policy asks for"`
	STSEndpoint          string `envconfig:"STS_ENDPOINT" desc:"Alibaba Cloud STS URL (default: the emulator when STOPPER_ECS_ENDPOINT is a loopback URL, else sts[-vpc].<region>.aliyuncs.com)"`

	Accounts          []string `envconfig:"ACCOUNTS" desc:"accounts the function acts in: empty (the credentials' own), comma-separated account ids (self = the credentials' own), or resource-directory (every member); docs/accounts.md"`
	AccountRoleName   string   `envconfig:"ACCOUNT_ROLE_NAME" default:"ecs-stopper" desc:"the RAM role assumed in each account of STOPPER_ACCOUNTS"`
	AccountExternalID string   `envconfig:"ACCOUNT_EXTERNAL_ID" desc:"the ExternalId the accounts' role trust policies ask for"`

	ConnectTimeout     time.Duration `envconfig:"CONNECT_TIMEOUT" default:"5s" desc:"TCP/TLS connect timeout to the ECS API"`
	ReadTimeout        time.Duration `envconfig:"READ_TIMEOUT" default:"10s" desc:"timeout of one ECS API attempt"`
	MaxAttempts        int           `envconfig:"MAX_ATTEMPTS" default:"5" desc:"attempts per ECS API call that may fault (5xx, connection errors, timeouts); throttling has its own budget (1-20)"`
	MaxThrottleRetries int           `envconfig:"MAX_THROTTLE_RETRIES" default:"10" desc:"retries per ECS API call after throttling answers, never past the deadline (0-100)"`
	LogLevel           string        `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`

	warnings []string // what Load found doubtful; the reader skips unexported fields
}

// Load reads and checks the configuration from the environment. Every
// STOPPER_* variable's raw value is checked first, in this package's words;
// the reader then cannot fail.
func Load() (Config, error) {
	warnings, err := checkEnvironment(os.Environ())
	if err != nil {
		return Config{}, err
	}
	var c Config
	read(&c, os.LookupEnv)
	c.warnings = warnings
	return c, c.Validate()
}

// Warnings are what Load found doubtful but not wrong (a region id this
// version does not know); Handler logs each once.
func (c Config) Warnings() []string { return c.warnings }

// maxNameLen bounds a command name, a tag key and a tag value: the API's
// limit, which requests are held to as well (shared/stopper). A longer
// one could never match, so every sweep would silently stop nothing.
const maxNameLen = 128

// pairsText is a key:value map as the variable gives it, keys sorted.
func pairsText(m map[string]string) string {
	var pairs []string
	for k, v := range m {
		pairs = append(pairs, k+":"+v)
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}

// Validate checks what the values' forms cannot: ranges and agreement
// between settings.
func (c Config) Validate() error {
	const regionFix = "give lowercase letters, digits and hyphens, such as cn-hangzhou"
	if c.RegionId != "" && !stopper.ValidRegionID(c.RegionId) {
		return refuse("STOPPER_REGION_ID", c.RegionId, "is not a region id", regionFix)
	}
	for _, list := range []struct {
		name string
		ids  []string
	}{{"STOPPER_ALLOWED_REGIONS", c.AllowedRegions}, {"STOPPER_SWEEP_REGION_IDS", c.SweepRegionIds}} {
		for _, r := range list.ids {
			if !stopper.ValidRegionID(r) {
				return refuse(list.name, strings.Join(list.ids, ","), fmt.Sprintf("names %q, which is not a region id", r), regionFix)
			}
		}
	}
	// A default region outside the allowlist would make every request
	// that names none, or every default sweep, fail at run time.
	if len(c.AllowedRegions) > 0 {
		allowed := strings.Join(c.AllowedRegions, ",")
		if c.RegionId != "" && !slices.Contains(c.AllowedRegions, c.RegionId) {
			return refuse("STOPPER_REGION_ID", c.RegionId, "is not in STOPPER_ALLOWED_REGIONS ("+allowed+")", "add it there, or choose an allowed region, such as "+c.AllowedRegions[0])
		}
		for _, r := range c.SweepRegionIds {
			if !slices.Contains(c.AllowedRegions, r) {
				return refuse("STOPPER_SWEEP_REGION_IDS", strings.Join(c.SweepRegionIds, ","), fmt.Sprintf("names %s, which is not in STOPPER_ALLOWED_REGIONS (%s)", r, allowed), "a sweep of it would be refused: add it there, or leave it out")
			}
		}
	}
	// The client's own check, so that the two never disagree; its errors
	// name STOPPER_ECS_ENDPOINT and show the URL redacted.
	if err := ecs.CheckEndpoint(c.ECSEndpoint); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if c.ECSNetwork != "public" && c.ECSNetwork != "vpc" {
		return refuse("STOPPER_ECS_NETWORK", c.ECSNetwork, "is neither public nor vpc", "give public (ecs.<region>.aliyuncs.com) or vpc (ecs-vpc.<region>.aliyuncs.com), such as vpc")
	}
	if c.WebhookSecret != "" && len(c.WebhookSecret) < 16 {
		return refuse("STOPPER_WEBHOOK_SECRET", c.WebhookSecret, "is too short", "give at least 16 random characters, such as the output of openssl rand -hex 32")
	}
	if c.WebhookToken != "" {
		if err := webhook.CheckToken(c.WebhookToken); err != nil {
			return refuse("STOPPER_WEBHOOK_TOKEN", c.WebhookToken, "is not a usable token", err.Error())
		}
	}
	if c.WebhookTokenPrevious != "" {
		if c.WebhookToken == "" {
			return refuse("STOPPER_WEBHOOK_TOKEN_PREVIOUS", c.WebhookTokenPrevious, "is set without STOPPER_WEBHOOK_TOKEN", "set the new token in STOPPER_WEBHOOK_TOKEN and keep the old one here while senders move to it")
		}
		if err := webhook.CheckToken(c.WebhookTokenPrevious); err != nil {
			return refuse("STOPPER_WEBHOOK_TOKEN_PREVIOUS", c.WebhookTokenPrevious, "is not a usable token", err.Error())
		}
	}
	if c.SweepOlderThan <= 0 {
		return refuse("STOPPER_SWEEP_OLDER_THAN", c.SweepOlderThan.String(), "is not positive", "give how long an invocation may run before a sweep stops it, such as 2h")
	}
	if len(c.SweepTags) > stopper.MaxTags {
		return refuse("STOPPER_SWEEP_TAGS", pairsText(c.SweepTags), fmt.Sprintf("has %d tags", len(c.SweepTags)), fmt.Sprintf("give at most %d, such as env:prod,team:ops", stopper.MaxTags))
	}
	for k, v := range c.SweepTags {
		if len(k) > maxNameLen || len(v) > maxNameLen {
			return refuse("STOPPER_SWEEP_TAGS", pairsText(c.SweepTags), fmt.Sprintf("has the tag %q, whose key or value is longer than %d characters", shorten(k), maxNameLen), "no invocation's tag could match it: give shorter ones, such as env:prod")
		}
	}
	if len(c.SweepCommandName) > maxNameLen {
		return refuse("STOPPER_SWEEP_COMMAND_NAME", c.SweepCommandName, fmt.Sprintf("is %d characters long", len(c.SweepCommandName)), fmt.Sprintf("a command name has at most %d, so no invocation could match it: give the command's name, such as nightly-backup", maxNameLen))
	}
	if len(c.SweepRegionIds) > stopper.MaxRegions {
		return refuse("STOPPER_SWEEP_REGION_IDS", strings.Join(c.SweepRegionIds, ","), fmt.Sprintf("names %d regions", len(c.SweepRegionIds)), fmt.Sprintf("name at most %d, such as cn-hangzhou,cn-beijing", stopper.MaxRegions))
	}
	if c.SweepMaxStops < 0 {
		return refuse("STOPPER_SWEEP_MAX_STOPS", strconv.Itoa(c.SweepMaxStops), "is negative", "give 0 (no limit) or a positive count, such as 100")
	}
	if _, err := c.failFastMaxErrors(); err != nil {
		return refuse("STOPPER_FAILFAST_MAX_ERRORS", c.FailFastMaxErrors, "is not a fail-fast threshold", "give "+stopper.ThresholdForm+", or leave it empty to watch only invocations tagged stopper:max-errors")
	}
	if c.SweepConcurrency < 1 || c.SweepConcurrency > 64 {
		return refuse("STOPPER_SWEEP_CONCURRENCY", strconv.Itoa(c.SweepConcurrency), "is not between 1 and 64", "give a whole number in that range, such as 8")
	}
	if c.SweepReserve < 0 {
		return refuse("STOPPER_SWEEP_RESERVE", c.SweepReserve.String(), "is negative", "give 0s or a positive duration, such as 3s")
	}
	if c.NotifyURL == "" && (c.NotifyFormat != "" || c.NotifySecret != "") {
		return refuse("STOPPER_NOTIFY_URL", "", "is empty while STOPPER_NOTIFY_FORMAT or STOPPER_NOTIFY_SECRET is set", "set the URL notifications go to, such as https://hooks.slack.com/services/..., or unset both")
	}
	if c.NotifyTimeout <= 0 || c.NotifyTimeout > time.Minute {
		return refuse("STOPPER_NOTIFY_TIMEOUT", c.NotifyTimeout.String(), "is zero, negative or over 1m", "give a positive duration of at most 1m, such as 2s")
	}
	if _, err := c.Notifier(nil); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if c.ConnectTimeout <= 0 {
		return refuse("STOPPER_CONNECT_TIMEOUT", c.ConnectTimeout.String(), "is not positive", "give a positive duration, such as 5s")
	}
	if c.ReadTimeout <= 0 {
		return refuse("STOPPER_READ_TIMEOUT", c.ReadTimeout.String(), "is not positive", "give a positive duration, such as 10s")
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 20 {
		return refuse("STOPPER_MAX_ATTEMPTS", strconv.Itoa(c.MaxAttempts), "is not between 1 and 20", "give a whole number in that range, such as 5")
	}
	if c.MaxThrottleRetries < 0 || c.MaxThrottleRetries > 100 {
		return refuse("STOPPER_MAX_THROTTLE_RETRIES", strconv.Itoa(c.MaxThrottleRetries), "is not between 0 and 100", "give a whole number in that range, such as 10")
	}
	if _, err := c.Level(); err != nil {
		return refuse("STOPPER_LOG_LEVEL", c.LogLevel, "is not a log level", "give debug, info, warn or error, such as info")
	}
	return c.validateIdentity()
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

// Function builds the core with this configuration's defaults, and the
// instance's stop ledger that every copy of it shares.
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
		Ledger: stopper.NewStopLedger(),
		Log:    log,
	}
}

// Logger is the JSON logger every runtime writes its one line per outcome
// with, at STOPPER_LOG_LEVEL.
func (c Config) Logger(w io.Writer) *slog.Logger {
	level, _ := c.Level()
	return NewLogger(w, level)
}
