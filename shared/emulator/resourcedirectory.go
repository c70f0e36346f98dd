package emulator

// Resource Manager's ListAccounts (API version 2020-03-31) answers on the
// same listener, signed as ECS calls are, from the fleet's
// ResourceDirectory: the default account is its management account and
// the only one that may list it.
// https://www.alibabacloud.com/help/en/doc-detail/160016.htm

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

const (
	rmVersion          = "2020-03-31"
	actionListAccounts = "ListAccounts"
	// ListAccounts' PageSize: 1 to 100, default 10.
	maxAccountsPage     = 100
	defaultAccountsPage = 10
)

// rdAccount is one member as ListAccounts answers it.
type rdAccount struct {
	AccountId           string `json:"AccountId"`
	DisplayName         string `json:"DisplayName"`
	Status              string `json:"Status"`
	Type                string `json:"Type"`
	JoinMethod          string `json:"JoinMethod"`
	FolderId            string `json:"FolderId"`
	ResourceDirectoryId string `json:"ResourceDirectoryId"`
}

type listAccountsResponse struct {
	RequestId  string `json:"RequestId"`
	PageNumber int    `json:"PageNumber"`
	PageSize   int    `json:"PageSize"`
	TotalCount int    `json:"TotalCount"`
	Accounts   struct {
		Account []rdAccount `json:"Account"`
	} `json:"Accounts"`
}

// listAccounts is ListAccounts. A member account calling it gets 409
// NoPermission.ResourceDirectory.MemberAccount, any other account (or a
// fleet without a directory) 404 NotExists.ResourceDirectory, the codes
// Resource Manager answers for a member and for an account without a
// directory, e.g.
// https://www.alibabacloud.com/help/en/resource-management/developer-reference/api-resourcecenter-2022-12-01-disablemultiaccountresourcecenter
func (s *Server) listAccounts(c *call) (any, *apiError) {
	id := s.identity
	switch {
	case id.directory != nil && id.members[c.account]:
		return nil, newError(http.StatusConflict, CodeResourceDirectoryMember,
			"ResourceDirectory Member Account is not authorized to perform this operation: call ListAccounts with the management account %s.", s.account)
	case id.directory == nil || c.account != s.account:
		return nil, newError(http.StatusNotFound, CodeResourceDirectoryNotInUse,
			"The resource directory for the account is not enabled: the fleet's ResourceDirectory belongs to account %s.", s.account)
	}
	size, e := intParam(c.params, "PageSize", defaultAccountsPage, 1, maxAccountsPage)
	if e != nil {
		return nil, e
	}
	page, e := intParam(c.params, "PageNumber", 1, 1, 1<<30)
	if e != nil {
		return nil, e
	}
	members := id.directory.Members
	resp := listAccountsResponse{RequestId: c.requestID, PageNumber: page, PageSize: size, TotalCount: len(members)}
	resp.Accounts.Account = []rdAccount{}
	rd := "rd-" + shortHash(s.account)
	for i := (page - 1) * size; i < len(members) && i < page*size; i++ {
		m := members[i]
		resp.Accounts.Account = append(resp.Accounts.Account, rdAccount{
			AccountId: m, DisplayName: "member-" + m, Status: "CreateSuccess", Type: "ResourceAccount",
			JoinMethod: "created", FolderId: "fd-" + shortHash(rd), ResourceDirectoryId: rd,
		})
	}
	return resp, nil
}

// shortHash is a stable 10-character id derived from s.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:5])
}
