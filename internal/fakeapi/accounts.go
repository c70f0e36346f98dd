package fakeapi

import (
	"context"
	"slices"
	"sync"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// Accounts is the accounts a multi-account function acts in, in memory,
// each with its own API (its own fleet, faults and QPS), for tests. An
// account in Unreachable is listed but its API cannot be had: Account
// answers the given error, as STS refusing AssumeRole would (see
// RoleMissing). Set its fields before the first call; read what it
// recorded through its methods.
//
// It has stopper.Accounts' methods but Account in place of API (this
// package cannot import stopper, whose own tests use it); a test adapts
// it in three lines:
//
//	type fakeAccounts struct{ *fakeapi.Accounts }
//	func (f fakeAccounts) API(ctx context.Context, id string) (stopper.CloudAssistant, error) {
//		api, err := f.Account(ctx, id); if err != nil { return nil, err }; return api, nil }
type Accounts struct {
	// SelfId is the credentials' own account.
	SelfId string
	// Order is the accounts a sweep covers, in order (List).
	Order []string
	// APIs is each reachable account's Cloud Assistant.
	APIs map[string]*API
	// Unreachable answers API for these accounts with their error.
	Unreachable map[string]error
	// Members are accounts requests may name besides Order (as Resource
	// Directory members not swept by an explicit list would be).
	Members []string

	mu       sync.Mutex
	apiCalls map[string]int
}

// NewAccounts is Accounts whose first id is self, every account reachable
// with an empty fleet.
func NewAccounts(ids ...string) *Accounts {
	a := &Accounts{Order: ids, APIs: map[string]*API{}, Unreachable: map[string]error{}}
	if len(ids) > 0 {
		a.SelfId = ids[0]
	}
	for _, id := range ids {
		a.APIs[id] = New()
	}
	return a
}

// RoleMissing is the error STS answers AssumeRole with when the account has
// no such role (EntityNotExist.Role, HTTP 404).
func RoleMissing(accountID string) error {
	return &ca.Error{Code: "EntityNotExist.Role", HTTPStatus: 404,
		Message: "The role not exists: acs:ram::" + accountID + ":role/ecs-stopper."}
}

// Self is SelfId.
func (a *Accounts) Self(context.Context) (string, error) { return a.SelfId, nil }

// List is Order.
func (a *Accounts) List(context.Context) ([]string, error) { return slices.Clone(a.Order), nil }

// Listed reports whether id is in Order or Members.
func (a *Accounts) Listed(_ context.Context, id string) (bool, error) {
	return slices.Contains(a.Order, id) || slices.Contains(a.Members, id), nil
}

// Account is the account's API, or its Unreachable error.
func (a *Accounts) Account(_ context.Context, id string) (*API, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.apiCalls == nil {
		a.apiCalls = map[string]int{}
	}
	a.apiCalls[id]++
	if err := a.Unreachable[id]; err != nil {
		return nil, err
	}
	api, ok := a.APIs[id]
	if !ok {
		return nil, RoleMissing(id)
	}
	return api, nil
}

// APICalls is how often Account was asked for id (a sweep asks once per account).
func (a *Accounts) APICalls(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.apiCalls[id]
}
