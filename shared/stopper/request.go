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

// Request is one decoded request: exactly one of Stop, Sweep and FailFast is set.
type Request struct {
	Stop     *StopRequest
	Sweep    *SweepRequest
	FailFast *FailFastRequest
}

// Action names what the request asks for.
func (r Request) Action() string {
	switch {
	case r.Sweep != nil:
		return ActionSweep
	case r.FailFast != nil:
		return ActionFailFast
	}
	return ActionStopInvocation
}

// StopRequest asks to stop one invocation, on all its instances or on some.
// RegionId may be empty: the function's default region applies.
type StopRequest struct {
	// AccountId is the account to act in; "" is the credentials' own
	// (accounts.go).
	AccountId   string
	RegionId    string
	InvokeId    string
	InstanceIds []string // de-duplicated, in the caller's order; empty means all
	DryRun      *bool    // nil: the function's default
	// Alert names the alert the stop comes from, when it does: then nobody
	// named the invocation by hand, and its stopper:protect tag applies.
	Alert string
}

// SweepRequest asks to stop every stale invocation. Unset fields (zero, nil)
// take the function's configured sweep; set ones may only narrow it (see
// the sweep's rails in sweep.go).
type SweepRequest struct {
	RegionIds       []string
	OlderThan       time.Duration
	CommandName     string
	Tags            map[string]string
	IncludePeriodic *bool
	// MaxStops lowers the configured limit on how many invocations one
	// sweep may stop; 0 is unset.
	MaxStops int
	DryRun   *bool
}

// Limits on outside input.
const (
	// MaxNesting bounds how deep a request's JSON may nest; a real request
	// needs 2 levels, so anything much deeper is hostile.
	MaxNesting = 8
	// MaxTags bounds a sweep's tag conditions (the API's own limit on Tag.N,
	// kept although the sweep checks tags itself).
	MaxTags = 20
	// MaxRegions bounds a sweep's RegionIds: Alibaba Cloud has about 30
	// regions, and each one named costs listings (a request naming 10,000
	// made the function open thousands of connections).
	MaxRegions = 50
	// maxInstanceIds bounds InstanceIds so one request cannot make the
	// function allocate or call without end; it is counted before any
	// element is decoded.
	maxInstanceIds = 10000
	// maxTagLen bounds a tag key or value (the API's limit is 128).
	maxTagLen = 128
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
	if err := onlyKeys(fields, "Action", "AccountId", "RegionId", "InvokeId", "InstanceIds", "DryRun"); err != nil {
		return nil, err
	}
	var s StopRequest
	var err error
	if s.AccountId, err = accountField(fields, "AccountId"); err != nil {
		return nil, err
	}
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
	if raw, ok := fields["InstanceIds"]; ok {
		if s.InstanceIds, err = instanceIDs(raw); err != nil {
			return nil, err
		}
	}
	if s.DryRun, err = boolField(fields, "DryRun"); err != nil {
		return nil, err
	}
	return &s, nil
}

func decodeSweep(fields map[string][]byte) (*SweepRequest, error) {
	if err := onlyKeys(fields, "Action", "RegionIds", "OlderThan", "CommandName", "Tags", "IncludePeriodic", "MaxStops", "DryRun"); err != nil {
		return nil, err
	}
	var s SweepRequest
	var err error
	if raw, ok := fields["RegionIds"]; ok && !jsonscan.IsNull(raw) {
		ids, err := stringList("RegionIds", raw, MaxRegions, `must be an array of region ids such as ["cn-hangzhou"]`)
		if err != nil {
			return nil, err
		}
		if s.RegionIds, err = uniqueIDs("RegionIds", ids, ValidRegionID, "a region id such as cn-hangzhou"); err != nil {
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
		if s.CommandName, ok = stringValue(raw); !ok || s.CommandName == "" || len(s.CommandName) > 128 {
			return nil, Invalid("CommandName", "must be a command name string of 1 to 128 characters")
		}
	}
	if raw, ok := fields["Tags"]; ok && !jsonscan.IsNull(raw) {
		if s.Tags, err = tagObject(raw); err != nil {
			return nil, err
		}
	}
	if s.IncludePeriodic, err = boolField(fields, "IncludePeriodic"); err != nil {
		return nil, err
	}
	if raw, ok := fields["MaxStops"]; ok && !jsonscan.IsNull(raw) {
		n, ok := positiveInt(raw)
		if !ok {
			return nil, Invalid("MaxStops", "must be a whole number of at least 1 (omit it to use STOPPER_SWEEP_MAX_STOPS)")
		}
		s.MaxStops = n
	}
	if s.DryRun, err = boolField(fields, "DryRun"); err != nil {
		return nil, err
	}
	return &s, nil
}

// tagObject reads a sweep's Tags: an object of string values, with exact,
// unrepeated keys (a repeated key would otherwise be resolved silently,
// last one wins, as encoding/json does).
func tagObject(raw []byte) (map[string]string, error) {
	const hint = `must be an object of string keys and values such as {"env": "prod"}`
	m, ok := jsonscan.Object(raw, 1)
	if !ok {
		return nil, Invalid("Tags", hint)
	}
	tags := map[string]string{}
	for m.Next() {
		if !utf8.Valid(m.Key) || len(m.Key) == 0 || len(m.Key) > maxTagLen {
			return nil, Invalid("Tags", "tag keys must be 1 to %d characters of valid UTF-8", maxTagLen)
		}
		k := string(m.Key)
		if _, dup := tags[k]; dup {
			return nil, Invalid("Tags", "key %q is given more than once", truncate(k))
		}
		v, ok := stringValue(m.Value)
		if !ok || len(v) > maxTagLen {
			return nil, Invalid("Tags", "the value of %q must be a string of at most %d characters", truncate(k), maxTagLen)
		}
		if len(tags) == MaxTags {
			return nil, Invalid("Tags", "has more than %d tags", MaxTags)
		}
		tags[k] = v
	}
	if m.Invalid() {
		return nil, Invalid("Tags", hint)
	}
	return tags, nil
}

// positiveInt reads a JSON integer of 1 to 9 digits that is at least 1 (a
// leading 0 is either the number 0 or not JSON).
func positiveInt(raw []byte) (int, bool) {
	if len(raw) == 0 || len(raw) > 9 || raw[0] == '0' {
		return 0, false
	}
	n := 0
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
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
	if !m.Complete() {
		return nil, Invalid("body", "has data after the JSON object")
	}
	return fields, nil
}

// invalidJSON says where body stops being JSON; only refusals pay for
// encoding/json's error.
func invalidJSON(body []byte) error {
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

// accountField reads an account id; absent, null or "" is none (the
// credentials' own account).
func accountField(fields map[string][]byte, name string) (string, error) {
	raw, ok := fields[name]
	if !ok || jsonscan.IsNull(raw) {
		return "", nil
	}
	v, ok := stringValue(raw)
	if !ok {
		return "", Invalid(name, "must be a string of digits such as \"1234567890123456\"")
	}
	if v != "" && !ValidAccountID(v) {
		return "", Invalid(name, "%q is not an account id: expected the account's digits such as \"1234567890123456\"", truncate(v))
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

// instanceIDs accepts today's JSON array and the older API's string holding a
// JSON array ("[\"i-a\",\"i-b\"]"). A list that is present but empty ([], "[]",
// "", null, "null") is refused: it is what a caller's bug produces, and
// reading it as "every instance" would stop (and may kill) them all.
func instanceIDs(raw []byte) ([]string, error) {
	const hint = `must be a JSON array of instance ids such as ["i-bp1abc", "i-bp1def"], or a string holding one`
	list := raw
	if bytes.HasPrefix(raw, []byte(`"`)) {
		s, ok := stringValue(raw)
		if !ok {
			return nil, Invalid("InstanceIds", hint)
		}
		// The string's own JSON is held to the body's nesting bound; a
		// string that is not an array is refused below all the same.
		list = []byte(strings.TrimSpace(s))
		if checkNesting(list) != nil {
			return nil, Invalid("InstanceIds", hint)
		}
	}
	if len(list) == 0 || jsonscan.IsNull(list) {
		return nil, emptyInstanceIDs()
	}
	ids, err := stringList("InstanceIds", list, maxInstanceIds, hint)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, emptyInstanceIDs()
	}
	return uniqueIDs("InstanceIds", ids, ValidInstanceID, `an instance id: "i-", "hbm-" or "mi-" followed by letters and digits`)
}

func emptyInstanceIDs() error {
	return Invalid("InstanceIds", "is empty: omit InstanceIds to stop every instance of the invocation, or name the instances to stop")
}

// stringList reads a JSON array of strings, counting its elements before
// keeping any, so that a huge list costs a scan, not an allocation per entry.
func stringList(field string, raw []byte, limit int, hint string) ([]string, error) {
	e, ok := jsonscan.Array(raw, 1)
	if !ok {
		return nil, Invalid(field, "%s", hint)
	}
	n := 0
	for e.Next() {
		n++
	}
	if !e.Complete() {
		return nil, Invalid(field, "%s", hint)
	}
	if n > limit {
		return nil, Invalid(field, "has %d entries; at most %d are accepted in one request", n, limit)
	}
	out := make([]string, 0, n)
	e, _ = jsonscan.Array(raw, 1)
	for e.Next() {
		v, ok := stringValue(e.Value)
		if !ok {
			return nil, Invalid(field, "entry %d is not a string: %s", len(out), hint)
		}
		out = append(out, v)
	}
	return out, nil
}

func uniqueIDs(field string, ids []string, valid func(string) bool, want string) ([]string, error) {
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
