package fakeapi

import (
	"context"
	"slices"
	"sync"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Accounts is a stopper.Accounts over in-memory accounts, each with its
// own API (its own fleet, faults and QPS), for tests. An account in
// Unreachable is listed but its API cannot be had: API answers the given
// error, as STS refusing AssumeRole would (see RoleMissing). Set its fields
// before the first call; read what it recorded through its methods.
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

// API is the account's API, or its Unreachable error.
func (a *Accounts) API(_ context.Context, id string) (stopper.CloudAssistant, error) {
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

// APICalls is how often API was asked for id (a sweep asks once per account).
func (a *Accounts) APICalls(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.apiCalls[id]
}
