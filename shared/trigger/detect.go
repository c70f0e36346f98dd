package trigger

import (
	"bytes"
	"slices"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
)

// Kind names the trigger a payload came from. Each source declares its own,
// in its file.
type Kind string

// Detect names the trigger a raw payload came from.
func Detect(payload []byte) Kind {
	var p probe
	p.read(payload)
	return p.source().kind
}

// A field is a top-level key of a payload that detection reads, by its exact
// name (encoding/json would match "Body" for "body" and take an SNS event
// for an SQS one). The sources declare the fields they read with probeField.
type field int

// maxFields bounds the fields all sources read together: the probe keeps
// their values in an array, so that detection allocates nothing.
const maxFields = 24

// fieldNames are the names of the fields declared so far, by field.
var fieldNames []string

// probeField declares a top-level key that detection reads; sources that
// read the same key share its field.
func probeField(name string) field {
	if i := slices.Index(fieldNames, name); i >= 0 {
		return field(i)
	}
	if len(fieldNames) == maxFields {
		panic("trigger: more than maxFields probed keys; raise maxFields")
	}
	fieldNames = append(fieldNames, name)
	return field(len(fieldNames) - 1)
}

// probe holds the raw values of the fields in one payload; nil when absent.
type probe struct {
	values [maxFields][]byte
	// array is set when the payload is a JSON array (a batch of events).
	array bool
	// unusable is set when the payload is not a well-formed JSON object or
	// repeats a probed key: it is then Direct, and the strict request
	// decoder says what is wrong.
	unusable bool
}

func (p *probe) read(payload []byte) {
	m, ok := jsonscan.Object(payload, 0)
	if !ok {
		if _, ok := jsonscan.Array(payload, 0); ok {
			p.array = true
			return
		}
		p.unusable = true
		return
	}
	for m.Next() {
		f, ok := fieldOf(m.Key)
		if !ok {
			continue
		}
		if p.values[f] != nil {
			p.unusable = true
			return
		}
		p.values[f] = m.Value
	}
	if !m.Complete() {
		p.unusable = true
	}
}

// fieldOf is the declared field named key, if any.
func fieldOf(key []byte) (field, bool) {
	for i, name := range fieldNames {
		if string(key) == name {
			return field(i), true
		}
	}
	return 0, false
}

// source is the source whose event the payload is: the first in sources
// whose detection holds, else Direct. The probed keys are not request
// parameters, so a payload that has them can never be a valid Direct
// request: a caller cannot dodge authentication by shaping a request like
// an event, nor turn an event into an unsigned request.
func (p *probe) source() *source {
	if p.unusable {
		return &direct
	}
	for _, s := range sources {
		if p.matches(&s.detect) {
			return s
		}
	}
	return &direct
}

// A detection is what marks a source's events: every condition it holds.
type detection struct {
	// array: the payload is a JSON array.
	array bool
	// has: top-level keys the payload carries, whatever their values.
	has []field
	// equal: values that are these JSON strings (compared unescaped).
	equal []valueAt
	// contain: values that are JSON strings holding these.
	contain []valueAt
}

// valueAt is a string expected at a path.
type valueAt struct {
	path  path
	value string
}

// A path leads to a value: a top-level field, then members of objects
// (by exact name; the last of a repeated one, as encoding/json takes) or
// the first element of an array (firstElement).
type path struct {
	field   field
	members []string
}

// firstElement, as a step of a path, is an array's first element.
const firstElement = "[0]"

func at(f field, members ...string) path { return path{f, members} }

func (p *probe) matches(d *detection) bool {
	if d.array != p.array {
		return false
	}
	for _, f := range d.has {
		if p.values[f] == nil {
			return false
		}
	}
	for _, v := range d.equal {
		if !jsonscan.IsString(p.lookup(v.path), v.value) {
			return false
		}
	}
	for _, v := range d.contain {
		s, ok := jsonscan.Unquote(p.lookup(v.path))
		if !ok || !bytes.Contains(s, []byte(v.value)) {
			return false
		}
	}
	return true
}

// lookup is the raw value at a path, or nil.
func (p *probe) lookup(at path) []byte {
	v := p.values[at.field]
	for _, step := range at.members {
		if v == nil {
			return nil
		}
		if step == firstElement {
			e, ok := jsonscan.Array(v, 1)
			if !ok || !e.Next() {
				return nil
			}
			v = e.Value
			continue
		}
		v, _ = member(v, step)
	}
	return v
}

// member returns the raw value of an exact key of a JSON object (the last
// one, as encoding/json would), or nil.
func member(object []byte, key string) (value []byte, ok bool) {
	m, ok := jsonscan.Object(object, 1)
	if !ok {
		return nil, false
	}
	for m.Next() {
		if string(m.Key) == key {
			value = m.Value
		}
	}
	return value, !m.Invalid()
}
