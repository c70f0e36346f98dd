package main

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/config"
	"github.com/ecs-stopper/stopper/shared/credentials"
	"github.com/ecs-stopper/stopper/shared/ecs"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/notify"
	"github.com/ecs-stopper/stopper/shared/trigger"
)

// The key pair the embedded emulator accepts unless flags say otherwise. It
// guards nothing but a local, in-memory fleet.
const (
	localAccessKeyID     = "LTAI-local-emulator"
	localAccessKeySecret = "local-emulator-secret"
)

// backendFlags are the flags invoke and serve share: where the Cloud
// Assistant API is, with which fleet and keys, and what the runner may do
// to a real account.
type backendFlags struct {
	endpoint, stsEndpoint, fleet, accessKeyID, accessKeySecret string
	yes, dryRun                                                bool
	modes                                                      modeFlags
	fs                                                         *flag.FlagSet
}

func (b *backendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.endpoint, "endpoint", "", "Cloud Assistant API URL; empty embeds the emulator (a real endpoint, not on this machine, is a real account: it uses ALIBABA_CLOUD_* credentials and needs -yes or -dry-run)")
	fs.StringVar(&b.stsEndpoint, "sts-endpoint", "", "with a real -endpoint, the STS URL that says whose account the credentials act in (default: https://sts.<region>.aliyuncs.com for -endpoint https://ecs.<region>.aliyuncs.com, https://sts-vpc.<region>.aliyuncs.com for ecs-vpc, else -endpoint itself)")
	fs.BoolVar(&b.yes, "yes", false, "act on the real account -endpoint reaches: without it, a request that is not a dry run is refused (exit 2)")
	fs.BoolVar(&b.dryRun, "dry-run", false, "make every request a dry run, whatever it says: nothing is stopped")
	fs.StringVar(&b.fleet, "fleet", "", "fleet file for the embedded emulator (default: the built-in sample fleet)")
	fs.StringVar(&b.accessKeyID, "access-key-id", "", "AccessKey id (embedded emulator: its key pair; default "+localAccessKeyID+"; a real -endpoint: prefer ALIBABA_CLOUD_ACCESS_KEY_ID)")
	fs.StringVar(&b.accessKeySecret, "access-key-secret", "", "AccessKey secret (embedded emulator: its key pair; deprecated with a real -endpoint, where it leaves the secret in the shell history and the process list: export ALIBABA_CLOUD_ACCESS_KEY_SECRET)")
	b.modes.register(fs, "embedded emulator: ")
	b.fs = fs
}

// modeFlags choose the emulator's behaviours where the real API's is
// uncertain: what a stop does to running work, and what NextToken is.
type modeFlags struct {
	stopMode, cursor choiceFlag
	killDelay        delayFlag
}

// modeFlagNames are the flags that only mean something to an emulator.
var modeFlagNames = []string{"stop-mode", "kill-delay", "cursor"}

func (m *modeFlags) register(fs *flag.FlagSet, prefix string) {
	m.stopMode = choiceFlag{value: emulator.StopModeDocumented, choices: emulator.StopModes}
	m.cursor = choiceFlag{value: emulator.CursorStable, choices: emulator.Cursors}
	m.killDelay = delayFlag{d: emulator.DefaultKillDelay}
	fs.Var(&m.stopMode, "stop-mode", prefix+"what a stop does to running work (the stop `mode`): documented (the API page: started runs finish, pending ones are cancelled) or kill (the agent's source: running ones become Stopping, then Terminated after -kill-delay)")
	fs.Var(&m.killDelay, "kill-delay", prefix+"with -stop-mode kill, how long (a `duration`) a killed instance stays Stopping before it is Terminated")
	fs.Var(&m.cursor, "cursor", prefix+"what DescribeInvocations' NextToken is (the `kind`): stable (a position that survives stops between pages) or offset (an offset into the current filtered listing: a caller that stops while paging skips items)")
}

// apply sets the modes on emulator options.
func (m *modeFlags) apply(o *emulator.Options) {
	o.StopMode, o.Cursor, o.KillDelay = m.stopMode.value, m.cursor.value, m.killDelay.d
}

// choiceFlag is a string flag that takes one of a few values; a bad value is
// refused while parsing, naming the flag and the values.
type choiceFlag struct {
	value   string
	choices []string
}

func (c *choiceFlag) String() string {
	if c == nil {
		return ""
	}
	return c.value
}

func (c *choiceFlag) Set(v string) error {
	if !slices.Contains(c.choices, v) {
		return fmt.Errorf("want %s", strings.Join(c.choices, " or "))
	}
	c.value = v
	return nil
}

// delayFlag is a positive duration flag (the emulator reads zero as its
// default, which a user asking for 0 would not expect).
type delayFlag struct{ d time.Duration }

func (f *delayFlag) String() string {
	if f == nil {
		return ""
	}
	return f.d.String()
}

func (f *delayFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return errors.New("want a duration such as 1s or 250ms")
	}
	if d <= 0 {
		return errors.New("must be positive (1ms is almost at once)")
	}
	f.d = d
	return nil
}

// backend is a configured function environment: the settings, the
// credentials to call with, and the embedded emulator when there is one.
type backend struct {
	cfg config.Config
	// id is where the credentials come from: the emulator's pair, the
	// flags' pair, or the chain (docs/identity.md) with the aliyun CLI's
	// profile allowed.
	id   credentials.Identity
	emu  *emulator.Server
	stop func()
	// real is set when -endpoint's host is not this machine: a real
	// account, which guard stands in front of.
	real bool
	// keyLine names a fixed pair's key, masked, for the banner: "" for
	// other sources.
	keyLine string
	// stsEndpoint is where guard asks whose account the credentials act in.
	stsEndpoint string
	// generatedSecret is set when the webhook secret was made up for this
	// run, for the embedded emulator only: it may be shown.
	generatedSecret bool
	// forceDryRun is -dry-run: every request a dry run, whatever it says.
	forceDryRun bool
	// dryRunsOnly refuses every request that is not a dry run: a real
	// account without -yes (guard).
	dryRunsOnly bool
	// accountId is the real account guard found the credentials in.
	accountId string
}

// apiTransport, when set, carries every call the runner makes to an
// Alibaba Cloud API, STS's and ECS's alike; nil leaves each client its own.
// Tests set it to reach an emulator served over TLS under the real host
// names, so that the real-account path runs without leaving the machine.
var apiTransport http.RoundTripper

// handler is the function on this backend, with its metrics as on FC: one
// log line per request. -dry-run makes every request a dry run.
func (b *backend) handler(log *slog.Logger) (*trigger.Handler, error) {
	h, err := b.cfg.Handler(b.id, log)
	if err != nil {
		return nil, err
	}
	if apiTransport != nil {
		client, err := ecs.New(ecs.Options{Provider: b.id.Provider, Endpoint: b.cfg.ECSEndpoint, Network: b.cfg.ECSNetwork,
			Transport: apiTransport, Log: log})
		if err != nil {
			return nil, err
		}
		h.Function.API = client
	}
	h.Function.Metrics = notify.LogMetrics{Log: log}
	h.Function.ForceDryRun = b.forceDryRun
	h.Function.DryRunsOnly = b.dryRunsOnly
	return h, nil
}

// start loads the configuration and, without -endpoint, starts the embedded
// emulator on a loopback port and points the function at it. Defaults that
// only make sense locally (a region, a webhook secret) are filled in and
// logged, never silently.
func (b *backendFlags) start(log *slog.Logger) (*backend, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, err
	}
	if b.endpoint == "" && b.stsEndpoint != "" {
		return nil, errors.New("-sts-endpoint goes with a real -endpoint: the embedded emulator serves STS itself")
	}
	if b.endpoint != "" {
		if set := b.setFlags(modeFlagNames); len(set) > 0 {
			verb := "is"
			if len(set) > 1 {
				verb = "are"
			}
			return nil, fmt.Errorf("%s %s for the embedded emulator and cannot be used with -endpoint (a real endpoint behaves as it does)",
				strings.Join(set, ", "), verb)
		}
		cfg.ECSEndpoint = b.endpoint
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("-endpoint: %w", err)
		}
		stsEndpoint := cmp.Or(b.stsEndpoint, cfg.STSEndpoint, defaultSTSEndpoint(cfg.ECSEndpoint))
		cfg.STSEndpoint = stsEndpoint // the credentials' exchanges too, not the ECS endpoint
		id, err := b.identity(cfg, log)
		if err != nil {
			return nil, fmt.Errorf("-endpoint needs credentials: %w", err)
		}
		return &backend{cfg: cfg, id: id, keyLine: b.keyLine(id), real: realEndpoint(cfg.ECSEndpoint),
			stsEndpoint: stsEndpoint, forceDryRun: b.dryRun, stop: func() {}}, nil
	}

	fleet := emulator.SampleFleet()
	if b.fleet != "" {
		if fleet, err = emulator.LoadFleet(b.fleet); err != nil {
			return nil, err
		}
	}
	cred := acs.Credentials{AccessKeyID: cmp.Or(b.accessKeyID, localAccessKeyID), AccessKeySecret: cmp.Or(b.accessKeySecret, localAccessKeySecret)}
	opts := emulator.Options{AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret, Fleet: fleet, Log: log}
	b.modes.apply(&opts)
	emu, err := emulator.Listen("127.0.0.1:0", opts)
	if err != nil {
		return nil, fmt.Errorf("embedded emulator: %w", err)
	}
	cfg.ECSEndpoint = emu.URL

	var regions []string
	for _, inv := range fleet.Invocations {
		if !slices.Contains(regions, inv.RegionId) {
			regions = append(regions, inv.RegionId)
		}
	}
	slices.Sort(regions)
	if cfg.RegionId == "" && len(regions) > 0 {
		cfg.RegionId = regions[0]
		log.Info("local: STOPPER_REGION_ID is unset; using the fleet's first region", "region_id", cfg.RegionId)
	}
	if len(cfg.SweepRegionIds) == 0 {
		cfg.SweepRegionIds = regions
	}
	generated := false
	if cfg.WebhookSecret == "" && !cfg.WebhookInsecure {
		cfg.WebhookSecret, generated = randomHex(32), true
		log.Info("local: STOPPER_WEBHOOK_SECRET is unset; using a random secret for this run (unsigned webhook samples are signed with it)")
	}
	log.Info("local: embedded Cloud Assistant emulator", "endpoint", cfg.ECSEndpoint, "invocations", len(fleet.Invocations), "regions", regions,
		"stop_mode", opts.StopMode, "kill_delay", b.modes.killDelay.d.String(), "cursor", opts.Cursor)
	return &backend{cfg: cfg, id: credentials.Identity{Provider: acs.Static(cred), Source: sourceEmulator}, emu: emu.Server, stop: func() { emu.Close() },
		generatedSecret: generated, forceDryRun: b.dryRun}, nil
}

// Where the local runner's credentials come from, besides the chain's sources.
const (
	sourceFlags    = "flags"    // -access-key-id, -access-key-secret
	sourceEmulator = "emulator" // the embedded emulator's pair
)

// identity is the flags' pair when given, else the chain with the aliyun
// CLI's profile allowed (docs/identity.md).
func (b *backendFlags) identity(cfg config.Config, log *slog.Logger) (credentials.Identity, error) {
	if b.accessKeyID != "" || b.accessKeySecret != "" {
		cred := acs.Credentials{AccessKeyID: b.accessKeyID, AccessKeySecret: b.accessKeySecret}
		if !cred.Set() {
			return credentials.Identity{}, errors.New("give both -access-key-id and -access-key-secret")
		}
		id := credentials.Identity{Provider: acs.Static(cred), Source: sourceFlags}
		return cfg.OnTopOf(id, config.IdentityOptions{Transport: apiTransport, Log: log})
	}
	return cfg.Identity(config.IdentityOptions{AllowCLIProfile: true, Transport: apiTransport, Log: log})
}

// keyLine is the banner's word on a fixed pair: which key, masked.
func (b *backendFlags) keyLine(id credentials.Identity) string {
	switch id.Source {
	case sourceFlags:
		return "-access-key-id " + acs.MaskKeyID(b.accessKeyID)
	case credentials.SourceEnv:
		line := "ALIBABA_CLOUD_ACCESS_KEY_ID " + acs.MaskKeyID(os.Getenv(credentials.EnvAccessKeyID))
		if os.Getenv(credentials.EnvSecurityToken) != "" {
			line += ", with ALIBABA_CLOUD_SECURITY_TOKEN"
		}
		return line
	}
	return ""
}

// setFlags lists, as -name, those of names that were given on the command line.
func (b *backendFlags) setFlags(names []string) []string {
	var set []string
	if b.fs == nil {
		return nil
	}
	b.fs.Visit(func(f *flag.Flag) {
		if slices.Contains(names, f.Name) {
			set = append(set, "-"+f.Name)
		}
	})
	return set
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
