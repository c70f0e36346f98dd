package ecs

import (
	"fmt"
	"net/url"
	"strings"
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

// parseEndpoint checks the Endpoint option and returns it without a trailing
// slash ("" when unset).
func parseEndpoint(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("ecs: option Endpoint (STOPPER_ECS_ENDPOINT) %q is not a URL: %v", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("ecs: option Endpoint (STOPPER_ECS_ENDPOINT) %q must be an absolute http:// or https:// URL", raw)
	case u.Host == "":
		return "", fmt.Errorf("ecs: option Endpoint (STOPPER_ECS_ENDPOINT) %q has no host", raw)
	case u.User != nil:
		return "", fmt.Errorf("ecs: option Endpoint (STOPPER_ECS_ENDPOINT) must not carry user info")
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("ecs: option Endpoint (STOPPER_ECS_ENDPOINT) %q must not have a query: the call's parameters go there", raw)
	case u.Fragment != "":
		return "", fmt.Errorf("ecs: option Endpoint (STOPPER_ECS_ENDPOINT) %q must not have a fragment", raw)
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
