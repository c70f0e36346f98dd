package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// style is how a format marks up the message's parts. Outside text goes
// through code or text, which escape it for the format; the message's own
// words (counts, labels) are written as they are, and bold wraps them.
type style struct {
	code func(string) string // outside ids, names, codes, rules
	text func(string) string // outside free text
	bold func(string) string // own words
}

// part is a paragraph, or a list of items.
type part struct {
	list  bool
	lines []string
}

// shown is how many stops, dry-run selections and failures a rendering
// lists (the rest are "and N more").
type shown struct{ stops, wouldStops, failures int }

// all lists everything, for plain text without a size limit.
func all(s summary) shown { return shown{len(s.Stops), len(s.WouldStops), len(s.Failures)} }

// compose lays the summary out, with at most n.stops stops, n.wouldStops
// dry-run selections and n.failures failures. The request line comes
// first, then the notice of suppressed notifications, if any.
func compose(s summary, st style, n shown) []part {
	var parts []part
	para := func(line string) {
		if line != "" {
			parts = append(parts, part{lines: []string{line}})
		}
	}
	h := st.bold(st.text(s.Action))
	if s.Action == "" {
		h = "Request"
	}
	if s.Trigger != "" {
		h += " (trigger " + st.code(s.Trigger) + ")"
	}
	if s.RequestId != "" {
		h += ", request " + st.code(s.RequestId)
	}
	para(h)
	para(s.Notice)
	if s.RefusedCode != "" || s.RefusedMessage != "" {
		refused := "Nothing was stopped."
		if len(s.Stops) > 0 {
			refused = "A sweep was refused and stopped nothing."
		}
		para(st.bold(refused) + " " + st.code(s.RefusedCode) + ": " + st.text(s.RefusedMessage))
	}
	stops := func(lines []stopLine, n int) {
		var items []string
		for _, l := range lines[:n] {
			item := st.code(l.InvokeId)
			if l.CommandName != "" {
				item += " (" + st.code(l.CommandName) + ")"
			}
			if l.RegionId != "" {
				item += " in " + st.code(l.RegionId)
			}
			if l.AccountId != "" {
				item += " of account " + st.code(l.AccountId)
			}
			item += ": " + l.counts()
			if l.Why != "" {
				item += "; why: " + st.code(l.Why)
			}
			items = append(items, item)
		}
		if rest := len(lines) - n; rest > 0 {
			items = append(items, more(rest, "invocations"))
		}
		parts = append(parts, part{list: true, lines: items})
	}
	if len(s.Stops) > 0 {
		para(fmt.Sprintf("Instances: %d pending (cancelled), %d running (possibly killed)", s.Pending, s.Running))
		stops(s.Stops, n.stops)
	}
	if len(s.WouldStops) > 0 {
		para(st.bold("Dry run.") + " " + fmt.Sprintf("Instances: %d pending (would cancel), %d running (would possibly kill)", s.WouldPending, s.WouldRunning))
		stops(s.WouldStops, n.wouldStops)
	}
	if len(s.Failures) > 0 {
		para(st.bold(fmt.Sprintf("Failed (%d)", len(s.Failures))))
		var items []string
		for _, f := range s.Failures[:n.failures] {
			item := ""
			if f.Where != "" {
				item = st.code(f.Where) + ": "
			}
			item += st.code(f.Code)
			if f.Message != "" {
				item += " " + st.text(f.Message)
			}
			items = append(items, item)
		}
		if rest := len(s.Failures) - n.failures; rest > 0 {
			items = append(items, more(rest, "failures"))
		}
		parts = append(parts, part{list: true, lines: items})
	}
	if s.Matched != "" {
		para("Matched: " + st.text(s.Matched))
	}
	return parts
}

// fit renders with as many stops, dry-run selections and failures as fit
// the format's limits (at most maxStops, maxStops and maxFailures),
// dropping list items from the longest list first; the counts and "and N
// more" always remain.
func fit(s summary, render func(s summary, n shown) ([]byte, bool)) ([]byte, error) {
	n := shown{min(len(s.Stops), maxStops), min(len(s.WouldStops), maxStops), min(len(s.Failures), maxFailures)}
	less := func(k int) int { return max(0, min(k-1, k/2+1)) }
	for {
		b, ok := render(s, n)
		if ok {
			return b, nil
		}
		switch {
		case n == shown{}:
			return nil, errors.New("the message does not fit the service's size limit")
		case n.stops >= n.wouldStops && n.stops >= n.failures:
			n.stops = less(n.stops)
		case n.wouldStops >= n.failures:
			n.wouldStops = less(n.wouldStops)
		default:
			n.failures = less(n.failures)
		}
	}
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func same(s string) string { return s }

// plainStyle is plain text for a terminal (Text): clean is all it needs.
var plainStyle = style{code: same, text: same, bold: same}
