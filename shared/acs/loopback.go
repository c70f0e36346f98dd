package acs

import (
	"net/netip"
	"net/url"
	"strings"
)

// Loopback reports whether host names this machine: "localhost",
// 127.0.0.0/8 or ::1 (also written as an IPv4-mapped address or with a
// zone). Other names are not resolved: what a name resolves to can change
// after the check. Endpoints may be plain http:// only to such a host, and
// anything else is taken for a real account.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// LoopbackURL reports whether raw is a URL of a host on this machine (an
// emulator); a URL that does not parse is not.
func LoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && Loopback(u.Hostname())
}
