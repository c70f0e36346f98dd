package jsonscan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzScan holds the JSON walker to encoding/json: it accepts exactly what
// json.Valid accepts (up to its depth bound), and finds the same members
// and string values as decoding into map[string]json.RawMessage does.
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{"Action":"StopInvocation","RegionId":"cn-hangzhou","InvokeId":"t-1","InstanceIds":["i-a"]}`, `{"version":"2.0","headers":{"x-stopper-signature":"sha256=ab"},"body":"{\\"a\\":1}"}`, `{"k\\u0065y":1}`} {
		f.Add([]byte(s))
	}
	for _, s := range []string{`{"a":1e5,"b":-0.5E-3,"c":"\ud83d\ude00","d":[true,false,null]}`, `{"a":"\u00"}`, `[01]`, `{"a" : 1 , }`, "{\"a\":\"\x01\"}", `{"a":1}x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ok := Valid(data)
		want := json.Valid(data)
		if ok && !want {
			t.Fatalf("walker accepts invalid JSON %q", data)
		}
		if !ok && want && nesting(data) <= MaxDepth {
			t.Fatalf("walker refuses valid JSON %q", data)
		}
		if !ok {
			return
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(data, &fields) != nil || fields == nil {
			return // not an object
		}
		m, _ := Object(data, 0)
		got := map[string][]byte{}
		for m.Next() {
			got[string(m.Key)] = m.Value
		}
		if m.Invalid() {
			t.Fatalf("walker failed on a valid object %q", data)
		}
		for k, v := range fields {
			if strings.ContainsRune(k, utf8.RuneError) {
				continue // encoding/json replaces invalid UTF-8 in keys; probed keys are ASCII
			}
			if !bytes.Equal(bytes.TrimSpace(got[k]), bytes.TrimSpace(v)) {
				t.Fatalf("key %q: walker %q, encoding/json %q", k, got[k], v)
			}
			var s string
			// encoding/json replaces invalid UTF-8 in strings; the walker keeps the bytes.
			if json.Unmarshal(v, &s) == nil && utf8.Valid(got[k]) {
				u, ok := Unquote(got[k])
				if !ok || string(u) != s {
					t.Fatalf("key %q: unquote %q, encoding/json %q", k, u, s)
				}
			}
		}
		if len(got) != len(fields) {
			for k := range got {
				if utf8.ValidString(k) && !strings.ContainsRune(k, utf8.RuneError) {
					if _, ok := fields[k]; !ok {
						t.Fatalf("walker found key %q encoding/json did not", k)
					}
				}
			}
		}
	})
}

// nesting is data's deepest nesting, counting brackets outside strings.
func nesting(data []byte) int {
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
