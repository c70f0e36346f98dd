package emulator

import (
	"log/slog"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// The accounts of the multi-account fleet the identity tests share.
const (
	memberA       = "1000000000000002"
	memberB       = "1000000000000003"
	memberARole   = "acs:ram::" + memberA + ":role/ecs-stopper"
	memberAExtern = "acs:ram::" + memberA + ":role/with-external-id"
	memberBRole   = "acs:ram::" + memberB + ":role/ecs-stopper"
	providerArn   = "acs:ram::" + DefaultAccountId + ":oidc-provider/aws"
	memberAInvoke = "t-member0a0running0a1b2c3d4e5f"
	memberBInvoke = "t-member0b0running0a1b2c3d4e5f"
	testIssuer    = "https://issuer.example.test"
	testAudience  = "sts.aliyuncs.com"
	testSubject   = "arn:aws:iam::111122223333:role/stopper"
)

// multiAccountFleet is the sample fleet in the default account, one running
// invocation in each member, a role in each member and a JWKS at jwksURL.
func multiAccountFleet(now time.Time, jwksURL string) *Fleet {
	f := SampleFleetAt(now)
	running := func(id string) []ca.Invocation {
		at := now.Add(-3 * time.Hour).UTC().Format(timeLayout)
		return []ca.Invocation{{RegionId: "cn-hangzhou", InvokeId: id, CommandName: "backup", CommandType: "RunShellScript",
			RepeatMode: ca.RepeatOnce, CreationTime: at, InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{
				{InstanceId: "i-" + id[2:], InvocationStatus: ca.StatusRunning, CreationTime: at}}}}}
	}
	f.Accounts = []AccountFleet{{AccountId: memberA, Invocations: running(memberAInvoke)}, {AccountId: memberB, Invocations: running(memberBInvoke)}}
	f.Roles = []Role{
		{Arn: memberARole, Trust: []string{"acs:ram::" + DefaultAccountId + ":root"}},
		{Arn: memberAExtern, Trust: []string{"acs:ram::" + DefaultAccountId + ":root"}, ExternalId: "ext-42"},
		{Arn: memberBRole, Trust: []string{"oidc:" + providerArn, memberARole}, OIDCSubjects: []string{testSubject}},
	}
	if jwksURL == "" {
		jwksURL = "http://127.0.0.1:1/jwks.json"
	}
	f.OIDCProviders = []OIDCProvider{{Arn: providerArn, IssuerUrl: testIssuer, JwksUrl: jwksURL, ClientIds: []string{testAudience}}}
	f.ResourceDirectory = &ResourceDirectory{Members: []string{memberA, memberB, "1000000000000004"}}
	return f
}

// listenAccounts serves the multi-account fleet on loopback with a clock
// tests move.
func listenAccounts(t *testing.T, clock *fakeClock, jwksURL string, opts Options) *Running {
	t.Helper()
	opts.AccessKeyID, opts.AccessKeySecret = testKeyID, testSecret
	opts.Fleet = multiAccountFleet(clock.Now(), jwksURL)
	opts.Now = clock.Now
	run, err := Listen("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Close() })
	return run
}

// rpcParams is an RPC call of the generic OpenAPI client, as the official
// STS and Resource Manager SDKs describe theirs.
func rpcParams(action, version, auth string) *openapiutil.Params {
	return &openapiutil.Params{
		Action: tea.String(action), Version: tea.String(version), Protocol: tea.String("HTTP"),
		Pathname: tea.String("/"), Method: tea.String("POST"), AuthType: tea.String(auth), Style: tea.String("RPC"),
		ReqBodyType: tea.String("formData"), BodyType: tea.String("json"),
	}
}

func query(kv ...string) *openapiutil.OpenApiRequest {
	q := map[string]*string{}
	for i := 0; i+1 < len(kv); i += 2 {
		q[kv[i]] = tea.String(kv[i+1])
	}
	return &openapiutil.OpenApiRequest{Query: q}
}

// issued are credentials as an AssumeRole answer carries them.
type issued struct {
	keyID, secret, token, expiration, arn, roleID string
}

func assumeRole(t *testing.T, cl *openapi.Client, kv ...string) (issued, error) {
	t.Helper()
	res, err := cl.CallApi(rpcParams("AssumeRole", stsVersion, "AK"), query(kv...), &dara.RuntimeOptions{})
	if err != nil {
		return issued{}, err
	}
	return readIssued(t, res), nil
}

func readIssued(t *testing.T, res map[string]any) issued {
	t.Helper()
	body, _ := res["body"].(map[string]any)
	cred, _ := body["Credentials"].(map[string]any)
	user, _ := body["AssumedRoleUser"].(map[string]any)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	if str(body, "RequestId") == "" || cred == nil || user == nil {
		t.Fatalf("answer %v", body)
	}
	return issued{keyID: str(cred, "AccessKeyId"), secret: str(cred, "AccessKeySecret"), token: str(cred, "SecurityToken"),
		expiration: str(cred, "Expiration"), arn: str(user, "Arn"), roleID: str(user, "AssumedRoleId")}
}

// The official clients assume a member's role with the static pair, then
// act in the member's account with the credentials STS issued: they see
// that account's invocations, never the default account's.
func TestAssumeRoleOfficialSDK(t *testing.T) {
	for _, algorithm := range []string{"", "v2"} {
		t.Run("signature "+map[string]string{"": "V3", "v2": "V1"}[algorithm], func(t *testing.T) {
			clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
			run := listenAccounts(t, clock, "", Options{STSDuration: 30 * time.Second})
			cred, err := assumeRole(t, stsSDKClient(t, run, testKeyID, testSecret, algorithm, ""),
				"RoleArn", memberARole, "RoleSessionName", "sweep-1", "DurationSeconds", "3600", "Policy", `{"Version":"1"}`)
			if err != nil {
				t.Fatalf("AssumeRole: %v", err)
			}
			if len(cred.keyID) < 8 || cred.keyID[:4] != "STS." || cred.secret == "" || cred.token == "" {
				t.Fatalf("credentials %+v", cred)
			}
			if want := clock.Now().Add(30 * time.Second).Format(timeLayout); cred.expiration != want {
				t.Errorf("Expiration %s, want %s (the shorter of STSDuration and DurationSeconds)", cred.expiration, want)
			}
			if want := "acs:ram::" + memberA + ":assumed-role/ecs-stopper/sweep-1"; cred.arn != want {
				t.Errorf("Arn %s, want %s", cred.arn, want)
			}

			ec := sdkClient(t, run, cred.keyID, cred.secret, algorithm, cred.token)
			resp, err := ec.DescribeInvocations(&ecs.DescribeInvocationsRequest{RegionId: tea.String("cn-hangzhou")})
			if err != nil {
				t.Fatalf("DescribeInvocations as the role: %v", err)
			}
			if invs := resp.Body.Invocations.Invocation; len(invs) != 1 || tea.StringValue(invs[0].InvokeId) != memberAInvoke {
				t.Fatalf("the role sees %v, want only %s", resp.Body.Invocations, memberAInvoke)
			}
			if _, err := ec.StopInvocation(&ecs.StopInvocationRequest{RegionId: tea.String("cn-hangzhou"), InvokeId: tea.String(memberAInvoke)}); err != nil {
				t.Fatalf("StopInvocation as the role: %v", err)
			}
			if run.StopCallsIn(memberA, "cn-hangzhou", memberAInvoke) != 1 {
				t.Fatal("the stop did not reach the member's invocation")
			}
			_, err = ec.StopInvocation(&ecs.StopInvocationRequest{RegionId: tea.String("cn-hangzhou"), InvokeId: tea.String(hzOnce)})
			checkSDKError(t, err, 404, CodeInvalidInvokeId)

			res, err := stsSDKClient(t, run, cred.keyID, cred.secret, algorithm, cred.token).
				CallApi(getCallerIdentity, &openapiutil.OpenApiRequest{}, &dara.RuntimeOptions{})
			if err != nil {
				t.Fatalf("GetCallerIdentity as the role: %v", err)
			}
			body := res["body"].(map[string]any)
			if body["IdentityType"] != "AssumedRoleUser" || body["Arn"] != cred.arn || body["AccountId"] != memberA ||
				body["PrincipalId"] != cred.roleID {
				t.Fatalf("GetCallerIdentity %v", body)
			}

			// Once expired, every call with them is refused.
			clock.Advance(30 * time.Second)
			_, err = ec.DescribeInvocations(&ecs.DescribeInvocationsRequest{RegionId: tea.String("cn-hangzhou")})
			checkSDKError(t, err, 400, CodeSecurityTokenExpired)
		})
	}
}

// A role's credentials may assume another role whose trust names it.
func TestAssumeRoleChained(t *testing.T) {
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	run := listenAccounts(t, clock, "", Options{})
	first, err := assumeRole(t, stsSDKClient(t, run, testKeyID, testSecret, "", ""), "RoleArn", memberARole, "RoleSessionName", "first")
	if err != nil {
		t.Fatal(err)
	}
	second, err := assumeRole(t, stsSDKClient(t, run, first.keyID, first.secret, "", first.token), "RoleArn", memberBRole, "RoleSessionName", "second")
	if err != nil {
		t.Fatalf("AssumeRole with a trusted role's credentials: %v", err)
	}
	if want := "acs:ram::" + memberB + ":assumed-role/ecs-stopper/second"; second.arn != want {
		t.Fatalf("Arn %s, want %s", second.arn, want)
	}
	// The member's credentials cannot assume a role trusting only the
	// default account.
	_, err = assumeRole(t, stsSDKClient(t, run, first.keyID, first.secret, "", first.token), "RoleArn", memberAExtern, "RoleSessionName", "x1", "ExternalId", "ext-42")
	checkSDKError(t, err, 403, CodeNoPermission)
}

func TestAssumeRoleRefusals(t *testing.T) {
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	run := listenAccounts(t, clock, "", Options{})
	static := stsSDKClient(t, run, testKeyID, testSecret, "", "")
	for _, tc := range []struct {
		name   string
		kv     []string
		status int
		code   string
	}{
		{"role not in the fleet", []string{"RoleArn", "acs:ram::" + memberA + ":role/nobody", "RoleSessionName", "s1"}, 404, CodeRoleNotFound},
		{"member without the role", []string{"RoleArn", "acs:ram::1000000000000004:role/ecs-stopper", "RoleSessionName", "s1"}, 404, CodeRoleNotFound},
		{"caller not trusted", []string{"RoleArn", memberBRole, "RoleSessionName", "s1"}, 403, CodeNoPermission},
		{"external id missing", []string{"RoleArn", memberAExtern, "RoleSessionName", "s1"}, 403, CodeNoPermission},
		{"external id wrong", []string{"RoleArn", memberAExtern, "RoleSessionName", "s1", "ExternalId", "ext-41"}, 403, CodeNoPermission},
		{"session name too short", []string{"RoleArn", memberARole, "RoleSessionName", "s"}, 400, "InvalidParameter.RoleSessionName"},
		{"session name with a space", []string{"RoleArn", memberARole, "RoleSessionName", "a b"}, 400, "InvalidParameter.RoleSessionName"},
		{"no session name", []string{"RoleArn", memberARole}, 400, "MissingParameter.RoleSessionName"},
		{"no role", []string{"RoleSessionName", "s1"}, 400, "MissingParameter.RoleArn"},
		{"role ARN of a user", []string{"RoleArn", "acs:ram::" + memberA + ":user/bob", "RoleSessionName", "s1"}, 400, "InvalidParameter.RoleArn"},
		{"duration too short", []string{"RoleArn", memberARole, "RoleSessionName", "s1", "DurationSeconds", "899"}, 400, "InvalidParameter.DurationSeconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := assumeRole(t, static, tc.kv...)
			checkSDKError(t, err, tc.status, tc.code)
		})
	}
	if _, err := assumeRole(t, static, "RoleArn", memberAExtern, "RoleSessionName", "s1", "ExternalId", "ext-42"); err != nil {
		t.Fatalf("with the right ExternalId: %v", err)
	}
}

// Credentials STS issued are checked with their token, V3 and V1.
func TestSTSCredentialRefusals(t *testing.T) {
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	run := listenAccounts(t, clock, "", Options{})
	static := stsSDKClient(t, run, testKeyID, testSecret, "", "")
	a, err := assumeRole(t, static, "RoleArn", memberARole, "RoleSessionName", "a1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := assumeRole(t, static, "RoleArn", memberARole, "RoleSessionName", "b1")
	if err != nil {
		t.Fatal(err)
	}
	for _, algorithm := range []string{"", "v2"} {
		for _, tc := range []struct {
			name, keyID, secret, token string
			status                     int
			code                       string
		}{
			{"no token", a.keyID, a.secret, "", 400, CodeMissingSecurityToken},
			{"another session's token", a.keyID, a.secret, b.token, 400, CodeSecurityTokenMismatch},
			{"a token never issued", a.keyID, a.secret, "CAISnotissued", 400, CodeSecurityTokenMalformed},
			{"a key never issued", "STS.neverissued0000000000000", a.secret, a.token, 404, CodeInvalidAccessKeyId},
			{"wrong secret", a.keyID, "wrong", a.token, 400, CodeSignatureDoesNotMatch},
		} {
			t.Run(tc.name+" "+algorithm, func(t *testing.T) {
				_, err := sdkClient(t, run, tc.keyID, tc.secret, algorithm, tc.token).
					DescribeInvocations(&ecs.DescribeInvocationsRequest{RegionId: tea.String("cn-hangzhou")})
				checkSDKError(t, err, tc.status, tc.code)
			})
		}
	}
}

// The log has one line per call, naming its account and principal and never
// a secret or token.
func TestSTSLogLines(t *testing.T) {
	var logs syncBuffer
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	run := listenAccounts(t, clock, "", Options{Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	cred, err := assumeRole(t, stsSDKClient(t, run, testKeyID, testSecret, "", ""), "RoleArn", memberARole, "RoleSessionName", "logged")
	if err != nil {
		t.Fatal(err)
	}
	ec := sdkClient(t, run, cred.keyID, cred.secret, "", cred.token)
	if _, err := ec.DescribeInvocations(&ecs.DescribeInvocationsRequest{RegionId: tea.String("cn-hangzhou")}); err != nil {
		t.Fatal(err)
	}
	_, err = sdkClient(t, run, cred.keyID, cred.secret, "", "CAISwrong-token-value").
		DescribeInvocations(&ecs.DescribeInvocationsRequest{RegionId: tea.String("cn-hangzhou")})
	checkSDKError(t, err, 400, CodeSecurityTokenMalformed)

	lines := callLines(t, logs.String())
	want := []map[string]string{
		{"action": "AssumeRole", "account": DefaultAccountId, "principal": "key:LTAI****tKey", "code": ""},
		{"action": "DescribeInvocations", "account": memberA, "principal": memberARole, "code": ""},
		{"action": "DescribeInvocations", "account": memberA, "principal": memberARole, "code": CodeSecurityTokenMalformed},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d call lines, want %d:\n%s", len(lines), len(want), logs.String())
	}
	for i, w := range want {
		for k, v := range w {
			if got, ok := lines[i][k]; !ok || got != v {
				t.Errorf("line %d: %s = %v, want %q", i+1, k, got, v)
			}
		}
	}
	checkNoSecrets(t, logs.String(), testSecret, cred.secret, cred.token, "CAISwrong-token-value")
}
