package stopper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/fakeapi"
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// Accounts A (self), B and C; C's role cannot be assumed.
const (
	accountA = "1000000000000001"
	accountB = "1000000000000002"
	accountC = "1000000000000003"
)

var accountsNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// staleIn is a one-time Running invocation in region, three hours old.
func staleIn(region, id string) ca.Invocation {
	return ca.Invocation{RegionId: region, InvokeId: id, InvocationStatus: ca.StatusRunning, RepeatMode: ca.RepeatOnce,
		CommandName: "backup", CreationTime: accountsNow.Add(-3 * time.Hour).Format(creationLayout),
		InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{{InstanceId: "i-a", InvocationStatus: ca.StatusRunning}}}}
}

// threeAccounts is A and B reachable, C not, each of A and B with a stale
// invocation of the same id in cn-hangzhou and one of its own in
// cn-shanghai.
func threeAccounts() *fakeapi.Accounts {
	a := fakeapi.NewAccounts(accountA, accountB, accountC)
	a.APIs[accountA].Fleet = []ca.Invocation{staleIn("cn-hangzhou", "t-same"), staleIn("cn-shanghai", "t-onlya")}
	a.APIs[accountB].Fleet = []ca.Invocation{staleIn("cn-hangzhou", "t-same"), staleIn("cn-shanghai", "t-onlyb")}
	a.Unreachable[accountC] = fakeapi.RoleMissing(accountC)
	return a
}

// fakeAccounts is fakeapi's Accounts as Accounts.
type fakeAccounts struct{ *fakeapi.Accounts }

func (f fakeAccounts) API(ctx context.Context, id string) (CloudAssistant, error) {
	api, err := f.Account(ctx, id)
	if err != nil {
		return nil, err
	}
	return api, nil
}

func accountsFunction(accounts Accounts, logs *bytes.Buffer) *Function {
	return &Function{Accounts: accounts, Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now: func() time.Time { return accountsNow }, Ledger: NewStopLedger(),
		Sweep: SweepDefaults{RegionIds: []string{"cn-hangzhou", "cn-shanghai"}, OlderThan: 2 * time.Hour, Concurrency: 4, MaxStops: 10}}
}

func TestSweepAccounts(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		t.Run(map[bool]string{false: "stops", true: "dry run"}[dryRun], func(t *testing.T) {
			accounts := threeAccounts()
			var logs bytes.Buffer
			f := accountsFunction(fakeAccounts{accounts}, &logs)
			a, err := f.RunSweep(context.Background(), "req-accounts", SweepRequest{DryRun: &dryRun})
			if err != nil {
				t.Fatal(err)
			}
			listed := a.Stopped
			if dryRun {
				listed = a.WouldStop
			}
			var got []string
			for _, s := range listed {
				got = append(got, s.AccountId+"/"+s.RegionId+"/"+s.InvokeId)
			}
			want := accountA + "/cn-hangzhou/t-same " + accountA + "/cn-shanghai/t-onlya " +
				accountB + "/cn-hangzhou/t-same " + accountB + "/cn-shanghai/t-onlyb"
			if strings.Join(got, " ") != want {
				t.Errorf("listed %v, want %s", got, want)
			}
			if len(a.Skipped) != 1 || a.Skipped[0].AccountId != accountC || a.Skipped[0].Code != "EntityNotExist.Role" ||
				!strings.Contains(a.Skipped[0].Message, "role") {
				t.Errorf("Skipped %+v, want account C with EntityNotExist.Role", a.Skipped)
			}
			if a.Matched != 4 || len(a.Failed) != 0 || a.Truncated {
				t.Errorf("Matched %d, Failed %+v, Truncated %v", a.Matched, a.Failed, a.Truncated)
			}
			// The same invoke id in two accounts is two stops.
			wantStops := 1
			if dryRun {
				wantStops = 0
			}
			for _, id := range []string{accountA, accountB} {
				if n := accounts.APIs[id].StopCount("cn-hangzhou", "t-same"); n != wantStops {
					t.Errorf("account %s: t-same stopped %d times, want %d", id, n, wantStops)
				}
				if n := accounts.APICalls(id); n != 1 {
					t.Errorf("account %s: API asked %d times, want once a sweep", id, n)
				}
			}
			// Every item of the answer names its account.
			var body map[string][]map[string]any
			raw, _ := json.Marshal(a)
			_ = json.Unmarshal(raw, &body)
			for key, items := range body {
				for _, it := range items {
					if it["AccountId"] == nil || it["AccountId"] == "" {
						t.Errorf("%s item without AccountId: %v", key, it)
					}
				}
			}
			if a.Unfinished() != "" {
				t.Errorf("a role that does not exist is no reason to run again: %s", a.Unfinished())
			}
			checkAccountLogs(t, logs.String())
		})
	}
}

// checkAccountLogs: every line about one invocation or account names the
// account; the outcome line counts accounts and skipped ones.
func checkAccountLogs(t *testing.T, logs string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		switch {
		case m["invoke_id"] != nil || m["msg"] == "sweep: account skipped":
			if m["account_id"] == nil {
				t.Errorf("log line without account_id: %s", line)
			}
		case m["msg"] == "done":
			if m["accounts"] != float64(3) || m["skipped"] != float64(1) {
				t.Errorf("outcome line: %s", line)
			}
		}
	}
}

// The limit counts every account's selection together: over it, nothing is
// stopped anywhere.
func TestSweepLimitAcrossAccounts(t *testing.T) {
	accounts := threeAccounts()
	var logs bytes.Buffer
	f := accountsFunction(fakeAccounts{accounts}, &logs)
	f.Sweep.MaxStops = 3 // two per account, four in all
	_, err := f.RunSweep(context.Background(), "req-limit", SweepRequest{})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeSweepLimitExceeded {
		t.Fatalf("err %v, want %s", err, CodeSweepLimitExceeded)
	}
	if !strings.Contains(e.Message, "selected 4 invocations") || !strings.Contains(e.Message, accountB+"/cn-shanghai 1") {
		t.Errorf("message %q does not say where", e.Message)
	}
	for _, id := range []string{accountA, accountB} {
		if n := len(accounts.APIs[id].Stops()); n != 0 {
			t.Errorf("account %s: %d stops, want none", id, n)
		}
	}
	if !strings.Contains(logs.String(), `"accounts":3`) {
		t.Errorf("the refusal's log line does not count the accounts:\n%s", logs.String())
	}
}

// stopClock is a Cloud Assistant that notes when its last stop succeeded.
type stopClock struct {
	CloudAssistant
	mu   sync.Mutex
	last time.Time
}

func (c *stopClock) StopInvocation(ctx context.Context, region, id string, instances []string) error {
	err := c.CloudAssistant.StopInvocation(ctx, region, id, instances)
	if err == nil {
		c.mu.Lock()
		c.last = time.Now()
		c.mu.Unlock()
	}
	return err
}

func (c *stopClock) lastStop() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// clockedAccounts hands out each account's API wrapped in a stopClock.
type clockedAccounts struct {
	*fakeapi.Accounts
	clocks map[string]*stopClock
}

func (c clockedAccounts) API(ctx context.Context, id string) (CloudAssistant, error) {
	if _, err := c.Account(ctx, id); err != nil {
		return nil, err
	}
	return c.clocks[id], nil
}

// One throttled account does not slow the others: each account has its
// own pacer, and workers pass over an account with no slot free.
func TestSweepAccountsPacedApart(t *testing.T) {
	const n, qps = 30, 15.0
	accounts := fakeapi.NewAccounts(accountA, accountB)
	clocks := map[string]*stopClock{}
	for _, id := range []string{accountA, accountB} {
		api := accounts.APIs[id]
		for i := range n {
			api.Fleet = append(api.Fleet, staleIn("cn-hangzhou", "t-"+strings.Repeat("x", i+1)))
		}
		clocks[id] = &stopClock{CloudAssistant: api}
	}
	accounts.APIs[accountA].QPS = qps
	var logs bytes.Buffer
	f := accountsFunction(clockedAccounts{accounts, clocks}, &logs)
	f.Sweep.MaxStops = 0
	f.Sweep.RegionIds = []string{"cn-hangzhou"}
	start := time.Now()
	a, err := f.RunSweep(context.Background(), "req-paced", SweepRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Stopped) != 2*n || len(a.Failed) != 0 {
		t.Fatalf("stopped %d, failed %+v", len(a.Stopped), a.Failed)
	}
	slow, fast := clocks[accountA].lastStop().Sub(start), clocks[accountB].lastStop().Sub(start)
	if accounts.APIs[accountA].Throttled() == 0 || slow < time.Second {
		t.Fatalf("account A was not throttled (%d throttled, done after %s)", accounts.APIs[accountA].Throttled(), slow)
	}
	// At qps, A takes about n/qps = 2s; B alone takes milliseconds.
	if fast > slow/3 {
		t.Errorf("account B's stops ended after %s, account A's after %s: the throttled account held B back", fast, slow)
	}
}

func TestRequestAccounts(t *testing.T) {
	failed := func(id string) ca.Invocation {
		i := staleIn("cn-hangzhou", id)
		i.InvokeInstances.InvokeInstance = []ca.InvokeInstance{
			{InstanceId: "i-a", InvocationStatus: ca.StatusFailed}, {InstanceId: "i-b", InvocationStatus: ca.StatusPending}}
		i.Tags.Tag = []ca.Tag{{TagKey: TagMaxErrors, TagValue: "1"}}
		return i
	}
	const unlisted = "1000000000000009"
	for _, tc := range []struct {
		name      string
		nilAcct   bool // Function.Accounts nil
		self      string
		req       Request
		code      string // the refusal, "" for none
		stoppedIn string
	}{
		{name: "stop in a listed account", req: Request{Stop: &StopRequest{AccountId: accountB, InvokeId: "t-same"}}, stoppedIn: accountB},
		{name: "stop without AccountId acts in self", req: Request{Stop: &StopRequest{InvokeId: "t-same"}}, stoppedIn: accountA},
		{name: "stop in an unlisted account", req: Request{Stop: &StopRequest{AccountId: unlisted, InvokeId: "t-same"}}, code: CodeForbiddenAccount},
		{name: "stop without AccountId when self is not listed", self: unlisted, req: Request{Stop: &StopRequest{InvokeId: "t-same"}}, code: CodeForbiddenAccount},
		{name: "stop in an account whose role is missing", req: Request{Stop: &StopRequest{AccountId: accountC, InvokeId: "t-same"}}, code: "EntityNotExist.Role"},
		{name: "stop naming an account in a one-account function", nilAcct: true, req: Request{Stop: &StopRequest{AccountId: accountB, InvokeId: "t-same"}}, code: CodeForbiddenAccount},
		{name: "fail-fast from a listed account", req: Request{FailFast: &FailFastRequest{AccountId: accountB, InvokeId: "t-failing", Status: ca.StatusFailed}}, stoppedIn: accountB},
		{name: "fail-fast from an unlisted account", req: Request{FailFast: &FailFastRequest{AccountId: unlisted, InvokeId: "t-failing", Status: ca.StatusFailed}}, code: CodeForbiddenAccount},
		{name: "fail-fast in a one-account function ignores the event's account", nilAcct: true,
			req: Request{FailFast: &FailFastRequest{AccountId: unlisted, InvokeId: "t-failing", Status: ca.StatusFailed}}, stoppedIn: "own"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			accounts := threeAccounts()
			for _, id := range []string{accountA, accountB} {
				accounts.APIs[id].Fleet = append(accounts.APIs[id].Fleet, failed("t-failing"))
			}
			if tc.self != "" {
				accounts.SelfId = tc.self
			}
			own := fakeapi.New(staleIn("cn-hangzhou", "t-same"), failed("t-failing"))
			var logs bytes.Buffer
			f := accountsFunction(fakeAccounts{accounts}, &logs)
			f.RegionId = "cn-hangzhou"
			if tc.nilAcct {
				f.Accounts, f.API = nil, own
			}
			answer, err := f.Handle(context.Background(), "req-1", tc.req)
			if tc.code != "" {
				if e := AsError(err); e == nil || e.Code != tc.code {
					t.Fatalf("answer %+v, err %v; want %s", answer, err, tc.code)
				}
				for id, api := range map[string]*fakeapi.API{accountA: accounts.APIs[accountA], accountB: accounts.APIs[accountB], "own": own} {
					if len(api.Stops()) != 0 {
						t.Errorf("a refused request stopped something in %s", id)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			apis := map[string]*fakeapi.API{accountA: accounts.APIs[accountA], accountB: accounts.APIs[accountB], "own": own}
			for id, api := range apis {
				if want := map[bool]int{true: 1}[id == tc.stoppedIn]; len(api.Stops()) != want {
					t.Errorf("%s: %d stops, want %d", id, len(api.Stops()), want)
				}
			}
			raw, _ := json.Marshal(answer)
			wantAccount := tc.stoppedIn
			if tc.nilAcct {
				if bytes.Contains(raw, []byte("AccountId")) {
					t.Errorf("a one-account function's answer names an account: %s", raw)
				}
				return
			}
			if !bytes.Contains(raw, []byte(`"AccountId":"`+wantAccount+`"`)) {
				t.Errorf("answer %s does not name account %s", raw, wantAccount)
			}
			if !strings.Contains(logs.String(), `"account_id":"`+wantAccount+`"`) {
				t.Errorf("the outcome line does not name the account:\n%s", logs.String())
			}
		})
	}
}

// The ledger keys on the account: a stop of an invocation in one account
// says nothing of the same id in another.
func TestLedgerPerAccount(t *testing.T) {
	l := NewStopLedger()
	read := l.clock()
	_, done, err := l.claim(context.Background(), accountKeyOf(accountA, "cn-hangzhou", "t-a", nil), read, false)
	if err != nil {
		t.Fatal(err)
	}
	done(true)
	for _, tc := range []struct {
		key  ledgerKey
		want bool
	}{
		{accountKeyOf(accountA, "cn-hangzhou", "t-a", nil), true},
		{accountKeyOf(accountA, "cn-hangzhou", "t-a", []string{"i-1"}), true},
		{accountKeyOf(accountB, "cn-hangzhou", "t-a", nil), false},
		{keyOf("cn-hangzhou", "t-a", nil), false},
	} {
		if got := l.alreadyStopped(tc.key, read, false); got != tc.want {
			t.Errorf("%+v: already stopped %v, want %v", tc.key, got, tc.want)
		}
	}
}

// With Accounts nil nothing names an account: no AccountId, no Skipped.
func TestOneAccountAnswersNameNone(t *testing.T) {
	var logs bytes.Buffer
	f := accountsFunction(nil, &logs)
	f.API = fakeapi.New(staleIn("cn-hangzhou", "t-old"))
	for _, dryRun := range []bool{false, true} {
		a, err := f.RunSweep(context.Background(), "req-one", SweepRequest{DryRun: &dryRun})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(a)
		if bytes.Contains(raw, []byte("AccountId")) || bytes.Contains(raw, []byte("Skipped")) {
			t.Errorf("answer names accounts: %s", raw)
		}
	}
	if strings.Contains(logs.String(), "account") {
		t.Errorf("logs name accounts:\n%s", logs.String())
	}
}

func TestDecodeAccountId(t *testing.T) {
	for _, tc := range []struct {
		body, want, err string
	}{
		{body: `{"InvokeId": "t-abc", "AccountId": "1000000000000002"}`, want: "1000000000000002"},
		{body: `{"InvokeId": "t-abc", "AccountId": ""}`},
		{body: `{"InvokeId": "t-abc", "AccountId": null}`},
		{body: `{"InvokeId": "t-abc", "AccountId": 1000000000000002}`, err: "AccountId: must be a string"},
		{body: `{"InvokeId": "t-abc", "AccountId": "acs:ram::1:root"}`, err: "AccountId: \"acs:ram::1:root\" is not an account id"},
		{body: `{"Action": "Sweep", "AccountId": "1000000000000002"}`, err: "AccountId: is not a parameter"},
	} {
		req, err := DecodeRequest([]byte(tc.body))
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %q", tc.body, err, tc.err)
			}
		case err != nil || req.Stop.AccountId != tc.want:
			t.Errorf("%s: %+v %v, want AccountId %q", tc.body, req.Stop, err, tc.want)
		}
	}
}

// A batch tells items of the same invocation in two accounts apart.
func TestBatchAccountsAreNotDuplicates(t *testing.T) {
	accounts := threeAccounts()
	var logs bytes.Buffer
	f := accountsFunction(fakeAccounts{accounts}, &logs)
	f.RegionId = "cn-hangzhou"
	b := f.HandleBatch(context.Background(), "req-batch", []Item{
		{Id: "1", Request: Request{Stop: &StopRequest{AccountId: accountA, InvokeId: "t-same"}}},
		{Id: "2", Request: Request{Stop: &StopRequest{AccountId: accountB, InvokeId: "t-same"}}},
		{Id: "3", Request: Request{Stop: &StopRequest{AccountId: accountB, InvokeId: "t-same"}}},
	})
	var outcomes []string
	for _, r := range b.Results {
		outcomes = append(outcomes, r.Outcome+":"+r.DuplicateOf)
	}
	if got := strings.Join(outcomes, " "); got != "Stopped: Stopped: NotStopped:2" {
		t.Errorf("outcomes %s", got)
	}
	r := NewReport("sqs", "req-batch", b, nil)
	if len(r.Stopped) != 2 || r.Stopped[0].AccountId == r.Stopped[1].AccountId {
		t.Errorf("report %+v: want one stop in each account", r.Stopped)
	}
}
