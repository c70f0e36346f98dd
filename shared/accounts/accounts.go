// Package accounts is the set of Alibaba Cloud accounts one deployment acts
// in (STOPPER_ACCOUNTS): explicit account ids, "self" (the credentials' own
// account), or every active member of the Resource Directory. In each
// account but its own, the function assumes the role
// acs:ram::<account>:role/<STOPPER_ACCOUNT_ROLE_NAME> with STS AssumeRole,
// and caches those credentials per account like any temporary ones.
//
// It implements stopper.Accounts. Nothing touches the network until a
// method is called: the caller identity, the directory listing and each
// account's credentials are fetched on first use.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/credentials"
	"github.com/ecs-stopper/stopper/shared/ecs"
	"github.com/ecs-stopper/stopper/shared/resourcemanager"
	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/sts"
)

// The words STOPPER_ACCOUNTS takes besides account ids.
const (
	Self              = "self"
	ResourceDirectory = "resource-directory"
)

// DefaultListTTL is how long a Resource Directory listing is reused: long
// enough that a burst of requests lists once, short enough that a new
// member is swept within minutes.
const DefaultListTTL = 5 * time.Minute

// Options configure a Directory.
type Options struct {
	// Accounts is STOPPER_ACCOUNTS: account ids and self, or
	// resource-directory alone.
	Accounts []string
	// RoleName and ExternalID are STOPPER_ACCOUNT_ROLE_NAME and
	// STOPPER_ACCOUNT_EXTERNAL_ID.
	RoleName, ExternalID string
	// Base is the function's own identity; Client signs with it.
	Base   credentials.Identity
	Client *ecs.Client
	// STS assumes the accounts' roles and asks whose the base credentials
	// are; it is given the base credentials per call.
	STS *sts.Client
	// Directory lists the members for resource-directory.
	Directory *resourcemanager.Client
	// ListTTL is how long a directory listing is reused (DefaultListTTL).
	ListTTL time.Duration
	Log     *slog.Logger
	// Now is the clock of the listing's age; nil is time.Now.
	Now func() time.Time
}

// Directory is the accounts of one deployment. It is safe for concurrent use.
type Directory struct {
	o Options

	selfMu sync.Mutex // guards self, and is held while STS is asked for it
	self   string
	mu     sync.Mutex      // guards the rest
	roles  map[string]role // by account id
	listed []string        // the last directory listing
	listAt time.Time
}

// New checks the options; it touches no network.
func New(o Options) (*Directory, error) {
	switch {
	case len(o.Accounts) == 0:
		return nil, errors.New("accounts: no accounts: leave STOPPER_ACCOUNTS empty to act in the credentials' own account only")
	case o.Client == nil || o.STS == nil || o.Base.Provider == nil:
		return nil, errors.New("accounts: Base, Client and STS are required")
	case slices.Contains(o.Accounts, ResourceDirectory) && o.Directory == nil:
		return nil, errors.New("accounts: resource-directory needs a Resource Manager client")
	}
	if o.ListTTL <= 0 {
		o.ListTTL = DefaultListTTL
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Directory{o: o, roles: map[string]role{}}, nil
}

// role is one account's assumed role: its credentials and the client that
// signs with them.
type role struct {
	id     credentials.Identity
	client *ecs.Client
}

// Self is the id of the base credentials' own account, asked of STS once.
func (d *Directory) Self(ctx context.Context) (string, error) {
	// One caller asks; the others wait for its answer (an error is not
	// kept: the next caller asks again).
	d.selfMu.Lock()
	defer d.selfMu.Unlock()
	if d.self != "" {
		return d.self, nil
	}
	cred, err := d.o.Base.Provider.Credentials(ctx)
	if err != nil {
		return "", err
	}
	id, err := d.o.STS.WithCredentials(cred).GetCallerIdentity(ctx)
	if err != nil {
		return "", apiError("GetCallerIdentity", err)
	}
	d.self = id.AccountId
	return id.AccountId, nil
}

// List is the accounts a sweep covers, each once, in the order configured
// (a directory's members in the order it lists them).
func (d *Directory) List(ctx context.Context) ([]string, error) {
	if slices.Contains(d.o.Accounts, ResourceDirectory) {
		return d.members(ctx)
	}
	var out []string
	for _, a := range d.o.Accounts {
		if a == Self {
			var err error
			if a, err = d.Self(ctx); err != nil {
				return nil, err
			}
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// Listed reports whether requests may act in accountID.
func (d *Directory) Listed(ctx context.Context, accountID string) (bool, error) {
	if !slices.Contains(d.o.Accounts, ResourceDirectory) && slices.Contains(d.o.Accounts, accountID) {
		return true, nil // an explicit id: no call needed
	}
	list, err := d.List(ctx)
	if err != nil {
		return false, err
	}
	return slices.Contains(list, accountID), nil
}

// API is the client acting in accountID: the base credentials in their own
// account, else the account's role, assumed now if it has not been (so
// that an account whose role cannot be assumed is known at once, with
// STS's code).
func (d *Directory) API(ctx context.Context, accountID string) (stopper.CloudAssistant, error) {
	self, err := d.Self(ctx)
	if err != nil {
		return nil, err
	}
	if accountID == self {
		return d.o.Client, nil
	}
	d.mu.Lock()
	r, ok := d.roles[accountID]
	if !ok {
		arn := "acs:ram::" + accountID + ":role/" + d.o.RoleName
		id, err := credentials.AssumeRole(d.o.Base, d.o.STS, arn, d.o.ExternalID, d.o.Log.With("account_id", accountID))
		if err != nil {
			d.mu.Unlock()
			return nil, err
		}
		r = role{id: id, client: d.o.Client.WithProvider(id.Provider)}
		d.roles[accountID] = r
	}
	d.mu.Unlock()
	// The exchange itself: cached, refreshed near expiry, one at a time.
	if _, err := r.id.Provider.Credentials(ctx); err != nil {
		return nil, roleError(accountID, d.o.RoleName, err)
	}
	return r.client, nil
}

// members is the directory's active members, listed at most once per
// ListTTL.
func (d *Directory) members(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	if d.listed != nil && d.o.Now().Sub(d.listAt) < d.o.ListTTL {
		list := d.listed
		d.mu.Unlock()
		return list, nil
	}
	d.mu.Unlock()
	all, err := d.o.Directory.ListAccounts(ctx)
	if err != nil {
		return nil, apiError("ListAccounts", err)
	}
	list := []string{}
	for _, a := range all {
		if a.Active() && !slices.Contains(list, a.AccountId) {
			list = append(list, a.AccountId)
		}
	}
	d.mu.Lock()
	d.listed, d.listAt = list, d.o.Now()
	d.mu.Unlock()
	return list, nil
}

// roleError is why an account's role could not be assumed: STS's own code
// and message when it refused (a member without the role, a trust that does
// not name the function), a permanent error the sweep lists as Skipped;
// anything else (STS unreachable, throttled) stays transient.
func roleError(accountID, roleName string, err error) error {
	var se *sts.Error
	if errors.As(err, &se) && se.HTTPStatus < 500 && !cloudassistant.Throttling(se.Code) {
		fix := "Check the role's trust policy: it must name this function's identity, and its ExternalId condition, if any, STOPPER_ACCOUNT_EXTERNAL_ID (docs/accounts.md)."
		if se.Code == "EntityNotExist.Role" {
			fix = "Create the role in that account, with a trust policy naming this function's identity (docs/accounts.md)."
		}
		return &cloudassistant.Error{Code: se.Code, HTTPStatus: se.HTTPStatus, RequestId: se.RequestId,
			Message: fmt.Sprintf("role %s in account %s cannot be assumed: %s %s", roleName, accountID, se.Message, fix)}
	}
	return err
}

// apiError keeps an upstream refusal's code for the answer.
func apiError(action string, err error) error {
	var se *sts.Error
	if errors.As(err, &se) {
		return &cloudassistant.Error{Code: se.Code, HTTPStatus: se.HTTPStatus, RequestId: se.RequestId, Message: action + ": " + se.Message}
	}
	var re *resourcemanager.Error
	if errors.As(err, &re) {
		return &cloudassistant.Error{Code: re.Code, HTTPStatus: re.HTTPStatus, RequestId: re.RequestId,
			Message: action + ": " + re.Message + " (STOPPER_ACCOUNTS=resource-directory needs the management account's credentials and resourcemanager:ListAccounts)"}
	}
	return err
}
