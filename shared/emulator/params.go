package emulator

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxTags is the API's limit on Tag.N.
const maxTags = 20

// repeatList reads an RPC RepeatList (name.1=a&name.2=b) in N order, without
// duplicates. A bare name=a is taken as one more element, as lenient
// gateways do.
func repeatList(p url.Values, name string) ([]string, *apiError) {
	type item struct {
		n int
		v string
	}
	var items []item
	for k, vs := range p {
		var n int
		switch {
		case k == name:
			n = 0
		case strings.HasPrefix(k, name+"."):
			var err error
			if n, err = strconv.Atoi(k[len(name)+1:]); err != nil || n < 1 {
				return nil, invalidParameter(k, "%s.N needs a positive number N", name)
			}
		default:
			continue
		}
		for _, v := range vs {
			if v == "" {
				return nil, invalidParameter(k, "empty value")
			}
			items = append(items, item{n, v})
		}
	}
	slices.SortStableFunc(items, func(a, b item) int { return a.n - b.n })
	var out []string
	for _, it := range items {
		if !slices.Contains(out, it.v) {
			out = append(out, it.v)
		}
	}
	return out, nil
}

// tagFilter is one Tag.N of DescribeInvocations. Without Tag.N.Value any
// value of the key matches; with it (even empty) the value must be equal.
type tagFilter struct {
	key, value string
	anyValue   bool
}

// tagFilters reads Tag.N.Key / Tag.N.Value. A value without its key is an
// error rather than ignored, because ignoring a filter would widen a sweep.
func tagFilters(p url.Values) ([]tagFilter, *apiError) {
	type entry struct {
		key, value       string
		hasKey, hasValue bool
	}
	byN := map[int]*entry{}
	for k, vs := range p {
		rest, ok := strings.CutPrefix(k, "Tag.")
		if !ok {
			continue
		}
		num, field, ok := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 1 || n > maxTags || (field != "Key" && field != "Value") {
			return nil, invalidParameter(k, "tags are Tag.N.Key and Tag.N.Value with N from 1 to %d", maxTags)
		}
		e := byN[n]
		if e == nil {
			e = &entry{}
			byN[n] = e
		}
		if field == "Key" {
			e.key, e.hasKey = vs[0], true
		} else {
			e.value, e.hasValue = vs[0], true
		}
	}
	ns := make([]int, 0, len(byN))
	for n := range byN {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	var out []tagFilter
	for _, n := range ns {
		e := byN[n]
		if !e.hasKey || e.key == "" {
			return nil, invalidParameter("Tag."+strconv.Itoa(n)+".Key", "a tag filter needs its key")
		}
		out = append(out, tagFilter{key: e.key, value: e.value, anyValue: !e.hasValue})
	}
	return out, nil
}

// boolParam reads an optional true/false parameter.
func boolParam(p url.Values, name string) (value, set bool, e *apiError) {
	v, ok := p[name]
	if !ok {
		return false, false, nil
	}
	switch strings.ToLower(v[0]) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, invalidParameter(name, "want true or false, got %q", v[0])
}

// intParam reads an optional integer parameter within [lo, hi].
func intParam(p url.Values, name string, def, lo, hi int) (int, *apiError) {
	v := p.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalidParameter(name, "want a number from %d to %d, got %q", lo, hi, v)
	}
	return n, nil
}
