package ecs

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ecs-stopper/stopper/shared/acs"
)

// Endpoint is the base URL calls for regionID go to: the Endpoint option when
// set, otherwise the regional endpoint of the configured network.
//
// The official SDK maps some regions (cn-hangzhou) to legacy hosts and then
// ignores "vpc" for them; the ecs.<region> / ecs-vpc.<region> hosts serve
// every region, so the client always uses them.
func (c *Client) Endpoint(regionID string) string {
	if c.endpoint != "" {
		return c.endpoint
	}
	if c.network == NetworkVPC {
		return "https://ecs-vpc." + regionID + ".aliyuncs.com"
	}
	return "https://ecs." + regionID + ".aliyuncs.com"
}

// endpointFor is Endpoint after checking that regionID can go into a host
// name: a region id comes from callers (webhooks), and an unchecked one
// such as "evil.example/x?" would send signed requests elsewhere.
func (c *Client) endpointFor(regionID string) (string, error) {
	if c.endpoint != "" {
		return c.endpoint, nil
	}
	if !validRegion(regionID) {
		return "", fmt.Errorf("ecs: RegionId %q is not a region id (lower-case letters, digits and '-', e.g. cn-hangzhou)", regionID)
	}
	return c.Endpoint(regionID), nil
}

func validRegion(r string) bool {
	if r == "" || len(r) > 63 || r[0] == '-' || r[len(r)-1] == '-' {
		return false
	}
	for i := 0; i < len(r); i++ {
		ch := r[i]
		if !('a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-') {
			return false
		}
	}
	return true
}

// CheckEndpoint is the one check of an endpoint override (Options.Endpoint,
// STOPPER_ECS_ENDPOINT): the configuration calls it at start-up and New calls
// it too, so the two can never disagree. An empty (or blank) value is valid:
// it means the regional endpoint.
//
// It refuses a value that is not an absolute http:// or https:// URL with a
// host, one carrying user info (credentials do not belong in a URL, and the
// API would not read them), a query or a fragment (the call's parameters go
// in the query), and plain http:// to any host but a loopback one
// (127.0.0.0/8, ::1, localhost): over http the signed requests and the STS
// token travel in clear. An emulator on the same machine is the only honest
// use of http.
//
// Every error starts with "STOPPER_ECS_ENDPOINT", shows the value only as
// RedactURL renders it and says how to fix it.
func CheckEndpoint(raw string) error {
	_, err := parseEndpoint(raw)
	return err
}

// RedactURL renders an endpoint for an error message or a log line without
// what may be secret in it: everything before the last '@' of the authority
// becomes "[redacted]@", and a query and a fragment become "?[redacted]" and
// "#[redacted]". It works on the text itself, so a value that does not parse
// as a URL is redacted as well.
func RedactURL(raw string) string {
	s := raw
	var tail string
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		if q := strings.IndexByte(s, '?'); q >= 0 && q == i {
			tail = "?" + redacted
		}
		if f := strings.IndexByte(s[i:], '#'); f >= 0 {
			tail += "#" + redacted
		}
		s = s[:i]
	}
	prefix := ""
	if i := strings.Index(s, "://"); i >= 0 {
		prefix, s = s[:i+3], s[i+3:]
	}
	// The last '@' and not the authority's end: a password written with a
	// raw '/' in it would otherwise end the authority early and show.
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = redacted + s[i:]
	}
	return prefix + s + tail
}

const redacted = "[redacted]"

// parseEndpoint is CheckEndpoint returning the endpoint without a trailing
// slash ("" when unset).
func parseEndpoint(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	bad := func(problem, fix string) error {
		return fmt.Errorf("STOPPER_ECS_ENDPOINT %q %s: %s", RedactURL(raw), problem, fix)
	}
	const example = "give a full URL such as https://ecs-vpc.cn-hangzhou.aliyuncs.com"
	u, err := url.Parse(raw)
	if err != nil {
		// *url.Error repeats the whole value, and its reason quotes pieces
		// of it ("invalid port \":hunter2\" after host"): give the reason
		// only when the value holds nothing RedactURL would hide.
		var ue *url.Error
		if errors.As(err, &ue) && RedactURL(raw) == raw {
			return "", bad(fmt.Sprintf("is not a URL (%v)", ue.Err), example)
		}
		return "", bad("is not a URL", example)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad("is not an absolute http:// or https:// URL", example)
	case u.Host == "":
		return "", bad("has no host", example)
	case u.User != nil:
		return "", bad("carries user info", "remove the user:password@ part; the API authenticates with the AccessKey, never with URL credentials")
	case u.RawQuery != "" || u.ForceQuery:
		return "", bad("has a query", "remove it: the call's parameters go in the query")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", bad("has a fragment", "remove the #... part")
	case u.Scheme == "http" && !acs.Loopback(u.Hostname()):
		return "", bad("is plain http:// to a host that is not this machine, which would send the signed requests and the STS token in clear",
			"use https://, or http:// only to an emulator on a loopback address (127.0.0.1, [::1] or localhost)")
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// parseNetwork accepts "public" (or empty) and "vpc", in any case.
func parseNetwork(n string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(n)) {
	case "", NetworkPublic:
		return NetworkPublic, nil
	case NetworkVPC:
		return NetworkVPC, nil
	}
	return "", fmt.Errorf("ecs: option Network (STOPPER_ECS_NETWORK) must be %q or %q, got %q", NetworkPublic, NetworkVPC, n)
}
