// Package jsonscan is a small strict JSON walker for outside input: it
// validates as it goes, matches keys exactly (encoding/json matches them
// case-insensitively), sees repeated keys, bounds nesting, and never builds
// values, so probing a few keys of a large event costs no allocations.
package jsonscan

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// Trigger detection must look at a handful of exact keys in payloads that
// carry kilobytes of platform metadata (API Gateway's requestContext, dozens
// of headers), and the request decoder must see every key exactly as sent;
// decoding into maps with encoding/json costs tens of microseconds and dozens
// of allocations per event, and decoding into structs would match keys
// case-insensitively. The walker validates as it goes (the fuzz tests hold it
// to json.Valid), never builds values, and hands back raw values to Unquote
// only when needed.

// MaxDepth bounds nesting while walking an event; real events nest about 5
// levels, and the bound keeps the recursion shallow on hostile input.
const MaxDepth = 32

// Members iterates the Members of one JSON object, validating each value.
// Keys are exact: an escaped key is unescaped before it is compared.
type Members struct {
	data  []byte
	pos   int
	first bool
	done  bool
	bad   bool
	// key is the member's name (unescaped); value its raw JSON value.
	Key   []byte
	Value []byte
	depth int
	// skipping is set when the object is only being stepped over: its keys
	// are then not unescaped.
	skipping bool
}

// Object starts iterating data, which must hold a JSON object
// (surrounding white space allowed). ok is false when it does not start with one.
func Object(data []byte, depth int) (m Members, ok bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return Members{bad: true}, false
	}
	return Members{data: data, pos: i + 1, first: true, depth: depth + 1}, true
}

// next moves to the next member; false at the end or on malformed JSON
// (then invalid reports true).
func (m *Members) Next() bool {
	if m.done || m.bad {
		return false
	}
	if m.depth > MaxDepth {
		return m.fail()
	}
	d := m.data
	i := skipSpace(d, m.pos)
	if i >= len(d) {
		return m.fail()
	}
	switch {
	case d[i] == '}' && m.first:
		m.pos, m.done = i+1, true
		return false
	case m.first:
	case d[i] == '}':
		m.pos, m.done = i+1, true
		return false
	case d[i] == ',':
		i = skipSpace(d, i+1)
	default:
		return m.fail()
	}
	m.first = false
	if i >= len(d) || d[i] != '"' {
		return m.fail()
	}
	end, ok := skipString(d, i)
	if !ok {
		return m.fail()
	}
	m.Key = d[i+1 : end-1]
	if !m.skipping && bytes.IndexByte(m.Key, '\\') >= 0 {
		if m.Key, ok = Unquote(d[i:end]); !ok {
			return m.fail()
		}
	}
	i = skipSpace(d, end)
	if i >= len(d) || d[i] != ':' {
		return m.fail()
	}
	i = skipSpace(d, i+1)
	end, ok = skipValue(d, i, m.depth)
	if !ok {
		return m.fail()
	}
	m.Value = d[i:end]
	m.pos = end
	return true
}

func (m *Members) fail() bool {
	m.bad = true
	return false
}

// invalid reports whether iteration stopped on malformed JSON.
func (m *Members) Invalid() bool { return m.bad }

// Complete reports, once iteration is done, whether it reached the object's
// end and only white space follows: the data was one well-formed object.
func (m *Members) Complete() bool { return m.done && skipSpace(m.data, m.pos) == len(m.data) }

// skipValue returns the end of the JSON value starting at i.
func skipValue(d []byte, i, depth int) (int, bool) {
	if i >= len(d) {
		return i, false
	}
	switch c := d[i]; {
	case c == '"':
		return skipString(d, i)
	case c == '{':
		m := Members{data: d, pos: i + 1, first: true, depth: depth + 1, skipping: true}
		for m.Next() {
		}
		return m.pos, !m.bad
	case c == '[':
		return skipArray(d, i, depth+1)
	case c == 't':
		return skipLiteral(d, i, "true")
	case c == 'f':
		return skipLiteral(d, i, "false")
	case c == 'n':
		return skipLiteral(d, i, "null")
	case c == '-' || ('0' <= c && c <= '9'):
		return skipNumber(d, i)
	}
	return i, false
}

func skipArray(d []byte, i, depth int) (int, bool) {
	if depth > MaxDepth {
		return i, false
	}
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == ']' {
		return i + 1, true
	}
	for {
		end, ok := skipValue(d, i, depth)
		if !ok {
			return end, false
		}
		i = skipSpace(d, end)
		if i >= len(d) {
			return i, false
		}
		switch d[i] {
		case ']':
			return i + 1, true
		case ',':
			i = skipSpace(d, i+1)
		default:
			return i, false
		}
	}
}

// skipString returns the end of the string starting at d[i] == '"'. Like
// encoding/json it refuses control characters and bad escapes, and lets
// invalid UTF-8 through.
func skipString(d []byte, i int) (int, bool) {
	for j := i + 1; j < len(d); j++ {
		for j < len(d) && !stringSpecial[d[j]] { // the bulk of every string
			j++
		}
		if j >= len(d) {
			break
		}
		switch c := d[j]; {
		case c == '"':
			return j + 1, true
		case c < 0x20:
			return j, false
		default: // '\\'
			j++
			if j >= len(d) {
				return j, false
			}
			switch d[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(d) || !isHex(d[j+1]) || !isHex(d[j+2]) || !isHex(d[j+3]) || !isHex(d[j+4]) {
					return j, false
				}
				j += 4
			default:
				return j, false
			}
		}
	}
	return len(d), false
}

// stringSpecial marks the bytes that end a run of plain string content.
var stringSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func skipNumber(d []byte, i int) (int, bool) {
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = skipDigits(d, i)
	default:
		return i, false
	}
	if i < len(d) && d[i] == '.' {
		j := skipDigits(d, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := skipDigits(d, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

func skipLiteral(d []byte, i int, lit string) (int, bool) {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

func skipSpace(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// unquote returns the string a raw JSON string value holds; ok is false for
// any other value. Strings without escapes (the common case) are sliced, not
// copied; the others are decoded as encoding/json does (the fuzz tests hold
// it to that).
func Unquote(raw []byte) (s []byte, ok bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	inner := raw[1 : len(raw)-1]
	first := bytes.IndexByte(inner, '\\')
	if first < 0 {
		return inner, true
	}
	out := make([]byte, first, len(inner))
	copy(out, inner)
	for i := first; i < len(inner); {
		c := inner[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(inner) {
			return nil, false
		}
		switch e := inner[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(inner[i+2:])
			if !ok {
				return nil, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				// A valid pair is one rune; a lone half is U+FFFD, as encoding/json has it.
				if r2, ok := hex4(inner[min(i+2, len(inner)):]); ok && i+1 < len(inner) && inner[i] == '\\' && inner[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return nil, false
		}
		i += 2
	}
	return out, true
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

// isString reports whether raw is the JSON string want (escapes resolved).
func IsString(raw []byte, want string) bool {
	s, ok := Unquote(raw)
	return ok && string(s) == want
}

func IsNull(raw []byte) bool { return string(raw) == "null" }

// equalFoldASCII compares a header name with a canonical one, ignoring
// ASCII case, without converting either (header names are ASCII tokens).
func EqualFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Valid reports whether data is one JSON value nested at most MaxDepth deep.
func Valid(data []byte) bool {
	i := skipSpace(data, 0)
	end, ok := skipValue(data, i, 0)
	return ok && skipSpace(data, end) == len(data)
}

// Depth is data's deepest nesting of objects and arrays, counting brackets
// outside strings; it reads anything, valid JSON or not, without recursion,
// so callers can refuse hostile nesting before any decoder descends into it.
func Depth(data []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// Elements iterates the elements of one JSON array, validating each value,
// so that a caller can count or bound a list before decoding any of it.
type Elements struct {
	data  []byte
	pos   int
	first bool
	done  bool
	bad   bool
	depth int
	// Value is the current element's raw JSON value.
	Value []byte
}

// Array starts iterating data, which must hold a JSON array (surrounding
// white space allowed). ok is false when it does not start with one.
func Array(data []byte, depth int) (e Elements, ok bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return Elements{bad: true}, false
	}
	return Elements{data: data, pos: i + 1, first: true, depth: depth + 1}, true
}

// Next moves to the next element; false at the end or on malformed JSON
// (then Invalid reports true).
func (e *Elements) Next() bool {
	if e.done || e.bad {
		return false
	}
	if e.depth > MaxDepth {
		e.bad = true
		return false
	}
	d := e.data
	i := skipSpace(d, e.pos)
	if i >= len(d) {
		e.bad = true
		return false
	}
	switch {
	case d[i] == ']':
		e.pos, e.done = i+1, true
		return false
	case e.first:
	case d[i] == ',':
		i = skipSpace(d, i+1)
	default:
		e.bad = true
		return false
	}
	e.first = false
	end, ok := skipValue(d, i, e.depth)
	if !ok {
		e.bad = true
		return false
	}
	e.Value = d[i:end]
	e.pos = end
	return true
}

// Invalid reports whether iteration stopped on malformed JSON.
func (e *Elements) Invalid() bool { return e.bad }

// Complete reports, once iteration is done, whether it reached the array's
// end and only white space follows: the data was one well-formed array.
func (e *Elements) Complete() bool { return e.done && skipSpace(e.data, e.pos) == len(e.data) }
