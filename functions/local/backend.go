package main

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"slices"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/config"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// The key pair the embedded emulator accepts unless flags say otherwise. It
// guards nothing but a local, in-memory fleet.
const (
	localAccessKeyID     = "LTAI-local-emulator"
	localAccessKeySecret = "local-emulator-secret"
)

// backendFlags are the flags invoke and serve share: where the Cloud
// Assistant API is, and with which fleet and keys.
type backendFlags struct {
	endpoint, fleet, accessKeyID, accessKeySecret string
}

func (b *backendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.endpoint, "endpoint", "", "Cloud Assistant API URL; empty embeds the emulator (real endpoints use ALIBABA_CLOUD_* credentials)")
	fs.StringVar(&b.fleet, "fleet", "", "fleet file for the embedded emulator (default: the built-in sample fleet)")
	fs.StringVar(&b.accessKeyID, "access-key-id", "", "AccessKey id (embedded emulator: its key pair; default "+localAccessKeyID+")")
	fs.StringVar(&b.accessKeySecret, "access-key-secret", "", "AccessKey secret (embedded emulator: its key pair)")
}

// backend is a configured function environment: the settings, the
// credentials to call with, and the embedded emulator when there is one.
type backend struct {
	cfg  config.Config
	cred acs.Credentials
	emu  *emulator.Server
	stop func()
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
	if b.endpoint != "" {
		cfg.ECSEndpoint = b.endpoint
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("-endpoint: %w", err)
		}
		cred := config.Credentials()
		if b.accessKeyID != "" || b.accessKeySecret != "" {
			cred = acs.Credentials{AccessKeyID: b.accessKeyID, AccessKeySecret: b.accessKeySecret}
		}
		if !cred.Set() {
			return nil, errors.New("-endpoint needs credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or -access-key-id and -access-key-secret")
		}
		return &backend{cfg: cfg, cred: cred, stop: func() {}}, nil
	}

	fleet := emulator.SampleFleet()
	if b.fleet != "" {
		if fleet, err = emulator.LoadFleet(b.fleet); err != nil {
			return nil, err
		}
	}
	cred := acs.Credentials{AccessKeyID: cmp.Or(b.accessKeyID, localAccessKeyID), AccessKeySecret: cmp.Or(b.accessKeySecret, localAccessKeySecret)}
	emu, err := emulator.Listen("127.0.0.1:0", emulator.Options{AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret, Fleet: fleet, Log: log})
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
	if cfg.WebhookSecret == "" && !cfg.WebhookInsecure {
		cfg.WebhookSecret = randomHex(32)
		log.Info("local: STOPPER_WEBHOOK_SECRET is unset; using a random secret for this run (unsigned webhook samples are signed with it)")
	}
	log.Info("local: embedded Cloud Assistant emulator", "endpoint", cfg.ECSEndpoint, "invocations", len(fleet.Invocations), "regions", regions)
	return &backend{cfg: cfg, cred: cred, emu: emu.Server, stop: func() { emu.Close() }}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
