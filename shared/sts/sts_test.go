package sts_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/sts"
)

const (
	testKeyID  = "LTAI5tStsClientTestKey01"
	testSecret = "sts-client-test-secret"
	testToken  = "CAIS/sts+token=with/odd+chars"
)

func newClient(t *testing.T, endpoint string, cred acs.Credentials) *sts.Client {
	t.Helper()
	c, err := sts.New(sts.Options{Endpoint: endpoint, Credentials: cred, Timeout: 5 * time.Second, RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The client's calls are what the emulator (which verifies signatures as
// the real service does) accepts, and its answer decodes whole.
func TestGetCallerIdentityAgainstEmulator(t *testing.T) {
	run, err := emulator.Listen("127.0.0.1:0", emulator.Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, AccountId: "1234567890123456"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Close() })
	for _, tc := range []struct {
		name     string
		cred     acs.Credentials
		wantCode string
	}{
		{"static key", acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret}, ""},
		{"with an STS token", acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret, SecurityToken: testToken}, ""},
		{"wrong secret", acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: "wrong", SecurityToken: testToken}, "SignatureDoesNotMatch"},
		{"unknown key", acs.Credentials{AccessKeyID: "LTAI5tNobodyNobodyNobody", AccessKeySecret: testSecret}, "InvalidAccessKeyId.NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := newClient(t, run.URL, tc.cred).GetCallerIdentity(context.Background())
			if tc.wantCode != "" {
				var e *sts.Error
				if !errors.As(err, &e) || e.Code != tc.wantCode || e.HTTPStatus < 400 || e.RequestId == "" || e.Action != "GetCallerIdentity" {
					t.Fatalf("error %#v, want %s", err, tc.wantCode)
				}
				for _, secret := range []string{tc.cred.AccessKeySecret, tc.cred.SecurityToken, tc.cred.AccessKeyID} {
					if secret != "" && strings.Contains(err.Error(), secret) {
						t.Fatalf("the error shows a credential: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := sts.Identity{RequestId: id.RequestId, AccountId: "1234567890123456", UserId: "1234567890123456",
				Arn: "acs:ram::1234567890123456:root", IdentityType: "Account", PrincipalId: "1234567890123456"}
			if id != want || id.RequestId == "" {
				t.Fatalf("identity %+v, want %+v", id, want)
			}
		})
	}
}

// Answers that are not STS's, and errors that echo credentials, become
// *sts.Error with what the caller needs and no secret.
func TestAnswers(t *testing.T) {
	cred := acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret, SecurityToken: testToken}
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		wantCode string
		wantText string
	}{
		{"error JSON echoing the token", 400, `{"RequestId":"R1","Code":"SignatureDoesNotMatch","Message":"string to sign holds ` + testToken + ` and ` + acs.PercentEncode(testToken) + `"}`,
			"SignatureDoesNotMatch", "[redacted]"},
		{"HTML 502", 502, `<html>bad gateway</html>`, "HTTP502", "bad gateway"},
		{"not JSON on 200", 200, `<xml/>`, "InvalidResponse", "not STS's JSON"},
		{"no account", 200, `{"RequestId":"R2"}`, "InvalidResponse", "no AccountId"},
		{"empty error body", 500, ``, "HTTP500", "(empty body)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("x-acs-action") != "GetCallerIdentity" || r.Header.Get("x-acs-version") != sts.Version ||
					!strings.HasPrefix(r.Header.Get("Authorization"), acs.AlgorithmV3+" ") || r.Header.Get("x-acs-security-token") != testToken {
					t.Errorf("request headers %v", r.Header)
				}
				w.Header().Set("x-acs-request-id", "HDR-REQ")
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			t.Cleanup(hs.Close)
			_, err := newClient(t, hs.URL, cred).GetCallerIdentity(context.Background())
			var e *sts.Error
			if !errors.As(err, &e) || e.Code != tc.wantCode || !strings.Contains(e.Message, tc.wantText) {
				t.Fatalf("error %v, want %s with %q", err, tc.wantCode, tc.wantText)
			}
			if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), acs.PercentEncode(testToken)) {
				t.Fatalf("the error shows the token: %v", err)
			}
		})
	}
}

func TestNoCredentialsSendsNothing(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("a call was sent") }))
	t.Cleanup(hs.Close)
	if _, err := newClient(t, hs.URL, acs.Credentials{AccessKeyID: testKeyID}).GetCallerIdentity(context.Background()); !errors.Is(err, sts.ErrNoCredentials) {
		t.Fatalf("error %v, want sts.ErrNoCredentials", err)
	}
}

func TestRegionalEndpoint(t *testing.T) {
	if got := sts.Endpoint("cn-hangzhou", false); got != "https://sts.cn-hangzhou.aliyuncs.com" {
		t.Error(got)
	}
	if got := sts.Endpoint("cn-shanghai", true); got != "https://sts-vpc.cn-shanghai.aliyuncs.com" {
		t.Error(got)
	}
}

// A zero Timeout is the default; a negative one is refused.
func TestNewTimeout(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"RequestId":"R1","AccountId":"1234567890123456"}`))
	}))
	t.Cleanup(hs.Close)
	cred := acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret}
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		wantErr string
	}{
		{"zero", 0, ""},
		{"a minute", time.Minute, ""},
		{"negative", -time.Second, "Timeout must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := sts.New(sts.Options{Endpoint: hs.URL, Credentials: cred, Timeout: tc.timeout})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id, err := c.GetCallerIdentity(context.Background()); err != nil || id.AccountId != "1234567890123456" {
				t.Fatalf("GetCallerIdentity = %+v, %v", id, err)
			}
		})
	}
}

// An error names the HTTP status and request id when it has either.
func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  sts.Error
		want string
	}{
		{sts.Error{Action: "AssumeRole", Code: "InvalidResponse", Message: "m"}, "sts: AssumeRole: InvalidResponse: m"},
		{sts.Error{Action: "AssumeRole", Code: "HTTP502", Message: "m", HTTPStatus: 502}, "sts: AssumeRole: HTTP502: m (HTTP 502, RequestId )"},
		{sts.Error{Action: "AssumeRole", Code: "NoPermission", Message: "m", RequestId: "R1"}, "sts: AssumeRole: NoPermission: m (HTTP 0, RequestId R1)"},
		{sts.Error{Action: "AssumeRole", Code: "NoPermission", Message: "m", RequestId: "R1", HTTPStatus: 403}, "sts: AssumeRole: NoPermission: m (HTTP 403, RequestId R1)"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// An answer of up to 1 MiB is read whole; a larger one is refused as such.
func TestAnswerSizeLimit(t *testing.T) {
	const limit = 1 << 20
	answer := `{"RequestId":"R1","AccountId":"1234567890123456"}`
	for _, tc := range []struct {
		name     string
		size     int
		wantCode string
		wantText string
	}{
		{"exactly 1 MiB", limit, "", ""},
		{"one byte more", limit + 1, "InvalidResponse", "larger than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Leading whitespace: an answer cut short is not JSON.
			body := strings.Repeat(" ", tc.size-len(answer)) + answer
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
			t.Cleanup(hs.Close)
			id, err := newClient(t, hs.URL, acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret}).GetCallerIdentity(context.Background())
			if tc.wantCode == "" {
				if err != nil || id.AccountId != "1234567890123456" {
					t.Fatalf("GetCallerIdentity = %+v, %v", id, err)
				}
				return
			}
			var e *sts.Error
			if !errors.As(err, &e) || e.Code != tc.wantCode || !strings.Contains(e.Message, tc.wantText) {
				t.Fatalf("GetCallerIdentity = %v, want %s with %q", err, tc.wantCode, tc.wantText)
			}
		})
	}
}
