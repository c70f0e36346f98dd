package emulator

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// Fleet is the emulator's starting state: invocations exactly as elements of
// DescribeInvocations' Invocations.Invocation, each with its RegionId. The
// invocation-level status may be left out; it is derived from the instances.
type Fleet struct {
	// Invocations are the default account's (Options.AccountId).
	Invocations []ca.Invocation `json:"Invocations"`
	// Accounts are the other accounts and their invocations.
	Accounts []AccountFleet `json:"Accounts,omitempty"`
	// Roles are the RAM roles STS lets callers assume, in any account.
	Roles []Role `json:"Roles,omitempty"`
	// OIDCProviders are the OIDC identity providers AssumeRoleWithOIDC
	// trusts tokens of.
	OIDCProviders []OIDCProvider `json:"OIDCProviders,omitempty"`
	// ResourceDirectory, when set, is the default account's resource
	// directory, which ListAccounts answers from.
	ResourceDirectory *ResourceDirectory `json:"ResourceDirectory,omitempty"`
}

// AccountFleet is one more account's invocations.
type AccountFleet struct {
	AccountId   string          `json:"AccountId"`
	Invocations []ca.Invocation `json:"Invocations"`
}

// Role is a RAM role: its ARN (acs:ram::<16-digit account>:role/<name>),
// who may assume it (Trust) and, optionally, the external id AssumeRole
// must carry and the OIDC subjects AssumeRoleWithOIDC accepts.
type Role struct {
	Arn string `json:"Arn"`
	// Trust entries: acs:ram::<account>:root (any key or role of that
	// account), a role ARN (sessions of that role), or oidc:<provider ARN>.
	Trust []string `json:"Trust"`
	// OIDCSubjects, when present, must hold an OIDC token's sub.
	OIDCSubjects []string `json:"OIDCSubjects,omitempty"`
	// ExternalId, when set, must equal AssumeRole's ExternalId (a trust
	// policy's sts:ExternalId condition).
	ExternalId string `json:"ExternalId,omitempty"`
}

// OIDCProvider is an OIDC identity provider registered in RAM.
type OIDCProvider struct {
	Arn       string `json:"Arn"`
	IssuerUrl string `json:"IssuerUrl"`
	// JwksUrl is where the provider's signing keys are fetched: an http or
	// https URL on a loopback host, so that the emulator never leaves the
	// machine.
	JwksUrl   string   `json:"JwksUrl"`
	ClientIds []string `json:"ClientIds"`
}

// ResourceDirectory lists the member accounts of the default account's
// resource directory.
type ResourceDirectory struct {
	Members []string `json:"Members"`
}

//go:embed sample-fleet.json
var sampleFleet []byte

// SampleFleetAnchor is the instant sample-fleet.json is written as of: its
// times are that far in the past of it. SampleFleetAt moves every time by
// now minus this anchor, so that the fleet's ages (a run started 5 hours
// ago, a rollout 15 minutes ago) stay what they were written to be,
// whenever it is loaded.
const SampleFleetAnchor = "2026-11-26T09:00:00Z"

// The sample fleet's invocations the owner-tag and fail-fast features are
// shown on (cn-hangzhou; ages as of the anchor):
//
//	t-hz0protected0dbmigrate0a1b2c3d   db-migrate, 5h, Running, stopper:protect=true
//	t-hz0ttlshort0cachewarm0a1b2c3d    cache-warm, 50m, Running + Pending, stopper:ttl=30m (stale by its ttl)
//	t-hz0ttllong0backupfull0a1b2c3d    backup-full, 3h, Running, stopper:ttl=6h (not stale yet)
//	t-hz0badttl0reportgen0a1b2c3d4e    report-gen, 4h, Running, stopper:ttl=soon (bad value)
//	t-hz0fresh0deployapp0a1b2c3d4e5    deploy-app, 10m, Running, no owner tag
//	t-hz0rolloutagent0a1b2c3d4e5f6a    rollout-agent, 15m, Failed x2, Running, Pending x2, stopper:max-errors=2
//	t-hz0rolloutcanary0a1b2c3d4e5f6    rollout-canary, 15m, Failed, Running, Pending x2, stopper:max-errors=3
//	t-hz0rolloutuntagged0a1b2c3d4e5    rollout-untagged, 15m, Failed, Pending x2, no stopper tag
//	t-hz0rolloutprotected0a1b2c3d4e    rollout-protected, 15m, Failed x2, Pending, stopper:protect=true, stopper:max-errors=1
//
// The older ones (t-1fad2a8876de47068cc734d57703aa76 and the t-hz0*/t-sh0*
// ones, days old) show one-time, periodic, reboot, finished, partly failed
// and cancelled invocations.

// SampleFleet is the sample fleet as of now (SampleFleetAt(time.Now())).
func SampleFleet() *Fleet { return SampleFleetAt(time.Now()) }

// SampleFleetAt is the fleet the sample events refer to, with every time
// moved by now minus SampleFleetAnchor (whole seconds), as a fresh copy each
// call so that callers may change it. Tests with a fixed clock pass it here.
func SampleFleetAt(now time.Time) *Fleet {
	f, err := ParseFleet(sampleFleet)
	if err != nil {
		panic("emulator: embedded sample-fleet.json is invalid: " + err.Error())
	}
	anchor, _ := time.Parse(time.RFC3339, SampleFleetAnchor)
	shift := now.Sub(anchor).Truncate(time.Second)
	move := func(v *string) {
		if *v == "" {
			return
		}
		t, err := time.Parse(time.RFC3339, *v)
		if err != nil {
			panic("emulator: embedded sample-fleet.json has a bad time " + *v)
		}
		*v = t.Add(shift).UTC().Format(timeLayout)
	}
	for i := range f.Invocations {
		inv := &f.Invocations[i]
		move(&inv.CreationTime)
		for j := range inv.InvokeInstances.InvokeInstance {
			in := &inv.InvokeInstances.InvokeInstance[j]
			for _, v := range []*string{&in.CreationTime, &in.StartTime, &in.UpdateTime, &in.FinishTime, &in.StopTime} {
				move(v)
			}
		}
	}
	return f
}

// LoadFleet reads and checks a fleet file; errors name the file and the entry.
func LoadFleet(path string) (*Fleet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	f, err := ParseFleet(data)
	if err != nil {
		return nil, fmt.Errorf("fleet %s: %w", path, err)
	}
	return f, nil
}

// ParseFleet decodes and checks a fleet. Unknown fields are tolerated so that
// a real DescribeInvocations answer, with fields this project does not model,
// can be pasted in.
//
// The identity sections (Accounts, Roles, OIDCProviders, ResourceDirectory)
// are decoded strictly: a misspelt key there would silently change who may
// do what, so it is refused with the field's name.
func ParseFleet(data []byte) (*Fleet, error) {
	var top struct {
		Invocations       []ca.Invocation `json:"Invocations"`
		Accounts          json.RawMessage `json:"Accounts"`
		Roles             json.RawMessage `json:"Roles"`
		OIDCProviders     json.RawMessage `json:"OIDCProviders"`
		ResourceDirectory json.RawMessage `json:"ResourceDirectory"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("not a fleet (want {\"Invocations\": [...]}): %w", err)
	}
	f := Fleet{Invocations: top.Invocations}
	if err := checkInvocations(f.Invocations); err != nil {
		return nil, err
	}
	if err := parseIdentity(&f, top.Accounts, top.Roles, top.OIDCProviders, top.ResourceDirectory); err != nil {
		return nil, err
	}
	return &f, nil
}

// checkInvocations checks one account's invocations.
func checkInvocations(invs []ca.Invocation) error {
	seen := map[string]int{}
	for i, inv := range invs {
		if _, err := newRecord(inv, time.Time{}); err != nil {
			return fmt.Errorf("invocation #%d%s: %w", i+1, label(inv), err)
		}
		key := inv.RegionId + "/" + inv.InvokeId
		if j, dup := seen[key]; dup {
			return fmt.Errorf("invocation #%d%s: duplicate InvokeId in %s (first at #%d)", i+1, label(inv), inv.RegionId, j)
		}
		seen[key] = i + 1
	}
	return nil
}

func label(inv ca.Invocation) string {
	if inv.InvokeId == "" {
		return ""
	}
	return " (" + inv.InvokeId + ")"
}

// newRecord checks an invocation and turns it into a record. An empty
// CreationTime means now (a zero now, as when only checking, keeps it empty);
// an instance without status is Pending.
func newRecord(inv ca.Invocation, now time.Time) (*record, error) {
	if inv.RegionId == "" {
		return nil, errors.New("missing RegionId")
	}
	if inv.InvokeId == "" {
		return nil, errors.New("missing InvokeId")
	}
	inv = copyInvocation(inv)
	r := &record{}
	if inv.CreationTime == "" {
		if !now.IsZero() {
			inv.CreationTime = now.UTC().Format(timeLayout)
		}
		r.created = now
	} else {
		t, err := time.Parse(time.RFC3339, inv.CreationTime)
		if err != nil {
			return nil, fmt.Errorf("bad CreationTime %q (want UTC like 2026-11-20T07:00:00Z)", inv.CreationTime)
		}
		r.created = t
	}
	seen := map[string]bool{}
	for i := range inv.InvokeInstances.InvokeInstance {
		in := &inv.InvokeInstances.InvokeInstance[i]
		if in.InstanceId == "" {
			return nil, fmt.Errorf("instance #%d: missing InstanceId", i+1)
		}
		if seen[in.InstanceId] {
			return nil, fmt.Errorf("instance %s listed twice", in.InstanceId)
		}
		seen[in.InstanceId] = true
		if in.InvocationStatus == "" {
			in.InvocationStatus = ca.StatusPending
		}
		if !instanceStatuses[in.InvocationStatus] {
			return nil, fmt.Errorf("instance %s: unknown InvocationStatus %q", in.InstanceId, in.InvocationStatus)
		}
	}
	r.inv = inv
	r.halted = make([]bool, len(inv.InvokeInstances.InvokeInstance))
	return r, nil
}

// timeLayout is how the API writes times: UTC, seconds.
const timeLayout = "2006-01-02T15:04:05Z"

// knownRegions are real Alibaba Cloud region ids, so that a call to a real
// region with no invocations answers an empty list rather than
// InvalidRegionId.NotFound. Regions named in the fleet are known as well.
var knownRegions = []string{
	"cn-qingdao", "cn-beijing", "cn-zhangjiakou", "cn-huhehaote", "cn-wulanchabu",
	"cn-hangzhou", "cn-shanghai", "cn-nanjing", "cn-fuzhou", "cn-shenzhen", "cn-heyuan",
	"cn-guangzhou", "cn-chengdu", "cn-wuhan-lr", "cn-hongkong",
	"ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-3", "ap-southeast-5",
	"ap-southeast-6", "ap-southeast-7", "ap-south-1",
	"us-west-1", "us-east-1", "eu-central-1", "eu-west-1", "me-east-1", "me-central-1", "na-south-1",
}

// StaleFleet is n one-time invocations of "backup" in region, ids t-late0000
// on, each with one running instance, all created at created: what a sweep
// of anything older must stop, one call each. The deadline tests of every
// runtime use it.
func StaleFleet(region string, n int, created time.Time) *Fleet {
	at := created.UTC().Format(time.RFC3339)
	f := &Fleet{Invocations: make([]ca.Invocation, n)}
	for i := range n {
		f.Invocations[i] = ca.Invocation{
			RegionId: region, InvokeId: fmt.Sprintf("t-late%04d", i), CommandName: "backup",
			CommandType: "RunShellScript", RepeatMode: ca.RepeatOnce, CreationTime: at,
			InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{
				{InstanceId: fmt.Sprintf("i-late%04d", i), InvocationStatus: ca.StatusRunning, CreationTime: at}}},
		}
	}
	return f
}
