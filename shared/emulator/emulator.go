// Package emulator is an in-memory Cloud Assistant that speaks the real ECS
// RPC protocol over HTTP (StopInvocation and DescribeInvocations, API version
// 2014-05-26; and STS's GetCallerIdentity, 2015-04-01, see sts.go): JSON
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
//   - 400 MissingParameter.Action, 400 InvalidVersion (missing, or neither
//     ECS's 2014-05-26 nor STS's 2015-04-01), 404 InvalidAction.NotFound
//     (any other action of the version);
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
	// GetCallerIdentity answers it; "" is DefaultAccountId.
	AccountId string
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
	// account is the key pair's account (STS).
	account string

	mu        sync.Mutex
	regions   map[string]*region
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
		regions:      map[string]*region{},
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
	if opts.Fleet != nil {
		for i, inv := range opts.Fleet.Invocations {
			if err := s.Add(inv); err != nil {
				return nil, fmt.Errorf("emulator: fleet invocation #%d: %w", i+1, err)
			}
		}
	}
	return s, nil
}

// Add adds an invocation at run time (tests build big fleets this way).
func (s *Server) Add(inv ca.Invocation) error {
	r, err := newRecord(inv, s.now())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.regions[inv.RegionId]
	if g == nil {
		g = newRegion()
		s.regions[inv.RegionId] = g
		s.known[inv.RegionId] = true
	}
	if _, dup := g.byID[inv.InvokeId]; dup {
		return fmt.Errorf("duplicate InvokeId %s in %s", inv.InvokeId, inv.RegionId)
	}
	g.add(r)
	return nil
}

// Invocation is a snapshot of one invocation with its derived statuses.
func (s *Server) Invocation(regionID, invokeID string) (ca.Invocation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lookup(regionID, invokeID)
	if r == nil {
		return ca.Invocation{}, false
	}
	r.settle(s.now())
	inv := r.snapshot()
	inv.RegionId = regionID
	return inv, true
}

// Fleet is a snapshot of the whole state in the fleet file's shape: regions
// by name, each in listing order.
func (s *Server) Fleet() *Fleet {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &Fleet{}
	ids := make([]string, 0, len(s.regions))
	for id := range s.regions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	now := s.now()
	for _, id := range ids {
		for _, r := range s.regions[id].ordered() {
			r.settle(now)
			inv := r.snapshot()
			inv.RegionId = id
			f.Invocations = append(f.Invocations, inv)
		}
	}
	return f
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

// StopCalls is how many StopInvocation calls succeeded on one invocation,
// answered or not.
func (s *Server) StopCalls(regionID, invokeID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.lookup(regionID, invokeID); r != nil {
		return r.stopCalls
	}
	return 0
}

// lookup finds a record; the caller holds s.mu.
func (s *Server) lookup(regionID, invokeID string) *record {
	if g := s.regions[regionID]; g != nil {
		return g.byID[invokeID]
	}
	return nil
}
