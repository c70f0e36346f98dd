package resourcemanager_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
