package emulator

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

const (
	actionStop     = "StopInvocation"
	actionDescribe = "DescribeInvocations"
	maxInstances   = ca.MaxInstancesPerStop
	// maxBody bounds what the emulator reads; RPC calls are a few KiB.
	maxBody = 1 << 20
)

// call is one request as the emulator sees it.
type call struct {
	r         *http.Request
	requestID string
	// query holds the URL's parameters only (what V3 signs); params adds a
	// form body's (what the action and V1 read).
	query, params   url.Values
	body            []byte
	form            bool // the body was read as form parameters
	action, version string
	signature       string // V3 or V1, once known, for the log
	// account is the account the call acts in and principal who makes it
	// (for the log: never a secret); session is the STS session whose
	// credentials signed it, nil for the static key pair.
	account, principal string
	session            *session
}

// ServeHTTP answers one RPC call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &call{r: r, requestID: newRequestID()}
	parseErr := c.parse()
	s.count(c.action, false)

	if s.faults.drop() {
		s.log.Info("emulator: dropped connection", "action", c.action, "requestId", c.requestID)
		hangUp(w)
		return
	}
	result, e, ran := s.answer(c, parseErr)
	if e == errGone {
		s.log.Info("emulator: caller gone while waiting", "action", c.action, "requestId", c.requestID)
		return
	}
	if e == nil {
		s.count(c.action, true)
	}
	if ran && s.faults.dropAfter() {
		s.mu.Lock()
		s.dropped[c.action]++
		s.mu.Unlock()
		s.log.Info("emulator: performed the call, then dropped the connection", "action", c.action,
			"code", codeOf(e), "requestId", c.requestID)
		hangUp(w)
		return
	}
	status := http.StatusOK
	if e != nil {
		status = e.status
		s.writeError(w, c, e)
	} else {
		writeJSON(w, c, status, result)
	}
	s.log.Info("emulator: call", "action", c.action, "account", c.account, "principal", c.principal,
		"status", status, "code", codeOf(e), "signature", c.signature, "requestId", c.requestID, "elapsed", time.Since(start))
}

func codeOf(e *apiError) string {
	if e == nil {
		return ""
	}
	return e.code
}

// errGone marks a call whose caller left during the injected latency.
var errGone = &apiError{}

// answer runs the call through the faults, the checks and the action; ran
// reports that the action itself ran (whatever it answered), which is when
// DropAfterRate may leave it unanswered. The latency comes before the
// action, so a caller that gives up while waiting has changed nothing; fault
// answers come without latency.
func (s *Server) answer(c *call, parseErr *apiError) (result any, e *apiError, ran bool) {
	if parseErr != nil {
		return nil, parseErr, false
	}
	if e := s.faults.failing(); e != nil {
		return nil, e, false
	}
	s.claimCaller(c)
	if e := s.faults.throttle(c.account, c.action, c.version == stsVersion); e != nil {
		return nil, e, false
	}
	if !s.faults.wait(c.r.Context()) {
		return nil, errGone, false
	}
	// The version says which service is called: ECS, STS or Resource
	// Manager, on one listener.
	switch {
	case c.action == "":
		return nil, missingParameter("Action"), false
	case c.version == stsVersion:
		if !slices.Contains(stsActions, c.action) {
			return nil, newError(http.StatusNotFound, CodeInvalidAction,
				"Specified api is not found, please check your url and method: the emulator's STS serves %s.", strings.Join(stsActions, ", ")), false
		}
	case c.version == rmVersion:
		if c.action != actionListAccounts {
			return nil, newError(http.StatusNotFound, CodeInvalidAction,
				"Specified api is not found, please check your url and method: the emulator's Resource Manager serves %s.", actionListAccounts), false
		}
	case c.version != ca.Version:
		return nil, newError(http.StatusBadRequest, CodeInvalidVersion,
			"Specified parameter Version is not valid: the emulator serves ECS API version %s, STS API version %s and Resource Manager API version %s.",
			ca.Version, stsVersion, rmVersion), false
	case c.action != actionStop && c.action != actionDescribe:
		return nil, newError(http.StatusNotFound, CodeInvalidAction,
			"Specified api is not found, please check your url and method: the emulator serves %s and %s.", actionStop, actionDescribe), false
	}
	// AssumeRoleWithOIDC is the one unsigned action: the token is the proof.
	if !(c.version == stsVersion && c.action == actionAssumeRoleWithOIDC) {
		if e := s.authenticate(c); e != nil {
			return nil, e, false
		}
	}
	switch {
	case c.version == rmVersion:
		result, e = s.listAccounts(c)
	case c.action == actionStop:
		result, e = s.stop(c)
	case c.action == actionDescribe:
		result, e = s.describe(c)
	case c.action == actionAssumeRole:
		result, e = s.assumeRole(c)
	case c.action == actionAssumeRoleWithOIDC:
		result, e = s.assumeRoleWithOIDC(c)
	default:
		result, e = s.callerIdentity(c)
	}
	return result, e, true
}

// parse reads the parameters: the URL query, plus a form body's for
// POST/PUT with application/x-www-form-urlencoded. The action and version
// come from what the request's signature covers: a V3 request (ACS3
// Authorization header) signs its x-acs-* headers, so they come from
// x-acs-action and x-acs-version (else the signed query); a V1 request signs
// its parameters only, so they come from Action and Version and never from a
// header, which anyone on the way could add or change. A request with no
// signature is refused later; its action is read as V3's, for the log.
func (c *call) parse() *apiError {
	r := c.r
	var err error
	if c.query, err = url.ParseQuery(r.URL.RawQuery); err != nil {
		return newError(http.StatusBadRequest, CodeInvalidParameter, "The query string is malformed: %v.", err)
	}
	c.params = url.Values{}
	for k, v := range c.query {
		c.params[k] = v
	}
	if r.Body != nil {
		c.body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return newError(http.StatusBadRequest, CodeInvalidParameter, "The request body could not be read: %v.", err)
		}
		if len(c.body) > maxBody {
			return newError(http.StatusBadRequest, CodeInvalidParameter, "The request body is larger than %d bytes.", maxBody)
		}
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if len(c.body) > 0 && mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(c.body))
		if err != nil {
			return newError(http.StatusBadRequest, CodeInvalidParameter, "The form body is malformed: %v.", err)
		}
		for k, v := range form {
			c.params[k] = append(c.params[k], v...)
		}
		c.form = true
	}
	if !c.isV3() && c.params.Has("Signature") {
		c.action, c.version = c.params.Get("Action"), c.params.Get("Version")
		return nil
	}
	c.action = cmp.Or(r.Header.Get("x-acs-action"), c.params.Get("Action"))
	c.version = cmp.Or(r.Header.Get("x-acs-version"), c.params.Get("Version"))
	return nil
}

// isV3 reports whether the request is signed with an ACS3 Authorization header.
func (c *call) isV3() bool { return strings.HasPrefix(c.r.Header.Get("Authorization"), "ACS3-") }

func (s *Server) count(action string, success bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if success {
		s.succeeded[action]++
	} else {
		s.calls[action]++
	}
}

// writeError answers an error. Its message never carries the caller's
// AccessKey id or STS token (see redact), whatever built it.
func (s *Server) writeError(w http.ResponseWriter, c *call, e *apiError) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	writeJSON(w, c, e.status, ca.Error{RequestId: c.requestID, HostId: c.r.Host, Code: e.code, Message: c.redact(e.message)})
}

func writeJSON(w http.ResponseWriter, c *call, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only plain structs are written; this is a bug
		status = http.StatusInternalServerError
		body, _ = json.Marshal(ca.Error{RequestId: c.requestID, HostId: c.r.Host, Code: CodeInternalError, Message: err.Error()})
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("x-acs-request-id", c.requestID)
	w.WriteHeader(status)
	w.Write(body)
}

// newRequestID is shaped like the API's: an upper-case UUID.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
