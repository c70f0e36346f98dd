package emulator

import (
	"cmp"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
)

// identity is who may call the emulator besides its static key pair: the
// fleet's roles and OIDC providers, the resource directory, and the STS
// sessions issued so far. Sessions live in memory only: a restarted
// emulator has forgotten them, as if they had expired.
type identity struct {
	account   string // the static key pair's, the management account
	duration  time.Duration
	roles     map[string]Role
	providers map[string]OIDCProvider
	directory *ResourceDirectory
	members   map[string]bool
	start     *Fleet // the identity sections as given, for Fleet()
	jwks      *jwksCache

	mu       sync.Mutex
	sessions map[string]*session // by AccessKeyId
	// tokens holds every SecurityToken issued, so that a token sent with
	// the wrong key is told apart from one never issued.
	tokens map[string]bool
}

// session is one set of credentials STS issued for a role.
type session struct {
	keyID, secret, token string
	roleArn, roleName    string
	account              string // the role's
	name                 string // RoleSessionName
	expires              time.Time
}

// arn is the assumed-role ARN GetCallerIdentity answers.
func (s *session) arn() string {
	return "acs:ram::" + s.account + ":assumed-role/" + s.roleName + "/" + s.name
}

// sessionsBeforePrune bounds the sessions kept before expired ones are
// dropped, so that a long-running emulator does not grow without end.
const sessionsBeforePrune = 1024

func newIdentity(f *Fleet, account string, duration time.Duration, client *http.Client) (*identity, error) {
	if err := f.checkIdentity(); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	id := &identity{account: account, duration: duration, roles: map[string]Role{}, providers: map[string]OIDCProvider{},
		members: map[string]bool{}, start: copyFleetIdentity(f), jwks: newJWKSCache(client),
		sessions: map[string]*session{}, tokens: map[string]bool{}}
	for _, r := range f.Roles {
		id.roles[r.Arn] = r
	}
	for _, p := range f.OIDCProviders {
		id.providers[p.Arn] = p
	}
	if f.ResourceDirectory != nil {
		id.directory = f.ResourceDirectory
		for _, m := range f.ResourceDirectory.Members {
			id.members[m] = true
		}
	}
	return id, nil
}

// fleet is the identity sections as the emulator started with them.
func (id *identity) fleet() *Fleet { return copyFleetIdentity(id.start) }

// issue creates a session for a role that lasts d.
func (id *identity) issue(role Role, name string, now time.Time, d time.Duration) *session {
	m := roleArnPattern.FindStringSubmatch(role.Arn)
	s := &session{keyID: "STS." + randomText(28), secret: randomText(44), token: "CAIS" + randomToken(180),
		roleArn: role.Arn, account: m[1], roleName: m[2], name: name, expires: now.Add(d).Truncate(time.Second)}
	id.mu.Lock()
	defer id.mu.Unlock()
	if len(id.sessions) >= sessionsBeforePrune {
		for k, old := range id.sessions {
			if !now.Before(old.expires) {
				delete(id.sessions, k)
				delete(id.tokens, old.token)
			}
		}
	}
	id.sessions[s.keyID] = s
	id.tokens[s.token] = true
	return s
}

// session finds the session of an STS AccessKeyId and checks the token
// that came with it. The codes are the ones the real services answer
// (Alibaba Cloud's common error codes, e.g. the table in
// https://www.alibabacloud.com/help/en/doc-detail/42775.htm for
// MissingSecurityToken, and the OpenAPI gateway's InvalidSecurityToken.*,
// all 400): a key never issued is InvalidAccessKeyId.NotFound, as for a
// static key.
func (id *identity) session(keyID, token string, now time.Time) (*session, *apiError) {
	id.mu.Lock()
	defer id.mu.Unlock()
	s := id.sessions[keyID]
	switch {
	case s == nil:
		return nil, keyNotFound()
	case token == "":
		return nil, newError(http.StatusBadRequest, CodeMissingSecurityToken,
			"SecurityToken is mandatory for this action: credentials STS issued are used with their SecurityToken (x-acs-security-token, or the SecurityToken parameter with a V1 signature).")
	case token != s.token && id.tokens[token]:
		return nil, newError(http.StatusBadRequest, CodeSecurityTokenMismatch,
			"Specified SecurityToken mismatch with the AccessKey: send the SecurityToken issued with this AccessKeyId.")
	case token != s.token:
		return nil, newError(http.StatusBadRequest, CodeSecurityTokenMalformed,
			"Specified SecurityToken is malformed: it is not one this STS issued.")
	case !now.Before(s.expires):
		return nil, newError(http.StatusBadRequest, CodeSecurityTokenExpired,
			"Specified SecurityToken is expired: it expired at %s; ask STS for new credentials.", s.expires.UTC().Format(timeLayout))
	}
	return s, nil
}

// callerOfKey is the account and principal a key id claims, unchecked:
// what throttling counts a call against, and the log names, before its
// signature is verified. Unknown keys count against the default account.
func (id *identity) callerOfKey(keyID string) (account, principal string) {
	id.mu.Lock()
	defer id.mu.Unlock()
	if s := id.sessions[keyID]; s != nil {
		return s.account, s.roleArn
	}
	return id.account, staticPrincipal(keyID)
}

// trusts reports whether a role's trust names the caller: its account's
// root, or the role the caller's session is of.
func (r Role) trusts(callerAccount string, caller *session) bool {
	for _, t := range r.Trust {
		if t == "acs:ram::"+callerAccount+":root" || (caller != nil && t == caller.roleArn) {
			return true
		}
	}
	return false
}

// trustsProvider reports whether a role's trust names an OIDC provider and,
// when it lists subjects, the token's.
func (r Role) trustsProvider(providerArn, subject string) bool {
	named := false
	for _, t := range r.Trust {
		named = named || t == oidcTrustPrefix+providerArn
	}
	if !named {
		return false
	}
	if len(r.OIDCSubjects) == 0 {
		return true
	}
	for _, s := range r.OIDCSubjects {
		if s == subject {
			return true
		}
	}
	return false
}

// roleID is a stable 18-digit id for a role, shaped like RAM's.
func roleID(arn string) string {
	sum := sha256.Sum256([]byte(arn))
	return fmt.Sprintf("3%017d", binary.BigEndian.Uint64(sum[:8])%1e17)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomText is n random letters and digits, as STS key ids and secrets.
func randomText(n int) string {
	b := make([]byte, n)
	crand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// randomToken is base64 text of n random bytes, as STS security tokens.
func randomToken(n int) string {
	b := make([]byte, n)
	crand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// staticPrincipal is how the log names the static key pair.
func staticPrincipal(keyID string) string { return "key:" + acs.MaskKeyID(keyID) }

// claimedKeyID is the AccessKeyId a call names, before any check.
func (c *call) claimedKeyID() string {
	if c.isV3() {
		if a, err := acs.ParseAuthorizationV3(c.r.Header.Get("Authorization")); err == nil {
			return a.AccessKeyID
		}
		return ""
	}
	return c.params.Get("AccessKeyId")
}

// claimCaller records the account a call counts against for throttling
// (quotas are per account) and the principal it names, before its
// signature is verified: the key's, or for the unsigned AssumeRoleWithOIDC
// the role's account and "anonymous".
func (s *Server) claimCaller(c *call) {
	if c.version == stsVersion && c.action == actionAssumeRoleWithOIDC {
		c.account, c.principal = cmp.Or(accountOfArn(c.params.Get("RoleArn")), s.account), "anonymous"
		return
	}
	switch k := c.claimedKeyID(); k {
	case "":
		c.account, c.principal = s.account, "anonymous"
	case s.keyID:
		c.account, c.principal = s.account, staticPrincipal(k)
	default:
		c.account, c.principal = s.identity.callerOfKey(k)
	}
}

// credential resolves the key a signed call names to its secret and records
// whose call it is: the static pair (any STS token sent with it is
// accepted) or an STS session, whose token must match and be unexpired.
func (s *Server) credential(c *call, keyID, token string) (string, *apiError) {
	if keyID == s.keyID {
		c.account, c.principal = s.account, staticPrincipal(keyID)
		return s.secret, nil
	}
	if !strings.HasPrefix(keyID, "STS.") {
		return "", keyNotFound()
	}
	ses, e := s.identity.session(keyID, token, s.now())
	if e != nil {
		return "", e
	}
	c.account, c.principal, c.session = ses.account, ses.roleArn, ses
	return ses.secret, nil
}
