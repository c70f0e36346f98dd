package fcruntime

import (
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/trigger"
)

// The local runner takes events from POST /invoke with no FC in front of
// it, and with -endpoint those events reach the real Cloud Assistant API
// with the developer's credentials. A web page the developer visits can
// POST to 127.0.0.1 too: as a "simple" cross-origin request (its
// Content-Type is then text/plain, a form's or multipart), or, after DNS
// rebinding, as a same-origin request whose Host is the attacker's name.
// So a local event needs a loopback Host, which a rebound name never is,
// and application/json, which a cross-origin page cannot send without a
// CORS preflight that this server never approves.

// localEventRefusal is why the local runner refuses an event request, or
// nil when it may run.
func localEventRefusal(r *http.Request) *stopper.Error {
	if !loopbackHost(r.Host) {
		return &stopper.Error{Code: "Forbidden.Host",
			Message: "Host " + quoteOrMissing(r.Host) + " is not a loopback name: the local runner takes events on /invoke " +
				"only from this machine, addressed as localhost, 127.0.0.1 or [::1], so that no web page can send them"}
	}
	if r.Method != http.MethodPost {
		return nil // answered MethodNotAllowed by invokeEvent, as on FC
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &stopper.Error{Code: stopper.CodeUnsupportedMediaType,
			Message: "Content-Type " + quoteOrMissing(r.Header.Get("Content-Type")) + " is not application/json: " +
				"the local runner takes events on /invoke only as application/json, which no web page can send to it cross-origin"}
	}
	return nil
}

// loopbackHost reports whether a Host header names this machine's loopback
// interface: localhost or a loopback address, with or without a port.
func loopbackHost(host string) bool {
	name := host
	if h, port, err := net.SplitHostPort(host); err == nil {
		if strings.Trim(port, "0123456789") != "" {
			return false
		}
		name = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		name = host[1 : len(host)-1]
	}
	if strings.EqualFold(name, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(name)
	return err == nil && ip.Zone() == "" && ip.IsLoopback()
}

// refuseLocalEvent answers a refused local event request. The runner is
// not FC, so the status says what is wrong rather than following /invoke's
// 200/404 rule.
func (a *app) refuseLocalEvent(w http.ResponseWriter, r *http.Request, e *stopper.Error) {
	id := trigger.RequestID(r.Header.Get("x-fc-request-id"))
	a.log.Warn("refused", "request_id", id, "code", e.Code, "status", trigger.HTTPStatus(e), "error", e.Message)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(trigger.HTTPStatus(e))
	_, _ = w.Write(mustJSON(e.Answer(id)))
}

// quoteOrMissing quotes a header value for a message, cut short.
func quoteOrMissing(s string) string {
	if s == "" {
		return "(missing)"
	}
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + cleanID(s) + `"`
}
