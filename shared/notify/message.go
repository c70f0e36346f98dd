package notify

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// What a message says, whatever the format: a title ("ecs-stopper stopped
// 2 invocations"), the request (action, trigger, request id), the instance
// totals, each stop (invoke id, command name, region, pending and running
// counts, why), each failure (code and message), and for a sweep refused by
// its limit, that nothing was stopped and what to do. A dry run's selection
// is told apart: the title starts "Dry run:", and its counts say what would
// be stopped, cancelled and possibly killed, never what was. Every text that comes
// from outside (command names, tag values, request fields, API messages) is
// redacted of the notifier's own secrets, stripped of control characters
// and capped here, then escaped for the format's markup where it is placed
// (escape.go); lists are capped (the first maxStops stops, then "and N
// more").
//
// Every title carries "ecs-stopper": DingTalk and Lark robots secured by
// keyword only post messages containing one of their keywords, and this is
// the keyword the README tells operators to set. DingTalk's markdown text
// and Slack's fallback start with the title; Lark's first paragraph starts
// with it too, as its title may not be searched.

const (
	maxStops    = 20
	maxFailures = 10
	maxID       = 64  // invoke ids, regions, request ids, codes
	maxName     = 128 // command names, triggers
	maxWhy      = 200
	maxMessage  = 300 // failure and refusal messages
)

type summary struct {
	Title     string
	Action    string
	Trigger   string
	RequestId string
	// RefusedCode and RefusedMessage are the error that refused a sweep by
	// its limit (its message says what to do).
	RefusedCode    string
	RefusedMessage string
	Stops          []stopLine
	Failures       []failLine
	Pending        int
	Running        int
	// WouldStops are a dry run's selection, with their totals.
	WouldStops   []stopLine
	WouldPending int
	WouldRunning int
	Matched      string // "cn-hangzhou 2, cn-shanghai 1", for sweeps
	// Notice says how many notifications the rate limit suppressed before
	// this one (own words, no outside text).
	Notice string
}

type stopLine struct {
	InvokeId, CommandName, RegionId, Why string
	// AccountId is "" when the function acts in its own account only.
	AccountId        string
	Pending, Running int
}

type failLine struct {
	Where, Code, Message string // Where: region, invoke id, batch item
}

func summarize(r stopper.Report, rd redactor) summary {
	// Redacted whole (a secret cut by a cap would show its head), once per
	// text: a sweep's stops often share command names and messages.
	memo := map[[2]string]string{}
	c := func(s string, max int) string {
		key := [2]string{s, strconv.Itoa(max)}
		out, ok := memo[key]
		if !ok {
			out = clean(rd.Text(s), max)
			memo[key] = out
		}
		return out
	}
	s := summary{Action: c(r.Action, maxID), Trigger: c(r.Trigger, maxName), RequestId: c(r.RequestId, maxID)}
	line := func(st stopper.ReportedStop) stopLine {
		return stopLine{InvokeId: c(st.InvokeId, maxID), CommandName: c(st.CommandName, maxName),
			RegionId: c(st.RegionId, maxID), AccountId: c(st.AccountId, maxID), Why: c(st.Why, maxWhy), Pending: st.Pending, Running: st.Running}
	}
	for _, st := range r.Stopped {
		s.Stops = append(s.Stops, line(st))
		s.Pending += st.Pending
		s.Running += st.Running
	}
	for _, st := range r.WouldStop {
		s.WouldStops = append(s.WouldStops, line(st))
		s.WouldPending += st.Pending
		s.WouldRunning += st.Running
	}
	for _, f := range r.Failed {
		if r.Refused != nil && f.InvokeId == "" && f.RegionId == "" && f.Item == "" && f.Code == r.Refused.Code {
			continue // the refusal itself, said apart
		}
		var where []string
		if f.AccountId != "" {
			where = append(where, "account "+c(f.AccountId, maxID))
		}
		for _, w := range []string{f.RegionId, f.InvokeId, f.Item} {
			if w != "" {
				where = append(where, c(w, maxID))
			}
		}
		s.Failures = append(s.Failures, failLine{Where: strings.Join(where, " "), Code: c(f.Code, maxID), Message: c(f.Message, maxMessage)})
	}
	if r.Refused != nil {
		s.RefusedCode, s.RefusedMessage = c(r.Refused.Code, maxID), c(r.Refused.Message, maxMessage)
	}
	if len(r.Accounts()) > 0 && len(r.MatchedAt) > 0 && (r.Action == stopper.ActionSweep || r.Refused != nil) {
		places := make([]stopper.Place, 0, len(r.MatchedAt))
		for place := range r.MatchedAt {
			places = append(places, place)
		}
		slices.SortFunc(places, func(a, b stopper.Place) int {
			return cmp.Or(cmp.Compare(a.AccountId, b.AccountId), cmp.Compare(a.RegionId, b.RegionId))
		})
		parts := make([]string, len(places))
		for i, place := range places {
			parts[i] = c(place.AccountId, maxID) + "/" + c(place.RegionId, maxID) + " " + strconv.Itoa(r.MatchedAt[place])
		}
		s.Matched = clean(strings.Join(parts, ", "), maxMessage)
	} else if len(r.Matched) > 0 && (r.Action == stopper.ActionSweep || r.Refused != nil) {
		regions := make([]string, 0, len(r.Matched))
		for region := range r.Matched {
			regions = append(regions, region)
		}
		slices.Sort(regions)
		for i, region := range regions {
			regions[i] = c(region, maxID) + " " + strconv.Itoa(r.Matched[region])
		}
		s.Matched = clean(strings.Join(regions, ", "), maxMessage)
	}
	switch {
	case r.Refused != nil && len(r.Stopped) == 0:
		s.Title = "ecs-stopper refused a sweep: nothing was stopped"
	case r.Refused != nil:
		// A batch whose other items stopped something.
		s.Title = "ecs-stopper stopped " + count(len(r.Stopped), "invocation") + "; a sweep was refused and stopped nothing"
	case len(r.Stopped) == 0 && (r.DryRun || len(r.WouldStop) > 0):
		s.Title = "Dry run: ecs-stopper would stop " + count(len(r.WouldStop), "invocation")
	default:
		s.Title = "ecs-stopper stopped " + count(len(r.Stopped), "invocation")
		if len(r.WouldStop) > 0 {
			// A batch of real stops and dry runs.
			s.Title += "; dry run: would stop " + count(len(r.WouldStop), "invocation")
		}
	}
	if r.Refused == nil && len(s.Failures) > 0 {
		s.Title += ", " + count(len(s.Failures), "failure")
	}
	return s
}

func more(n int, what string) string { return "and " + strconv.Itoa(n) + " more " + what }

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// clean makes outside text one safe line: valid UTF-8 (ranging over a
// string yields U+FFFD for each invalid byte), control and
// line-breaking characters as spaces, runs of spaces as one, at most max
// runes (the last one an ellipsis when cut).
func clean(s string, max int) string {
	var b strings.Builder
	space := false
	n := 0
	for _, r := range s {
		if n > max {
			break // enough to know it is cut
		}
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r) {
			if !space && b.Len() > 0 {
				space = true
			}
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	out := b.String()
	if n <= max {
		return out
	}
	cut := 0
	for i := 0; i < max-1; i++ {
		_, size := utf8.DecodeRuneInString(out[cut:])
		cut += size
	}
	return strings.TrimRight(out[:cut], " ") + "…"
}

func (l stopLine) counts() string {
	return fmt.Sprintf("%d pending, %d running", l.Pending, l.Running)
}
