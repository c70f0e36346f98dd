package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// The organisation the accounts run sweeps: -accounts-n members of a
// Resource Directory, each with the function's role, and in each of
// accountRegions one stale and one fresh invocation.
var accountRegions = []string{"cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen", "ap-southeast-1"}

// stsQuota is STS's documented limit: 100 calls a second per region,
// action and account.
const stsQuota = 100

// lambdaTimeout is Lambda's longest invocation: what the largest
// organisation one invocation sweeps is measured against.
const lambdaTimeout = 15 * time.Minute

// accountsFleet is the organisation: n members after the management
// account (the function's key), each one's role trusting it.
func accountsFleet(n int, now time.Time) (*emulator.Fleet, []string) {
	old, fresh := now.Add(-3*time.Hour).UTC().Format(time.RFC3339), now.Add(-10*time.Minute).UTC().Format(time.RFC3339)
	f := &emulator.Fleet{ResourceDirectory: &emulator.ResourceDirectory{}}
	var members []string
	for a := range n {
		id := fmt.Sprintf("2%015d", a+1)
		members = append(members, id)
		acct := emulator.AccountFleet{AccountId: id}
		for r, region := range accountRegions {
			for i, created := range []string{old, fresh} {
				inv := fmt.Sprintf("t-acct%06dr%di%d", a, r, i)
				acct.Invocations = append(acct.Invocations, ca.Invocation{RegionId: region, InvokeId: inv, CommandName: "backup",
					CommandType: "RunShellScript", RepeatMode: ca.RepeatOnce, CreationTime: created,
					InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{{
						InstanceId: "i-" + inv[2:], InvocationStatus: ca.StatusRunning, CreationTime: created}}}})
			}
		}
		f.Accounts = append(f.Accounts, acct)
		f.Roles = append(f.Roles, emulator.Role{Arn: "acs:ram::" + id + ":role/ecs-stopper",
			Trust: []string{"acs:ram::" + emulator.DefaultAccountId + ":root"}})
	}
	f.ResourceDirectory.Members = members
	return f, members
}

// accountsResult is one dry-run sweep of the organisation.
type accountsResult struct {
	wouldStop, failed, skipped int
	truncated                  bool
	firstSkipped               string
	elapsed                    time.Duration
	rss                        int64
	describes, assumeCalls     int // as the emulator counted them, throttled ones included
	assumes                    int // the AssumeRole calls that issued credentials
}

// runAccountsSweep sweeps the organisation once, as a dry run, with the
// function process pointed at an emulator throttled per account (qps,
// burst) that answers each call after latency.
func runAccountsSweep(api *runtimeAPI, bin string, env []string, n int, qps float64, burst int, latency time.Duration, timeout time.Duration) (res accountsResult, err error) {
	fleet, _ := accountsFleet(n, time.Now())
	emu, err := emulator.Listen("127.0.0.1:0", emulator.Options{AccessKeyID: emuKeyID, AccessKeySecret: emuKeySecret,
		Fleet: fleet, ThrottleQPS: qps, ThrottleBurst: burst, STSThrottleQPS: stsQuota, Latency: latency})
	if err != nil {
		return res, err
	}
	defer emu.Close()
	env = append(env[:len(env):len(env)], "STOPPER_ECS_ENDPOINT="+emu.URL, "STOPPER_ACCOUNTS=resource-directory",
		"STOPPER_SWEEP_REGION_IDS="+strings.Join(accountRegions, ","), "STOPPER_SWEEP_OLDER_THAN=1h", "STOPPER_SWEEP_MAX_STOPS=0")

	a, elapsed, rss, err := sweepOnce(api, bin, env, "bench-accounts", `{"Action":"Sweep","DryRun":true}`, timeout)
	res.elapsed, res.rss = elapsed, rss
	if err != nil {
		return res, err
	}
	var body struct {
		WouldStop, Failed, Skipped []json.RawMessage
		Truncated                  bool
	}
	if err := json.Unmarshal(a.body, &body); err != nil {
		return res, fmt.Errorf("the sweep's answer %.200s: %w", a.body, err)
	}
	res.wouldStop, res.failed, res.skipped, res.truncated = len(body.WouldStop), len(body.Failed), len(body.Skipped), body.Truncated
	if len(body.Skipped) > 0 {
		res.firstSkipped = string(body.Skipped[0])
	}
	res.describes, res.assumeCalls, res.assumes = emu.Calls("DescribeInvocations"), emu.Calls("AssumeRole"), emu.Succeeded("AssumeRole")
	return res, nil
}

// accountsRow measures a dry-run sweep of an organisation against the
// bound the concurrency setting puts on it: with calls answered after
// latency, concurrency calls in flight at most make concurrency/latency
// calls a second, unless the accounts' quotas together allow fewer.
func (b *bencher) accountsRow(api *runtimeAPI, lambda *artifact) {
	n, qps, latency := b.o.accountsN, b.o.accountsRate, b.o.accountsLatency
	fig := fmt.Sprintf("Dry-run sweep, %s accounts × %d regions, throttled per account", thousands(n), len(accountRegions))
	if lambda.path == "" {
		b.fail(fig, fmt.Errorf("the bootstrap did not build"))
		return
	}
	const concurrency = 8 // STOPPER_SWEEP_CONCURRENCY's default
	burst := max(1, int(qps*b.o.burstSeconds))
	b.logf("accounts: dry-run sweep of %d accounts × %d regions, %g QPS per account, %s per call", n, len(accountRegions), qps, latency)
	res, err := runAccountsSweep(api, lambda.path, lambdaEnv(api.addr), n, qps, burst, latency, b.o.sweepTimeout)
	if err == nil && (res.wouldStop != n*len(accountRegions) || res.failed != 0 || res.skipped != 0 || res.truncated) {
		err = fmt.Errorf("would stop %d of %d, failed %d, skipped %d (first: %s), truncated %v", res.wouldStop, n*len(accountRegions), res.failed, res.skipped, res.firstSkipped, res.truncated)
	}
	if err != nil {
		b.fail(fig, err)
		return
	}
	bound := min(float64(concurrency)/latency.Seconds(), qps*float64(n)) // calls a second
	ideal := time.Duration(float64(res.describes) / bound * float64(time.Second))
	r := ideal.Seconds() / res.elapsed.Seconds()
	b.add(row{fig, fmt.Sprintf("%.2f s for %s DescribeInvocations calls (%.0f calls/s)", res.elapsed.Seconds(),
		thousands(res.describes), float64(res.describes)/res.elapsed.Seconds()),
		fmt.Sprintf("%.2f s at %.0f calls/s (%d in flight × %s, under %g QPS × %d accounts)", ideal.Seconds(), bound, concurrency, latency, qps, n),
		fmt.Sprintf("%.2f×", r), fmt.Sprintf("≥ %.2f×", minSweepFraction), verdict(r >= minSweepFraction)})
	rr := float64(res.rss) / maxSweepRSS
	b.add(row{fmt.Sprintf("Peak RSS, the same sweep of %s accounts", thousands(n)), mib(res.rss), mib(maxSweepRSS) + " limit",
		fmt.Sprintf("%.2f×", rr), "< 64 MiB", verdict(res.rss < maxSweepRSS)})
	b.add(row{"STS AssumeRole exchanges in the same sweep", fmt.Sprintf("%d (%d calls with the throttled ones)", res.assumes, res.assumeCalls), fmt.Sprintf("%d accounts", n),
		fmt.Sprintf("%.2f×", float64(res.assumes)/float64(n)), "1 per account", verdict(res.assumes == n)})
	perAccount := res.elapsed / time.Duration(n)
	largest := int((lambdaTimeout - 3*time.Second) / perAccount)
	b.notes = append(b.notes, fmt.Sprintf("Accounts: a dry-run sweep (`{\"Action\":\"Sweep\",\"DryRun\":true}`, `STOPPER_ACCOUNTS=resource-directory`, the default `STOPPER_SWEEP_CONCURRENCY` of %d) of %d Resource Directory members × %d regions, each account with one stale and one fresh invocation per region, against the emulator answering each call after %s and throttling each account's calls per action at %g QPS (burst %d). Every member's role is assumed once, against STS's own quota of %d calls a second. At %s per account, one Lambda invocation (15 minutes, less the 3 s reserve) sweeps about %s such accounts × %d regions; FC's longest invocation (24 hours) is not the limit in practice. Past that, split the organisation across several schedules with explicit STOPPER_ACCOUNTS lists.",
		concurrency, n, len(accountRegions), latency, qps, burst, stsQuota, perAccount.Round(time.Millisecond), thousands(largest), len(accountRegions)))
}
