package deploy

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// yamlLine is one meaningful line of a block-style YAML file: its key's
// column and its text from the key on. A list item's "- " counts as
// indentation, so the keys of a one-item list's mapping (a policy's single
// statement) are found under the list's key.
type yamlLine struct {
	indent int
	text   string
}

func yamlLines(t *testing.T, file string) []yamlLine {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var lines []yamlLine
	for _, l := range strings.Split(string(b), "\n") {
		s := strings.TrimSpace(l)
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		indent := len(l) - len(strings.TrimLeft(l, " "))
		for strings.HasPrefix(s, "- ") {
			s = strings.TrimLeft(s[2:], " ")
			indent = len(l) - len(s)
		}
		lines = append(lines, yamlLine{indent, s})
	}
	return lines
}

// yamlFind finds the key at path: its line's index, and the key's value as
// written.
func yamlFind(lines []yamlLine, path []string) (int, string, bool) {
	parent, from := -1, 0
	for depth, key := range path {
		child := -1
		found := false
		for i := from; i < len(lines); i++ {
			indent := lines[i].indent
			if indent <= parent {
				break
			}
			if child < 0 {
				child = indent
			}
			if indent != child {
				continue
			}
			k, v, ok := cutKey(lines[i].text)
			if !ok || k != key {
				continue
			}
			if depth == len(path)-1 {
				return i, v, true
			}
			parent, from, found = indent, i+1, true
			break
		}
		if !found {
			return 0, "", false
		}
	}
	return 0, "", false
}

// cutKey splits "key: value" or "key:" at the colon that ends the key, so
// that keys holding colons (sts:DurationSeconds, ForAllValues:StringEquals)
// stay whole; a quoted key loses its quotes.
func cutKey(text string) (key, value string, ok bool) {
	if k, v, found := strings.Cut(text, ": "); found {
		return scalar(k), v, true
	}
	if k, found := strings.CutSuffix(text, ":"); found {
		return scalar(k), "", true
	}
	return "", "", false
}

// yamlValue reads the value of the key at path in a block-style YAML file,
// as written (quotes removed, a trailing comment dropped). The module has
// no YAML library, and the descriptors it reads are the project's own,
// written as plain "key: value" blocks, which is all this follows.
func yamlValue(t *testing.T, file string, path ...string) (string, bool) {
	t.Helper()
	_, v, ok := yamlFind(yamlLines(t, file), path)
	if !ok {
		return "", false
	}
	return scalar(v), true
}

// yamlText reads the key at path's text: a plain value, or the lines of a
// folded or literal block (>-, |) joined by spaces.
func yamlText(t *testing.T, file string, path ...string) string {
	t.Helper()
	lines := yamlLines(t, file)
	at, v, ok := yamlFind(lines, path)
	if !ok {
		return ""
	}
	if v = scalar(v); v != ">-" && v != ">" && v != "|" && v != "|-" {
		return v
	}
	var parts []string
	for _, l := range lines[at+1:] {
		if l.indent <= lines[at].indent {
			break
		}
		parts = append(parts, l.text)
	}
	return strings.Join(parts, " ")
}

// yamlKeys lists, in order, the keys of the mapping at path.
func yamlKeys(t *testing.T, file string, path ...string) []string {
	t.Helper()
	lines := yamlLines(t, file)
	at, _, ok := yamlFind(lines, path)
	if !ok {
		return nil
	}
	var keys []string
	child := -1
	for _, l := range lines[at+1:] {
		if l.indent <= lines[at].indent {
			break
		}
		if child < 0 {
			child = l.indent
		}
		if l.indent != child {
			continue
		}
		if k, _, ok := cutKey(l.text); ok {
			keys = append(keys, k)
		}
	}
	return keys
}

// scalar is a value as YAML reads it: without its quotes or a trailing comment.
func scalar(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v
}

// flowList reads a one-line flow sequence such as ['true', 'false'].
func flowList(v string) []string {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "[") || !strings.HasSuffix(v, "]") {
		return nil
	}
	var out []string
	for _, item := range strings.Split(v[1:len(v)-1], ",") {
		out = append(out, scalar(item))
	}
	return out
}

func TestYAMLValue(t *testing.T) {
	const doc = `# comment
top:
  a: 1   # trailing
  # a: 2
  nested:
    b: 'quoted'
    c: "${str('x')}"
  d: [x, 'y']
other:
  a: 3
list:
  - k: first
    'Null':
      a:b: c
`
	file := t.TempDir() + "/doc.yaml"
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path []string
		want string
		ok   bool
	}{
		{[]string{"top", "a"}, "1", true},
		{[]string{"top", "nested", "b"}, "quoted", true},
		{[]string{"top", "nested", "c"}, "${str('x')}", true},
		{[]string{"top", "d"}, "[x, 'y']", true},
		{[]string{"other", "a"}, "3", true},
		{[]string{"list", "k"}, "first", true},
		{[]string{"list", "Null", "a:b"}, "c", true},
		{[]string{"top", "b"}, "", false}, // b is nested's, not top's
		{[]string{"top", "missing"}, "", false},
		{[]string{"missing", "a"}, "", false},
	}
	for _, tt := range tests {
		got, ok := yamlValue(t, file, tt.path...)
		if got != tt.want || ok != tt.ok {
			t.Errorf("yamlValue(%v) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
	if got := yamlKeys(t, file, "top"); !slices.Equal(got, []string{"a", "nested", "d"}) {
		t.Errorf("yamlKeys(top) = %q", got)
	}
	if got := yamlKeys(t, file, "list"); !slices.Equal(got, []string{"k", "Null"}) {
		t.Errorf("yamlKeys(list) = %q", got)
	}
	if got := yamlText(t, file, "top", "a"); got != "1" {
		t.Errorf("yamlText(top.a) = %q", got)
	}
	if got := flowList("[x, 'y']"); len(got) != 2 || got[0] != "x" || got[1] != "y" {
		t.Errorf("flowList = %q", got)
	}
}
