package stopper

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
)

// Actions a request may name.
const (
	ActionStopInvocation = "StopInvocation"
	ActionSweep          = "Sweep"
)

// Request is one decoded request: exactly one of Stop and Sweep is set.
type Request struct {
	Stop  *StopRequest
	Sweep *SweepRequest
}

// Action names what the request asks for.
func (r Request) Action() string {
	if r.Sweep != nil {
		return ActionSweep
	}
	return ActionStopInvocation
}

// StopRequest asks to stop one invocation, on all its instances or on some.
// RegionId may be empty: the function's default region applies.
type StopRequest struct {
	RegionId    string
	InvokeId    string
	InstanceIds []string // de-duplicated, in the caller's order; empty means all
	DryRun      *bool    // nil: the function's default
}

// SweepRequest asks to stop every stale invocation. Unset fields (zero, nil)
// take the function's configured sweep defaults.
type SweepRequest struct {
	RegionIds       []string
	OlderThan       time.Duration
	CommandName     string
	Tags            map[string]string
	IncludePeriodic *bool
	DryRun          *bool
}

// Limits on outside input.
const (
	// MaxNesting bounds how deep a request's JSON may nest; a real request
	// needs 2 levels, so anything much deeper is hostile.
	MaxNesting = 8
	// MaxTags is the API's limit on Tag.N.
	MaxTags = 20
	// maxListLen bounds InstanceIds and RegionIds so one request cannot make
	// the function allocate or call without end.
	maxListLen = 10000
)

// ValidInvokeID reports whether s has the form DescribeInvocations returns ("t-" + letters and digits).
func ValidInvokeID(s string) bool {
	rest, ok := strings.CutPrefix(s, "t-")
	return ok && alphanumeric(rest, 64)
}

// ValidInstanceID reports whether s is an ECS ("i-"), bare-metal ("hbm-") or managed ("mi-") instance id.
func ValidInstanceID(s string) bool {
	for _, prefix := range [...]string{"i-", "hbm-", "mi-"} {
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			return alphanumeric(rest, 64)
		}
	}
	return false
}

// ValidRegionID reports whether s has the form of a region id such as cn-hangzhou:
// a lower-case letter, then lower-case letters, digits and dashes.
func ValidRegionID(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// alphanumeric reports whether s is 1 to max ASCII letters and digits. Plain
// loops rather than regular expressions: compiling those at start-up costs
// every cold start about a millisecond.
func alphanumeric(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// DecodeRequest reads a request body: a JSON object whose keys are matched
// exactly (encoding/json alone would take "invokeid" for "InvokeId"), with no
// unknown or repeated keys, so that a typo is an error and not a silent no-op.
func DecodeRequest(body []byte) (Request, error) {
	fields, err := decodeObject(body)
	if err != nil {
		return Request{}, err
	}
	var action string
	if raw, ok := fields["Action"]; ok {
		var ok bool
		if action, ok = stringValue(raw); !ok {
			return Request{}, Invalid("Action", "must be a string, %q or %q", ActionStopInvocation, ActionSweep)
		}
	}
	switch action {
	case ActionSweep:
		s, err := decodeSweep(fields)
		return Request{Sweep: s}, err
	case ActionStopInvocation, "":
		s, err := decodeStop(fields)
		return Request{Stop: s}, err
	default:
		return Request{}, Invalid("Action", "%q is not supported: use %q or %q", truncate(action), ActionStopInvocation, ActionSweep)
	}
}

func decodeStop(fields map[string][]byte) (*StopRequest, error) {
	if err := onlyKeys(fields, "Action", "RegionId", "InvokeId", "InstanceIds", "DryRun"); err != nil {
		return nil, err
	}
	var s StopRequest
	var err error
	if s.RegionId, err = regionField(fields, "RegionId"); err != nil {
		return nil, err
	}
	raw, ok := fields["InvokeId"]
	if !ok || jsonscan.IsNull(raw) {
		return nil, Missing("InvokeId", `Give the invocation's id ("t-..."), as DescribeInvocations lists it.`)
	}
	if s.InvokeId, ok = stringValue(raw); !ok {
		return nil, Invalid("InvokeId", "must be a string such as \"t-1fad2a8876de47068cc734d57703aa76\"")
	}
	if s.InvokeId == "" {
		return nil, Missing("InvokeId", `Give the invocation's id ("t-..."), as DescribeInvocations lists it.`)
	}
	if !ValidInvokeID(s.InvokeId) {
		return nil, Invalid("InvokeId", "%q is not an invocation id: expected \"t-\" followed by letters and digits", truncate(s.InvokeId))
	}
	if s.InstanceIds, err = instanceIDs(fields["InstanceIds"]); err != nil {
		return nil, err
	}
	if s.DryRun, err = boolField(fields, "DryRun"); err != nil {
		return nil, err
	}
	return &s, nil
}

func decodeSweep(fields map[string][]byte) (*SweepRequest, error) {
	if err := onlyKeys(fields, "Action", "RegionIds", "OlderThan", "CommandName", "Tags", "IncludePeriodic", "DryRun"); err != nil {
		return nil, err
	}
	var s SweepRequest
	var err error
	if raw, ok := fields["RegionIds"]; ok && !jsonscan.IsNull(raw) {
		if err := json.Unmarshal(raw, &s.RegionIds); err != nil {
			return nil, Invalid("RegionIds", `must be an array of region ids such as ["cn-hangzhou"]`)
		}
		if s.RegionIds, err = uniqueIDs("RegionIds", s.RegionIds, ValidRegionID, "a region id such as cn-hangzhou"); err != nil {
			return nil, err
		}
	}
	if raw, ok := fields["OlderThan"]; ok && !jsonscan.IsNull(raw) {
		v, ok := stringValue(raw)
		if !ok {
			return nil, Invalid("OlderThan", `must be a Go duration string such as "2h" or "90m"`)
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, Invalid("OlderThan", `%q is not a positive Go duration such as "2h" or "90m"`, truncate(v))
		}
		s.OlderThan = d
	}
	if raw, ok := fields["CommandName"]; ok && !jsonscan.IsNull(raw) {
		var ok bool
		if s.CommandName, ok = stringValue(raw); !ok || len(s.CommandName) > 128 {
			return nil, Invalid("CommandName", "must be a command name string of at most 128 characters")
		}
	}
	if raw, ok := fields["Tags"]; ok && !jsonscan.IsNull(raw) {
		if err := json.Unmarshal(raw, &s.Tags); err != nil {
			return nil, Invalid("Tags", `must be an object of string keys and values such as {"env": "prod"}`)
		}
		if len(s.Tags) > MaxTags {
			return nil, Invalid("Tags", "has %d tags; the API filters on at most %d", len(s.Tags), MaxTags)
		}
		for k := range s.Tags {
			if k == "" || len(k) > 128 {
				return nil, Invalid("Tags", "tag keys must be 1 to 128 characters")
			}
		}
	}
	if s.IncludePeriodic, err = boolField(fields, "IncludePeriodic"); err != nil {
		return nil, err
	}
	if s.DryRun, err = boolField(fields, "DryRun"); err != nil {
		return nil, err
	}
	return &s, nil
}

// decodeObject reads the top-level object key by key, with exact key names,
// so that repeated keys and over-deep nesting are refused rather than
// resolved silently. Values stay raw until a field's decoder reads them.
func decodeObject(body []byte) (map[string][]byte, error) {
	if err := checkNesting(body); err != nil {
		return nil, err
	}
	m, ok := jsonscan.Object(body, 0)
	if !ok {
		if !jsonscan.Valid(body) {
			return nil, invalidJSON(body)
		}
		return nil, Invalid("body", "must be a JSON object such as {\"RegionId\": \"cn-hangzhou\", \"InvokeId\": \"t-...\"}")
	}
	fields := make(map[string][]byte, 8)
	for m.Next() {
		if _, dup := fields[string(m.Key)]; dup {
			return nil, Invalid(truncate(string(m.Key)), "is given more than once")
		}
		fields[string(m.Key)] = m.Value
	}
	if m.Invalid() {
		return nil, invalidJSON(body)
	}
	if len(bytes.TrimLeft(m.Rest(), " \t\r\n")) != 0 {
		return nil, Invalid("body", "has data after the JSON object")
	}
	return fields, nil
}

// invalidJSON says where body stops being JSON; only refusals pay for
// encoding/json's error.
func invalidJSON(body []byte) *Error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return Invalid("body", "is not valid JSON: %v", err)
	}
	return Invalid("body", "is not valid JSON")
}

// stringValue reads a JSON string; ok is false for any other JSON value.
// Invalid UTF-8 is refused, as no id, name or duration contains it.
func stringValue(raw []byte) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	b, ok := jsonscan.Unquote(raw)
	if !ok || !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// checkNesting refuses JSON nested deeper than MaxNesting before any decoder
// recurses into it.
func checkNesting(body []byte) error {
	if jsonscan.Depth(body) > MaxNesting {
		return Invalid("body", "nests deeper than %d levels", MaxNesting)
	}
	return nil
}

func onlyKeys(fields map[string][]byte, allowed ...string) error {
	var unknown []string
	for k := range fields {
		found := false
		for _, a := range allowed {
			if k == a {
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return Invalid(truncate(unknown[0]), "is not a parameter of this action (field names are case-sensitive); accepted: %s", strings.Join(allowed, ", "))
}

func regionField(fields map[string][]byte, name string) (string, error) {
	raw, ok := fields[name]
	if !ok || jsonscan.IsNull(raw) {
		return "", nil
	}
	v, ok := stringValue(raw)
	if !ok {
		return "", Invalid(name, "must be a string such as \"cn-hangzhou\"")
	}
	if v != "" && !ValidRegionID(v) {
		return "", Invalid(name, "%q is not a region id: expected lower-case letters, digits and dashes such as \"cn-hangzhou\"", truncate(v))
	}
	return v, nil
}

func boolField(fields map[string][]byte, name string) (*bool, error) {
	raw, ok := fields[name]
	if !ok || jsonscan.IsNull(raw) {
		return nil, nil
	}
	var v bool
	switch string(raw) {
	case "true":
		v = true
	case "false":
	default:
		return nil, Invalid(name, "must be true or false")
	}
	return &v, nil
}

// instanceIDs accepts today's JSON array and the seed's string holding a JSON
// array ("[\"i-a\",\"i-b\"]").
func instanceIDs(raw []byte) ([]string, error) {
	if raw == nil || jsonscan.IsNull(raw) {
		return nil, nil
	}
	const hint = `must be a JSON array of instance ids such as ["i-bp1abc", "i-bp1def"], or a string holding one`
	var ids []string
	if err := json.Unmarshal(raw, &ids); err != nil {
		s, ok := stringValue(raw)
		if !ok {
			return nil, Invalid("InstanceIds", hint)
		}
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		if err := checkNesting([]byte(s)); err != nil {
			return nil, Invalid("InstanceIds", hint)
		}
		if err := json.Unmarshal([]byte(s), &ids); err != nil {
			return nil, Invalid("InstanceIds", hint)
		}
	}
	return uniqueIDs("InstanceIds", ids, ValidInstanceID, `an instance id: "i-", "hbm-" or "mi-" followed by letters and digits`)
}

func uniqueIDs(field string, ids []string, valid func(string) bool, want string) ([]string, error) {
	if len(ids) > maxListLen {
		return nil, Invalid(field, "has %d entries; at most %d are accepted in one request", len(ids), maxListLen)
	}
	seen := make(map[string]struct{}, len(ids))
	out := ids[:0]
	for i, id := range ids {
		if !valid(id) {
			return nil, Invalid(field, "entry %d, %q, is not %s", i, truncate(id), want)
		}
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out, nil
}

// truncate keeps hostile values from bloating error messages and logs.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:max], len(s))
}
