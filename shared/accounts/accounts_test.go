package accounts_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/accounts"
	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/credentials"
	"github.com/ecs-stopper/stopper/shared/ecs"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/resourcemanager"
	"github.com/ecs-stopper/stopper/shared/sts"
)

const (
	mgmt     = emulator.DefaultAccountId
	withRole = "1000000000000002"
	noRole   = "1000000000000003"
)

var key = acs.Credentials{AccessKeyID: "LTAI5tAccountsTestKey01", AccessKeySecret: "accounts-test-secret-DO-NOT-SHOW"}

// directory is a Directory over an emulator whose Resource Directory lists
// withRole and noRole; only withRole has the ecs-stopper role.
func directory(t *testing.T, list []string, now func() time.Time) (*accounts.Directory, *emulator.Running) {
	t.Helper()
	fleet := &emulator.Fleet{
		Accounts: []emulator.AccountFleet{{AccountId: withRole}, {AccountId: noRole}},
		Roles: []emulator.Role{{Arn: "acs:ram::" + withRole + ":role/ecs-stopper",
			Trust: []string{"acs:ram::" + mgmt + ":root"}}},
		ResourceDirectory: &emulator.ResourceDirectory{Members: []string{withRole, noRole}},
	}
	emu, err := emulator.Listen("127.0.0.1:0", emulator.Options{AccessKeyID: key.AccessKeyID, AccessKeySecret: key.AccessKeySecret, Fleet: fleet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	base := credentials.Identity{Provider: acs.Static(key), Source: credentials.SourceEnv}
	client, err := ecs.New(ecs.Options{Provider: base.Provider, Endpoint: emu.URL})
	if err != nil {
		t.Fatal(err)
	}
	stsClient, err := sts.New(sts.Options{Endpoint: emu.URL})
	if err != nil {
		t.Fatal(err)
	}
	rm, err := resourcemanager.New(resourcemanager.Options{Endpoint: emu.URL, Provider: base.Provider})
	if err != nil {
		t.Fatal(err)
	}
	d, err := accounts.New(accounts.Options{Accounts: list, RoleName: "ecs-stopper", Base: base, Client: client, STS: stsClient,
		Directory: rm, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return d, emu
}

// The accounts a sweep covers: explicit ids with self resolved to the
// credentials' account, or the directory's members; and who may be named.
func TestListAndListed(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		accounts []string
		want     []string
		unlisted string
	}{
		{"explicit ids and self", []string{withRole, accounts.Self, withRole}, []string{withRole, mgmt}, noRole},
		{"the directory", []string{accounts.ResourceDirectory}, []string{withRole, noRole}, mgmt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := directory(t, tc.accounts, nil)
			got, err := d.List(ctx)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("List = %v, %v; want %v", got, err, tc.want)
			}
			for _, id := range tc.want {
				if ok, err := d.Listed(ctx, id); !ok || err != nil {
					t.Errorf("Listed(%s) = %v, %v; want true", id, ok, err)
				}
			}
			if ok, err := d.Listed(ctx, tc.unlisted); ok || err != nil {
				t.Errorf("Listed(%s) = %v, %v; want false", tc.unlisted, ok, err)
			}
		})
	}
}

// The credentials' own account is reached with them as they are; another
// through its role, assumed once however often it is asked for; one
// without the role answers STS's own code, as a permanent error.
func TestAPI(t *testing.T) {
	ctx := context.Background()
	d, emu := directory(t, []string{accounts.ResourceDirectory}, nil)
	if _, err := d.API(ctx, mgmt); err != nil {
		t.Fatalf("API(self) = %v", err)
	}
	if n := emu.Calls("AssumeRole"); n != 0 {
		t.Fatalf("%d AssumeRole calls for the own account, want none", n)
	}
	for range 3 {
		api, err := d.API(ctx, withRole)
		if err != nil {
			t.Fatalf("API(%s) = %v", withRole, err)
		}
		if _, err := api.DescribeInvocations(ctx, cloudassistant.DescribeInvocationsRequest{RegionId: "cn-hangzhou"}); err != nil {
			t.Fatalf("DescribeInvocations in %s: %v", withRole, err)
		}
	}
	if n := emu.Succeeded("AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole exchanges, want 1", n)
	}
	_, err := d.API(ctx, noRole)
	var e *cloudassistant.Error
	if !errors.As(err, &e) || e.Code != "EntityNotExist.Role" || e.Retryable() {
		t.Fatalf("API(%s) = %v, want a permanent EntityNotExist.Role", noRole, err)
	}
}

// A directory listing is reused for ListTTL, then read again.
func TestDirectoryListingIsReused(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	d, emu := directory(t, []string{accounts.ResourceDirectory}, clock)
	ctx := context.Background()
	for range 3 {
		if _, err := d.List(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := emu.Calls("ListAccounts"); n != 1 {
		t.Fatalf("%d ListAccounts calls within the TTL, want 1", n)
	}
	now = now.Add(accounts.DefaultListTTL)
	if _, err := d.List(ctx); err != nil {
		t.Fatal(err)
	}
	if n := emu.Calls("ListAccounts"); n != 2 {
		t.Fatalf("%d ListAccounts calls after the TTL, want 2", n)
	}
}

func TestNewRefusesIncompleteOptions(t *testing.T) {
	for _, o := range []accounts.Options{
		{},
		{Accounts: []string{accounts.Self}},
	} {
		if _, err := accounts.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o.Accounts)
		}
	}
}
