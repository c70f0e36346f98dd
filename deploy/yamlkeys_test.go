package deploy

import (
	"os"
	"strings"
	"testing"
)

// yamlValue reads the value of the key at path in a block-style YAML file,
// as written (quotes removed, a trailing comment dropped). The module has
// no YAML library, and the descriptors it reads are the project's own,
// written as plain "key: value" blocks, which is all this follows.
func yamlValue(t *testing.T, file string, path ...string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if s := strings.TrimSpace(l); s != "" && !strings.HasPrefix(s, "#") {
			lines = append(lines, l)
		}
	}
	parent, from := -1, 0
	for depth, key := range path {
		child := -1
		found := false
		for i := from; i < len(lines); i++ {
			indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
			if indent <= parent {
				break
			}
			if child < 0 {
				child = indent
			}
			if indent != child {
				continue
			}
			k, v, ok := strings.Cut(strings.TrimSpace(lines[i]), ":")
			if !ok || k != key {
				continue
			}
			if depth == len(path)-1 {
				return scalar(v), true
			}
			parent, from, found = indent, i+1, true
			break
		}
		if !found {
			return "", false
		}
	}
	return "", false
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
	if got := flowList("[x, 'y']"); len(got) != 2 || got[0] != "x" || got[1] != "y" {
		t.Errorf("flowList = %q", got)
	}
}
