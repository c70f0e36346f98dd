package emulator

import (
	"encoding/base64"
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

// describe is DescribeInvocations. Pages are cut from the region's stable
// order (newest first, ties by InvokeId) and the NextToken is a cursor into
// that order, not an offset into the filtered list: a caller that stops
// invocations between pages (which changes what the filters select) neither
// skips nor repeats the ones it has not seen yet.
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
		if cur = parseCursor(tok); cur == nil {
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
	g := s.regions[regionID]
	if g == nil {
		return resp, nil
	}
	order := g.ordered()
	start := 0
	if cur != nil {
		start = sort.Search(len(order), func(i int) bool { return cur.precedes(order[i]) })
	}
	skip := 0
	if cur == nil {
		skip = (page - 1) * size
	}
	var last *record
	more := false
	for i, r := range order {
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
		resp.NextToken = cursor{page: page + 1, created: last.created, id: last.inv.InvokeId}.String()
	}
	return resp, nil
}

// cursor is the position after the last invocation of a page.
type cursor struct {
	page    int
	created time.Time
	id      string
}

func (c cursor) String() string {
	raw := "v1|" + strconv.Itoa(c.page) + "|" + strconv.FormatInt(c.created.UnixNano(), 10) + "|" + c.id
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func parseCursor(tok string) *cursor {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil
	}
	parts := strings.SplitN(string(raw), "|", 4)
	if len(parts) != 4 || parts[0] != "v1" || parts[3] == "" {
		return nil
	}
	page, err1 := strconv.Atoi(parts[1])
	nanos, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || page < 2 {
		return nil
	}
	return &cursor{page: page, created: time.Unix(0, nanos), id: parts[3]}
}

// precedes reports whether r comes after the cursor in listing order.
func (c *cursor) precedes(r *record) bool {
	if r.created.Equal(c.created) && r.inv.InvokeId == c.id {
		return false
	}
	return !before(r, c.created, c.id)
}
