// Package httpapi is what the project's small API clients (STS, Resource
// Manager, AWS STS, the Secrets extension) share besides signing: how an
// endpoint override is checked, the HTTP client they call with, and how an
// unexpected answer is quoted.
package httpapi

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
)

// CheckEndpoint returns raw as a base URL (scheme, host and path, no
// trailing slash) when it is an absolute https:// URL, or http:// to this
// machine: over plain http a signed call, a token or a secret would travel
// in clear. The error says what is wrong; callers name the setting.
func CheckEndpoint(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case strings.TrimSpace(raw) == "":
		return "", errors.New("is empty")
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return "", errors.New("is not an absolute http:// or https:// URL")
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("carries user info, a query or a fragment")
	case u.Scheme == "http" && !acs.Loopback(u.Hostname()):
		return "", errors.New("is plain http:// to a host that is not this machine")
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// HTTPClient is the client of one API: rt, or a transport whose dialing
// and TLS handshake are bounded; redirects are never followed, since
// following one would send a signed call, a token or a secret to another
// host (the 3xx is returned as the answer instead).
func HTTPClient(rt http.RoundTripper) *http.Client {
	if rt == nil {
		rt = &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			TLSHandshakeTimeout: 5 * time.Second, ForceAttemptHTTP2: true}
	}
	return &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// QuotePrefix quotes at most 256 bytes of an unexpected body: enough to
// recognise an HTML error page, bounded so that a large one does not fill
// a log line. Callers redact the result whole.
func QuotePrefix(b []byte) string {
	const limit = 256
	if len(b) == 0 {
		return "(empty body)"
	}
	if len(b) > limit {
		return fmt.Sprintf("%q…", strings.ToValidUTF8(string(b[:limit]), ""))
	}
	return fmt.Sprintf("%q", b)
}
