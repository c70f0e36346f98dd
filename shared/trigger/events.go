package trigger

import (
	"slices"
	"strings"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// What the sources' decoders share.

// maxBatch bounds the items of one delivery (events of a batch push, alerts
// of a group, queue records).
const maxBatch = 1000

// onlyEventKeys refuses the first key of a schedule's event outside allowed,
// or repeated, naming it and what the event may carry, as the request
// decoder does; it sets values[i] to the raw value of allowed[i] (nil if
// absent). Anything else is refused, never ignored: {"triggerTime": ...,
// "triggerName": ..., "DryRun": true} once ran a real sweep, and a
// request's keys beside an event's must not become a request that skipped
// the payload's rules either.
func onlyEventKeys(event []byte, allowed []string, values [][]byte, what, hint string) error {
	m, ok := jsonscan.Object(event, 0)
	if !ok {
		return stopper.Invalid("body", "is not a JSON object")
	}
	for m.Next() {
		i := slices.Index(allowed, string(m.Key))
		switch {
		case i < 0:
			return stopper.Invalid(truncate(string(m.Key)), "is not a field of %s, which carries only %s (names are case-sensitive): %s",
				what, strings.Join(allowed, ", "), hint)
		case values[i] != nil:
			return stopper.Invalid(allowed[i], "appears more than once in %s", what)
		}
		values[i] = m.Value
	}
	return nil
}

// sweepDefaults is the request of a schedule that says nothing more.
func sweepDefaults() stopper.Request {
	return stopper.Request{Sweep: &stopper.SweepRequest{}}
}

// arrayItems reads a JSON array of at most maxBatch elements (counted
// before any is decoded) and turns each into an item.
func arrayItems(raw []byte, what string, item func(i int, raw []byte) stopper.Item) ([]stopper.Item, error) {
	e, ok := jsonscan.Array(raw, 0)
	if !ok {
		return nil, stopper.Invalid("body", "must be a JSON array (%s)", what)
	}
	n := 0
	for e.Next() {
		n++
	}
	if !e.Complete() {
		return nil, stopper.Invalid("body", "is not valid JSON (%s)", what)
	}
	if n > maxBatch {
		return nil, stopper.Invalid("body", "holds %d items (%s); at most %d are taken in one delivery", n, what, maxBatch)
	}
	items := make([]stopper.Item, 0, n)
	e, _ = jsonscan.Array(raw, 0)
	for e.Next() {
		items = append(items, item(len(items), e.Value))
	}
	return items, nil
}

// eventFields reads a JSON object's members by exact name, refusing a
// repeated one; values stay raw.
func eventFields(raw []byte, what string) (map[string][]byte, error) {
	m, ok := jsonscan.Object(raw, 1)
	if !ok {
		return nil, stopper.Invalid("body", "must be a JSON object (%s)", what)
	}
	fields := make(map[string][]byte, 16)
	for m.Next() {
		if _, dup := fields[string(m.Key)]; dup {
			return nil, stopper.Invalid(truncate(string(m.Key)), "appears more than once in %s", what)
		}
		fields[string(m.Key)] = m.Value
	}
	if !m.Complete() {
		return nil, stopper.Invalid("body", "is not valid JSON (%s)", what)
	}
	return fields, nil
}
