package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
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
	action, version string
	signature       string // V3 or V1, once known, for the log
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
	result, e := s.answer(c, parseErr)
	if e == errGone {
		s.log.Info("emulator: caller gone while waiting", "action", c.action, "requestId", c.requestID)
		return
	}
	status, code := http.StatusOK, ""
	if e != nil {
		status, code = e.status, e.code
		s.writeError(w, c, e)
	} else {
		s.count(c.action, true)
		writeJSON(w, c, status, result)
	}
	s.log.Info("emulator: call", "action", c.action, "status", status, "code", code,
		"signature", c.signature, "requestId", c.requestID, "elapsed", time.Since(start))
}

// errGone marks a call whose caller left during the injected latency.
var errGone = &apiError{}

// answer runs the call through the faults, the checks and the action.
// The latency comes before the action, so a caller that gives up while
// waiting has changed nothing; fault answers come without latency.
func (s *Server) answer(c *call, parseErr *apiError) (any, *apiError) {
	if parseErr != nil {
		return nil, parseErr
	}
	if e := s.faults.failing(); e != nil {
		return nil, e
	}
	if e := s.faults.throttle(c.action); e != nil {
		return nil, e
	}
	if !s.faults.wait(c.r.Context()) {
		return nil, errGone
	}
	switch {
	case c.action == "":
		return nil, missingParameter("Action")
	case c.version != ca.Version:
		return nil, newError(http.StatusBadRequest, CodeInvalidVersion,
			"Specified parameter Version is not valid: the emulator serves ECS API version %s.", ca.Version)
	case c.action != actionStop && c.action != actionDescribe:
		return nil, newError(http.StatusNotFound, CodeInvalidAction,
			"Specified api is not found, please check your url and method: the emulator serves %s and %s.", actionStop, actionDescribe)
	}
	if e := s.authenticate(c); e != nil {
		return nil, e
	}
	if c.action == actionStop {
		return s.stop(c)
	}
	return s.describe(c)
}

// parse reads the parameters: the URL query, plus a form body's for
// POST/PUT with application/x-www-form-urlencoded. The action and version
// come from the V3 headers when sent, else from the parameters (V1).
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
	c.action = r.Header.Get("x-acs-action")
	if c.action == "" {
		c.action = c.params.Get("Action")
	}
	c.version = r.Header.Get("x-acs-version")
	if c.version == "" {
		c.version = c.params.Get("Version")
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
		if c.action == "" {
			c.action = c.params.Get("Action")
		}
		if c.version == "" {
			c.version = c.params.Get("Version")
		}
	}
	return nil
}

func (s *Server) count(action string, success bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if success {
		s.succeeded[action]++
	} else {
		s.calls[action]++
	}
}

func (s *Server) writeError(w http.ResponseWriter, c *call, e *apiError) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	writeJSON(w, c, e.status, ca.Error{RequestId: c.requestID, HostId: c.r.Host, Code: e.code, Message: e.message})
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
