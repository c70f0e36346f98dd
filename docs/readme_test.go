package docs

import (
	"slices"
	"strings"
	"testing"
)

// The README is for a newcomer: short, with a table of contents. What does
// not fit belongs in docs/.
const (
	readmeMaxWords = 2600
	tocHeading     = "## Contents"
)

func TestREADMEStaysShort(t *testing.T) {
	text, err := readRepoFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	// Words as wc -w counts them: runs of non-space characters.
	if n := len(strings.Fields(text)); n > readmeMaxWords {
		t.Errorf("README.md has %d words, more than %d: move detail into docs/ and link it", n, readmeMaxWords)
	}
}

func TestREADMEHasTableOfContents(t *testing.T) {
	text, err := readRepoFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	toc, ok := tableOfContents(text)
	if !ok {
		t.Fatalf("README.md has no %q section near the top", tocHeading)
	}
	anchors := anchorsOf(text)
	var listed []string
	for _, l := range linksIn("README.md", toc) {
		if !strings.HasPrefix(l.target, "#") {
			t.Errorf("README.md table of contents: %q is not a link to a heading of the README", l.target)
			continue
		}
		listed = append(listed, strings.TrimPrefix(l.target, "#"))
	}
	// Every second-level section is listed, so the contents cannot fall
	// behind the text.
	for _, h := range sectionHeadings(text) {
		if a := anchor(h); a != anchor(strings.TrimPrefix(tocHeading, "## ")) && !slices.Contains(listed, a) {
			t.Errorf("README.md table of contents does not list the section %q (#%s)", h, a)
		}
	}
	for _, a := range listed {
		if !anchors[a] {
			t.Errorf("README.md table of contents lists #%s, which is not a heading", a)
		}
	}
}

func TestTableOfContentsIsFound(t *testing.T) {
	tests := []struct {
		name, text string
		want       bool
	}{
		{"after the introduction", "# T\n\nIntro.\n\n## Contents\n\n- [A](#a)\n\n## A\n", true},
		{"missing", "# T\n\n## A\n", false},
		{"too far down", "# T\n\n## A\n\n## B\n\n## Contents\n\n- [A](#a)\n", false},
		{"empty", "# T\n\n## Contents\n\n## A\n", false},
	}
	for _, tt := range tests {
		if _, got := tableOfContents(tt.text); got != tt.want {
			t.Errorf("%s: tableOfContents found = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// tableOfContents returns the body of the README's contents section, which
// must be its first second-level section and hold at least one link.
func tableOfContents(text string) (string, bool) {
	start := strings.Index(text, "\n"+tocHeading+"\n")
	if start < 0 || strings.Contains(text[:start], "\n## ") {
		return "", false
	}
	body := text[start+len(tocHeading)+2:]
	if end := strings.Index(body, "\n## "); end >= 0 {
		body = body[:end]
	}
	return body, strings.Contains(body, "](#")
}

// sectionHeadings lists the text of the README's second-level headings.
func sectionHeadings(text string) []string {
	var hs []string
	inFence := false
	for line := range strings.SplitSeq(text, "\n") {
		if fenceMarker(strings.TrimSpace(line)) != "" {
			inFence = !inFence
			continue
		}
		if !inFence && strings.HasPrefix(line, "## ") {
			hs = append(hs, strings.TrimSpace(line[3:]))
		}
	}
	return hs
}
