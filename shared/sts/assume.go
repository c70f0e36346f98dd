package sts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
)

// Credentials are the temporary credentials AssumeRole and
// AssumeRoleWithOIDC issue: the pair (with its STS token), when they expire,
// and the assumed role's session ARN
// (acs:ram::<account>:assumed-role/<role>/<session>).
type Credentials struct {
	Pair           acs.Credentials
	Expiration     time.Time
	AssumedRoleArn string
	RequestId      string
}

// AssumeRoleInput are AssumeRole's parameters.
// https://www.alibabacloud.com/help/en/ram/developer-reference/api-sts-2015-04-01-assumerole
type AssumeRoleInput struct {
	// RoleArn is acs:ram::<account>:role/<name>.
	RoleArn string
	// RoleSessionName names the session in the role's audit trail: 2 to 64
	// characters of [A-Za-z0-9.@_-] (see SessionName).
	RoleSessionName string
	// ExternalId is sent when set: the role's trust policy may require it.
	ExternalId string
	// DurationSeconds is the credentials' lifetime, 900 up to the role's
	// maximum; 0 leaves it to STS (3600).
	DurationSeconds int
}

// AssumeRoleWithOIDCInput are AssumeRoleWithOIDC's parameters.
// https://www.alibabacloud.com/help/en/ram/developer-reference/api-sts-2015-04-01-assumerolewithoidc
type AssumeRoleWithOIDCInput struct {
	// OIDCProviderArn is the identity provider registered in RAM:
	// acs:ram::<account>:oidc-provider/<name>.
	OIDCProviderArn string
	RoleArn         string
	// OIDCToken is the raw JWT the provider issued.
	OIDCToken       string
	RoleSessionName string
	DurationSeconds int
}

// AssumeRole exchanges the client's credentials for a role's. The caller
// must be a RAM user or role: STS refuses the account's own AccessKey.
func (c *Client) AssumeRole(ctx context.Context, in AssumeRoleInput) (Credentials, error) {
	const action = "AssumeRole"
	params, err := roleParams(action, in.RoleArn, in.RoleSessionName, in.DurationSeconds)
	if err != nil {
		return Credentials{}, err
	}
	if in.ExternalId != "" {
		params.Set("ExternalId", in.ExternalId)
	}
	body, requestID, status, err := c.signed(ctx, action, params)
	if err != nil {
		return Credentials{}, err
	}
	return decodeAssumed(action, body, requestID, status)
}

// AssumeRoleWithOIDC exchanges an OIDC token for a role's credentials. The
// call is anonymous: the token is the proof, so the client's own
// credentials, if any, are not used. The token never appears in an error.
func (c *Client) AssumeRoleWithOIDC(ctx context.Context, in AssumeRoleWithOIDCInput) (Credentials, error) {
	const action = "AssumeRoleWithOIDC"
	form, err := roleParams(action, in.RoleArn, in.RoleSessionName, in.DurationSeconds)
	if err != nil {
		return Credentials{}, err
	}
	switch {
	case in.OIDCProviderArn == "":
		return Credentials{}, fmt.Errorf("sts: %s: OIDCProviderArn is empty", action)
	case strings.TrimSpace(in.OIDCToken) == "":
		return Credentials{}, fmt.Errorf("sts: %s: the OIDC token is empty", action)
	}
	form.Set("OIDCProviderArn", in.OIDCProviderArn)
	form.Set("OIDCToken", strings.TrimSpace(in.OIDCToken))

	body, requestID, status, err := c.retry(ctx, func() ([]byte, string, int, error) {
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		// The token (up to 20,000 characters) travels in a form body rather
		// than the query; the action and version go both in the query, as RPC
		// clients send them, and in the x-acs-* headers.
		query := url.Values{"Action": {action}, "Version": {Version}, "Format": {"JSON"},
			"Timestamp": {c.now().UTC().Format("2006-01-02T15:04:05Z")}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/?"+acs.CanonicalQuery(query), strings.NewReader(form.Encode()))
		if err != nil {
			return nil, "", 0, fmt.Errorf("sts: %s: building the request: %w", action, err)
		}
		setHeaders(req, action)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return c.send(req, action, acs.NewRedactor(form.Get("OIDCToken")))
	})
	if err != nil {
		return Credentials{}, err
	}
	return decodeAssumed(action, body, requestID, status)
}

// WithCredentials returns a copy of c that signs with cred: the credentials
// a base provider handed out for one exchange.
func (c *Client) WithCredentials(cred acs.Credentials) *Client {
	cp := *c
	cp.cred = cred
	cp.redact = cred.Redactor()
	return &cp
}

// MinSessionName and MaxSessionName bound RoleSessionName's length.
const (
	MinSessionName = 2
	MaxSessionName = 64
)

// SessionName is a valid RoleSessionName built from prefix and t:
// <prefix>-<unix seconds>, with characters STS refuses replaced by '-' and
// the whole cut to 64 characters.
func SessionName(prefix string, t time.Time) string {
	suffix := "-" + strconv.FormatInt(t.Unix(), 10)
	b := []byte(prefix)
	for i, ch := range b {
		if !sessionNameChar(ch) {
			b[i] = '-'
		}
	}
	if len(b) > MaxSessionName-len(suffix) {
		b = b[:MaxSessionName-len(suffix)]
	}
	return string(b) + suffix
}

func sessionNameChar(ch byte) bool {
	return 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || strings.IndexByte(".@_-", ch) >= 0
}

// CheckSessionName returns an error saying what is wrong with a
// RoleSessionName STS would refuse.
func CheckSessionName(name string) error {
	if len(name) < MinSessionName || len(name) > MaxSessionName {
		return fmt.Errorf("RoleSessionName %q has %d characters; STS takes %d to %d", name, len(name), MinSessionName, MaxSessionName)
	}
	for i := 0; i < len(name); i++ {
		if !sessionNameChar(name[i]) {
			return fmt.Errorf("RoleSessionName %q holds %q; STS takes only letters, digits and . @ _ -", name, name[i])
		}
	}
	return nil
}

// roleParams checks and sets the parameters both exchanges share.
func roleParams(action, roleArn, session string, duration int) (url.Values, error) {
	if roleArn == "" {
		return nil, fmt.Errorf("sts: %s: RoleArn is empty", action)
	}
	if err := CheckSessionName(session); err != nil {
		return nil, fmt.Errorf("sts: %s: %w", action, err)
	}
	if duration < 0 {
		return nil, fmt.Errorf("sts: %s: DurationSeconds must not be negative, got %d", action, duration)
	}
	p := url.Values{"RoleArn": {roleArn}, "RoleSessionName": {session}}
	if duration > 0 {
		p.Set("DurationSeconds", strconv.Itoa(duration))
	}
	return p, nil
}

// assumedAnswer is the JSON answer of AssumeRole and AssumeRoleWithOIDC.
type assumedAnswer struct {
	RequestId       string `json:"RequestId"`
	AssumedRoleUser struct {
		Arn           string `json:"Arn"`
		AssumedRoleId string `json:"AssumedRoleId"`
	} `json:"AssumedRoleUser"`
	Credentials struct {
		AccessKeyId     string `json:"AccessKeyId"`
		AccessKeySecret string `json:"AccessKeySecret"`
		SecurityToken   string `json:"SecurityToken"`
		Expiration      string `json:"Expiration"`
	} `json:"Credentials"`
}

// decodeAssumed reads an exchange's 2xx answer. Its errors never quote the
// body: a half-valid answer may hold the very credentials it issued.
func decodeAssumed(action string, body []byte, requestID string, status int) (Credentials, error) {
	invalid := func(problem string) error {
		return &Error{Action: action, Code: "InvalidResponse", HTTPStatus: status, RequestId: requestID, Message: problem}
	}
	var a assumedAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		var se *json.SyntaxError
		if len(body) == 0 {
			return Credentials{}, invalid("the answer is empty")
		} else if errors.As(err, &se) {
			return Credentials{}, invalid(fmt.Sprintf("the answer is not JSON (syntax error at byte %d)", se.Offset))
		}
		return Credentials{}, invalid("the answer is not STS's JSON: a field has the wrong type")
	}
	if a.RequestId != "" {
		requestID = a.RequestId
	}
	cr := a.Credentials
	var missing []string
	for _, f := range []struct{ name, v string }{{"AccessKeyId", cr.AccessKeyId}, {"AccessKeySecret", cr.AccessKeySecret},
		{"SecurityToken", cr.SecurityToken}, {"Expiration", cr.Expiration}} {
		if f.v == "" {
			missing = append(missing, "Credentials."+f.name)
		}
	}
	if len(missing) > 0 {
		return Credentials{}, invalid("the answer has no " + strings.Join(missing, ", "))
	}
	exp, err := time.Parse(time.RFC3339, cr.Expiration)
	if err != nil {
		return Credentials{}, invalid("Credentials.Expiration is not an ISO 8601 time such as 2026-12-01T08:00:00Z")
	}
	return Credentials{
		Pair:           acs.Credentials{AccessKeyID: cr.AccessKeyId, AccessKeySecret: cr.AccessKeySecret, SecurityToken: cr.SecurityToken},
		Expiration:     exp.UTC(),
		AssumedRoleArn: a.AssumedRoleUser.Arn,
		RequestId:      requestID,
	}, nil
}
