package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/ecs-stopper/stopper/shared/acs"
	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// getCallerIdentity is the official STS SDK's GetCallerIdentity
// (alibabacloud-go/sts-20150401 v2), called through the generic OpenAPI
// client the module already has: the same parameters, the same wire.
var getCallerIdentity = &openapiutil.Params{
	Action: tea.String("GetCallerIdentity"), Version: tea.String("2015-04-01"), Protocol: tea.String("HTTP"),
	Pathname: tea.String("/"), Method: tea.String("POST"), AuthType: tea.String("AK"), Style: tea.String("RPC"),
	ReqBodyType: tea.String("formData"), BodyType: tea.String("json"),
}

func stsSDKClient(t *testing.T, run *Running, keyID, secret, algorithm, token string) *openapi.Client {
	t.Helper()
	cfg := &openapiutil.Config{
		AccessKeyId: tea.String(keyID), AccessKeySecret: tea.String(secret),
		Endpoint: tea.String(run.Addr), Protocol: tea.String("HTTP"),
		ReadTimeout: tea.Int(5000), ConnectTimeout: tea.Int(2000),
	}
	if algorithm != "" {
		cfg.SignatureAlgorithm = tea.String(algorithm)
	}
	if token != "" {
		cfg.SecurityToken = tea.String(token)
	}
	cl, err := openapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// The official client gets the account's root identity, signed either way,
// from the listener that serves ECS.
func TestGetCallerIdentityOfficialSDK(t *testing.T) {
	for _, tc := range []struct {
		name, algorithm, token, account, wantAccount string
	}{
		{name: "V3, default account", wantAccount: DefaultAccountId},
		{name: "V3 with STS token", token: "CAIS-any-sts-token", account: "1234567890123456", wantAccount: "1234567890123456"},
		{name: "V1", algorithm: "v2", account: "5555666677778888", wantAccount: "5555666677778888"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, err := Listen("127.0.0.1:0", Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, AccountId: tc.account})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { run.Close() })
			res, err := stsSDKClient(t, run, testKeyID, testSecret, tc.algorithm, tc.token).
				CallApi(getCallerIdentity, &openapiutil.OpenApiRequest{}, &dara.RuntimeOptions{})
			if err != nil {
				t.Fatalf("GetCallerIdentity: %v", err)
			}
			body, _ := res["body"].(map[string]any)
			want := map[string]string{
				"AccountId": tc.wantAccount, "UserId": tc.wantAccount, "PrincipalId": tc.wantAccount,
				"Arn": "acs:ram::" + tc.wantAccount + ":root", "IdentityType": "Account",
			}
			for k, v := range want {
				if body[k] != v {
					t.Errorf("%s = %v, want %s", k, body[k], v)
				}
			}
			if id, _ := body["RequestId"].(string); id == "" {
				t.Errorf("no RequestId: %v", body)
			}
			if run.Calls(actionGetCallerIdentity) != 1 || run.Succeeded(actionGetCallerIdentity) != 1 {
				t.Fatalf("calls %d, succeeded %d", run.Calls(actionGetCallerIdentity), run.Succeeded(actionGetCallerIdentity))
			}
		})
	}
}

// STS calls are verified as ECS calls are.
func TestGetCallerIdentityRefusals(t *testing.T) {
	for _, algorithm := range []string{"", "v2"} {
		run := listen(t, nil)
		_, err := stsSDKClient(t, run, testKeyID, "wrong-secret", algorithm, "").
			CallApi(getCallerIdentity, &openapiutil.OpenApiRequest{}, &dara.RuntimeOptions{})
		checkSDKError(t, err, 400, CodeSignatureDoesNotMatch)
		_, err = stsSDKClient(t, run, "LTAInobody", testSecret, algorithm, "").
			CallApi(getCallerIdentity, &openapiutil.OpenApiRequest{}, &dara.RuntimeOptions{})
		checkSDKError(t, err, 404, CodeInvalidAccessKeyId)
		if n := run.Succeeded(actionGetCallerIdentity); n != 0 {
			t.Fatalf("%d refused calls succeeded", n)
		}
	}
}

// The version picks the service: each serves its own actions only.
func TestServiceByVersion(t *testing.T) {
	_, hs := start(t, Options{})
	c := newClient(hs)
	for _, tc := range []struct {
		name, action, version string
		status                int
		code                  string
	}{
		{"STS action, STS version", actionGetCallerIdentity, stsVersion, http.StatusOK, ""},
		{"ECS action, STS version", actionStop, stsVersion, http.StatusNotFound, CodeInvalidAction},
		{"unknown STS action", "AssumeRoleWithSAML", stsVersion, http.StatusNotFound, CodeInvalidAction},
		{"STS action, ECS version", actionGetCallerIdentity, ca.Version, http.StatusNotFound, CodeInvalidAction},
		{"other version", actionGetCallerIdentity, "2019-01-01", http.StatusBadRequest, CodeInvalidVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"RegionId": {"cn-hangzhou"}, "InvokeId": {hzOnce}}
			req, err := http.NewRequest(http.MethodPost, hs.URL+"/?"+acs.CanonicalQuery(q), http.NoBody)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("x-acs-action", tc.action)
			req.Header.Set("x-acs-version", tc.version)
			acs.SignV3(req, nil, c.cred, c.now, fmt.Sprintf("nonce-version-%d", nonceSeq.Add(1)))
			r := c.send(t, req)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("%d %s (%s), want %d %q", r.status, r.code(), r.raw, tc.status, tc.code)
			}
		})
	}
}
