package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/e2e"
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// One deployment across a Resource Directory, through the local runner's
// whole wiring against the emulator: the management account (the
// runner's key) lists three members; two have the ecs-stopper role, the
// third has not.
const (
	mgmtAccount  = emulator.DefaultAccountId
	memberA      = "1000000000000002"
	memberB      = "1000000000000003"
	memberNoRole = "1000000000000004"
	staleInvoke  = "t-hz0nightlybackup0a1b2c3d4e5f"
	failedInvoke = "t-hz0rolloutagent0a1b2c3d4e5f6a" // events/eventbridge-taskcompleted-member.json's
)

func staleInvocation(now time.Time) ca.Invocation {
	created := now.Add(-3 * time.Hour).UTC().Format(time.RFC3339)
	return ca.Invocation{RegionId: "cn-hangzhou", InvokeId: staleInvoke, CommandName: "nightly-backup", RepeatMode: "Once",
		CreationTime: created, InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{
			{InstanceId: "i-bp1backup0000000001", InvocationStatus: ca.StatusRunning, CreationTime: created}}}}
}

// failedInvocation is the one the member sample event reports: two of its
// instances failed, over its stopper:max-errors of 2... once the third does.
func failedInvocation(now time.Time) ca.Invocation {
	created := now.Add(-10 * time.Minute).UTC().Format(time.RFC3339)
	inst := func(id, status string) ca.InvokeInstance {
		return ca.InvokeInstance{InstanceId: id, InvocationStatus: status, CreationTime: created}
	}
	return ca.Invocation{RegionId: "cn-hangzhou", InvokeId: failedInvoke, CommandName: "rollout-agent", RepeatMode: "Once",
		CreationTime: created, Tags: ca.Tags{Tag: []ca.Tag{{TagKey: "stopper:max-errors", TagValue: "1"}}},
		InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{
			inst("i-bp1agent000000000001", ca.StatusFailed), inst("i-bp1agent000000000002", ca.StatusFailed),
			inst("i-bp1agent000000000003", ca.StatusRunning), inst("i-bp1agent000000000004", ca.StatusPending)}}}
}

func startDirectoryEmulator(t *testing.T) *emulator.Running {
	t.Helper()
	now := time.Now()
	role := func(account string) emulator.Role {
		return emulator.Role{Arn: "acs:ram::" + account + ":role/ecs-stopper", Trust: []string{"acs:ram::" + mgmtAccount + ":root"}}
	}
	fleet := &emulator.Fleet{
		Accounts: []emulator.AccountFleet{
			{AccountId: memberA, Invocations: []ca.Invocation{staleInvocation(now), failedInvocation(now)}},
			{AccountId: memberB, Invocations: []ca.Invocation{staleInvocation(now)}},
			{AccountId: memberNoRole, Invocations: []ca.Invocation{staleInvocation(now)}},
		},
		Roles:             []emulator.Role{role(memberA), role(memberB)},
		ResourceDirectory: &emulator.ResourceDirectory{Members: []string{memberA, memberB, memberNoRole}},
	}
	emu, err := emulator.Listen("127.0.0.1:0", emulator.Options{AccessKeyID: localAccessKeyID, AccessKeySecret: localAccessKeySecret, Fleet: fleet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	t.Setenv("STOPPER_REGION_ID", "cn-hangzhou")
	t.Setenv("STOPPER_ACCOUNTS", "resource-directory")
	return emu
}

func itemsOf(answer map[string]any, key string) []map[string]any {
	var out []map[string]any
	list, _ := answer[key].([]any)
	for _, it := range list {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// A scheduled sweep stops the stale invocation in both members it can
// reach, lists the third as Skipped with STS's code, tags every item with
// its account, and leaves the management account (not a member) alone.
func TestSweepCoversTheResourceDirectory(t *testing.T) {
	emu := startDirectoryEmulator(t)
	code, answer, logs := invokeLogged(t, emu, e2e.ReadEvent(t, "eventbridge-schedule.json"))
	if code != 0 || answer["Action"] != "Sweep" {
		t.Fatalf("exit %d, answer %v\n%s", code, answer, logs)
	}
	stopped := map[string]bool{}
	for _, it := range itemsOf(answer, "Stopped") {
		if it["AccountId"] == nil || it["RegionId"] != "cn-hangzhou" {
			t.Errorf("item without its account: %v", it)
		}
		if it["InvokeId"] == staleInvoke {
			stopped[it["AccountId"].(string)] = true
		}
	}
	if !stopped[memberA] || !stopped[memberB] || len(stopped) != 2 {
		t.Fatalf("stopped in %v, want %s and %s: %v", stopped, memberA, memberB, answer)
	}
	for _, acct := range []string{memberA, memberB} {
		if n := emu.StopCallsIn(acct, "cn-hangzhou", staleInvoke); n != 1 {
			t.Errorf("account %s: %d StopInvocation calls, want 1", acct, n)
		}
	}
	skipped := itemsOf(answer, "Skipped")
	if len(skipped) != 1 || skipped[0]["AccountId"] != memberNoRole || skipped[0]["Code"] != "EntityNotExist.Role" {
		t.Fatalf("Skipped = %v, want %s with EntityNotExist.Role", skipped, memberNoRole)
	}
	if n := emu.StopCallsIn(memberNoRole, "cn-hangzhou", staleInvoke); n != 0 {
		t.Errorf("the account without the role was touched: %d stops", n)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if strings.Contains(line, `"msg":"sweep: stopped"`) && !strings.Contains(line, `"account_id":"`) {
			t.Errorf("a stop's log line names no account: %s", line)
		}
	}
}

// The rails hold for the whole run: two stale invocations in two accounts
// over STOPPER_SWEEP_MAX_STOPS=1 stop nothing anywhere.
func TestMaxStopsCountsEveryAccount(t *testing.T) {
	emu := startDirectoryEmulator(t)
	t.Setenv("STOPPER_SWEEP_MAX_STOPS", "1")
	_, answer, logs := invokeLogged(t, emu, e2e.ReadEvent(t, "eventbridge-schedule.json"))
	if !strings.Contains(logs+answerText(answer), "Sweep.LimitExceeded") {
		t.Fatalf("answer %v: want Sweep.LimitExceeded\n%s", answer, logs)
	}
	if n := emu.Calls("StopInvocation"); n != 0 {
		t.Fatalf("%d StopInvocation calls, want none anywhere", n)
	}
}

func answerText(a map[string]any) string {
	b, _ := json.Marshal(a)
	return string(b)
}

// A TaskCompleted event from a member stops the invocation in that member;
// the same event from an account outside the directory is refused, and
// nothing is stopped.
func TestTaskCompletedActsInItsAccount(t *testing.T) {
	event := e2e.ReadEvent(t, "eventbridge-taskcompleted-member.json")
	t.Run("member", func(t *testing.T) {
		emu := startDirectoryEmulator(t)
		code, answer, logs := invokeLogged(t, emu, event)
		if code != 0 || answer["AccountId"] != memberA {
			t.Fatalf("exit %d, answer %v\n%s", code, answer, logs)
		}
		if n := emu.StopCallsIn(memberA, "cn-hangzhou", failedInvoke); n != 1 {
			t.Fatalf("%d StopInvocation calls in %s, want 1: %v", n, memberA, answer)
		}
	})
	t.Run("unlisted account", func(t *testing.T) {
		emu := startDirectoryEmulator(t)
		unlisted := bytes.ReplaceAll(event, []byte(memberA), []byte("1000000000000009"))
		_, answer, logs := invokeLogged(t, emu, unlisted)
		if answer["Code"] != "Forbidden.Account" {
			t.Fatalf("answer %v, want Forbidden.Account\n%s", answer, logs)
		}
		if n := emu.Calls("StopInvocation"); n != 0 {
			t.Fatalf("%d StopInvocation calls, want none", n)
		}
	})
}
