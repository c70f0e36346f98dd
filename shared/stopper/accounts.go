package stopper

import (
	"context"
	"log/slog"
)

// Accounts: one deployment may act in several Alibaba Cloud accounts
// (STOPPER_ACCOUNTS), assuming a role in each. The core sees them only
// through the Accounts interface; how an account's credentials are had
// (STS AssumeRole, Resource Directory's ListAccounts) is the caller's.
//
// With Function.Accounts nil the function acts in its credentials' own
// account only, through Function.API, and no answer, log line, report or
// notification names an account: exactly as before accounts existed.
//
// With Accounts set:
//   - a sweep covers every listed account × region (sweep.go); an account
//     whose API cannot be had (its role cannot be assumed) is listed under
//     the answer's Skipped and the sweep goes on;
//   - a request (a StopInvocation, a webhook, an alert) may name AccountId,
//     which must be listed; without it, it acts in the credentials' own
//     account (Self), which must be listed all the same: the operator's
//     list is the only set of accounts the function touches;
//   - a TaskCompleted event acts in the account its aliyunaccountid names
//     (the credentials' own when the event names none), when listed;
//   - everything the function reports carries AccountId.
//
// A request naming AccountId when Accounts is nil is refused
// (Forbidden.Account): the function then acts in one account whose id it
// does not know without a network call, and acting there on a request
// meant for another account would stop the wrong invocation, or answer
// NotFound for the right one. TaskCompleted events always name their
// account; with Accounts nil it is not read, as before.

// Accounts is the set of accounts the function acts in (STOPPER_ACCOUNTS).
// Its methods are called concurrently; an implementation caches what costs
// a network call (the caller identity, the Resource Directory listing, each
// account's temporary credentials). Errors should be a *Error or a
// *cloudassistant.Error carrying the code of the service that refused (STS's
// EntityNotExist.Role, NoPermission, ...) and a message that says how to fix
// it; any other error is read as a transient ServiceUnavailable (AsError).
type Accounts interface {
	// Self is the id of the credentials' own account (GetCallerIdentity).
	Self(ctx context.Context) (string, error)
	// List returns the accounts a sweep covers, each once, in a stable
	// order (explicit ids, self resolved to its id, or every active
	// Resource Directory member, paged).
	List(ctx context.Context) ([]string, error)
	// Listed reports whether requests may act in accountID: one of the
	// explicit ids, self, or an active Resource Directory member.
	Listed(ctx context.Context, accountID string) (bool, error)
	// API returns the Cloud Assistant client acting in accountID (for
	// Self's id, the credentials themselves: no role is assumed in one's
	// own account). An error means the account cannot be acted in: its
	// role cannot be assumed.
	API(ctx context.Context, accountID string) (CloudAssistant, error)
}

// CodeForbiddenAccount refuses a request for an account the function does
// not act in.
const CodeForbiddenAccount = "Forbidden.Account"

// ValidAccountID reports whether s has the form of an Alibaba Cloud account
// id: 1 to 32 ASCII digits (they are 16 today).
func ValidAccountID(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// account resolves the account a single request acts in, and its API:
// requested ("" for none) against Accounts. With Accounts nil the id is ""
// and the API is f.API.
func (f *Function) account(ctx context.Context, requested string) (string, CloudAssistant, error) {
	if f.Accounts == nil {
		if requested != "" {
			return "", nil, &Error{Code: CodeForbiddenAccount,
				Message: "account " + truncate(requested) + " is not one this function acts in: it acts only in its credentials' own account " +
					"(STOPPER_ACCOUNTS is empty). Leave AccountId out to act there, or list the account in STOPPER_ACCOUNTS"}
		}
		return "", f.API, nil
	}
	id := requested
	if id == "" {
		self, err := f.Accounts.Self(ctx)
		if err != nil {
			return "", nil, AsError(err)
		}
		id = self
	}
	listed, err := f.Accounts.Listed(ctx, id)
	if err != nil {
		return id, nil, AsError(err)
	}
	if !listed {
		how := "name one of them in AccountId, or add it to STOPPER_ACCOUNTS"
		if requested == "" {
			how = "the request names no AccountId, so it would act in the credentials' own account, which is not listed: " +
				"name a listed account in AccountId, or list the credentials' own account in STOPPER_ACCOUNTS " +
				"(self, among explicit ids; a Resource Directory lists only the accounts ListAccounts returns)"
		}
		return id, nil, &Error{Code: CodeForbiddenAccount,
			Message: "account " + id + " is not among the accounts this function acts in (STOPPER_ACCOUNTS): " + how}
	}
	api, err := f.Accounts.API(ctx, id)
	if err != nil {
		return id, nil, AsError(err)
	}
	return id, api, nil
}

// accountAttrs is the log field of the account an outcome is about, none
// when the function acts in its own account only.
func accountAttrs(id string) []slog.Attr {
	if id == "" {
		return nil
	}
	return []slog.Attr{slog.String("account_id", id)}
}
