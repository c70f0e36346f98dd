package emulator

// The emulator's STS (API version 2015-04-01) answers on the same listener
// as its ECS, told apart by the version, so that one URL serves a client
// that asks whose credentials it holds, or assumes a role, before acting.
// AssumeRole and GetCallerIdentity are signed and verified exactly as ECS
// calls are; AssumeRoleWithOIDC is unsigned, as on the real service.
// https://www.alibabacloud.com/help/en/ram/developer-reference/api-sts-2015-04-01-assumerole
// https://www.alibabacloud.com/help/en/ram/developer-reference/api-sts-2015-04-01-assumerolewithoidc

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/sts"
)

const (
	stsVersion               = "2015-04-01"
	actionGetCallerIdentity  = "GetCallerIdentity"
	actionAssumeRole         = "AssumeRole"
	actionAssumeRoleWithOIDC = "AssumeRoleWithOIDC"
	// DefaultAccountId is Options.AccountId's zero value: 16 digits, as an
	// Alibaba Cloud account id, and plainly not a real one.
	DefaultAccountId = "1000000000000001"
)

// stsActions are the STS actions the emulator serves.
var stsActions = []string{actionAssumeRole, actionAssumeRoleWithOIDC, actionGetCallerIdentity}

// DurationSeconds' bounds: 15 minutes, and the longest MaxSessionDuration a
// role may have (12 hours).
const (
	minSessionSeconds = 900
	maxSessionSeconds = 43200
)

// sessionNamePattern is RoleSessionName's form: 2-64 of [A-Za-z0-9.@_-].
var sessionNamePattern = regexp.MustCompile(`^[A-Za-z0-9.@_-]{2,64}$`)

// callerIdentity is GetCallerIdentity. The emulator's static key pair is
// the account's own AccessKey, which the real STS describes as the
// account's root identity: IdentityType "Account", Arn acs:ram::<account>:root,
// and the account id as UserId and PrincipalId. Credentials STS issued are
// an "AssumedRoleUser": Arn acs:ram::<account>:assumed-role/<role>/<session>,
// UserId and PrincipalId <role id>:<session>.
// https://www.alibabacloud.com/help/en/ram/developer-reference/api-sts-2015-04-01-getcalleridentity
func (s *Server) callerIdentity(c *call) (any, *apiError) {
	if ses := c.session; ses != nil {
		rid := roleID(ses.roleArn)
		return sts.Identity{
			RequestId: c.requestID, AccountId: ses.account, UserId: rid + ":" + ses.name, Arn: ses.arn(),
			IdentityType: "AssumedRoleUser", PrincipalId: rid + ":" + ses.name, RoleId: rid,
		}, nil
	}
	return sts.Identity{
		RequestId:    c.requestID,
		AccountId:    s.account,
		UserId:       s.account,
		Arn:          "acs:ram::" + s.account + ":root",
		IdentityType: "Account",
		PrincipalId:  s.account,
	}, nil
}

// Answers of AssumeRole and AssumeRoleWithOIDC, as the API pages show them.
type (
	assumedRoleUser struct {
		Arn           string `json:"Arn"`
		AssumedRoleId string `json:"AssumedRoleId"`
	}
	stsCredentials struct {
		AccessKeyId     string `json:"AccessKeyId"`
		AccessKeySecret string `json:"AccessKeySecret"`
		SecurityToken   string `json:"SecurityToken"`
		Expiration      string `json:"Expiration"`
	}
	oidcTokenInfo struct {
		Subject          string `json:"Subject"`
		Issuer           string `json:"Issuer"`
		ClientIds        string `json:"ClientIds"`
		ExpirationTime   string `json:"ExpirationTime"`
		IssuanceTime     string `json:"IssuanceTime,omitempty"`
		VerificationInfo string `json:"VerificationInfo"`
	}
	assumeRoleResponse struct {
		RequestId       string          `json:"RequestId"`
		AssumedRoleUser assumedRoleUser `json:"AssumedRoleUser"`
		Credentials     stsCredentials  `json:"Credentials"`
		OIDCTokenInfo   *oidcTokenInfo  `json:"OIDCTokenInfo,omitempty"`
	}
)

// assumeRole is AssumeRole: the caller (the static key pair, or credentials
// of another role) must be trusted by the role, and send the role's
// ExternalId when the fleet gives it one. Policy is accepted and ignored.
func (s *Server) assumeRole(c *call) (any, *apiError) {
	role, name, d, e := s.roleRequest(c)
	if e != nil {
		return nil, e
	}
	if !role.trusts(c.account, c.session) {
		return nil, notAuthorized("the trust of role %s names neither acs:ram::%s:root nor the caller's role; add it to the role's Trust", role.Arn, c.account)
	}
	if role.ExternalId != "" && c.params.Get("ExternalId") != role.ExternalId {
		return nil, notAuthorized("role %s requires the ExternalId its trust names; send it as ExternalId", role.Arn)
	}
	return s.issue(c, role, name, d, nil), nil
}

// assumeRoleWithOIDC is AssumeRoleWithOIDC: the token must be a valid RS256
// JWT of a registered provider (oidc.go) and the role must trust that
// provider and, when it lists subjects, the token's sub.
func (s *Server) assumeRoleWithOIDC(c *call) (any, *apiError) {
	p := c.params
	token := p.Get("OIDCToken")
	if token == "" {
		return nil, newError(http.StatusUnauthorized, CodeOIDCTokenInvalid, "The OIDCToken can not empty.")
	}
	providerArn := p.Get("OIDCProviderArn")
	if providerArn == "" {
		return nil, missingParameter("OIDCProviderArn")
	}
	provider, ok := s.identity.providers[providerArn]
	if !ok {
		return nil, newError(http.StatusUnauthorized, CodeOIDCNoPermission,
			"No such OIDC Provider registered: %s is not in the fleet's OIDCProviders.", providerArn)
	}
	// An unsigned call acts for the provider, in the role's account.
	c.principal, c.account = providerArn, accountOfArn(p.Get("RoleArn"))
	role, name, d, e := s.roleRequest(c)
	if e != nil {
		return nil, e
	}
	claims, e := s.identity.jwks.verify(c.r.Context(), token, provider, s.now())
	if e != nil {
		return nil, e
	}
	if !role.trustsProvider(providerArn, claims.Sub) {
		return nil, newError(http.StatusUnauthorized, CodeOIDCNoPermission,
			"There is no permission: the trust of role %s does not name oidc:%s, or its OIDCSubjects do not hold the token's sub.", role.Arn, providerArn)
	}
	info := &oidcTokenInfo{Subject: claims.Sub, Issuer: claims.Iss, ClientIds: strings.Join(claims.Aud, ","),
		ExpirationTime: claims.expires().UTC().Format(timeLayout), VerificationInfo: "Success"}
	if claims.Iat != nil {
		info.IssuanceTime = unixTime(*claims.Iat).UTC().Format(timeLayout)
	}
	return s.issue(c, role, name, d, info), nil
}

// roleRequest reads RoleArn, RoleSessionName and DurationSeconds and finds
// the role.
// Codes: InvalidParameter.RoleSessionName and InvalidParameter.DurationSeconds
// as https://www.alibabacloud.com/help/en/doc-detail/42775.htm lists them;
// EntityNotExist.Role, 404, as STS answers a role that does not exist.
func (s *Server) roleRequest(c *call) (Role, string, time.Duration, *apiError) {
	p := c.params
	arn := p.Get("RoleArn")
	if arn == "" {
		return Role{}, "", 0, missingParameter("RoleArn")
	}
	if !roleArnPattern.MatchString(arn) {
		return Role{}, "", 0, newError(http.StatusBadRequest, CodeInvalidParameter+".RoleArn",
			"The parameter RoleArn is wrongly formed: want %s.", roleArnForm)
	}
	name := p.Get("RoleSessionName")
	if name == "" {
		return Role{}, "", 0, missingParameter("RoleSessionName")
	}
	if !sessionNamePattern.MatchString(name) {
		return Role{}, "", 0, newError(http.StatusBadRequest, CodeInvalidParameter+".RoleSessionName",
			"The parameter RoleSessionName is wrongly formed: 2 to 64 letters, digits, '.', '@', '_' or '-'.")
	}
	d := s.identity.duration
	if v := p.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < minSessionSeconds || n > maxSessionSeconds {
			return Role{}, "", 0, newError(http.StatusBadRequest, CodeInvalidParameter+".DurationSeconds",
				"The Min/Max value of DurationSeconds is 15min/12hr (%d..%d seconds).", minSessionSeconds, maxSessionSeconds)
		}
		d = min(d, time.Duration(n)*time.Second)
	}
	role, ok := s.identity.roles[arn]
	if !ok {
		return Role{}, "", 0, newError(http.StatusNotFound, CodeRoleNotFound, "The specified Role not exists: %s.", arn)
	}
	return role, name, d, nil
}

// issue creates the session and its answer.
func (s *Server) issue(c *call, role Role, name string, d time.Duration, info *oidcTokenInfo) assumeRoleResponse {
	ses := s.identity.issue(role, name, s.now(), d)
	return assumeRoleResponse{
		RequestId:       c.requestID,
		AssumedRoleUser: assumedRoleUser{Arn: ses.arn(), AssumedRoleId: roleID(role.Arn) + ":" + name},
		Credentials: stsCredentials{AccessKeyId: ses.keyID, AccessKeySecret: ses.secret, SecurityToken: ses.token,
			Expiration: ses.expires.UTC().Format(timeLayout)},
		OIDCTokenInfo: info,
	}
}

// notAuthorized is AssumeRole's refusal of a caller the role does not trust
// (or without the ExternalId it needs): 403 NoPermission.
// https://www.alibabacloud.com/help/en/doc-detail/28763.html
func notAuthorized(format string, args ...any) *apiError {
	e := newError(http.StatusForbidden, CodeNoPermission, format, args...)
	e.message = "You are not authorized to do this action. You should be authorized by RAM: " + e.message + "."
	return e
}
