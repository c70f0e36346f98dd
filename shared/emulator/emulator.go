// Package emulator is an in-memory Cloud Assistant that speaks the real ECS
// RPC protocol over HTTP (StopInvocation and DescribeInvocations, API version
// 2014-05-26; STS's AssumeRole, AssumeRoleWithOIDC and GetCallerIdentity,
// 2015-04-01, see sts.go; Resource Manager's ListAccounts, 2020-03-31): JSON
// answers and error bodies as the real API writes them, V3
// (ACS3-HMAC-SHA256) and V1 (HMAC-SHA1) signatures verified with package acs,
// so that the official SDKs, the aliyun CLI and this project's client can
// talk to it as to the real service. It can inject faults (dropped
// connections, 503s, throttling, latency, answers lost after the call took
// effect) for tests and benchmarks.
//
// A request goes through, in this order: parameter parsing (URL query plus a
// form body), the call count, the faults (drop, fail-first, throttle,
// latency), the action and version check, the signature check, the action
// itself, and the drop-after fault (the action took effect, the answer is
// lost).
//
// Signatures: a V1 request's action and version are its signed Action and
// Version parameters, never the x-acs-action / x-acs-version headers; a V3
// request must sign host and every x-acs-* header it sends (and Content-Type
// with a form body), so that a client signing too little is caught here.
// Error messages and logs never carry the caller's AccessKey id or STS token:
// SignatureDoesNotMatch shows the string to sign with "[redacted]" in their
// place.
//
// Statuses: the invocation-level InvocationStatus (and the legacy
// InvokeStatus) is always derived from the instances when there are any; a
// status written in the fleet counts only for an invocation without
// instances. The answer's Timed is true exactly for a periodic or reboot
// invocation that is still active, which is also what the Timed filter
// selects.
//
// Accounts and identities: the fleet's top-level Invocations are the
// default account's (Options.AccountId), Accounts holds other accounts'.
// Every ECS call acts in its caller's account: the static key pair is the
// default account's; credentials STS issued are the account's of the role
// they were issued for, and must come with their SecurityToken (400
// MissingSecurityToken, InvalidSecurityToken.MismatchWithAccessKey or
// .Malformed otherwise; 400 InvalidSecurityToken.Expired once
// Options.STSDuration, or a shorter DurationSeconds, has passed). A role's
// Trust names who may assume it: acs:ram::<account>:root (the static pair
// of that account, or credentials of any role in it), a role ARN
// (credentials of that role), or oidc:<provider ARN> (AssumeRoleWithOIDC
// with that provider's tokens, whose sub must be among OIDCSubjects when
// the role lists them). A role with an ExternalId is assumed only by an
// AssumeRole that sends the same ExternalId (403 NoPermission otherwise, as
// an unmet sts:ExternalId condition). Unlike the real STS, the static pair,
// being an account's root key, may call AssumeRole: the emulator has no RAM
// users. Throttling (Options.ThrottleQPS) counts each account's calls to
// each action apart, as API quotas are per account. ListAccounts answers
// from ResourceDirectory.Members, to the default account only.
//
// Every call is logged as one line with its action, account, principal
// ("key:<masked id>" for the static pair, the role ARN for STS credentials,
// the provider ARN or "anonymous" for AssumeRoleWithOIDC) and code (empty on
// success); never a secret, token or JWT.
//
// What a stop does (Options.StopMode): "documented" is what the StopInvocation
// page says (started runs finish, unstarted ones are cancelled); "kill" is
// what the Cloud Assistant agent's source does (aliyun/aliyun_assist_client,
// agent/taskengine: a stop cancels the task and kills its process), see
// docs/reference/cloud-assistant-api.md. The function must be safe under
// both, so the emulator shows both.
//
// Codes the reference does not name, chosen here:
//   - 400 IncompleteSignature: no signature at all, a malformed Authorization
//     header, an algorithm other than ACS3-HMAC-SHA256 or HMAC-SHA1, a
//     missing x-acs-date / x-acs-signature-nonce / Timestamp / SignatureNonce,
//     a V3 SignedHeaders that leaves out host, an x-acs-* header sent, or
//     content-type with a form body;
//   - 400 InvalidTimeStamp.Format and InvalidTimeStamp.Expired (more than 15
//     minutes from the emulator's clock), 400 SignatureNonceUsed;
//   - 400 SignatureDoesNotMatch also when x-acs-content-sha256 disagrees with
//     the body;
//   - 400 MissingParameter.Action, 400 InvalidVersion (missing, or none of
//     ECS's 2014-05-26, STS's 2015-04-01 and Resource Manager's
//     2020-03-31), 404 InvalidAction.NotFound (any other action of the
//     version);
//   - 400 InvalidParameter.RoleArn (not acs:ram::<account>:role/<name>);
//     DurationSeconds is accepted from 900 to 43200;
//   - 401 AuthenticationFail.OIDCToken.Invalid for a token whose iss is not
//     the provider's, or that is not valid yet (see oidc.go), and 401
//     AuthenticationFail.OIDCToken.HttpsUrlInvalid when the provider's JWKS
//     cannot be read;
//   - 400 InvalidParameter.<Name> for a value that cannot be used:
//     MaxResults/PageSize outside 1..50, a NextToken not issued by this
//     server in its cursor mode, Timed or IncludeOutput not true/false, an
//     unknown InvokeStatus, InstanceId.N with a bad N or an empty value, a
//     Tag.N without its key or N > 20;
//   - 400 InvalidParameter for an unparsable query or form body;
//   - 503 ServiceUnavailable (FailFirst) and 400 Throttling.User (throttle).
package emulator

import (
	"cmp"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// Options configure a Server.
type Options struct {
	// AccessKeyID and AccessKeySecret are the one key pair the emulator
	// accepts. Any STS token sent with it (x-acs-security-token or
	// SecurityToken) is accepted.
	AccessKeyID, AccessKeySecret string
	// Fleet is the starting state; nil is an empty fleet. It is copied.
	Fleet *Fleet
	// Now is the clock for signature dates and the times written on stops;
	// nil is time.Now. The throttle uses the real clock regardless, so that a
	// frozen test clock does not freeze the token bucket.
	Now func() time.Time

	// Latency is added before every answer; a caller that gives up while
	// waiting gets no answer.
	Latency time.Duration
	// FailFirst makes the first N calls answer 503 ServiceUnavailable.
	FailFirst int
	// ThrottleQPS limits calls per action with a token bucket; calls above
	// it answer 400 Throttling.User. 0 is no limit.
	ThrottleQPS float64
	// ThrottleBurst is the bucket size; 0 is max(1, ceil(ThrottleQPS)).
	ThrottleBurst int
	// STSThrottleQPS, when set, is STS's own limit per action and account
	// instead of ThrottleQPS (the real one is 100 a second), with a bucket
	// of a tenth of a second's calls.
	STSThrottleQPS float64
	// DropRate is the fraction of calls whose connection is closed without
	// an answer.
	DropRate float64
	// DropAfterRate is the fraction of calls that are performed (a stop is
	// applied) and whose connection is then closed without an answer: the
	// real way a client comes to send a stop twice.
	DropAfterRate float64
	// Seed makes DropRate's and DropAfterRate's choices repeatable.
	Seed int64

	// StopMode is what StopInvocation does to running work: StopModeDocumented
	// ("", the default) or StopModeKill. See the package comment.
	StopMode string
	// KillDelay is how long a killed instance stays Stopping before it is
	// Terminated, in StopModeKill; 0 is DefaultKillDelay.
	KillDelay time.Duration
	// Cursor is what DescribeInvocations' NextToken is: CursorStable ("", the
	// default) or CursorOffset.
	Cursor string
	// Log receives one line per call (never secrets); nil discards.
	Log *slog.Logger
	// AccountId is the account the key pair belongs to, as STS
	// GetCallerIdentity answers it, and the account the fleet's top-level
	// Invocations are in; "" is DefaultAccountId.
	AccountId string
	// STSDuration is how long the credentials STS issues last (a shorter
	// DurationSeconds asked for wins); 0 is DefaultSTSDuration.
	STSDuration time.Duration
	// JWKSClient fetches OIDC providers' JWKS (loopback URLs only); nil is
	// a client with a 5 s timeout.
	JWKSClient *http.Client
}

// Stop modes and cursors (Options.StopMode, Options.Cursor).
const (
	// StopModeDocumented: a one-time invocation's started runs keep running
	// and its pending ones become Cancelled; a periodic invocation's run in
	// progress continues, Scheduled becomes Stopped and no further run
	// happens.
	StopModeDocumented = "documented"
	// StopModeKill: pending instances become Cancelled and running ones are
	// killed, Stopping at once and Terminated after KillDelay; a periodic
	// invocation's run in progress is killed and no further run happens.
	StopModeKill = "kill"
	// CursorStable: NextToken is a position in the region's listing order,
	// so a caller that stops invocations between pages neither skips nor
	// repeats any.
	CursorStable = "stable"
	// CursorOffset: NextToken is an offset into the current filtered
	// listing, the worst case the API's undocumented cursor could be: a
	// caller that stops invocations between pages of a status-filtered
	// listing skips as many as it stopped.
	CursorOffset = "offset"
	// DefaultKillDelay is KillDelay's zero value.
	DefaultKillDelay = time.Second
	// DefaultSTSDuration is STSDuration's zero value, as STS's default
	// DurationSeconds.
	DefaultSTSDuration = time.Hour
)

// StopModes and Cursors are the values Options.StopMode and Options.Cursor
// accept, for flags and error messages.
var (
	StopModes = []string{StopModeDocumented, StopModeKill}
	Cursors   = []string{CursorStable, CursorOffset}
)

// Server is the emulator; it is an http.Handler, safe for concurrent use.
type Server struct {
	keyID, secret string
	now           func() time.Time
	log           *slog.Logger
	nonces        *nonceCache
	faults        *faults
	kill          bool
	killDelay     time.Duration
	offsetCursor  bool
	// tokenKey authenticates the NextTokens this server issues.
	tokenKey []byte
	// latency is kept for the HTTP server's read timeout.
	latency time.Duration
	// account is the key pair's account (STS), the management account of
	// the resource directory.
	account string
	// identity holds the fleet's roles, OIDC providers and resource
	// directory, and the STS sessions issued (identity.go).
	identity *identity

	mu sync.Mutex
	// books holds each account's invocations, by account id then region.
	books     map[string]ledger
	known     map[string]bool
	calls     map[string]int
	succeeded map[string]int
	dropped   map[string]int
}

// New builds an emulator. It fails without a key pair, with an option out of
// range (the error names it and the values it takes) or with an invalid fleet.
func New(opts Options) (*Server, error) {
	if opts.AccessKeyID == "" || opts.AccessKeySecret == "" {
		return nil, errors.New("emulator: AccessKeyID and AccessKeySecret are required")
	}
	mode := cmp.Or(opts.StopMode, StopModeDocumented)
	if !slices.Contains(StopModes, mode) {
		return nil, fmt.Errorf("emulator: StopMode %q is not one of %s", opts.StopMode, strings.Join(StopModes, ", "))
	}
	cursor := cmp.Or(opts.Cursor, CursorStable)
	if !slices.Contains(Cursors, cursor) {
		return nil, fmt.Errorf("emulator: Cursor %q is not one of %s", opts.Cursor, strings.Join(Cursors, ", "))
	}
	if opts.KillDelay < 0 {
		return nil, fmt.Errorf("emulator: KillDelay %v must not be negative (0 is %v)", opts.KillDelay, DefaultKillDelay)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"DropRate", opts.DropRate}, {"DropAfterRate", opts.DropAfterRate}} {
		if !(r.v >= 0 && r.v <= 1) {
			return nil, fmt.Errorf("emulator: %s %v must be between 0 and 1", r.name, r.v)
		}
	}
	s := &Server{
		keyID:        opts.AccessKeyID,
		secret:       opts.AccessKeySecret,
		now:          opts.Now,
		log:          opts.Log,
		nonces:       newNonceCache(nonceMemory),
		faults:       newFaults(opts, rand.New(rand.NewSource(opts.Seed))),
		kill:         mode == StopModeKill,
		killDelay:    cmp.Or(opts.KillDelay, DefaultKillDelay),
		offsetCursor: cursor == CursorOffset,
		tokenKey:     make([]byte, 32),
		latency:      opts.Latency,
		account:      cmp.Or(opts.AccountId, DefaultAccountId),
		books:        map[string]ledger{},
		known:        map[string]bool{},
		calls:        map[string]int{},
		succeeded:    map[string]int{},
		dropped:      map[string]int{},
	}
	crand.Read(s.tokenKey)
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, r := range knownRegions {
		s.known[r] = true
	}
	if opts.STSDuration < 0 {
		return nil, fmt.Errorf("emulator: STSDuration %v must not be negative (0 is %v)", opts.STSDuration, DefaultSTSDuration)
	}
	if !accountIDPattern.MatchString(s.account) {
		return nil, fmt.Errorf("emulator: AccountId %q is not a 16-digit account id", s.account)
	}
	fleet := opts.Fleet
	if fleet == nil {
		fleet = &Fleet{}
	}
	id, err := newIdentity(fleet, s.account, cmp.Or(opts.STSDuration, DefaultSTSDuration), opts.JWKSClient)
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	s.identity = id
	s.books[s.account] = ledger{}
	for i, inv := range fleet.Invocations {
		if err := s.Add(inv); err != nil {
			return nil, fmt.Errorf("emulator: fleet invocation #%d: %w", i+1, err)
		}
	}
	for _, a := range fleet.Accounts {
		if a.AccountId == s.account {
			return nil, fmt.Errorf("emulator: fleet Accounts lists the default account %s; put its invocations in the top-level Invocations", a.AccountId)
		}
		s.books[a.AccountId] = ledger{}
		for i, inv := range a.Invocations {
			if err := s.AddTo(a.AccountId, inv); err != nil {
				return nil, fmt.Errorf("emulator: fleet account %s invocation #%d: %w", a.AccountId, i+1, err)
			}
		}
	}
	return s, nil
}

// Add adds an invocation to the default account at run time (tests build
// big fleets this way).
func (s *Server) Add(inv ca.Invocation) error { return s.AddTo(s.account, inv) }

// AddTo adds an invocation to an account at run time.
func (s *Server) AddTo(account string, inv ca.Invocation) error {
	r, err := newRecord(inv, s.now())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	book := s.books[account]
	if book == nil {
		book = ledger{}
		s.books[account] = book
	}
	g := book[inv.RegionId]
	if g == nil {
		g = newRegion()
		book[inv.RegionId] = g
		s.known[inv.RegionId] = true
	}
	if _, dup := g.byID[inv.InvokeId]; dup {
		return fmt.Errorf("duplicate InvokeId %s in %s", inv.InvokeId, inv.RegionId)
	}
	g.add(r)
	return nil
}

// Invocation is a snapshot of one invocation of the default account with
// its derived statuses.
func (s *Server) Invocation(regionID, invokeID string) (ca.Invocation, bool) {
	return s.InvocationIn(s.account, regionID, invokeID)
}

// InvocationIn is Invocation in any account.
func (s *Server) InvocationIn(account, regionID, invokeID string) (ca.Invocation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lookup(account, regionID, invokeID)
	if r == nil {
		return ca.Invocation{}, false
	}
	r.settle(s.now())
	inv := r.snapshot()
	inv.RegionId = regionID
	return inv, true
}

// Fleet is a snapshot of the whole state in the fleet file's shape: the
// default account's invocations, then the other accounts' by id, regions by
// name, each in listing order; and the roles, OIDC providers and resource
// directory the emulator started with.
func (s *Server) Fleet() *Fleet {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.identity.fleet()
	now := s.now()
	f.Invocations = s.books[s.account].snapshot(now)
	accounts := make([]string, 0, len(s.books))
	for id := range s.books {
		if id != s.account {
			accounts = append(accounts, id)
		}
	}
	slices.Sort(accounts)
	for _, id := range accounts {
		f.Accounts = append(f.Accounts, AccountFleet{AccountId: id, Invocations: s.books[id].snapshot(now)})
	}
	return f
}

// ledger is one account's invocations by region.
type ledger map[string]*region

// snapshot lists the invocations, regions by name, each in listing order;
// the caller holds s.mu.
func (l ledger) snapshot(now time.Time) []ca.Invocation {
	ids := make([]string, 0, len(l))
	for id := range l {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []ca.Invocation
	for _, id := range ids {
		for _, r := range l[id].ordered() {
			r.settle(now)
			inv := r.snapshot()
			inv.RegionId = id
			out = append(out, inv)
		}
	}
	return out
}

// Calls is how many calls of an action reached the emulator, faulted and
// refused ones included ("" counts calls that named no action).
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// Succeeded is how many calls of an action were performed with success,
// answered or (DropAfterRate) dropped after being performed.
func (s *Server) Succeeded(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.succeeded[action]
}

// DroppedAfter is how many calls of an action were performed and then left
// without an answer (DropAfterRate).
func (s *Server) DroppedAfter(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped[action]
}

// Stops is how many StopInvocation calls succeeded, answered or not.
func (s *Server) Stops() int { return s.Succeeded(actionStop) }

// StopCalls is how many StopInvocation calls succeeded on one invocation of
// the default account, answered or not.
func (s *Server) StopCalls(regionID, invokeID string) int {
	return s.StopCallsIn(s.account, regionID, invokeID)
}

// StopCallsIn is StopCalls in any account.
func (s *Server) StopCallsIn(account, regionID, invokeID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.lookup(account, regionID, invokeID); r != nil {
		return r.stopCalls
	}
	return 0
}

// lookup finds a record; the caller holds s.mu.
func (s *Server) lookup(account, regionID, invokeID string) *record {
	if g := s.books[account][regionID]; g != nil {
		return g.byID[invokeID]
	}
	return nil
}
