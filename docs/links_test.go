// Package docs holds no code, only tests that keep the documentation honest:
// every relative link in README.md and docs/ leads somewhere, and the README
// stays short enough for a newcomer.
package docs

import (
	"io/fs"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// repoRoot is where README.md lives, one level above this package.
const repoRoot = ".."

// link is one markdown link target, where it was written.
type link struct {
	file   string // relative to the repository root, with forward slashes
	line   int
	target string
}

// inlineLink matches [text](target) and ![alt](target); the target stops at
// the first space (a title may follow) or closing parenthesis.
var inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)

// referenceDef matches a reference definition: [label]: target.
var referenceDef = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$`)

// inlineCode is a code span, whose brackets are not links.
var inlineCode = regexp.MustCompile("`+[^`]*`+")

// markdownFiles lists README.md and every .md file under docs/, relative to
// the repository root.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			rel, err := filepath.Rel(repoRoot, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing docs/: %v", err)
	}
	return files
}

// linksIn returns the links of a markdown text, outside fenced code blocks
// and code spans.
func linksIn(file, text string) []link {
	var links []link
	for n, line := range proseLines(text) {
		if m := referenceDef.FindStringSubmatch(line); m != nil {
			links = append(links, link{file, n, m[1]})
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(inlineCode.ReplaceAllString(line, ""), -1) {
			links = append(links, link{file, n, m[1]})
		}
	}
	return links
}

// proseLines yields a markdown text's lines, numbered from 1, that are
// outside fenced code blocks (the fences' own lines included).
func proseLines(text string) iter.Seq2[int, string] {
	return func(yield func(int, string) bool) {
		fence := ""
		n := 0
		for line := range strings.SplitSeq(text, "\n") {
			n++
			trimmed := strings.TrimSpace(line)
			if marker := fenceMarker(trimmed); marker != "" {
				switch {
				case fence == "":
					fence = marker
				case strings.HasPrefix(trimmed, fence):
					fence = ""
				}
				continue
			}
			if fence == "" && !yield(n, line) {
				return
			}
		}
	}
}

// fenceMarker is the ``` or ~~~ run that opens or closes a fenced block, or "".
func fenceMarker(line string) string {
	for _, c := range []string{"`", "~"} {
		if strings.HasPrefix(line, c+c+c) {
			return strings.Repeat(c, 3)
		}
	}
	return ""
}

// isExternal is true for links this test does not follow: other schemes and
// hosts. Only relative links must resolve inside the repository.
func isExternal(target string) bool {
	u, err := url.Parse(target)
	return err == nil && (u.Scheme != "" || u.Host != "")
}

// anchor is the id GitHub gives a heading: lower case, spaces to '-', and
// every other character but letters, digits, '-' and '_' dropped.
func anchor(heading string) string {
	heading = stripInlineMarkup(heading)
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// markupLink keeps a link's text; markupCode a code span's content.
var (
	markupLink = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	markupCode = regexp.MustCompile("`+([^`]*)`+")
)

// stripInlineMarkup turns a heading's text into what GitHub renders before it
// makes the anchor: link texts without their targets, code spans without
// their backticks.
func stripInlineMarkup(s string) string {
	s = markupLink.ReplaceAllString(s, "$1")
	return markupCode.ReplaceAllString(s, "$1")
}

// anchorsOf lists the anchors of a markdown file's ATX headings (outside
// fenced code), numbering repeats as GitHub does: name, name-1, name-2.
func anchorsOf(text string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, line := range proseLines(text) {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		level := len(line) - len(strings.TrimLeft(line, "#"))
		if level > 6 || (len(line) > level && line[level] != ' ') {
			continue
		}
		a := anchor(strings.TrimRight(strings.TrimSpace(line[level:]), "#"))
		if n := seen[a]; n > 0 {
			anchors[a+"-"+strconv.Itoa(n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

// checkLink says what is wrong with a relative link, or "".
func checkLink(l link, read func(path string) (string, error)) string {
	target, fragment, _ := strings.Cut(l.target, "#")
	if unescaped, err := url.PathUnescape(target); err == nil {
		target = unescaped
	}
	path := l.file // a bare #anchor points into the same file
	switch {
	case strings.HasPrefix(target, "/"): // from the repository root, as GitHub reads it
		path = filepath.ToSlash(filepath.Clean(strings.TrimPrefix(target, "/")))
	case target != "":
		path = filepath.ToSlash(filepath.Join(filepath.Dir(l.file), target))
	}
	if path == ".." || strings.HasPrefix(path, "../") {
		return "leads outside the repository"
	}
	info, err := os.Stat(filepath.Join(repoRoot, path))
	if err != nil {
		return "leads to " + path + ", which does not exist"
	}
	if fragment == "" {
		return ""
	}
	if info.IsDir() || !strings.HasSuffix(path, ".md") {
		return "has an anchor, but " + path + " is not a markdown file"
	}
	text, err := read(path)
	if err != nil {
		return "cannot read " + path + ": " + err.Error()
	}
	if !anchorsOf(text)[fragment] {
		return "names #" + fragment + ", which is not a heading of " + path
	}
	return ""
}

func readRepoFile(path string) (string, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot, path))
	return string(b), err
}

// TestRelativeLinksResolve follows every relative link in README.md and
// docs/: the file must exist and, with an #anchor into a markdown file, so
// must the heading.
func TestRelativeLinksResolve(t *testing.T) {
	checked := 0
	for _, file := range markdownFiles(t) {
		text, err := readRepoFile(file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, l := range linksIn(file, text) {
			if isExternal(l.target) {
				continue
			}
			checked++
			if problem := checkLink(l, readRepoFile); problem != "" {
				t.Errorf("%s:%d: link %q %s", l.file, l.line, l.target, problem)
			}
		}
	}
	if checked == 0 {
		t.Fatal("found no relative links at all: the link scanner is broken")
	}
}

func TestAnchorFollowsGitHubRules(t *testing.T) {
	tests := []struct{ heading, want string }{
		{"Try it locally", "try-it-locally"},
		{"Deploy: dry run first", "deploy-dry-run-first"},
		{"Cloud Assistant's TaskCompleted event", "cloud-assistants-taskcompleted-event"},
		{"V3: ACS3-HMAC-SHA256", "v3-acs3-hmac-sha256"},
		{"Webhooks with make serve", "webhooks-with-make-serve"},
		{"Serverless Devs and s.yaml", "serverless-devs-and-syaml"},
		{"The `-stop-mode` flag", "the--stop-mode-flag"},
		{"A [linked](x.md) heading", "a-linked-heading"},
		{"snake_case stays", "snake_case-stays"},
		{"Über größe", "über-größe"},
	}
	for _, tt := range tests {
		if got := anchor(tt.heading); got != tt.want {
			t.Errorf("anchor(%q) = %q, want %q", tt.heading, got, tt.want)
		}
	}
}

func TestAnchorsOfNumbersRepeatsAndSkipsCode(t *testing.T) {
	text := "# Title\n## Setup\n```sh\n# not a heading\n```\n## Setup\n#hashtag\n### Setup ###\n"
	got := anchorsOf(text)
	for _, want := range []string{"title", "setup", "setup-1", "setup-2"} {
		if !got[want] {
			t.Errorf("anchorsOf: missing %q in %v", want, got)
		}
	}
	for _, unwanted := range []string{"not-a-heading", "hashtag"} {
		if got[unwanted] {
			t.Errorf("anchorsOf: %q is not a heading, got %v", unwanted, got)
		}
	}
}

func TestLinksInFindsLinksOutsideCode(t *testing.T) {
	text := strings.Join([]string{
		"See [a](a.md) and [b](docs/b.md#part \"title\").",
		"`[not](code.md)` but ![img](pic.png)",
		"```",
		"[not](fenced.md)",
		"```",
		"[ref]: ref.md",
		"[ext](https://example.com/x.md)",
	}, "\n")
	var got []string
	for _, l := range linksIn("README.md", text) {
		got = append(got, l.target+"@"+strconv.Itoa(l.line))
	}
	want := []string{"a.md@1", "docs/b.md#part@1", "pic.png@2", "ref.md@6", "https://example.com/x.md@7"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("linksIn:\n got %v\nwant %v", got, want)
	}
}

func TestCheckLinkReportsWhatIsWrong(t *testing.T) {
	tests := []struct {
		name string
		l    link
		want string // a substring of the problem; "" for none
	}{
		{"existing file", link{"README.md", 1, "docs/links_test.go"}, ""},
		{"missing file", link{"README.md", 1, "docs/nope.md"}, "does not exist"},
		{"outside the repository", link{"README.md", 1, "../elsewhere.md"}, "outside the repository"},
		{"directory", link{"README.md", 1, "events/"}, ""},
		{"anchor into a file that is not markdown", link{"README.md", 1, "Makefile#x"}, "not a markdown file"},
		{"existing heading", link{"README.md", 1, "docs/triggers.md#errors"}, ""},
		{"missing heading", link{"README.md", 1, "docs/triggers.md#no-such-heading"}, "not a heading"},
		{"heading in the same file", link{"docs/triggers.md", 1, "#errors"}, ""},
		{"relative to the linking file", link{"docs/reference/README.md", 1, "../links_test.go"}, ""},
		{"from the repository root", link{"docs/reference/README.md", 1, "/docs/links_test.go"}, ""},
		{"missing from the repository root", link{"docs/local.md", 1, "/docs/nope.md"}, "does not exist"},
		{"root-relative but outside", link{"docs/local.md", 1, "/../x.md"}, "outside the repository"},
	}
	for _, tt := range tests {
		got := checkLink(tt.l, readRepoFile)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: checkLink(%+v) = %q, want a problem containing %q", tt.name, tt.l, got, tt.want)
		}
	}
}
