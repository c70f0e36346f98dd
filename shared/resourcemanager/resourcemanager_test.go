package resourcemanager_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/resourcemanager"
)

var key = acs.Credentials{AccessKeyID: "LTAI5tManagementKey01", AccessKeySecret: "management-secret-DO-NOT-SHOW"}

func members(n int) []string {
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("1000000000%06d", 100+i))
	}
	return ids
}

func startEmulator(t *testing.T, rd *emulator.ResourceDirectory) *emulator.Running {
	t.Helper()
	emu, err := emulator.Listen("127.0.0.1:0", emulator.Options{AccessKeyID: key.AccessKeyID, AccessKeySecret: key.AccessKeySecret,
		Fleet: &emulator.Fleet{ResourceDirectory: rd}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

// Every member, over as many pages as the directory needs.
func TestListAccountsReadsEveryPage(t *testing.T) {
	for _, n := range []int{0, 1, 100, 101, 250} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			emu := startEmulator(t, &emulator.ResourceDirectory{Members: members(n)})
			c, err := resourcemanager.New(resourcemanager.Options{Endpoint: emu.URL, Provider: acs.Static(key)})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.ListAccounts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := members(n)
			if len(got) != len(want) {
				t.Fatalf("%d accounts, want %d", len(got), len(want))
			}
			for i, a := range got {
				if a.AccountId != want[i] || !a.Active() {
					t.Errorf("account %d = %+v, want active %s", i, a, want[i])
				}
			}
			if calls, wantCalls := emu.Calls("ListAccounts"), max(1, (n+99)/100); calls != wantCalls {
				t.Errorf("%d ListAccounts calls, want %d", calls, wantCalls)
			}
		})
	}
}

// Without a directory the API's own error comes back, with its code, and
// without the credentials in it.
func TestListAccountsWithoutADirectory(t *testing.T) {
	emu := startEmulator(t, nil)
	c, err := resourcemanager.New(resourcemanager.Options{Endpoint: emu.URL, Provider: acs.Static(key)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListAccounts(context.Background())
	var e *resourcemanager.Error
	if !errors.As(err, &e) || e.Code != emulator.CodeResourceDirectoryNotInUse || e.HTTPStatus != 404 {
		t.Fatalf("ListAccounts = %v, want %s", err, emulator.CodeResourceDirectoryNotInUse)
	}
	if strings.Contains(err.Error(), key.AccessKeySecret) {
		t.Errorf("the error shows the secret: %v", err)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, o := range []resourcemanager.Options{
		{Endpoint: "http://resourcemanager.aliyuncs.com", Provider: acs.Static(key)},
		{Endpoint: "https://resourcemanager.aliyuncs.com"},
		{Endpoint: "://", Provider: acs.Static(key)},
	} {
		if _, err := resourcemanager.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o.Endpoint)
		}
	}
}

// Only members that finished joining can be acted in.
func TestAccountActive(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   bool
	}{
		{"CreateSuccess", true},
		{"InviteSuccess", true},
		{"Creating", false},
		{"CreateFailed", false},
		{"Inviting", false},
		{"Removing", false},
		{"", false},
	} {
		if got := (resourcemanager.Account{Status: tc.status}).Active(); got != tc.want {
			t.Errorf("Active() with Status %q = %v, want %v", tc.status, got, tc.want)
		}
	}
}

// fakeDirectory answers every ListAccounts page with status and a full
// page of members, in a directory of total members.
func fakeDirectory(t *testing.T, status, total int) (*resourcemanager.Client, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	page := make([]string, 100)
	for i := range page {
		page[i] = fmt.Sprintf(`{"AccountId":"1000000000%06d","Status":"CreateSuccess"}`, i)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"RequestId":"R%d","PageNumber":%d,"TotalCount":%d,"Accounts":{"Account":[%s]}}`, n, n, total, strings.Join(page, ","))
	}))
	t.Cleanup(hs.Close)
	c, err := resourcemanager.New(resourcemanager.Options{Endpoint: hs.URL, Provider: acs.Static(key)})
	if err != nil {
		t.Fatal(err)
	}
	return c, &calls
}

// A listing stops at 100 pages of 100: a directory of 10,000 members is
// read whole, one that still has members after that is refused.
func TestListAccountsPageBound(t *testing.T) {
	for _, tc := range []struct {
		name      string
		total     int
		wantCalls int32
		wantCode  string
	}{
		{"10,000 members", 10000, 100, ""},
		{"more than 100 pages", 1000000, 100, "InvalidResponse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, calls := fakeDirectory(t, 200, tc.total)
			got, err := c.ListAccounts(context.Background())
			if tc.wantCode == "" {
				if err != nil || len(got) != tc.total {
					t.Fatalf("ListAccounts = %d accounts, %v; want %d", len(got), err, tc.total)
				}
			} else {
				var e *resourcemanager.Error
				if !errors.As(err, &e) || e.Code != tc.wantCode || !strings.Contains(e.Message, "after 100 pages") {
					t.Fatalf("ListAccounts = %v, want %s", err, tc.wantCode)
				}
			}
			if n := calls.Load(); n != tc.wantCalls {
				t.Errorf("%d calls, want %d", n, tc.wantCalls)
			}
		})
	}
}

// Every 2xx status is an answer; any other is an error with that status.
func TestListAccountsStatus(t *testing.T) {
	for _, tc := range []struct {
		status   int
		wantCode string
	}{
		{200, ""},
		{299, ""},
		{300, "HTTP300"},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			c, _ := fakeDirectory(t, tc.status, 100)
			got, err := c.ListAccounts(context.Background())
			if tc.wantCode == "" {
				if err != nil || len(got) != 100 {
					t.Fatalf("ListAccounts = %d accounts, %v; want 100", len(got), err)
				}
				return
			}
			var e *resourcemanager.Error
			if !errors.As(err, &e) || e.Code != tc.wantCode || e.HTTPStatus != tc.status {
				t.Fatalf("ListAccounts = %v, want %s", err, tc.wantCode)
			}
		})
	}
}
