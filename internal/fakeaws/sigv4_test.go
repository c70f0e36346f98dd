package fakeaws

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go/aws-http-auth/credentials"
	"github.com/aws/smithy-go/aws-http-auth/sigv4"
)

// AWS's published Signature Version 4 test suite: credentials, time, region
// and service shared by every case.
// https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html
var suiteCredentials = awsCredentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}

const suiteToken = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

func TestSigV4TestSuite(t *testing.T) {
	suiteTime := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, method, contentType, token, body string
		signed, authz                          string
	}{
		{"get-vanilla", "GET", "", "", "", "host;x-amz-date",
			"5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"post-vanilla", "POST", "", "", "", "host;x-amz-date",
			"5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
		{"post-x-www-form-urlencoded", "POST", "application/x-www-form-urlencoded", "", "Param1=value1", "content-type;host;x-amz-date",
			"ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
		{"post-x-www-form-urlencoded-parameters", "POST", "application/x-www-form-urlencoded; charset=utf8", "", "Param1=value1", "content-type;host;x-amz-date",
			"1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
		{"post-sts-header-before", "POST", "", suiteToken, "", "host;x-amz-date;x-amz-security-token",
			"85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(tc.method, "https://example.amazonaws.com/", strings.NewReader(tc.body))
			r.Header.Set("X-Amz-Date", "20150830T123600Z")
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			if tc.token != "" {
				r.Header.Set("X-Amz-Security-Token", tc.token)
			}
			r.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=%s, Signature=%s", tc.signed, tc.authz))
			cred := suiteCredentials
			cred.SessionToken = tc.token
			if err := verifySigV4(r, []byte(tc.body), cred, "us-east-1", "service", suiteTime); err != nil {
				t.Fatalf("AWS's own signature is refused: %v", err)
			}
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), tc.authz[:8], "00000000", 1))
			if err := verifySigV4(r, []byte(tc.body), cred, "us-east-1", "service", suiteTime); err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
				t.Fatalf("a changed signature is accepted: %v", err)
			}
		})
	}
}

// TestSigV4AgainstAWSSigner verifies what AWS's standalone signer signs,
// and refuses it when anything signed changes afterwards.
func TestSigV4AgainstAWSSigner(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	cred := awsCredentials{DefaultAccessKeyID, DefaultSecretAccessKey, DefaultSessionToken}
	for _, tc := range []struct {
		name    string
		url     string
		body    string
		tamper  func(*http.Request) []byte // nil: the signed request as it is
		refusal string
	}{
		{"sts form", "https://sts.eu-west-1.amazonaws.com/", "Action=GetWebIdentityToken&Audience.member.1=sts.aliyuncs.com", nil, ""},
		{"path and query", "http://127.0.0.1:8080/a%20b/c?z=1&a=2&a=1&sp=x%20y&t=~_.-", "", nil, ""},
		{"unicode query", "https://example.amazonaws.com/?ሴ=bar&k=%E2%82%AC", "x", nil, ""},
		{"body changed", "https://sts.eu-west-1.amazonaws.com/", "Action=A", func(*http.Request) []byte { return []byte("Action=B") }, "SignatureDoesNotMatch"},
		{"query changed", "https://example.amazonaws.com/?a=1", "", func(r *http.Request) []byte { r.URL.RawQuery = "a=2"; return nil }, "SignatureDoesNotMatch"},
		{"host changed", "https://example.amazonaws.com/", "", func(r *http.Request) []byte { r.Host = "other.amazonaws.com"; return nil }, "SignatureDoesNotMatch"},
		{"token changed", "https://example.amazonaws.com/", "", func(r *http.Request) []byte { r.Header.Set("X-Amz-Security-Token", "x"); return nil }, "InvalidClientTokenId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, tc.url, strings.NewReader(tc.body))
			sum := sha256.Sum256([]byte(tc.body))
			err := sigv4.New().SignRequest(&sigv4.SignRequestInput{Request: r, PayloadHash: sum[:], Service: "sts", Region: "eu-west-1", Time: now,
				Credentials: credentials.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey, SessionToken: cred.SessionToken}})
			if err != nil {
				t.Fatal(err)
			}
			body := []byte(tc.body)
			if tc.tamper != nil {
				if b := tc.tamper(r); b != nil {
					body = b
				}
			}
			err = verifySigV4(r, body, cred, "eu-west-1", "sts", now.Add(time.Minute))
			switch {
			case tc.refusal == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refusal != "" && (err == nil || !strings.Contains(err.Error(), tc.refusal)):
				t.Fatalf("got %v; want %s", err, tc.refusal)
			}
			if err := verifySigV4(r, bytes.Clone(body), awsCredentials{cred.AccessKeyID, "wrong", cred.SessionToken}, "eu-west-1", "sts", now); err == nil {
				t.Fatal("a wrong secret is accepted")
			}
		})
	}
}

func TestSigV4Refusals(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	cred := awsCredentials{DefaultAccessKeyID, DefaultSecretAccessKey, DefaultSessionToken}
	sign := func(region, service string, at time.Time, withToken bool) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "https://sts.eu-west-1.amazonaws.com/", http.NoBody)
		c := credentials.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey}
		if withToken {
			c.SessionToken = cred.SessionToken
		}
		sum := sha256.Sum256(nil)
		_ = sigv4.New().SignRequest(&sigv4.SignRequestInput{Request: r, PayloadHash: sum[:], Service: service, Region: region, Time: at, Credentials: c})
		return r
	}
	for _, tc := range []struct {
		name string
		r    *http.Request
		want string
	}{
		{"other region", sign("us-east-1", "sts", now, true), "valid region"},
		{"other service", sign("eu-west-1", "iam", now, true), "correct service"},
		{"too old", sign("eu-west-1", "sts", now.Add(-6*time.Minute), true), "Signature expired"},
		{"from the future", sign("eu-west-1", "sts", now.Add(6*time.Minute), true), "Signature expired"},
		{"no session token", sign("eu-west-1", "sts", now, false), "InvalidClientTokenId"},
		{"no Authorization", func() *http.Request {
			r := sign("eu-west-1", "sts", now, true)
			r.Header.Del("Authorization")
			return r
		}(), "IncompleteSignature"},
		{"no date", func() *http.Request { r := sign("eu-west-1", "sts", now, true); r.Header.Del("X-Amz-Date"); return r }(), "IncompleteSignature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := verifySigV4(tc.r, nil, cred, "eu-west-1", "sts", now); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v; want %q", err, tc.want)
			}
		})
	}
}
