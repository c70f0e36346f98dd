// Package awssecrets reads the function's Alibaba Cloud AccessKey pair from
// AWS Secrets Manager through the AWS Parameters and Secrets Lambda
// Extension, the layer that serves secrets over HTTP on the Lambda's own
// loopback and caches them.
// https://docs.aws.amazon.com/secretsmanager/latest/userguide/retrieving-secrets_lambda.html
//
// The secret never appears in its errors.
package awssecrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/httpapi"
)

// DefaultPort is where the extension listens unless
// PARAMETERS_SECRETS_EXTENSION_HTTP_PORT says otherwise.
const DefaultPort = "2773"

// DefaultTimeout bounds one read. The extension answers from its cache,
// or after one Secrets Manager call.
const DefaultTimeout = 5 * time.Second

// Options configure a Client. Each field says the environment variable the
// function reads it from.
type Options struct {
	// SecretID is the secret's name or ARN (STOPPER_ALIBABA_SECRET_ID).
	SecretID string
	// Port is the extension's port (PARAMETERS_SECRETS_EXTENSION_HTTP_PORT,
	// default DefaultPort).
	Port string
	// SessionToken authenticates the function to the extension
	// (AWS_SESSION_TOKEN).
	SessionToken string
	// Timeout bounds one read (default DefaultTimeout).
	Timeout time.Duration
	// Transport replaces the default transport (tests).
	Transport http.RoundTripper
}

// Client reads the AccessKey pair. It is safe for concurrent use.
type Client struct {
	secretID, sessionToken string
	url                    string
	timeout                time.Duration
	http                   *http.Client
	redact                 acs.Redactor
}

// New checks the options and builds a Client. It does not touch the network.
func New(o Options) (*Client, error) {
	port := o.Port
	if port == "" {
		port = DefaultPort
	}
	switch n, err := strconv.Atoi(port); {
	case o.SecretID == "":
		return nil, errors.New("awssecrets: STOPPER_ALIBABA_SECRET_ID is empty: set it to the name or ARN of the secret holding the AccessKey pair")
	case o.SessionToken == "":
		return nil, errors.New("awssecrets: STOPPER_ALIBABA_SECRET_ID is set but AWS_SESSION_TOKEN is unset: the Parameters and Secrets extension authenticates the function by it (Lambda sets it)")
	case err != nil || n < 1 || n > 65535:
		return nil, fmt.Errorf("awssecrets: PARAMETERS_SECRETS_EXTENSION_HTTP_PORT %q is not a port number", port)
	case o.Timeout < 0:
		return nil, fmt.Errorf("awssecrets: option Timeout must not be negative, got %s", o.Timeout)
	}
	c := &Client{
		secretID: o.SecretID, sessionToken: o.SessionToken, timeout: o.Timeout,
		// 127.0.0.1 rather than "localhost": the extension listens on the
		// Lambda's loopback, and the address needs no name resolution (which
		// could be slow, fail, or point elsewhere).
		url:    "http://127.0.0.1:" + port + "/secretsmanager/get?secretId=" + url.QueryEscape(o.SecretID),
		redact: acs.NewRedactor(o.SessionToken),
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	rt := o.Transport
	if rt == nil {
		// No proxy: the extension is on this machine.
		rt = &http.Transport{DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}
	}
	c.http = httpapi.HTTPClient(rt)
	return c, nil
}

// String names the secret and the port, never the session token.
func (c *Client) String() string {
	return fmt.Sprintf("awssecrets.Client{SecretID:%q, URL:%q}", c.secretID, c.url)
}

// maxBody bounds what is read of an answer; Secrets Manager caps a secret at 64 KB.
const maxBody = 1 << 20

// AccessKey reads the secret and returns the pair it holds. The extension
// caches secrets (300 s by default), so a rotated pair shows after at most
// that long.
func (c *Client) AccessKey(ctx context.Context) (acs.Credentials, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, http.NoBody)
	if err != nil {
		return acs.Credentials{}, fmt.Errorf("awssecrets: building the request: %w", err)
	}
	req.Header.Set("X-Aws-Parameters-Secrets-Token", c.sessionToken)
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return acs.Credentials{}, fmt.Errorf("awssecrets: STOPPER_ALIBABA_SECRET_ID needs the AWS Parameters and Secrets Lambda Extension, and nothing listens on %s: add the extension's layer to the function (or set PARAMETERS_SECRETS_EXTENSION_HTTP_PORT to the port it listens on)", req.URL.Host)
		}
		return acs.Credentials{}, fmt.Errorf("awssecrets: reading secret %q from the Parameters and Secrets extension at %s: %s", c.secretID, req.URL.Host, c.redact.Redact(err.Error()))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return acs.Credentials{}, fmt.Errorf("awssecrets: reading secret %q from the Parameters and Secrets extension: %s", c.secretID, c.redact.Redact(err.Error()))
	}
	if resp.StatusCode != http.StatusOK {
		return acs.Credentials{}, fmt.Errorf("awssecrets: the Parameters and Secrets extension refused secret %q (STOPPER_ALIBABA_SECRET_ID) with %s: %s%s",
			c.secretID, resp.Status, c.redact.Redact(httpapi.QuotePrefix(bytes.TrimSpace(body))), statusHint(resp.StatusCode))
	}
	if len(body) > maxBody {
		return acs.Credentials{}, fmt.Errorf("awssecrets: the answer for secret %q is larger than %d bytes", c.secretID, maxBody)
	}
	cred, err := decode(body)
	if err != nil {
		return acs.Credentials{}, fmt.Errorf("awssecrets: secret %q (STOPPER_ALIBABA_SECRET_ID): %w", c.secretID, err)
	}
	return cred, nil
}

func statusHint(status int) string {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return " (the extension checks X-Aws-Parameters-Secrets-Token against AWS_SESSION_TOKEN)"
	case http.StatusBadRequest:
		return " (does the secret exist in this region, and may the execution role call secretsmanager:GetSecretValue on it?)"
	}
	return ""
}

// errShape is the one refusal of a malformed secret. It says nothing of
// what the secret holds: a JSON error would quote part of it.
var errShape = errors.New(`SecretString must be a JSON object {"AccessKeyId": "...", "AccessKeySecret": "..."} with two non-empty values and no other field`)

var (
	errNotJSON  = errors.New("the extension's answer is not GetSecretValue's JSON")
	errNoString = errors.New("the secret has no SecretString (a binary secret?): " + errShape.Error())
)

// decode reads GetSecretValue's JSON and the pair in its SecretString.
func decode(body []byte) (acs.Credentials, error) {
	var answer struct {
		SecretString *string
	}
	if json.Unmarshal(body, &answer) != nil {
		return acs.Credentials{}, errNotJSON
	}
	if answer.SecretString == nil {
		return acs.Credentials{}, errNoString
	}
	dec := json.NewDecoder(strings.NewReader(*answer.SecretString))
	dec.DisallowUnknownFields()
	var pair struct {
		AccessKeyId, AccessKeySecret string
	}
	if dec.Decode(&pair) != nil || dec.More() || !wellFormed(pair.AccessKeyId) || !wellFormed(pair.AccessKeySecret) {
		return acs.Credentials{}, errShape
	}
	if _, err := dec.Token(); err != io.EOF {
		return acs.Credentials{}, errShape
	}
	return acs.Credentials{AccessKeyID: pair.AccessKeyId, AccessKeySecret: pair.AccessKeySecret}, nil
}

// wellFormed refuses an empty value and one with spaces or control
// characters, the usual copy-and-paste accidents: no AccessKey holds them.
func wellFormed(v string) bool {
	return v != "" && strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}
