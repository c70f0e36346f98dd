// Package emulator is an in-memory Cloud Assistant that speaks the real ECS
// RPC protocol over HTTP (StopInvocation and DescribeInvocations, API version
// 2014-05-26): JSON answers and error bodies as the real API writes them, V3
// (ACS3-HMAC-SHA256) and V1 (HMAC-SHA1) signatures verified with package acs,
// so that the official SDKs, the aliyun CLI and this project's client can
// talk to it as to the real service. It can inject faults (dropped
// connections, 503s, throttling, latency) for tests and benchmarks.
//
// A request goes through, in this order: parameter parsing (URL query plus a
// form body), the call count, the faults (drop, fail-first, throttle,
// latency), the action and version check, the signature check, and the
// action itself.
//
// Statuses: the invocation-level InvocationStatus (and the legacy
// InvokeStatus) is always derived from the instances when there are any; a
// status written in the fleet counts only for an invocation without
// instances. The answer's Timed is true exactly for a periodic or reboot
// invocation that is still active, which is also what the Timed filter
// selects.
//
// Codes the reference does not name, chosen here:
//   - 400 IncompleteSignature: no signature at all, a malformed Authorization
//     header, an algorithm other than ACS3-HMAC-SHA256 or HMAC-SHA1, a
//     missing x-acs-date / x-acs-signature-nonce / Timestamp / SignatureNonce;
//   - 400 InvalidTimeStamp.Format and InvalidTimeStamp.Expired (more than 15
//     minutes from the emulator's clock), 400 SignatureNonceUsed;
//   - 400 SignatureDoesNotMatch also when x-acs-content-sha256 disagrees with
//     the body;
//   - 400 MissingParameter.Action, 400 InvalidVersion (missing or not
//     2014-05-26), 404 InvalidAction.NotFound (any other action);
//   - 400 InvalidParameter.<Name> for a value that cannot be used:
//     MaxResults/PageSize outside 1..50, a NextToken not issued here, Timed or
//     IncludeOutput not true/false, an unknown InvokeStatus, InstanceId.N
//     with a bad N or an empty value, a Tag.N without its key or N > 20;
//   - 400 InvalidParameter for an unparsable query or form body;
//   - 503 ServiceUnavailable (FailFirst) and 400 Throttling.User (throttle).
package emulator

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"slices"
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
	// Seed makes DropRate's choices repeatable.
	Seed int64
	// Log receives one line per call (never secrets); nil discards.
	Log *slog.Logger
}

// Server is the emulator; it is an http.Handler, safe for concurrent use.
type Server struct {
	keyID, secret string
	now           func() time.Time
	log           *slog.Logger
	nonces        *nonceCache
	faults        *faults

	mu        sync.Mutex
	regions   map[string]*region
	known     map[string]bool
	calls     map[string]int
	succeeded map[string]int
}

// New builds an emulator. It fails without a key pair or with an invalid fleet.
func New(opts Options) (*Server, error) {
	if opts.AccessKeyID == "" || opts.AccessKeySecret == "" {
		return nil, errors.New("emulator: AccessKeyID and AccessKeySecret are required")
	}
	s := &Server{
		keyID:     opts.AccessKeyID,
		secret:    opts.AccessKeySecret,
		now:       opts.Now,
		log:       opts.Log,
		nonces:    newNonceCache(nonceMemory),
		faults:    newFaults(opts, rand.New(rand.NewSource(opts.Seed))),
		regions:   map[string]*region{},
		known:     map[string]bool{},
		calls:     map[string]int{},
		succeeded: map[string]int{},
	}
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
	for _, id := range ids {
		for _, r := range s.regions[id].ordered() {
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

// Succeeded is how many calls of an action were answered with success.
func (s *Server) Succeeded(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.succeeded[action]
}

// Stops is how many StopInvocation calls succeeded.
func (s *Server) Stops() int { return s.Succeeded(actionStop) }

// StopCalls is how many StopInvocation calls succeeded on one invocation.
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
