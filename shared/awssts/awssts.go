// Package awssts fetches the function's identity token from AWS STS
// (GetWebIdentityToken, Query API version 2011-06-15) on AWS Lambda: a JWT
// that AWS signs for the Lambda's role when the account has IAM outbound
// identity federation enabled, which Alibaba Cloud STS then exchanges for
// temporary credentials (AssumeRoleWithOIDC). Calls are signed with AWS
// Signature Version 4 by AWS's own standalone signer, with the role
// credentials Lambda puts in the environment.
//
// Neither the AWS credentials nor a token ever appear in its errors.
//
// API reference: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetWebIdentityToken.html
package awssts

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/aws-http-auth/credentials"
	"github.com/aws/smithy-go/aws-http-auth/sigv4"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/httpapi"
)

// Version is the STS Query API version the client speaks.
const Version = "2011-06-15"

// Duration limits of a token, in seconds, as GetWebIdentityToken accepts them.
const (
	DefaultDurationSeconds = 300
	MinDurationSeconds     = 60
	MaxDurationSeconds     = 3600
)

// DefaultTimeout bounds one call, from dialing to the last byte of the answer.
const DefaultTimeout = 10 * time.Second

// Options configure a Client. Each field says the environment variable the
// function reads it from.
type Options struct {
	// Audience is the token's aud claim (STOPPER_AWS_OIDC_AUDIENCE): one
	// of the client ids of the OIDC provider in Alibaba Cloud RAM.
	Audience string
	// Region is the Lambda's region (AWS_REGION): GetWebIdentityToken is
	// served by regional endpoints only.
	Region string
	// Endpoint replaces https://sts.<Region>.amazonaws.com
	// (STOPPER_AWS_STS_ENDPOINT); plain http:// only to a loopback host.
	Endpoint string
	// The Lambda role's credentials (AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
	AccessKeyID, SecretAccessKey, SessionToken string
	// DurationSeconds is the token's lifetime, 60–3600 (default 300). It
	// cannot outlive the role's own session.
	DurationSeconds int
	// Timeout bounds one call (default DefaultTimeout).
	Timeout time.Duration
	// Transport replaces the default transport (tests).
	Transport http.RoundTripper
	// Now is the clock the signature's date comes from; nil is time.Now.
	Now func() time.Time
}

// Client fetches web identity tokens. It is safe for concurrent use.
type Client struct {
	audience, region, endpoint string
	cred                       credentials.Credentials
	duration                   int
	redact                     acs.Redactor
	timeout                    time.Duration
	http                       *http.Client
	now                        func() time.Time
	signer                     *sigv4.Signer
}

// regionPattern keeps the region from reshaping the endpoint's host name.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$`)

// maxAudience is the longest audience GetWebIdentityToken accepts.
const maxAudience = 1000

// New checks the options and builds a Client. It does not touch the network.
func New(o Options) (*Client, error) {
	const set = "STOPPER_AWS_OIDC_AUDIENCE is set but "
	switch {
	case o.Audience == "":
		return nil, errors.New("awssts: STOPPER_AWS_OIDC_AUDIENCE is empty: set it to a client id of the OIDC provider in Alibaba Cloud RAM")
	case len(o.Audience) > maxAudience:
		return nil, fmt.Errorf("awssts: STOPPER_AWS_OIDC_AUDIENCE is %d characters long; AWS STS accepts at most %d", len(o.Audience), maxAudience)
	case o.Region == "":
		return nil, errors.New("awssts: " + set + "AWS_REGION is unset: GetWebIdentityToken is served by regional STS endpoints only (Lambda sets AWS_REGION itself)")
	case !regionPattern.MatchString(o.Region):
		return nil, fmt.Errorf("awssts: AWS_REGION %q is not an AWS region name such as eu-west-1", o.Region)
	case o.AccessKeyID == "" || o.SecretAccessKey == "":
		return nil, errors.New("awssts: " + set + "AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is unset: Lambda sets them from the function's execution role")
	case o.DurationSeconds != 0 && (o.DurationSeconds < MinDurationSeconds || o.DurationSeconds > MaxDurationSeconds):
		return nil, fmt.Errorf("awssts: option DurationSeconds must be within %d–%d, got %d", MinDurationSeconds, MaxDurationSeconds, o.DurationSeconds)
	case o.Timeout < 0:
		return nil, fmt.Errorf("awssts: option Timeout must not be negative, got %s", o.Timeout)
	}
	endpoint := Endpoint(o.Region)
	if o.Endpoint != "" {
		var err error
		if endpoint, err = httpapi.CheckEndpoint(o.Endpoint); err != nil {
			return nil, fmt.Errorf("awssts: STOPPER_AWS_STS_ENDPOINT %w: give a URL such as https://sts.eu-west-1.amazonaws.com, or leave it unset", err)
		}
	}
	c := &Client{
		audience: o.Audience, region: o.Region, endpoint: endpoint,
		cred:     credentials.Credentials{AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey, SessionToken: o.SessionToken},
		duration: o.DurationSeconds, redact: acs.NewRedactor(o.SessionToken, o.SecretAccessKey, o.AccessKeyID),
		timeout: o.Timeout, now: o.Now, signer: sigv4.New(),
	}
	if c.duration == 0 {
		c.duration = DefaultDurationSeconds
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.http = httpapi.HTTPClient(o.Transport)
	return c, nil
}

// Endpoint is the regional STS endpoint of an AWS region; the China
// regions live under amazonaws.com.cn.
// https://docs.aws.amazon.com/general/latest/gr/sts.html
func Endpoint(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "https://sts." + region + ".amazonaws.com.cn"
	}
	return "https://sts." + region + ".amazonaws.com"
}

// String names what the client asks for, never its credentials.
func (c *Client) String() string {
	return fmt.Sprintf("awssts.Client{Endpoint:%q, Region:%q, Audience:%q, AccessKeyID:%q}",
		c.endpoint, c.region, c.audience, acs.MaskKeyID(c.cred.AccessKeyID))
}

// WebIdentityToken is GetWebIdentityToken's answer. Token is a secret: it
// is worth temporary credentials to whoever holds it until Expiration.
type WebIdentityToken struct {
	Token      string
	Expiration time.Time
	RequestId  string
}

// String keeps the token out of anything that prints the answer.
func (t WebIdentityToken) String() string {
	return fmt.Sprintf("awssts.WebIdentityToken{Token:%q, Expiration:%s, RequestId:%q}",
		acs.Redacted, t.Expiration.Format(time.RFC3339), t.RequestId)
}

// GoString keeps %#v from printing the token.
func (t WebIdentityToken) GoString() string { return t.String() }

// Token fetches a fresh token: the Alibaba Cloud OIDC exchange calls it once
// per exchange.
func (c *Client) Token(ctx context.Context) (string, error) {
	t, err := c.GetWebIdentityToken(ctx)
	return t.Token, err
}

// Error is an AWS STS error answer, or an answer that is not STS's XML
// (Code HTTP<status> or InvalidResponse). Its texts are redacted of the
// call's credentials.
type Error struct {
	Code       string
	Message    string
	RequestId  string
	HTTPStatus int
}

// hints say what fixes the causes a user meets first.
var hints = map[string]string{
	"OutboundWebIdentityFederationDisabledException": "enable outbound identity federation once in the Lambda's AWS account: aws iam enable-outbound-web-identity-federation",
	"AccessDenied":                       "allow sts:GetWebIdentityToken to the Lambda's execution role (conditions sts:IdentityTokenAudience, sts:SigningAlgorithm, sts:DurationSeconds must admit the request)",
	"AccessDeniedException":              "allow sts:GetWebIdentityToken to the Lambda's execution role (conditions sts:IdentityTokenAudience, sts:SigningAlgorithm, sts:DurationSeconds must admit the request)",
	"SessionDurationEscalationException": "the token may not outlive the role's session: lower DurationSeconds",
	"JWTPayloadSizeExceededException":    "the token's claims are too large: remove principal tags or request tags",
	"ExpiredToken":                       "the Lambda role's credentials (AWS_SESSION_TOKEN) have expired",
	"InvalidClientTokenId":               "AWS does not know the credentials in AWS_ACCESS_KEY_ID/AWS_SESSION_TOKEN",
	"SignatureDoesNotMatch":              "AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID, or the clock is off",
}

func (e *Error) Error() string {
	s := fmt.Sprintf("awssts: GetWebIdentityToken: %s: %s", e.Code, e.Message)
	if h := hints[e.Code]; h != "" {
		s += " (" + h + ")"
	}
	if e.HTTPStatus != 0 || e.RequestId != "" {
		s += fmt.Sprintf(" (HTTP %d, RequestId %s)", e.HTTPStatus, e.RequestId)
	}
	return s
}

// maxBody bounds what is read of an answer; a token is at most a few KB.
const maxBody = 1 << 20

// GetWebIdentityToken asks STS for a token for the client's audience,
// signed RS256 (the algorithm Alibaba Cloud RAM verifies).
func (c *Client) GetWebIdentityToken(ctx context.Context) (WebIdentityToken, error) {
	form := url.Values{
		"Action":            {"GetWebIdentityToken"},
		"Version":           {Version},
		"Audience.member.1": {c.audience},
		"SigningAlgorithm":  {"RS256"},
		"DurationSeconds":   {strconv.Itoa(c.duration)},
	}.Encode()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", strings.NewReader(form))
	if err != nil {
		return WebIdentityToken{}, fmt.Errorf("awssts: GetWebIdentityToken: building the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("User-Agent", userAgent)
	sum := sha256.Sum256([]byte(form))
	if err := c.signer.SignRequest(&sigv4.SignRequestInput{
		Request: req, PayloadHash: sum[:], Credentials: c.cred, Service: "sts", Region: c.region, Time: c.now(),
	}); err != nil {
		return WebIdentityToken{}, fmt.Errorf("awssts: GetWebIdentityToken: signing: %s", c.redact.Redact(err.Error()))
	}

	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return WebIdentityToken{}, fmt.Errorf("awssts: GetWebIdentityToken: calling %s: %s", req.URL.Host, c.redact.Redact(err.Error()))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return WebIdentityToken{}, fmt.Errorf("awssts: GetWebIdentityToken: reading the answer from %s: %s", req.URL.Host, c.redact.Redact(err.Error()))
	}
	requestID := resp.Header.Get("X-Amzn-Requestid")
	switch {
	case len(body) > maxBody:
		return WebIdentityToken{}, &Error{Code: "InvalidResponse", HTTPStatus: resp.StatusCode, RequestId: requestID,
			Message: fmt.Sprintf("the answer is larger than %d bytes", maxBody)}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return WebIdentityToken{}, c.errorAnswer(resp, body, requestID)
	}
	t, err := parseToken(string(body))
	if t.RequestId == "" {
		t.RequestId = requestID
	}
	if err != nil {
		// The body is not quoted: it may hold the token.
		return WebIdentityToken{}, &Error{Code: "InvalidResponse", HTTPStatus: resp.StatusCode, RequestId: t.RequestId, Message: err.Error()}
	}
	return t, nil
}

// parseToken reads a GetWebIdentityTokenResponse.
func parseToken(body string) (WebIdentityToken, error) {
	var t WebIdentityToken
	t.RequestId, _ = element(body, "GetWebIdentityTokenResponse", "ResponseMetadata", "RequestId")
	token, ok := element(body, "GetWebIdentityTokenResponse", "GetWebIdentityTokenResult", "WebIdentityToken")
	if !ok || token == "" {
		return t, errors.New("the answer is not a GetWebIdentityTokenResponse with a WebIdentityToken")
	}
	t.Token = token
	if exp, ok := element(body, "GetWebIdentityTokenResponse", "GetWebIdentityTokenResult", "Expiration"); ok && exp != "" {
		when, err := time.Parse(time.RFC3339, exp)
		if err != nil {
			return WebIdentityToken{RequestId: t.RequestId}, errors.New("the answer's Expiration is not an RFC 3339 time")
		}
		t.Expiration = when
	}
	return t, nil
}

// parseError reads an ErrorResponse; ok is false when the body is not one.
func parseError(body string) (e Error, ok bool) {
	e.Code, ok = element(body, "ErrorResponse", "Error", "Code")
	if !ok || e.Code == "" {
		return Error{}, false
	}
	e.Message, _ = element(body, "ErrorResponse", "Error", "Message")
	e.RequestId, _ = element(body, "ErrorResponse", "RequestId")
	return e, true
}

// errorAnswer turns a refusal into an Error, redacted: SignatureDoesNotMatch
// messages may echo the canonical request, session token included.
func (c *Client) errorAnswer(resp *http.Response, body []byte, requestID string) *Error {
	e, ok := parseError(string(body))
	if !ok {
		e = Error{Code: fmt.Sprintf("HTTP%d", resp.StatusCode),
			Message: fmt.Sprintf("the endpoint answered %s with a body that is not AWS STS's XML error: %s", resp.Status, httpapi.QuotePrefix(body))}
	}
	e.HTTPStatus = resp.StatusCode
	if e.RequestId == "" {
		e.RequestId = requestID
	}
	for _, f := range []*string{&e.Code, &e.Message, &e.RequestId} {
		*f = c.redact.Redact(*f)
	}
	return &e
}

// userAgent names the project in AWS's logs.
const userAgent = "ecs-stopper/1 (+https://github.com/ecs-stopper/stopper)"
