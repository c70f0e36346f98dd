package config

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/ecs-stopper/stopper/shared/accounts"
	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/credentials"
	"github.com/ecs-stopper/stopper/shared/ecs"
	"github.com/ecs-stopper/stopper/shared/resourcemanager"
	"github.com/ecs-stopper/stopper/shared/sts"
	"github.com/ecs-stopper/stopper/shared/trigger"
	"github.com/ecs-stopper/stopper/shared/webhook"
)

// Client builds the Cloud Assistant client with these settings, signing
// with what provider hands out.
func (c Config) Client(provider acs.CredentialsProvider, log *slog.Logger) (*ecs.Client, error) {
	client, err := ecs.New(ecs.Options{
		Provider:       provider,
		Endpoint:       c.ECSEndpoint,
		Network:        c.ECSNetwork,
		ConnectTimeout: c.ConnectTimeout,
		ReadTimeout:    c.ReadTimeout,
		MaxAttempts:    c.MaxAttempts,
		// 0 retries after throttling is -1 to the client (0 there is its default).
		MaxThrottleRetries: cmp.Or(c.MaxThrottleRetries, -1),
		Log:                log,
	})
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return client, nil
}

// Handler wires the whole function: client, core and trigger handling.
// Every runtime starts from here, so they behave the same, and each logs
// here, once, what its configuration leaves doubtful or switched off.
// Every line the function logs names where its credentials come from.
func (c Config) Handler(id credentials.Identity, log *slog.Logger) (*trigger.Handler, error) {
	for _, a := range id.LogAttrs() {
		log = log.With(a)
	}
	client, err := c.Client(id.Provider, log)
	if err != nil {
		return nil, err
	}
	for _, w := range c.warnings {
		log.Warn(w)
	}
	if c.WebhookSecret == "" && c.WebhookToken == "" {
		if c.WebhookInsecure {
			log.Warn("STOPPER_WEBHOOK_INSECURE=true and neither STOPPER_WEBHOOK_SECRET nor STOPPER_WEBHOOK_TOKEN: webhooks are accepted without credentials; never do this on a public URL")
		} else {
			log.Warn("webhooks refused: neither STOPPER_WEBHOOK_SECRET nor STOPPER_WEBHOOK_TOKEN is set (timers, events and direct invocations work)")
		}
	}
	fn := c.Function(client, log)
	if len(c.Accounts) > 0 {
		dir, err := c.directory(id, client, log)
		if err != nil {
			return nil, err
		}
		fn.Accounts = dir
		log.Info("accounts", "accounts", strings.Join(c.Accounts, ","), "role_name", c.AccountRoleName)
	}
	notifier, err := c.Notifier(log)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if notifier != nil {
		// A nil *notify.Notifier in the interface would not be nil.
		fn.Notifier = notifier
		log.Info("notifications on", "to", notifier.String())
	}
	return &trigger.Handler{
		Function: fn,
		Webhook: &webhook.Verifier{Secret: c.WebhookSecret, Token: c.WebhookToken, PreviousToken: c.WebhookTokenPrevious,
			Insecure: c.WebhookInsecure},
		Log: log,
	}, nil
}

// directory is STOPPER_ACCOUNTS: the accounts the function acts in, each
// through its role, assumed with the function's own identity.
func (c Config) directory(id credentials.Identity, client *ecs.Client, log *slog.Logger) (*accounts.Directory, error) {
	ep, err := credentials.STSEndpoint(c.STSEndpoint, c.ECSEndpoint, c.ECSNetwork, c.RegionId)
	if err != nil {
		return nil, fmt.Errorf("configuration: STOPPER_ACCOUNTS assumes roles with STS, and %w", err)
	}
	stsClient, err := sts.New(sts.Options{Endpoint: ep})
	if err != nil {
		return nil, fmt.Errorf("configuration: STOPPER_ACCOUNTS: %w", err)
	}
	o := accounts.Options{Accounts: c.Accounts, RoleName: c.AccountRoleName, ExternalID: c.AccountExternalID,
		Base: id, Client: client, STS: stsClient, Log: log}
	if slices.Contains(c.Accounts, accounts.ResourceDirectory) {
		// The emulator answers Resource Manager on its one listener too; a
		// real ECS endpoint override (a proxy) is ECS's only.
		var rm string
		if acs.LoopbackURL(c.ECSEndpoint) {
			rm = c.ECSEndpoint
		}
		if o.Directory, err = resourcemanager.New(resourcemanager.Options{Endpoint: rm, Provider: id.Provider}); err != nil {
			return nil, fmt.Errorf("configuration: STOPPER_ACCOUNTS=resource-directory: %w", err)
		}
	}
	return accounts.New(o)
}
