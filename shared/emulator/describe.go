package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

const defaultMaxResults = 10

// filter is DescribeInvocations' selection.
type filter struct {
	invokeID, commandID, commandName, commandType, instanceID, repeatMode, status string
	timed                                                                         bool
	tags                                                                          []tagFilter
}

// match applies the filters. Timed follows the API: true lists only periodic
// or reboot invocations still active; false (the default) lists one-time
// invocations and periodic ones no longer active.
func (f *filter) match(r *record) bool {
	inv := &r.inv
	switch {
	case f.timed != (r.periodic() && r.active()):
		return false
	case f.invokeID != "" && inv.InvokeId != f.invokeID,
		f.commandID != "" && inv.CommandId != f.commandID,
		f.commandName != "" && inv.CommandName != f.commandName,
		f.commandType != "" && !strings.EqualFold(inv.CommandType, f.commandType):
		return false
	case f.repeatMode != "" && !strings.EqualFold(repeatModeOf(inv), f.repeatMode):
		return false
	case f.instanceID != "" && indexOfInstance(inv.InvokeInstances.InvokeInstance, f.instanceID) < 0:
		return false
	case f.status != "" && !matchInvokeStatus(f.status, r.status()):
		return false
	}
	for _, t := range f.tags {
		if !hasTag(inv.Tags.Tag, t) {
			return false
		}
	}
	return true
}

// repeatModeOf treats an empty RepeatMode as the API's default, Once.
func repeatModeOf(inv *ca.Invocation) string {
	if inv.RepeatMode == "" {
		return ca.RepeatOnce
	}
	return inv.RepeatMode
}

func hasTag(tags []ca.Tag, t tagFilter) bool {
	for _, have := range tags {
		if have.TagKey == t.key && (t.anyValue || have.TagValue == t.value) {
			return true
		}
	}
	return false
}

// describe is DescribeInvocations. Pages are cut from the region's listing
// order (newest first, ties by InvokeId). With CursorStable the NextToken is
// a position in that order, not an offset into the filtered list: a caller
// that stops invocations between pages (which changes what the filters
// select) neither skips nor repeats the ones it has not seen yet. With
// CursorOffset it is an offset into the filtered list as it is when the next
// page is asked for, so such a caller skips as many as it stopped.
func (s *Server) describe(c *call) (any, *apiError) {
	p := c.params
	regionID := p.Get("RegionId")
	if regionID == "" {
		return nil, missingParameter("RegionId")
	}
	f := filter{
		invokeID: p.Get("InvokeId"), commandID: p.Get("CommandId"), commandName: p.Get("CommandName"),
		commandType: p.Get("CommandType"), instanceID: p.Get("InstanceId"), repeatMode: p.Get("RepeatMode"),
	}
	if v := p.Get("InvokeStatus"); v != "" {
		if f.status = canonicalInvokeStatus(v); f.status == "" {
			return nil, invalidParameter("InvokeStatus", "want one of %s, got %q", strings.Join(invokeStatusFilters, ", "), v)
		}
	}
	var e *apiError
	if f.timed, _, e = boolParam(p, "Timed"); e != nil {
		return nil, e
	}
	if f.tags, e = tagFilters(p); e != nil {
		return nil, e
	}
	includeOutput, _, e := boolParam(p, "IncludeOutput")
	if e != nil {
		return nil, e
	}
	// MaxResults wins over the deprecated PageSize; PageNumber applies only
	// without a NextToken.
	size, e := intParam(p, "PageSize", defaultMaxResults, 1, ca.MaxResultsLimit)
	if e != nil {
		return nil, e
	}
	if size, e = intParam(p, "MaxResults", size, 1, ca.MaxResultsLimit); e != nil {
		return nil, e
	}
	page, e := intParam(p, "PageNumber", 1, 1, 1<<30)
	if e != nil {
		return nil, e
	}
	var cur *cursor
	if tok := p.Get("NextToken"); tok != "" {
		if cur = s.parseCursor(tok); cur == nil {
			return nil, invalidParameter("NextToken", "not a token this endpoint issued")
		}
		page = cur.page
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.known[regionID] {
		return nil, regionNotFound()
	}
	resp := ca.DescribeInvocationsResponse{RequestId: c.requestID, PageNumber: page, PageSize: size,
		Invocations: ca.Invocations{Invocation: []ca.Invocation{}}}
	g := s.books[c.account][regionID]
	if g == nil {
		return resp, nil
	}
	order := g.ordered()
	// start is where a stable cursor resumes in the listing order; skip is
	// how many matches come before the page (an offset cursor, or the
	// deprecated PageNumber).
	start, skip := 0, 0
	switch {
	case cur == nil:
		skip = (page - 1) * size
	case cur.offset >= 0:
		skip = cur.offset
	default:
		start = sort.Search(len(order), func(i int) bool { return cur.precedes(order[i]) })
	}
	offset := skip
	now := s.now()
	var last *record
	more := false
	for i, r := range order {
		r.settle(now)
		if !f.match(r) {
			continue
		}
		resp.TotalCount++
		switch {
		case i < start:
		case skip > 0:
			skip--
		case len(resp.Invocations.Invocation) < size:
			inv := r.snapshot()
			inv.RegionId = ""
			if !includeOutput {
				for j := range inv.InvokeInstances.InvokeInstance {
					inv.InvokeInstances.InvokeInstance[j].Output = ""
				}
			}
			resp.Invocations.Invocation = append(resp.Invocations.Invocation, inv)
			last = r
		default:
			more = true
		}
	}
	if more {
		next := cursor{page: page + 1, offset: -1}
		if s.offsetCursor {
			next.offset = offset + len(resp.Invocations.Invocation)
		} else {
			next.created, next.id = last.created, last.inv.InvokeId
		}
		resp.NextToken = s.token(next)
	}
	return resp, nil
}

// cursor is where the next page starts: after the invocation (created, id)
// in listing order (stable), or at offset in the filtered listing (offset
// >= 0).
type cursor struct {
	page    int
	created time.Time
	id      string
	offset  int
}

// Tokens are base64url("v2|s|page|nanos|id|mac") or "v2|o|page|offset|mac"
// with mac = HMAC-SHA256(the server's random key, the rest), cut to 16 bytes:
// opaque to clients, and a token this server did not issue (another
// emulator's, a made-up one, one of the other cursor mode) is refused.
const tokenVersion = "v2"

func (s *Server) token(c cursor) string {
	var raw string
	if c.offset >= 0 {
		raw = tokenVersion + "|o|" + strconv.Itoa(c.page) + "|" + strconv.Itoa(c.offset)
	} else {
		raw = tokenVersion + "|s|" + strconv.Itoa(c.page) + "|" + strconv.FormatInt(c.created.UnixNano(), 10) + "|" + c.id
	}
	return base64.RawURLEncoding.EncodeToString([]byte(raw + "|" + s.tokenMAC(raw)))
}

func (s *Server) tokenMAC(raw string) string {
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte(raw))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// parseCursor returns the cursor of a token this server issued in its
// current cursor mode, or nil.
func (s *Server) parseCursor(tok string) *cursor {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), '|')
	if i < 0 {
		return nil
	}
	raw, mac := string(b[:i]), string(b[i+1:])
	if !hmac.Equal([]byte(mac), []byte(s.tokenMAC(raw))) {
		return nil
	}
	parts := strings.SplitN(raw, "|", 5)
	if len(parts) < 4 || parts[0] != tokenVersion {
		return nil
	}
	page, err := strconv.Atoi(parts[2])
	if err != nil || page < 2 {
		return nil
	}
	switch {
	case parts[1] == "o" && s.offsetCursor && len(parts) == 4:
		offset, err := strconv.Atoi(parts[3])
		if err != nil || offset < 0 {
			return nil
		}
		return &cursor{page: page, offset: offset}
	case parts[1] == "s" && !s.offsetCursor && len(parts) == 5 && parts[4] != "":
		nanos, err := strconv.ParseInt(parts[3], 10, 64)
		if err != nil {
			return nil
		}
		return &cursor{page: page, created: time.Unix(0, nanos), id: parts[4], offset: -1}
	}
	return nil
}

// precedes reports whether r comes after the cursor in listing order.
func (c *cursor) precedes(r *record) bool {
	if r.created.Equal(c.created) && r.inv.InvokeId == c.id {
		return false
	}
	return !before(r, c.created, c.id)
}
