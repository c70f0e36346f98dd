package jsonscan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ecs-stopper/stopper/internal/testenv"
)

// FuzzScan holds the JSON walker to encoding/json: it accepts exactly what
// json.Valid accepts (up to its depth bound), and finds the same members
// and string values as decoding into map[string]json.RawMessage does.
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{"Action":"StopInvocation","RegionId":"cn-hangzhou","InvokeId":"t-1","InstanceIds":["i-a"]}`, `{"version":"2.0","headers":{"x-stopper-signature":"sha256=ab"},"body":"{\\"a\\":1}"}`, `{"k\\u0065y":1}`} {
		f.Add([]byte(s))
	}
	// The real samples: every event, and every request one carries.
	for _, ev := range testenv.SampleEvents(f) {
		f.Add(ev)
		for _, req := range testenv.CarriedRequests(ev) {
			f.Add(req)
		}
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
		if !ok && want && Depth(data) <= MaxDepth {
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
			// encoding/json replaces invalid UTF-8 in strings; the walker
			// keeps the bytes. A null decodes into a string without an
			// error, but is no string to unquote.
			if json.Unmarshal(v, &s) == nil && utf8.Valid(got[k]) && string(bytes.TrimSpace(v)) != "null" {
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

func TestDepth(t *testing.T) {
	for in, want := range map[string]int{
		``: 0, `1`: 0, `{}`: 1, `[[]]`: 2, `{"a":[{"b":1}]}`: 3,
		`{"a":"[[[[{{"}`: 1, `{"a":"\"[["}`: 1, `[[[`: 3, `]]]`: 0,
	} {
		if got := Depth([]byte(in)); got != want {
			t.Errorf("Depth(%s) = %d, want %d", in, got, want)
		}
	}
}

func TestObjectMembers(t *testing.T) {
	m, ok := Object([]byte(` {"a":1,"b\u0063":"x","a":[true]} `), 0)
	if !ok {
		t.Fatal("not an object")
	}
	var keys []string
	for m.Next() {
		keys = append(keys, string(m.Key)+"="+string(m.Value))
	}
	if m.Invalid() || strings.Join(keys, " ") != `a=1 bc="x" a=[true]` || !m.Complete() {
		t.Fatalf("members %q, invalid %v", keys, m.Invalid())
	}
	for _, bad := range []string{`{"a":}`, `{"a" 1}`, `{"a":1,}`, `{a:1}`, `{"a":"\x"}`} {
		m, _ := Object([]byte(bad), 0)
		for m.Next() {
		}
		if !m.Invalid() {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestArray(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{`[]`, nil, false},
		{` [ 1 , "a" ,{"k":[2]} ] `, []string{`1`, `"a"`, `{"k":[2]}`}, false},
		{`[1,]`, []string{`1`}, true},
		{`[,1]`, nil, true},
		{`[1 2]`, []string{`1`}, true},
		{`[1`, []string{`1`}, true},
	} {
		e, ok := Array([]byte(tc.in), 0)
		if !ok {
			t.Fatalf("%s: not an array", tc.in)
		}
		var got []string
		for e.Next() {
			got = append(got, string(e.Value))
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || e.Invalid() != tc.bad {
			t.Errorf("%s: got %q invalid=%v, want %q invalid=%v", tc.in, got, e.Invalid(), tc.want, tc.bad)
		}
	}
	if _, ok := Array([]byte(`{"a":1}`), 0); ok {
		t.Error("an object is not an array")
	}
}

// Complete is true exactly when the walk reached the end of one well-formed
// value with only JSON white space after it.
func TestComplete(t *testing.T) {
	for _, tc := range []struct {
		data string
		want bool
	}{
		{`{}`, true},
		{" \t{\"a\":[1,{}]}\r\n ", true},
		{`{"a":1}x`, false},
		{`{"a":1} {}`, false},
		{`{"a":1`, false},
		{`{"a":1,}`, false},
		{"{\"a\":1}\v", false}, // \v is no JSON white space
	} {
		m, _ := Object([]byte(tc.data), 0)
		for m.Next() {
		}
		if got := m.Complete(); got != tc.want {
			t.Errorf("object %q: Complete() = %v, want %v", tc.data, got, tc.want)
		}
		array := strings.NewReplacer("{", "[", "}", "]", `"a":`, "").Replace(tc.data)
		e, _ := Array([]byte(array), 0)
		for e.Next() {
		}
		if got := e.Complete(); got != tc.want {
			t.Errorf("array %q: Complete() = %v, want %v", array, got, tc.want)
		}
	}
	// A walk left before the end is not complete.
	m, _ := Object([]byte(`{"a":1,"b":2}`), 0)
	m.Next()
	if m.Complete() {
		t.Error("Complete() after one member of two")
	}
}
