package emulator

// The emulator's STS (API version 2015-04-01) answers on the same listener
// as its ECS, told apart by the version, so that one URL serves a client
// that asks whose credentials it holds before acting. Calls are signed and
// verified exactly as ECS calls are.

import "github.com/ecs-stopper/stopper/shared/sts"

const (
	stsVersion              = "2015-04-01"
	actionGetCallerIdentity = "GetCallerIdentity"
	// DefaultAccountId is Options.AccountId's zero value: 16 digits, as an
	// Alibaba Cloud account id, and plainly not a real one.
	DefaultAccountId = "1000000000000001"
)

// callerIdentity is GetCallerIdentity. The emulator's one key pair is the
// account's own AccessKey, which the real STS describes as the account's
// root identity: IdentityType "Account", Arn acs:ram::<account>:root, and
// the account id as UserId and PrincipalId.
// https://www.alibabacloud.com/help/en/ram/developer-reference/api-sts-2015-04-01-getcalleridentity
func (s *Server) callerIdentity(c *call) (any, *apiError) {
	return sts.Identity{
		RequestId:    c.requestID,
		AccountId:    s.account,
		UserId:       s.account,
		Arn:          "acs:ram::" + s.account + ":root",
		IdentityType: "Account",
		PrincipalId:  s.account,
	}, nil
}
