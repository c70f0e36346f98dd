package emulator

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alibabacloud-go/tea/dara"

	"github.com/ecs-stopper/stopper/shared/acs"
)

func jsonLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

// callLines are the log's per-call lines, decoded.
func callLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, sc.Text())
		}
		if l["msg"] == "emulator: call" {
			out = append(out, l)
		}
	}
	return out
}

func checkNoSecrets(t *testing.T, log string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(log, s) {
			t.Fatalf("the log shows a secret or token (%.8s...)", s)
		}
	}
}

func TestListAccountsOfficialSDK(t *testing.T) {
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	run := listenAccounts(t, clock, "", Options{})
	cl := stsSDKClient(t, run, testKeyID, testSecret, "", "")
	list := func(kv ...string) (map[string]any, error) {
		res, err := cl.CallApi(rpcParams("ListAccounts", rmVersion, "AK"), query(kv...), &dara.RuntimeOptions{})
		if err != nil {
			return nil, err
		}
		return res["body"].(map[string]any), nil
	}
	for _, tc := range []struct {
		name      string
		kv        []string
		ids       []string
		page, per string
	}{
		{"default page", nil, []string{memberA, memberB, "1000000000000004"}, "1", "10"},
		{"first of two", []string{"PageSize", "2"}, []string{memberA, memberB}, "1", "2"},
		{"second of two", []string{"PageSize", "2", "PageNumber", "2"}, []string{"1000000000000004"}, "2", "2"},
		{"past the end", []string{"PageSize", "2", "PageNumber", "3"}, nil, "3", "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := list(tc.kv...)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(body["TotalCount"]) != "3" || fmt.Sprint(body["PageNumber"]) != tc.page || fmt.Sprint(body["PageSize"]) != tc.per {
				t.Errorf("answer %v", body)
			}
			accounts := body["Accounts"].(map[string]any)["Account"].([]any)
			var ids []string
			for _, a := range accounts {
				m := a.(map[string]any)
				ids = append(ids, m["AccountId"].(string))
				if m["Status"] != "CreateSuccess" || m["Type"] != "ResourceAccount" || m["JoinMethod"] != "created" ||
					!strings.HasPrefix(m["ResourceDirectoryId"].(string), "rd-") || !strings.HasPrefix(m["FolderId"].(string), "fd-") || m["DisplayName"] == "" {
					t.Errorf("account %v", m)
				}
			}
			if strings.Join(ids, ",") != strings.Join(tc.ids, ",") {
				t.Errorf("accounts %v, want %v", ids, tc.ids)
			}
		})
	}
	_, err := list("PageSize", "101")
	checkSDKError(t, err, 400, "InvalidParameter.PageSize")

	// A member's credentials may not list the directory.
	cred, err := assumeRole(t, cl, "RoleArn", memberARole, "RoleSessionName", "member")
	if err != nil {
		t.Fatal(err)
	}
	_, err = stsSDKClient(t, run, cred.keyID, cred.secret, "", cred.token).
		CallApi(rpcParams("ListAccounts", rmVersion, "AK"), query(), &dara.RuntimeOptions{})
	checkSDKError(t, err, 409, CodeResourceDirectoryMember)

	// Without a directory in the fleet there is none to list.
	bare := listen(t, nil)
	_, err = stsSDKClient(t, bare, testKeyID, testSecret, "v2", "").
		CallApi(rpcParams("ListAccounts", rmVersion, "AK"), query(), &dara.RuntimeOptions{})
	checkSDKError(t, err, 404, CodeResourceDirectoryNotInUse)
}

// Quotas are per account: one account's throttled calls leave another's
// untouched.
func TestThrottlePerAccount(t *testing.T) {
	s, hs := start(t, Options{ThrottleQPS: 0.001, ThrottleBurst: 1, Fleet: multiAccountFleet(testNow, "")})
	// Issue a member's credentials directly: the call would take a token.
	role := Role{Arn: memberARole}
	ses := s.identity.issue(role, "throttled", testNow, time.Hour)
	static, member := newClient(hs), newClient(hs)
	member.cred = acs.Credentials{AccessKeyID: ses.keyID, AccessKeySecret: ses.secret, SecurityToken: ses.token}
	p := url.Values{"RegionId": {"cn-hangzhou"}}
	for i, tc := range []struct {
		c    *client
		code string
	}{
		{static, ""}, {static, CodeThrottlingUser}, {member, ""}, {member, CodeThrottlingUser}, {static, CodeThrottlingUser},
	} {
		r := tc.c.call(t, actionDescribe, p)
		if r.code() != tc.code {
			t.Fatalf("call %d: %d %s, want %q", i+1, r.status, r.code(), tc.code)
		}
	}
}

// STS has a quota of its own (STSThrottleQPS): throttled while ECS calls
// of the same account still go through, and the other way round.
func TestSTSThrottleIsItsOwn(t *testing.T) {
	_, hs := start(t, Options{ThrottleQPS: 1000, STSThrottleQPS: 0.001, Fleet: multiAccountFleet(testNow, "")})
	c := newClient(hs)
	sts := func() string {
		req := c.request(t, actionGetCallerIdentity, url.Values{})
		req.Header.Set("x-acs-version", stsVersion)
		acs.SignV3(req, nil, c.cred, c.now, fmt.Sprintf("nonce-sts-quota-%d", nonceSeq.Add(1)))
		return c.send(t, req).code()
	}
	if code := sts(); code != "" {
		t.Fatalf("first STS call: %s, want success", code)
	}
	if code := sts(); code != CodeThrottlingUser {
		t.Fatalf("second STS call: %q, want %s", code, CodeThrottlingUser)
	}
	if r := c.call(t, actionDescribe, url.Values{"RegionId": {"cn-hangzhou"}}); r.code() != "" {
		t.Fatalf("ECS call after STS was throttled: %s, want success", r.code())
	}
}

func TestFleetIdentityErrors(t *testing.T) {
	role := `{"Arn": "acs:ram::1000000000000002:role/ecs-stopper", "Trust": ["acs:ram::1000000000000001:root"]}`
	provider := `{"Arn": "acs:ram::1000000000000001:oidc-provider/aws", "IssuerUrl": "https://x.test", "JwksUrl": "http://127.0.0.1:9/j", "ClientIds": ["sts.aliyuncs.com"]}`
	for _, tc := range []struct {
		name, fleet, want string
	}{
		{"valid", `{"Accounts": [{"AccountId": "1000000000000002", "Invocations": []}], "Roles": [` + role + `], "OIDCProviders": [` + provider + `], "ResourceDirectory": {"Members": ["1000000000000002"]}}`, ""},
		{"unknown key in a role", `{"Roles": [{"Arn": "acs:ram::1000000000000002:role/r", "Trusts": []}]}`, `Roles: json: unknown field "Trusts"`},
		{"unknown key in an account", `{"Accounts": [{"AccountId": "1000000000000002", "Invokations": []}]}`, `Accounts: json: unknown field "Invokations"`},
		{"unknown key in the directory", `{"ResourceDirectory": {"Member": []}}`, `ResourceDirectory: json: unknown field "Member"`},
		{"short account id", `{"Accounts": [{"AccountId": "12345"}]}`, `Accounts #1: AccountId "12345" is not a 16-digit account id`},
		{"account twice", `{"Accounts": [{"AccountId": "1000000000000002"}, {"AccountId": "1000000000000002"}]}`, "fleet Accounts #2: AccountId 1000000000000002 listed twice"},
		{"bad invocation in an account", `{"Accounts": [{"AccountId": "1000000000000002", "Invocations": [{"InvokeId": "t-1"}]}]}`, "fleet Accounts #1 (1000000000000002): invocation #1 (t-1): missing RegionId"},
		{"user ARN as a role", `{"Roles": [{"Arn": "acs:ram::1000000000000002:user/bob", "Trust": ["acs:ram::1000000000000001:root"]}]}`, `Roles #1: role Arn "acs:ram::1000000000000002:user/bob" is not of the form acs:ram::<16-digit account id>:role/<name>`},
		{"role with a short account", `{"Roles": [{"Arn": "acs:ram::123:role/r", "Trust": ["acs:ram::1000000000000001:root"]}]}`, `Roles #1: role Arn "acs:ram::123:role/r" is not of the form`},
		{"no trust", `{"Roles": [{"Arn": "acs:ram::1000000000000002:role/r"}]}`, "Trust is empty"},
		{"bad trust entry", `{"Roles": [{"Arn": "acs:ram::1000000000000002:role/r", "Trust": ["*"]}]}`, `Trust #1 "*" is not one of`},
		{"trust of an unknown provider", `{"Roles": [{"Arn": "acs:ram::1000000000000002:role/r", "Trust": ["oidc:acs:ram::1000000000000001:oidc-provider/x"]}]}`, "which OIDCProviders does not list"},
		{"subjects without oidc trust", `{"Roles": [{"Arn": "acs:ram::1000000000000002:role/r", "Trust": ["acs:ram::1000000000000001:root"], "OIDCSubjects": ["s"]}]}`, "OIDCSubjects is set but Trust names no oidc"},
		{"role twice", `{"Roles": [` + role + `, ` + role + `]}`, "fleet Roles #2: Arn acs:ram::1000000000000002:role/ecs-stopper listed twice"},
		{"public JWKS", `{"OIDCProviders": [` + strings.Replace(provider, "http://127.0.0.1:9/j", "https://keys.example.test/j", 1) + `]}`, "JwksUrl \"https://keys.example.test/j\" must be an http or https URL on a loopback host"},
		{"no client ids", `{"OIDCProviders": [` + strings.Replace(provider, `["sts.aliyuncs.com"]`, `[]`, 1) + `]}`, "ClientIds is empty"},
		{"bad provider ARN", `{"OIDCProviders": [` + strings.Replace(provider, "oidc-provider/aws", "provider/aws", 1) + `]}`, "OIDCProviders #1: provider Arn"},
		{"bad member", `{"ResourceDirectory": {"Members": ["x"]}}`, `ResourceDirectory: Members #1 "x" is not a 16-digit account id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFleet([]byte(tc.fleet))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// The default account's invocations belong at the top level.
	_, err := New(Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Fleet: &Fleet{Accounts: []AccountFleet{{AccountId: DefaultAccountId}}}})
	if err == nil || !strings.Contains(err.Error(), "top-level Invocations") {
		t.Fatalf("Accounts naming the default account: %v", err)
	}
}

// Fleet() gives back every account and the identity sections, and a fleet
// so written loads again.
func TestFleetRoundTripAccounts(t *testing.T) {
	s, _ := start(t, Options{Fleet: multiAccountFleet(testNow, "")})
	f := s.Fleet()
	if len(f.Accounts) != 2 || f.Accounts[0].AccountId != memberA || len(f.Accounts[1].Invocations) != 1 ||
		len(f.Roles) != 3 || len(f.OIDCProviders) != 1 || len(f.ResourceDirectory.Members) != 3 {
		t.Fatalf("snapshot %+v", f)
	}
	raw, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFleet(raw); err != nil {
		t.Fatalf("the snapshot does not load: %v", err)
	}
	if _, ok := s.InvocationIn(memberB, "cn-hangzhou", memberBInvoke); !ok {
		t.Fatal("InvocationIn does not find the member's invocation")
	}
	if _, ok := s.Invocation("cn-hangzhou", memberBInvoke); ok {
		t.Fatal("the default account sees a member's invocation")
	}
}

// FuzzParseFleetIdentity feeds arbitrary identity sections: parsing never
// panics, and a fleet it accepts is one the emulator starts with.
func FuzzParseFleetIdentity(f *testing.F) {
	f.Add(`{"Accounts":[{"AccountId":"1000000000000002","Invocations":[]}],"Roles":[{"Arn":"acs:ram::1000000000000002:role/r","Trust":["acs:ram::1000000000000001:root"]}],"ResourceDirectory":{"Members":["1000000000000002"]}}`)
	f.Add(`{"OIDCProviders":[{"Arn":"acs:ram::1000000000000001:oidc-provider/a","IssuerUrl":"https://i","JwksUrl":"http://[::1]/j","ClientIds":["c"]}],"Roles":[{"Arn":"acs:ram::1000000000000003:role/o","Trust":["oidc:acs:ram::1000000000000001:oidc-provider/a"],"OIDCSubjects":["s"]}]}`)
	f.Add(`{"Roles":null,"Accounts":{},"ResourceDirectory":[]}`)
	f.Fuzz(func(t *testing.T, data string) {
		fl, err := ParseFleet([]byte(data))
		if err != nil {
			return
		}
		_, err = New(Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Fleet: fl, AccountId: "1000000000000009"})
		if err != nil && !strings.Contains(err.Error(), "fleet invocation") {
			t.Fatalf("accepted by ParseFleet, refused by New: %v", err)
		}
	})
}

// The sample multi-account fleet loads and starts.
func TestSampleAccountsFleet(t *testing.T) {
	f, err := LoadFleet("sample-accounts-fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Fleet: f}); err != nil {
		t.Fatal(err)
	}
}
