package sts_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/sts"
)

const (
	testOIDCToken  = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhcm46YXdzOmlhbTo6MTExMTIyMjIzMzMzOnJvbGUvc3RvcHBlciJ9.c2lnbmF0dXJl+/="
	issuedID       = "STS.NUgYrLnoC37mZZCNnAbez2Xx"
	issuedSecret   = "issued-secret-7kPq"
	issuedToken    = "CAIS8QF1q6Ft5B2yfSjIr5bSEsX/issued+token=="
	assumedRoleArn = "acs:ram::1000000000000002:assumed-role/ecs-stopper/ecs-stopper-1"
	roleArn        = "acs:ram::1000000000000002:role/ecs-stopper"
	providerArn    = "acs:ram::1000000000000001:oidc-provider/aws"
)

const okAnswer = `{"RequestId":"R-OK","AssumedRoleUser":{"Arn":"` + assumedRoleArn + `","AssumedRoleId":"3000:ecs-stopper-1"},` +
	`"Credentials":{"AccessKeyId":"` + issuedID + `","AccessKeySecret":"` + issuedSecret + `","SecurityToken":"` + issuedToken + `","Expiration":"2026-12-01T08:00:00Z"}}`

// seen is what the fake STS received.
type seen struct {
	mu     sync.Mutex
	reqs   []*http.Request
	bodies []string
}

func (s *seen) last(t *testing.T) (*http.Request, url.Values) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(s.reqs))
	}
	form, err := url.ParseQuery(s.bodies[0])
	if err != nil {
		t.Fatal(err)
	}
	return s.reqs[0], form
}

func fakeSTS(t *testing.T, status int, body string) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs, s.bodies = append(s.reqs, r), append(s.bodies, string(b))
		s.mu.Unlock()
		w.Header().Set("x-acs-request-id", "HDR-REQ")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(hs.Close)
	return hs, s
}

func TestAssumeRoleRequest(t *testing.T) {
	base := acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret}
	other := acs.Credentials{AccessKeyID: "LTAI5tOtherOtherOther001", AccessKeySecret: "other-secret", SecurityToken: testToken}
	for _, tc := range []struct {
		name       string
		signWith   *acs.Credentials // nil: the client's own
		in         sts.AssumeRoleInput
		wantParams url.Values
	}{
		{"minimal", nil, sts.AssumeRoleInput{RoleArn: roleArn, RoleSessionName: "ecs-stopper-1"},
			url.Values{"RoleArn": {roleArn}, "RoleSessionName": {"ecs-stopper-1"}}},
		{"external id and duration", nil, sts.AssumeRoleInput{RoleArn: roleArn, RoleSessionName: "s@x.y_z-1", ExternalId: "abc-123", DurationSeconds: 900},
			url.Values{"RoleArn": {roleArn}, "RoleSessionName": {"s@x.y_z-1"}, "ExternalId": {"abc-123"}, "DurationSeconds": {"900"}}},
		{"a copy signing with other credentials", &other, sts.AssumeRoleInput{RoleArn: roleArn, RoleSessionName: "ecs-stopper-2"},
			url.Values{"RoleArn": {roleArn}, "RoleSessionName": {"ecs-stopper-2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, s := fakeSTS(t, 200, okAnswer)
			c := newClient(t, hs.URL, base)
			signer := base
			if tc.signWith != nil {
				c, signer = c.WithCredentials(*tc.signWith), *tc.signWith
			}
			got, err := c.AssumeRole(context.Background(), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			want := sts.Credentials{Pair: acs.Credentials{AccessKeyID: issuedID, AccessKeySecret: issuedSecret, SecurityToken: issuedToken},
				Expiration: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), AssumedRoleArn: assumedRoleArn, RequestId: "R-OK"}
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
			r, _ := s.last(t)
			if r.Header.Get("x-acs-action") != "AssumeRole" || r.Header.Get("x-acs-version") != sts.Version ||
				!strings.Contains(r.Header.Get("Authorization"), "Credential="+signer.AccessKeyID+",") ||
				r.Header.Get("x-acs-security-token") != signer.SecurityToken {
				t.Errorf("headers %v, want signed by %s", r.Header, signer)
			}
			if q := r.URL.Query(); q.Encode() != tc.wantParams.Encode() {
				t.Errorf("query %v, want %v", q, tc.wantParams)
			}
		})
	}
}

func TestAssumeRoleWithOIDCRequest(t *testing.T) {
	hs, s := fakeSTS(t, 200, okAnswer)
	// Credentials on the client are not used: the call is anonymous.
	c := newClient(t, hs.URL, acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret})
	got, err := c.AssumeRoleWithOIDC(context.Background(), sts.AssumeRoleWithOIDCInput{OIDCProviderArn: providerArn, RoleArn: roleArn,
		OIDCToken: testOIDCToken + "\n", RoleSessionName: "ecs-stopper-1", DurationSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	if got.Pair.SecurityToken != issuedToken || got.AssumedRoleArn != assumedRoleArn {
		t.Fatalf("got %+v", got)
	}
	r, form := s.last(t)
	if r.Header.Get("Authorization") != "" || r.Header.Get("x-acs-security-token") != "" {
		t.Errorf("the anonymous call carries credentials: %v", r.Header)
	}
	if q := r.URL.Query(); q.Get("Action") != "AssumeRoleWithOIDC" || q.Get("Version") != sts.Version || q.Get("Format") != "JSON" || q.Has("OIDCToken") {
		t.Errorf("query %v", q)
	}
	if r.Header.Get("x-acs-action") != "AssumeRoleWithOIDC" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		t.Errorf("headers %v", r.Header)
	}
	want := url.Values{"OIDCProviderArn": {providerArn}, "RoleArn": {roleArn}, "OIDCToken": {testOIDCToken},
		"RoleSessionName": {"ecs-stopper-1"}, "DurationSeconds": {"3600"}}
	if form.Encode() != want.Encode() {
		t.Errorf("form %v, want %v", form, want)
	}
}

// Refused inputs are errors before anything is sent.
func TestExchangeInputChecks(t *testing.T) {
	hs, s := fakeSTS(t, 200, okAnswer)
	c := newClient(t, hs.URL, acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret})
	ok := sts.AssumeRoleWithOIDCInput{OIDCProviderArn: providerArn, RoleArn: roleArn, OIDCToken: testOIDCToken, RoleSessionName: "ecs-stopper-1"}
	for _, tc := range []struct {
		name   string
		mutate func(*sts.AssumeRoleWithOIDCInput)
		want   string
	}{
		{"no role", func(in *sts.AssumeRoleWithOIDCInput) { in.RoleArn = "" }, "RoleArn is empty"},
		{"no provider", func(in *sts.AssumeRoleWithOIDCInput) { in.OIDCProviderArn = "" }, "OIDCProviderArn is empty"},
		{"blank token", func(in *sts.AssumeRoleWithOIDCInput) { in.OIDCToken = " \n" }, "token is empty"},
		{"short session", func(in *sts.AssumeRoleWithOIDCInput) { in.RoleSessionName = "a" }, "2 to 64"},
		{"long session", func(in *sts.AssumeRoleWithOIDCInput) { in.RoleSessionName = strings.Repeat("a", 65) }, "2 to 64"},
		{"bad session character", func(in *sts.AssumeRoleWithOIDCInput) { in.RoleSessionName = "a b" }, `holds ' '`},
		{"negative duration", func(in *sts.AssumeRoleWithOIDCInput) { in.DurationSeconds = -1 }, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ok
			tc.mutate(&in)
			_, err := c.AssumeRoleWithOIDC(context.Background(), in)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), testOIDCToken) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := c.WithCredentials(acs.Credentials{}).AssumeRole(context.Background(), sts.AssumeRoleInput{RoleArn: roleArn, RoleSessionName: "ab"}); !errors.Is(err, sts.ErrNoCredentials) {
		t.Errorf("AssumeRole without credentials: %v", err)
	}
	if len(s.reqs) != 0 {
		t.Errorf("%d requests sent", len(s.reqs))
	}
}

// Errors carry STS's code, request id and status, without the token or
// the signing credentials, and never quote an answer that may hold issued
// credentials.
func TestExchangeErrors(t *testing.T) {
	base := acs.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testSecret, SecurityToken: testToken}
	echo := `{"RequestId":"R-ERR","Code":"AuthenticationFail.OIDCToken.Invalid","Message":"token ` + testOIDCToken + ` / ` +
		url.QueryEscape(testOIDCToken) + ` signed by ` + testToken + `"}`
	for _, tc := range []struct {
		name       string
		status     int
		body       string
		wantCode   string
		wantStatus int
		wantText   string
	}{
		{"STS error echoing the token", 400, echo, "AuthenticationFail.OIDCToken.Invalid", 400, "[redacted]"},
		{"role missing", 404, `{"RequestId":"R-404","Code":"EntityNotExist.Role","Message":"The role not exists: acs:ram::1:role/x."}`, "EntityNotExist.Role", 404, "role not exists"},
		{"HTML 503", 503, `<html>unavailable</html>`, "HTTP503", 503, "unavailable"},
		{"not JSON on 200", 200, `{"Credentials":{"AccessKeySecret":"` + issuedSecret + `"`, "InvalidResponse", 200, "not JSON"},
		{"wrong type on 200", 200, `{"Credentials":{"AccessKeySecret":"` + issuedSecret + `","Expiration":1}}`, "InvalidResponse", 200, "wrong type"},
		{"empty 200", 200, ``, "InvalidResponse", 200, "empty"},
		{"credentials missing", 200, `{"RequestId":"R-2","Credentials":{"AccessKeySecret":"` + issuedSecret + `"}}`, "InvalidResponse", 200,
			"no Credentials.AccessKeyId, Credentials.SecurityToken, Credentials.Expiration"},
		{"bad expiration", 200, strings.Replace(okAnswer, "2026-12-01T08:00:00Z", "tomorrow", 1), "InvalidResponse", 200, "Expiration is not an ISO 8601 time"},
	} {
		for _, action := range []string{"AssumeRole", "AssumeRoleWithOIDC"} {
			t.Run(tc.name+"/"+action, func(t *testing.T) {
				hs, _ := fakeSTS(t, tc.status, tc.body)
				c := newClient(t, hs.URL, base)
				var err error
				if action == "AssumeRole" {
					_, err = c.AssumeRole(context.Background(), sts.AssumeRoleInput{RoleArn: roleArn, RoleSessionName: "ecs-stopper-1"})
				} else {
					_, err = c.AssumeRoleWithOIDC(context.Background(), sts.AssumeRoleWithOIDCInput{OIDCProviderArn: providerArn, RoleArn: roleArn,
						OIDCToken: testOIDCToken, RoleSessionName: "ecs-stopper-1"})
				}
				var e *sts.Error
				if !errors.As(err, &e) || e.Code != tc.wantCode || e.HTTPStatus != tc.wantStatus || e.Action != action || e.RequestId == "" ||
					!strings.Contains(e.Message, tc.wantText) {
					t.Fatalf("error %#v, want %s (HTTP %d) with %q", err, tc.wantCode, tc.wantStatus, tc.wantText)
				}
				secrets := []string{issuedSecret}
				if action == "AssumeRole" {
					secrets = append(secrets, testSecret, testToken)
				} else {
					secrets = append(secrets, testOIDCToken, url.QueryEscape(testOIDCToken))
				}
				for _, s := range secrets {
					if strings.Contains(err.Error(), s) {
						t.Fatalf("the error shows %q: %v", s, err)
					}
				}
			})
		}
	}
}

func TestSessionName(t *testing.T) {
	at := time.Unix(1764576000, 0)
	for _, tc := range []struct{ prefix, want string }{
		{"ecs-stopper", "ecs-stopper-1764576000"},
		{"my func/prod", "my-func-prod-1764576000"},
		{strings.Repeat("x", 80), strings.Repeat("x", 64-11) + "-1764576000"},
		{strings.Repeat("x", 53), strings.Repeat("x", 53) + "-1764576000"},
		{strings.Repeat("x", 54), strings.Repeat("x", 53) + "-1764576000"},
		{strings.Repeat("x", 70), strings.Repeat("x", 53) + "-1764576000"},
		{"", "-1764576000"},
	} {
		got := sts.SessionName(tc.prefix, at)
		if got != tc.want || sts.CheckSessionName(got) != nil {
			t.Errorf("SessionName(%q) = %q (%v), want %q", tc.prefix, got, sts.CheckSessionName(got), tc.want)
		}
	}
}

// CheckSessionName takes 2 to 64 of [A-Za-z0-9.@_-], every range to its
// last character, and names what it refuses.
func TestCheckSessionName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // "" when accepted
	}{
		{"az", ""},
		{"AZ", ""},
		{"09", ""},
		{"a.@_-Z9", ""},
		{strings.Repeat("a", 64), ""},
		{"a", "has 1 characters"},
		{strings.Repeat("a", 65), "has 65 characters"},
		{"a`", "holds '`'"},
		{"a{", "holds '{'"},
		{"@[", "holds '['"},
		{"a/", "holds '/'"},
		{"a:", "holds ':'"},
		{"a\xc3\xa9", "holds 'Ã'"},
	} {
		err := sts.CheckSessionName(tc.name)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckSessionName(%q) = %v, want it accepted", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckSessionName(%q) = %v, want %q", tc.name, err, tc.want)
		}
	}
}
