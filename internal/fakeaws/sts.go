// Package fakeaws holds stand-ins for the AWS services the function uses on
// AWS Lambda, as real HTTP servers on loopback for other packages' tests:
// STS's GetWebIdentityToken (SigV4 verified, RS256 tokens from its own key,
// with the issuer's discovery document and JWKS) and the AWS Parameters and
// Secrets Lambda Extension. Only tests import it.
package fakeaws

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Default identities of the stand-ins. The AWS values are AWS's documented
// examples.
const (
	DefaultRegion          = "eu-west-1"
	DefaultAccount         = "111122223333"
	DefaultRoleARN         = "arn:aws:iam::111122223333:role/stopper"
	DefaultAccessKeyID     = "ASIAIOSFODNN7EXAMPLE"
	DefaultSecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	DefaultSessionToken    = "IQoJb3JpZ2luX2VjEXAMPLE/session+token=="
)

// STSOptions configure an STS stand-in; zero fields take the defaults above.
type STSOptions struct {
	Region, Account, RoleARN                   string
	AccessKeyID, SecretAccessKey, SessionToken string
	// FunctionARN, when set, is the lambda_source_function_arn claim.
	FunctionARN string
	// Now is the clock of signatures and tokens; nil is time.Now.
	Now func() time.Time
}

// STS answers GetWebIdentityToken at its URL and serves its issuer's
// discovery document and JWKS; its URL is the tokens' issuer.
type STS struct {
	// URL is the endpoint and the issuer (http://127.0.0.1:port).
	URL string
	// Key signs the tokens; its JWK is what /.well-known/jwks.json serves.
	Key *Key

	opt STSOptions

	mu        sync.Mutex
	calls     int
	failCode  string
	failMsg   string
	lastForm  url.Values
	lastToken string
}

// NewSTS starts an STS stand-in on loopback; it stops when the test ends.
func NewSTS(t testing.TB, o STSOptions) *STS {
	t.Helper()
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&o.Region, DefaultRegion)
	def(&o.Account, DefaultAccount)
	def(&o.RoleARN, DefaultRoleARN)
	def(&o.AccessKeyID, DefaultAccessKeyID)
	def(&o.SecretAccessKey, DefaultSecretAccessKey)
	def(&o.SessionToken, DefaultSessionToken)
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &STS{Key: NewKey(t, "fakeaws-1"), opt: o}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", s.serveQuery)
	discoveryHandler(mux, func() string { return s.URL }, func() []byte { return JWKS(s.Key) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Options are the stand-in's settings, defaults filled in: the credentials
// a client must sign with, the region, the role.
func (s *STS) Options() STSOptions { return s.opt }

// Calls counts GetWebIdentityToken calls, refused ones included.
func (s *STS) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Fail makes every later call that passes the signature check answer with
// AWS's error code; an empty code answers tokens again.
func (s *STS) Fail(code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCode, s.failMsg = code, message
}

// LastForm is the form of the last call.
func (s *STS) LastForm() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastForm
}

// LastToken is the last token issued.
func (s *STS) LastToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastToken
}

// errorStatus is the HTTP status AWS answers each code with.
var errorStatus = map[string]int{
	"OutboundWebIdentityFederationDisabledException": http.StatusForbidden,
	"SessionDurationEscalationException":             http.StatusForbidden,
	"AccessDenied":                                   http.StatusForbidden,
	"SignatureDoesNotMatch":                          http.StatusForbidden,
	"InvalidClientTokenId":                           http.StatusForbidden,
	"IncompleteSignature":                            http.StatusForbidden,
	"ExpiredToken":                                   http.StatusBadRequest,
	"JWTPayloadSizeExceededException":                http.StatusBadRequest,
	"ValidationError":                                http.StatusBadRequest,
	"Throttling":                                     http.StatusBadRequest,
	"InternalFailure":                                http.StatusInternalServerError,
}

func (s *STS) serveQuery(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	form, _ := url.ParseQuery(string(body))
	now := s.opt.Now()
	s.mu.Lock()
	s.calls++
	s.lastForm = form
	failCode, failMsg := s.failCode, s.failMsg
	s.mu.Unlock()

	cred := awsCredentials{s.opt.AccessKeyID, s.opt.SecretAccessKey, s.opt.SessionToken}
	if err := verifySigV4(r, body, cred, s.opt.Region, "sts", now); err != nil {
		var ve *verifyError
		if !errors.As(err, &ve) {
			writeError(w, "IncompleteSignature", err.Error())
			return
		}
		writeError(w, ve.Code, ve.Message)
		return
	}
	if failCode != "" {
		writeError(w, failCode, failMsg)
		return
	}
	if form.Get("Action") != "GetWebIdentityToken" || form.Get("Version") != "2011-06-15" {
		writeError(w, "InvalidAction", "Could not find operation "+form.Get("Action")+" for version "+form.Get("Version"))
		return
	}
	var audiences []string
	for i := 1; ; i++ {
		a := form.Get("Audience.member." + strconv.Itoa(i))
		if a == "" {
			break
		}
		audiences = append(audiences, a)
	}
	duration := 300
	if d := form.Get("DurationSeconds"); d != "" {
		duration, _ = strconv.Atoi(d)
	}
	switch {
	case len(audiences) == 0 || len(audiences) > 10:
		writeError(w, "ValidationError", "1 validation error detected: Value at 'audience' failed to satisfy constraint: Member must have length between 1 and 10")
		return
	case form.Get("SigningAlgorithm") != "RS256":
		// AWS also signs ES384; this stand-in only holds an RSA key.
		writeError(w, "ValidationError", "1 validation error detected: Value at 'signingAlgorithm' failed to satisfy constraint: this stand-in signs RS256 only")
		return
	case duration < 60 || duration > 3600:
		writeError(w, "ValidationError", "1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 60 and 3600")
		return
	}
	var aud any = audiences[0]
	if len(audiences) > 1 {
		aud = audiences
	}
	exp := now.Add(time.Duration(duration) * time.Second).UTC()
	aws := map[string]any{"aws_account": s.opt.Account, "source_region": s.opt.Region}
	if s.opt.FunctionARN != "" {
		aws["lambda_source_function_arn"] = s.opt.FunctionARN
	}
	token, err := s.Key.sign(map[string]any{"alg": "RS256", "typ": "JWT", "kid": s.Key.KID}, map[string]any{
		"iss": s.URL, "sub": s.opt.RoleARN, "aud": aud,
		"iat": now.Unix(), "exp": exp.Unix(), "jti": randomID(),
		"https://sts.amazonaws.com/": aws,
	})
	if err != nil {
		writeError(w, "InternalFailure", err.Error())
		return
	}
	s.mu.Lock()
	s.lastToken = token
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", randomID())
	fmt.Fprintf(w, `<GetWebIdentityTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetWebIdentityTokenResult>
    <WebIdentityToken>%s</WebIdentityToken>
    <Expiration>%s</Expiration>
  </GetWebIdentityTokenResult>
  <ResponseMetadata>
    <RequestId>%s</RequestId>
  </ResponseMetadata>
</GetWebIdentityTokenResponse>
`, token, exp.Format("2006-01-02T15:04:05.000Z"), randomID())
}

// writeError answers as the Query API does.
func writeError(w http.ResponseWriter, code, message string) {
	status, ok := errorStatus[code]
	if !ok {
		status = http.StatusBadRequest
	}
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	id := randomID()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", id)
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>%s</Type>
    <Code>%s</Code>
    <Message>%s</Message>
  </Error>
  <RequestId>%s</RequestId>
</ErrorResponse>
`, kind, html.EscapeString(code), html.EscapeString(message), id)
}

// randomID is a request id or a jti.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
