package awssts_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/fakeaws"
	"github.com/ecs-stopper/stopper/shared/awssts"
)

// options are a client's options for the stand-in, as Lambda would set them.
func options(s *fakeaws.STS) awssts.Options {
	o := s.Options()
	return awssts.Options{
		Audience: "sts.aliyuncs.com", Region: o.Region, Endpoint: s.URL,
		AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey, SessionToken: o.SessionToken,
	}
}

func newClient(t *testing.T, o awssts.Options) *awssts.Client {
	t.Helper()
	c, err := awssts.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// verifyRS256 checks a JWT's signature with key and returns its header and claims.
func verifyRS256(t *testing.T, token string, key *rsa.PublicKey) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("the token has %d parts, want 3", len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("the token's signature does not verify: %v", err)
	}
	for i, out := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

func TestTokenIsFetchedAndSigned(t *testing.T) {
	for _, tc := range []struct {
		name     string
		duration int
		want     float64
	}{
		{"default duration", 0, 300},
		{"one hour", 3600, 3600},
		{"shortest", 60, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fakeaws.NewSTS(t, fakeaws.STSOptions{})
			o := options(s)
			o.DurationSeconds = tc.duration
			got, err := newClient(t, o).GetWebIdentityToken(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got.Token != s.LastToken() || got.RequestId == "" {
				t.Fatalf("got %v; want the stand-in's token and a request id", got)
			}
			header, claims := verifyRS256(t, got.Token, s.Key.Public())
			if header["alg"] != "RS256" || header["kid"] != s.Key.KID {
				t.Errorf("header %v", header)
			}
			if claims["iss"] != s.URL || claims["sub"] != fakeaws.DefaultRoleARN || claims["aud"] != "sts.aliyuncs.com" {
				t.Errorf("claims %v", claims)
			}
			if d := claims["exp"].(float64) - claims["iat"].(float64); d != tc.want {
				t.Errorf("the token lasts %vs, want %vs", d, tc.want)
			}
			if until := time.Until(got.Expiration); until <= 0 || until > time.Duration(tc.want)*time.Second+time.Second {
				t.Errorf("Expiration %s is not about %vs away", got.Expiration, tc.want)
			}
			form := s.LastForm()
			for k, v := range map[string]string{"Action": "GetWebIdentityToken", "Version": "2011-06-15",
				"Audience.member.1": "sts.aliyuncs.com", "SigningAlgorithm": "RS256", "DurationSeconds": fmt.Sprint(tc.want)} {
				if form.Get(k) != v {
					t.Errorf("form %s = %q, want %q", k, form.Get(k), v)
				}
			}
		})
	}
}

func TestTokenIsOneCallEach(t *testing.T) {
	s := fakeaws.NewSTS(t, fakeaws.STSOptions{})
	c := newClient(t, options(s))
	for i := 1; i <= 3; i++ {
		tok, err := c.Token(context.Background())
		if err != nil || tok == "" {
			t.Fatalf("Token: %q, %v", tok, err)
		}
		if s.Calls() != i {
			t.Fatalf("after %d tokens the stand-in saw %d calls", i, s.Calls())
		}
	}
}

// TestSignatureIsVerified runs the client against a stand-in that knows
// other credentials, region or time, as AWS refuses them.
func TestSignatureIsVerified(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*awssts.Options)
		code   string
	}{
		{"wrong secret", func(o *awssts.Options) { o.SecretAccessKey = "not-the-secret-key" }, "SignatureDoesNotMatch"},
		{"wrong session token", func(o *awssts.Options) { o.SessionToken = "not-the-session-token" }, "InvalidClientTokenId"},
		{"no session token", func(o *awssts.Options) { o.SessionToken = "" }, "InvalidClientTokenId"},
		{"unknown key id", func(o *awssts.Options) { o.AccessKeyID = "ASIAUNKNOWNKEY000000" }, "InvalidClientTokenId"},
		{"other region", func(o *awssts.Options) { o.Region = "us-east-1" }, "SignatureDoesNotMatch"},
		{"clock ten minutes late", func(o *awssts.Options) { o.Now = func() time.Time { return time.Now().Add(-10 * time.Minute) } }, "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fakeaws.NewSTS(t, fakeaws.STSOptions{})
			o := options(s)
			tc.change(&o)
			_, err := newClient(t, o).Token(context.Background())
			var e *awssts.Error
			if !errors.As(err, &e) || e.Code != tc.code || e.HTTPStatus != http.StatusForbidden {
				t.Fatalf("got %v; want %s (HTTP 403)", err, tc.code)
			}
			assertNoSecret(t, err.Error(), o, s.Options())
		})
	}
}

func TestErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		code, message string
		status        int
		hint          string
	}{
		{"OutboundWebIdentityFederationDisabledException", "Outbound web identity federation is disabled for this account.", 403, "aws iam enable-outbound-web-identity-federation"},
		{"AccessDenied", "User is not authorized to perform: sts:GetWebIdentityToken", 403, "sts:GetWebIdentityToken"},
		{"SessionDurationEscalationException", "The requested token duration exceeds the session duration.", 403, "lower DurationSeconds"},
		{"JWTPayloadSizeExceededException", "The JWT payload is too large.", 400, "principal tags"},
		{"ExpiredToken", "The security token included in the request is expired", 400, "AWS_SESSION_TOKEN"},
		{"Throttling", "Rate exceeded", 400, ""},
		{"InternalFailure", `An internal error <occurred> & "was" logged`, 500, ""},
	} {
		t.Run(tc.code, func(t *testing.T) {
			s := fakeaws.NewSTS(t, fakeaws.STSOptions{})
			s.Fail(tc.code, tc.message)
			o := options(s)
			_, err := newClient(t, o).Token(context.Background())
			var e *awssts.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v; want an *awssts.Error", err)
			}
			if e.Code != tc.code || e.Message != tc.message || e.HTTPStatus != tc.status || e.RequestId == "" {
				t.Errorf("got %+v; want code %s, message %q, HTTP %d and a request id", *e, tc.code, tc.message, tc.status)
			}
			if !strings.Contains(err.Error(), tc.hint) {
				t.Errorf("%q does not say %q", err, tc.hint)
			}
			assertNoSecret(t, err.Error(), o, s.Options())
		})
	}
}

// TestErrorsAreRedacted answers with bodies that echo the credentials, as
// SignatureDoesNotMatch messages echo the canonical request.
func TestErrorsAreRedacted(t *testing.T) {
	o := options(fakeaws.NewSTS(t, fakeaws.STSOptions{}))
	token := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	for _, tc := range []struct {
		name   string
		status int
		body   string
		code   string
	}{
		{"echoing error", 403, fmt.Sprintf(`<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>canonical: x-amz-security-token:%s %s %s</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
			o.SessionToken, o.SecretAccessKey, o.AccessKeyID), "SignatureDoesNotMatch"},
		{"HTML page", 502, "<html>Bad gateway for " + o.SessionToken + "</html>", "HTTP502"},
		{"empty refusal", 503, "", "HTTP503"},
		{"answer without a token", 200, "<GetWebIdentityTokenResponse><GetWebIdentityTokenResult><Expiration>soon</Expiration></GetWebIdentityTokenResult></GetWebIdentityTokenResponse>", "InvalidResponse"},
		{"answer with a bad expiration", 200, "<GetWebIdentityTokenResponse><GetWebIdentityTokenResult><WebIdentityToken>" + token + "</WebIdentityToken><Expiration>" + token + "</Expiration></GetWebIdentityTokenResult></GetWebIdentityTokenResponse>", "InvalidResponse"},
		{"answer that is not XML", 200, "not xml " + token, "InvalidResponse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			o := o
			o.Endpoint = srv.URL
			_, err := newClient(t, o).Token(context.Background())
			var e *awssts.Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Fatalf("got %v; want %s", err, tc.code)
			}
			assertNoSecret(t, err.Error(), o, fakeaws.STSOptions{})
			if strings.Contains(err.Error(), token) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	o := options(fakeaws.NewSTS(t, fakeaws.STSOptions{}))
	o.Endpoint = srv.URL
	_, err := newClient(t, o).Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(srv.URL, "http://")) {
		t.Fatalf("got %v; want an error naming the endpoint", err)
	}
	assertNoSecret(t, err.Error(), o, fakeaws.STSOptions{})
}

func assertNoSecret(t *testing.T, text string, o awssts.Options, s fakeaws.STSOptions) {
	t.Helper()
	for _, v := range []string{o.SecretAccessKey, o.SessionToken, o.AccessKeyID, s.SecretAccessKey, s.SessionToken, s.AccessKeyID} {
		if v != "" && strings.Contains(text, v) {
			t.Errorf("%q shows a credential", text)
		}
	}
}

func TestNewNamesWhatToFix(t *testing.T) {
	ok := awssts.Options{Audience: "sts.aliyuncs.com", Region: "eu-west-1", AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "wJalrS3cr3tKey", SessionToken: "IQoJS3ss10nT0ken"}
	for _, tc := range []struct {
		name   string
		change func(*awssts.Options)
		want   string // "" = accepted
	}{
		{"complete", func(*awssts.Options) {}, ""},
		{"no session token (long-term keys)", func(o *awssts.Options) { o.SessionToken = "" }, ""},
		{"loopback endpoint", func(o *awssts.Options) { o.Endpoint = "http://127.0.0.1:9000" }, ""},
		{"https endpoint", func(o *awssts.Options) { o.Endpoint = "https://sts.eu-west-1.amazonaws.com/" }, ""},
		{"no audience", func(o *awssts.Options) { o.Audience = "" }, "STOPPER_AWS_OIDC_AUDIENCE is empty"},
		{"long audience", func(o *awssts.Options) { o.Audience = strings.Repeat("a", 1001) }, "STOPPER_AWS_OIDC_AUDIENCE"},
		{"no region", func(o *awssts.Options) { o.Region = "" }, "STOPPER_AWS_OIDC_AUDIENCE is set but AWS_REGION is unset"},
		{"region that reshapes the host", func(o *awssts.Options) { o.Region = "evil.example.com/x" }, "AWS_REGION"},
		{"no key id", func(o *awssts.Options) { o.AccessKeyID = "" }, "AWS_ACCESS_KEY_ID"},
		{"no secret", func(o *awssts.Options) { o.SecretAccessKey = "" }, "AWS_SECRET_ACCESS_KEY"},
		{"duration too short", func(o *awssts.Options) { o.DurationSeconds = 59 }, "DurationSeconds"},
		{"duration too long", func(o *awssts.Options) { o.DurationSeconds = 3601 }, "DurationSeconds"},
		{"negative timeout", func(o *awssts.Options) { o.Timeout = -time.Second }, "Timeout"},
		{"plain http elsewhere", func(o *awssts.Options) { o.Endpoint = "http://sts.eu-west-1.amazonaws.com" }, "STOPPER_AWS_STS_ENDPOINT"},
		{"endpoint with password", func(o *awssts.Options) { o.Endpoint = "https://u:hunter2@sts.example.com" }, "STOPPER_AWS_STS_ENDPOINT"},
		{"endpoint with query", func(o *awssts.Options) { o.Endpoint = "https://sts.example.com/?a=b" }, "STOPPER_AWS_STS_ENDPOINT"},
		{"endpoint not a URL", func(o *awssts.Options) { o.Endpoint = "sts.example.com" }, "STOPPER_AWS_STS_ENDPOINT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.change(&o)
			c, err := awssts.New(o)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v; want an error saying %q", err, tc.want)
			case err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "S3cr3t") || strings.Contains(err.Error(), "T0ken")):
				t.Fatalf("the error shows a secret: %v", err)
			case c != nil && (strings.Contains(c.String(), "S3cr3t") || strings.Contains(c.String(), "T0ken")):
				t.Fatalf("String shows a credential: %s", c)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	for region, want := range map[string]string{
		"eu-west-1":      "https://sts.eu-west-1.amazonaws.com",
		"ap-southeast-5": "https://sts.ap-southeast-5.amazonaws.com",
		"cn-north-1":     "https://sts.cn-north-1.amazonaws.com.cn",
	} {
		if got := awssts.Endpoint(region); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", region, got, want)
		}
	}
}

func TestWebIdentityTokenPrintsRedacted(t *testing.T) {
	tok := awssts.WebIdentityToken{Token: "eyJ.secret.sig", RequestId: "r-1"}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v", tok), tok.String()} {
		if strings.Contains(s, "secret") || !strings.Contains(s, "r-1") {
			t.Errorf("printed %q", s)
		}
	}
}

// The request id comes from the answer's body, else from the
// x-amzn-RequestId header, for a token as for a refusal.
func TestRequestID(t *testing.T) {
	o := options(fakeaws.NewSTS(t, fakeaws.STSOptions{}))
	const token = "eyJraWQiOiJ4In0.eyJzdWIiOiJ4In0.c2ln"
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"token with its own id", 200, "<GetWebIdentityTokenResponse><GetWebIdentityTokenResult><WebIdentityToken>" + token +
			"</WebIdentityToken></GetWebIdentityTokenResult><ResponseMetadata><RequestId>body-id</RequestId></ResponseMetadata></GetWebIdentityTokenResponse>", "body-id"},
		{"token without one", 200, "<GetWebIdentityTokenResponse><GetWebIdentityTokenResult><WebIdentityToken>" + token +
			"</WebIdentityToken></GetWebIdentityTokenResult></GetWebIdentityTokenResponse>", "header-id"},
		{"refusal with its own id", 403, "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error><RequestId>body-id</RequestId></ErrorResponse>", "body-id"},
		{"refusal without one", 403, "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>", "header-id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Amzn-Requestid", "header-id")
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			o := o
			o.Endpoint = srv.URL
			got, err := newClient(t, o).GetWebIdentityToken(context.Background())
			id := got.RequestId
			if tc.status == 200 {
				if err != nil || got.Token != token {
					t.Fatalf("GetWebIdentityToken = %v, %v", got, err)
				}
			} else {
				var e *awssts.Error
				if !errors.As(err, &e) || e.Code != "AccessDenied" {
					t.Fatalf("GetWebIdentityToken = %v, want AccessDenied", err)
				}
				id = e.RequestId
			}
			if id != tc.want {
				t.Errorf("request id %q, want %q", id, tc.want)
			}
		})
	}
}

// An error names the HTTP status and request id when it has either.
func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  awssts.Error
		want string
	}{
		{awssts.Error{Code: "InvalidResponse", Message: "m"}, "awssts: GetWebIdentityToken: InvalidResponse: m"},
		{awssts.Error{Code: "HTTP502", Message: "m", HTTPStatus: 502}, "awssts: GetWebIdentityToken: HTTP502: m (HTTP 502, RequestId )"},
		{awssts.Error{Code: "Throttling", Message: "m", RequestId: "R1"}, "awssts: GetWebIdentityToken: Throttling: m (HTTP 0, RequestId R1)"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// An answer of up to 1 MiB is read whole; a larger one is refused as such.
func TestAnswerSizeLimit(t *testing.T) {
	const limit = 1 << 20
	o := options(fakeaws.NewSTS(t, fakeaws.STSOptions{}))
	answer := "<GetWebIdentityTokenResponse><GetWebIdentityTokenResult><WebIdentityToken>eyJ.eyJ.c2ln</WebIdentityToken></GetWebIdentityTokenResult></GetWebIdentityTokenResponse>"
	for _, tc := range []struct {
		name     string
		size     int
		wantText string // "" for the token
	}{
		{"exactly 1 MiB", limit, ""},
		{"one byte more", limit + 1, "larger than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Padding at the end: an answer cut short has no closing tags.
			body := answer + strings.Repeat(" ", tc.size-len(answer))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) }))
			defer srv.Close()
			o := o
			o.Endpoint = srv.URL
			got, err := newClient(t, o).Token(context.Background())
			if tc.wantText == "" {
				if err != nil || got != "eyJ.eyJ.c2ln" {
					t.Fatalf("Token = %q, %v", got, err)
				}
				return
			}
			var e *awssts.Error
			if !errors.As(err, &e) || e.Code != "InvalidResponse" || !strings.Contains(e.Message, tc.wantText) {
				t.Fatalf("Token = %v, want InvalidResponse with %q", err, tc.wantText)
			}
		})
	}
}
