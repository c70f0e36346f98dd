package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// The accounts, role and OIDC provider of IdentityFleet: the function's
// key (or its OIDC token) belongs to ManagementAccount, and it acts in
// MemberAccount through MemberRole.
const (
	ManagementAccount = emulator.DefaultAccountId
	MemberAccount     = "1000000000000002"
	MemberRole        = "acs:ram::" + MemberAccount + ":role/ecs-stopper"
	OIDCProvider      = "acs:ram::" + ManagementAccount + ":oidc-provider/aws"
)

// OIDCIssuer is the identity provider IdentityFleet registers: tokens
// issued by IssuerURL (keys at JWKSURL) for Audience, whose sub must be
// Subject to assume MemberRole.
type OIDCIssuer struct {
	IssuerURL, JWKSURL, Audience, Subject string
}

// IdentityFleet is a fleet of two accounts: member holds the invocations
// in MemberAccount, and MemberRole there trusts the management account's
// keys and, when issuer is given, OIDCProvider's tokens.
func IdentityFleet(member []ca.Invocation, issuer *OIDCIssuer) *emulator.Fleet {
	role := emulator.Role{Arn: MemberRole, Trust: []string{"acs:ram::" + ManagementAccount + ":root"}}
	f := &emulator.Fleet{Accounts: []emulator.AccountFleet{{AccountId: MemberAccount, Invocations: member}}}
	if issuer != nil {
		role.Trust = append(role.Trust, "oidc:"+OIDCProvider)
		role.OIDCSubjects = []string{issuer.Subject}
		f.OIDCProviders = []emulator.OIDCProvider{{Arn: OIDCProvider, IssuerUrl: issuer.IssuerURL,
			JwksUrl: issuer.JWKSURL, ClientIds: []string{issuer.Audience}}}
	}
	f.Roles = []emulator.Role{role}
	return f
}

// EmulatorCall is one line of the emulator's call log.
type EmulatorCall struct {
	Action    string `json:"action"`
	Account   string `json:"account"`
	Principal string `json:"principal"`
	Code      string `json:"code"`
	Status    int    `json:"status"`
}

// EmulatorLog collects an emulator's log (emulator.Options.Log) as JSON
// lines.
type EmulatorLog struct{ Buffer }

// NewEmulatorLog returns the log and the logger to give the emulator.
func NewEmulatorLog() (*EmulatorLog, *slog.Logger) {
	l := &EmulatorLog{}
	return l, slog.New(slog.NewJSONHandler(l, nil))
}

// Calls lists the API calls logged for action ("" for every action), in
// order.
func (l *EmulatorLog) Calls(t testing.TB, action string) []EmulatorCall {
	t.Helper()
	var out []EmulatorCall
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Msg string `json:"msg"`
			EmulatorCall
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("emulator log line is not JSON: %v: %s", err, sc.Text())
		}
		if line.Msg == "emulator: call" && (action == "" || line.Action == action) {
			out = append(out, line.EmulatorCall)
		}
	}
	return out
}

// LogLines are the JSON objects of a function's log (other lines, such as
// the RIE's own, are skipped).
func LogLines(text string) []map[string]any {
	var out []map[string]any
	for line := range strings.SplitSeq(text, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m != nil {
			out = append(out, m)
		}
	}
	return out
}

// IssuedCredentials records the secrets STS answers carry (AssumeRole,
// AssumeRoleWithOIDC: Credentials.AccessKeySecret and SecurityToken), so
// that a test can check that none of them shows in a log.
type IssuedCredentials struct {
	mu      sync.Mutex
	secrets []string
}

// Secrets are the AccessKey secrets and security tokens issued so far.
func (c *IssuedCredentials) Secrets() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.secrets...)
}

// RecordIssued serves h, recording the credentials its answers issue.
func RecordIssued(h http.Handler) (http.Handler, *IssuedCredentials) {
	c := &IssuedCredentials{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tee := &teeWriter{ResponseWriter: w}
		h.ServeHTTP(tee, r)
		var answer struct {
			Credentials struct{ AccessKeySecret, SecurityToken string }
		}
		if json.Unmarshal(tee.body.Bytes(), &answer) == nil && answer.Credentials.SecurityToken != "" {
			c.mu.Lock()
			c.secrets = append(c.secrets, answer.Credentials.AccessKeySecret, answer.Credentials.SecurityToken)
			c.mu.Unlock()
		}
	}), c
}

// teeWriter keeps a copy of the body it writes.
type teeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}
