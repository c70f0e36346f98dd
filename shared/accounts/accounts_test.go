package accounts_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
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
	emu := startEmulator(t)
	stsClient, err := sts.New(sts.Options{Endpoint: emu.URL})
	if err != nil {
		t.Fatal(err)
	}
	return directoryOver(t, emu, stsClient, list, now), emu
}

// startEmulator runs an emulator whose Resource Directory lists withRole
// and noRole; only withRole has the ecs-stopper role.
func startEmulator(t *testing.T) *emulator.Running {
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
	return emu
}

// directoryOver is a Directory whose ECS and Resource Manager calls go to
// emu and whose STS calls go to stsClient.
func directoryOver(t *testing.T, emu *emulator.Running, stsClient *sts.Client, list []string, now func() time.Time) *accounts.Directory {
	t.Helper()
	base := credentials.Identity{Provider: acs.Static(key), Source: credentials.SourceEnv}
	client, err := ecs.New(ecs.Options{Provider: base.Provider, Endpoint: emu.URL})
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
	return d
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

// An account's role that STS refuses to hand out is a permanent error
// saying what to fix in that account; an STS fault or throttling is not
// blamed on the role and stays transient.
func TestRoleRefusals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		code      string
		permanent bool
		wantFix   string
	}{
		{"no such role", 404, "EntityNotExist.Role", true, "Create the role in that account"},
		{"trust not naming the function", 403, "NoPermission", true, "Check the role's trust policy"},
		{"a 499", 499, "ClientClosed", true, "Check the role's trust policy"},
		{"server fault", 500, "InternalError", false, ""},
		{"throttled", 400, "Throttling.User", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu := startEmulator(t)
			target, _ := url.Parse(emu.URL)
			proxy := httputil.NewSingleHostReverseProxy(target)
			// AssumeRole gets the answer under test, every other call the emulator's.
			stsFront := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("x-acs-action") != "AssumeRole" {
					proxy.ServeHTTP(w, r)
					return
				}
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, `{"RequestId":"R-1","Code":"`+tc.code+`","Message":"refused by the test"}`)
			}))
			t.Cleanup(stsFront.Close)
			stsClient, err := sts.New(sts.Options{Endpoint: stsFront.URL, RetryDelay: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			d := directoryOver(t, emu, stsClient, []string{accounts.ResourceDirectory}, nil)
			_, err = d.API(context.Background(), withRole)
			if err == nil {
				t.Fatal("API succeeded")
			}
			var e *cloudassistant.Error
			isCA := errors.As(err, &e)
			switch {
			case tc.permanent && (!isCA || e.Retryable() || e.Code != tc.code || !strings.Contains(e.Message, tc.wantFix) ||
				!strings.Contains(e.Message, withRole)):
				t.Fatalf("API = %#v, want a permanent %s saying %q", err, tc.code, tc.wantFix)
			case tc.permanent && tc.code != "EntityNotExist.Role" && strings.Contains(e.Message, "Create the role"):
				t.Fatalf("API = %v: a role that exists is not to be created", err)
			case !tc.permanent && (strings.Contains(err.Error(), "cannot be assumed") || isCA && !e.Retryable()):
				t.Fatalf("API = %v: an STS fault is blamed on the role", err)
			case !tc.permanent && !strings.Contains(err.Error(), tc.code):
				t.Fatalf("API = %v, want STS's %s", err, tc.code)
			}
		})
	}
}

// Resource Manager's and STS's refusals come back with their own codes
// and what to fix: a directory the credentials cannot list, a key STS does
// not know.
func TestUpstreamRefusalsKeepTheirCodes(t *testing.T) {
	ctx := context.Background()
	emu, err := emulator.Listen("127.0.0.1:0", emulator.Options{AccessKeyID: key.AccessKeyID, AccessKeySecret: key.AccessKeySecret,
		Fleet: &emulator.Fleet{}}) // no Resource Directory
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	stsClient, err := sts.New(sts.Options{Endpoint: emu.URL})
	if err != nil {
		t.Fatal(err)
	}
	d := directoryOver(t, emu, stsClient, []string{accounts.ResourceDirectory}, nil)
	_, err = d.List(ctx)
	var e *cloudassistant.Error
	if !errors.As(err, &e) || e.Code != emulator.CodeResourceDirectoryNotInUse || !strings.Contains(e.Message, "resourcemanager:ListAccounts") {
		t.Fatalf("List = %v, want %s saying what the deployment needs", err, emulator.CodeResourceDirectoryNotInUse)
	}

	stranger := credentials.Identity{Provider: acs.Static(acs.Credentials{AccessKeyID: "LTAI5tUnknownKey000001", AccessKeySecret: "unknown"}),
		Source: credentials.SourceEnv}
	client, err := ecs.New(ecs.Options{Provider: stranger.Provider, Endpoint: emu.URL})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := accounts.New(accounts.Options{Accounts: []string{accounts.Self}, RoleName: "ecs-stopper", Base: stranger, Client: client, STS: stsClient})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d2.Self(ctx)
	if !errors.As(err, &e) || e.Code != "InvalidAccessKeyId.NotFound" || !strings.HasPrefix(e.Message, "GetCallerIdentity: ") {
		t.Fatalf("Self = %v, want STS's InvalidAccessKeyId.NotFound", err)
	}
}
