// Package resourcemanager is the project's client of Alibaba Cloud Resource
// Manager (API version 2020-03-31, RPC style as ECS): ListAccounts, which
// lists the members of the caller's Resource Directory. Only the management
// account (or a delegated administrator) may call it. Calls are signed with
// ACS3-HMAC-SHA256 by package acs, as the ECS client signs its own, and the
// emulator answers them on its ECS listener.
//
// API reference: https://www.alibabacloud.com/help/en/resource-management/resource-directory/developer-reference/api-resourcemanager-2020-03-31-listaccounts
package resourcemanager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/httpapi"
)

// Version is the Resource Manager API version the client speaks.
const Version = "2020-03-31"

// Endpoint is Resource Manager's one (global) endpoint.
const Endpoint = "https://resourcemanager.aliyuncs.com"

// pageSize is ListAccounts' largest page.
const pageSize = 100

// maxPages bounds a listing: 100 pages of 100 members is far beyond any
// directory's account quota, and a server that keeps answering full pages
// must not keep the function listing until its deadline.
const maxPages = 100

// Options configure a Client.
type Options struct {
	// Endpoint is the base URL (default Endpoint), or http:// to a loopback
	// host (the emulator).
	Endpoint string
	// Provider yields the credentials each call is signed with.
	Provider acs.CredentialsProvider
	// Timeout bounds one call (default 10s).
	Timeout time.Duration
	// Transport replaces the default transport (tests).
	Transport http.RoundTripper
	// Now is the signature's clock; nil is time.Now.
	Now func() time.Time
}

// Client calls Resource Manager. It is safe for concurrent use.
type Client struct {
	endpoint string
	provider acs.CredentialsProvider
	timeout  time.Duration
	http     *http.Client
	now      func() time.Time
}

// New checks the options and builds a Client; it touches no network.
func New(o Options) (*Client, error) {
	raw := o.Endpoint
	if raw == "" {
		raw = Endpoint
	}
	ep, err := httpapi.CheckEndpoint(raw)
	if err != nil {
		return nil, fmt.Errorf("resourcemanager: endpoint %w: give https://<host>, or http:// to a loopback emulator", err)
	}
	if o.Provider == nil {
		return nil, errors.New("resourcemanager: option Provider is required")
	}
	c := &Client{endpoint: ep, provider: o.Provider, timeout: o.Timeout, now: o.Now}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Second
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.http = httpapi.HTTPClient(o.Transport)
	return c, nil
}

// Account is one member of the Resource Directory.
type Account struct {
	AccountId   string `json:"AccountId"`
	DisplayName string `json:"DisplayName"`
	// Status is CreateSuccess or InviteSuccess for a member that can be
	// acted in; other states are members being created, invited or removed.
	Status string `json:"Status"`
	Type   string `json:"Type"`
}

// Active reports whether the member has finished joining.
func (a Account) Active() bool { return a.Status == "CreateSuccess" || a.Status == "InviteSuccess" }

type listAccountsPage struct {
	RequestId  string `json:"RequestId"`
	PageNumber int    `json:"PageNumber"`
	TotalCount int    `json:"TotalCount"`
	Accounts   struct {
		Account []Account `json:"Account"`
	} `json:"Accounts"`
}

// ListAccounts returns every member of the directory, page by page.
func (c *Client) ListAccounts(ctx context.Context) ([]Account, error) {
	var all []Account
	for page := 1; page <= maxPages; page++ {
		var p listAccountsPage
		params := url.Values{"PageNumber": {strconv.Itoa(page)}, "PageSize": {strconv.Itoa(pageSize)}}
		if err := c.call(ctx, "ListAccounts", params, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Accounts.Account...)
		if len(p.Accounts.Account) < pageSize || len(all) >= p.TotalCount {
			return all, nil
		}
	}
	return nil, &Error{Action: "ListAccounts", Code: "InvalidResponse",
		Message: fmt.Sprintf("the directory still had members after %d pages of %d", maxPages, pageSize)}
}

// Error is Resource Manager's error answer, or an answer that is not its
// JSON (Code HTTP<status> or InvalidResponse). Its texts are redacted of
// the call's credentials.
type Error struct {
	Action     string `json:"-"`
	RequestId  string `json:"RequestId"`
	Code       string `json:"Code"`
	Message    string `json:"Message"`
	HTTPStatus int    `json:"-"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("resourcemanager: %s: %s: %s (HTTP %d, RequestId %s)", e.Action, e.Code, e.Message, e.HTTPStatus, e.RequestId)
}

const maxBody = 8 << 20

func (c *Client) call(ctx context.Context, action string, params url.Values, out any) error {
	cred, err := c.provider.Credentials(ctx)
	if err != nil {
		return err
	}
	if !cred.Set() {
		return fmt.Errorf("resourcemanager: %s: no credentials to sign with", action)
	}
	r := cred.Redactor()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/?"+acs.CanonicalQuery(params), http.NoBody)
	if err != nil {
		return fmt.Errorf("resourcemanager: %s: building the request: %w", action, err)
	}
	req.Header.Set("x-acs-action", action)
	req.Header.Set("x-acs-version", Version)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ecs-stopper/1 (+https://github.com/ecs-stopper/stopper)")
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	acs.SignV3(req, nil, cred, c.now(), hex.EncodeToString(nonce[:]))
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL repeats the query: the host is enough
		}
		return fmt.Errorf("resourcemanager: %s: calling %s: %s", action, req.URL.Host, r.Redact(err.Error()))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("resourcemanager: %s: reading the answer: %s", action, r.Redact(err.Error()))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{}
		if json.Unmarshal(body, e) != nil || e.Code == "" {
			e = &Error{Code: fmt.Sprintf("HTTP%d", resp.StatusCode), Message: "the answer is not Resource Manager's JSON error"}
		}
		e.Action, e.HTTPStatus = action, resp.StatusCode
		e.Code, e.Message, e.RequestId = r.Redact(e.Code), r.Redact(e.Message), r.Redact(e.RequestId)
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &Error{Action: action, Code: "InvalidResponse", HTTPStatus: resp.StatusCode,
			Message: "the answer is not Resource Manager's JSON: " + err.Error()}
	}
	return nil
}
