package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/sts"
)

// The runner against a real account: before anything else it says on
// stderr where it is about to act — the endpoint, the credentials' source,
// and the account and principal STS GetCallerIdentity names. Unless the
// operator said -yes, only dry runs go on: a request that is not one is
// refused before it reads or stops anything (stopper.Function.DryRunsOnly),
// and the runner exits 2. A developer who meant the emulator and has an
// account's keys exported learns it before a stop is sent, not after.

// errRefused is guard's refusal; it has said why on stderr already.
var errRefused = errors.New("refused to act on a real account")

// realEndpoint reports whether an endpoint URL names a host that is not
// this machine. An emulator is reached on loopback; anything else is taken
// for an account's API, proxies and private endpoints included.
func realEndpoint(endpoint string) bool {
	return !acs.LoopbackURL(endpoint)
}

// defaultSTSEndpoint is the STS endpoint that goes with an ECS endpoint:
// the region's STS, public or VPC as the ECS host is; otherwise (an
// emulator, a proxy, a private endpoint) the ECS endpoint itself, since the
// emulator serves both on one listener.
func defaultSTSEndpoint(ecsEndpoint string) string {
	u, err := url.Parse(ecsEndpoint)
	if err != nil {
		return ecsEndpoint
	}
	host := strings.ToLower(u.Hostname())
	if host == "ecs.aliyuncs.com" {
		return "https://sts.aliyuncs.com"
	}
	for _, h := range []struct {
		prefix string
		vpc    bool
	}{{"ecs.", false}, {"ecs-vpc.", true}} {
		region, ok := strings.CutPrefix(host, h.prefix)
		if !ok {
			continue
		}
		region, ok = strings.CutSuffix(region, ".aliyuncs.com")
		if ok && region != "" && !strings.Contains(region, ".") {
			return sts.Endpoint(region, h.vpc)
		}
	}
	return strings.TrimRight(ecsEndpoint, "/")
}

// guard prints the banner for a real account and decides whether the run
// may go on; it returns errRefused (exit 2) when it may not. Without a real
// endpoint it says and does nothing.
func (b *backend) guard(ctx context.Context, command string, bf *backendFlags, stderr io.Writer) error {
	if !b.real {
		return nil
	}
	yes, secretFlag := bf.yes, len(bf.setFlags([]string{"access-key-secret"})) > 0
	p := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	p("local %s: -endpoint is not on this machine: this run acts on a real Alibaba Cloud account", command)
	p("  endpoint:      %s", b.cfg.ECSEndpoint)
	p("  STS endpoint:  %s", b.stsEndpoint)
	p("  credentials:   %s", b.credentialsLine())

	id, err := b.callerIdentity(ctx)
	if err == nil {
		p("  account:       %s", id.AccountId)
		p("  principal:     %s (%s)", id.Arn, id.IdentityType)
		switch {
		case b.forceDryRun:
			p("  requests:      dry runs (-dry-run): nothing is stopped")
		case yes:
			p("  requests:      as they say (-yes): stops are sent unless a request is a dry run")
		default:
			p("  requests:      dry runs only: one that is not a dry run is refused (add -yes to act on account %s)", id.AccountId)
		}
	}
	if secretFlag {
		p("local %s: warning: -access-key-secret puts the secret in your shell history and in the process list, "+
			"and is deprecated with a real -endpoint: export ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET instead", command)
	}
	if err != nil {
		p("local %s: GetCallerIdentity failed, so nothing else was sent: %s", command, identityError(err))
		p("local %s: check the credentials (%s) and -sts-endpoint", command, b.id.Source)
		return errRefused
	}
	b.accountId = id.AccountId
	b.dryRunsOnly = !yes && !b.forceDryRun
	return nil
}

// refusal is the line that ends a run whose request was refused for not
// being a dry run (exit 2), or "" when it was not.
func (b *backend) refusal(command string, r *stopper.Report) string {
	if !b.dryRunsOnly || r == nil {
		return ""
	}
	for _, f := range r.Failed {
		if f.Code == stopper.CodeDryRunRequired {
			return fmt.Sprintf("local %s: refused: the request is not a dry run and -yes was not given, so it was not carried out "+
				"(nothing was stopped); add -dry-run to see what it would stop, or -yes to act on account %s", command, b.accountId)
		}
	}
	return ""
}

// credentialsLine names where the credentials came from, which key a
// fixed pair is (masked), and the role assumed on top.
func (b *backend) credentialsLine() string {
	line := b.id.Source
	if b.keyLine != "" {
		line += " (" + b.keyLine + ")"
	}
	if b.id.RoleArn != "" {
		line += ", assuming " + b.id.RoleArn
	}
	return line
}

func (b *backend) callerIdentity(ctx context.Context) (sts.Identity, error) {
	cred, err := b.id.Provider.Credentials(ctx)
	if err != nil {
		return sts.Identity{}, err
	}
	client, err := sts.New(sts.Options{Endpoint: b.stsEndpoint, Credentials: cred, Transport: apiTransport})
	if err != nil {
		return sts.Identity{}, fmt.Errorf("-sts-endpoint: %w", err)
	}
	return client.GetCallerIdentity(ctx)
}

// identityError is STS's code and message when it answered, else the error.
func identityError(err error) string {
	var e *sts.Error
	if errors.As(err, &e) {
		return oneLine(fmt.Sprintf("%s: %s (HTTP %d, RequestId %s)", e.Code, e.Message, e.HTTPStatus, e.RequestId))
	}
	return oneLine(err.Error())
}
