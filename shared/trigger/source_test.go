package trigger

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestSourcesAreComplete: every source says what marks its events, and
// either how its HTTP request is read and its response shaped, or how its
// events are handled; only the fallbacks are Direct.
func TestSourcesAreComplete(t *testing.T) {
	seen := map[Kind]bool{}
	for i, s := range sources {
		if s.kind == "" || reflect.DeepEqual(s.detect, detection{}) {
			t.Errorf("source #%d (%q) has no kind or no detection: it would take every payload", i, s.kind)
		}
		if s.kind != Direct && seen[s.kind] {
			t.Errorf("two sources of kind %s", s.kind)
		}
		seen[s.kind] = true
		switch {
		case (s.webhook == nil) == (s.handle == nil):
			t.Errorf("%s: set exactly one of webhook and handle", s.kind)
		case s.webhook != nil && (s.webhook.appendResponse == nil || s.answer != nil || s.answersItems):
			t.Errorf("%s: a webhook source shapes its own response (appendResponse), and nothing else", s.kind)
		}
	}
	if direct.handle == nil || direct.webhook != nil {
		t.Error("direct must handle what no source takes")
	}
}

// TestSourceOrder: the registered sources are in rank order, and every
// order check holds (orderProblems); a list that breaks one is caught.
func TestSourceOrder(t *testing.T) {
	samples := map[string][]byte{}
	for _, file := range samplePaths(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		samples[file] = b
	}
	if !slices.IsSortedFunc(sources, func(a, b *source) int { return a.rank - b.rank }) {
		t.Error("sources are not in rank order")
	}
	for _, p := range orderProblems(sources, samples) {
		t.Error(p)
	}
	for _, s := range sources {
		t.Logf("%4d %s", s.rank, s.kind)
	}

	sameRank := apiGatewayV1
	sameRank.rank = fcHTTP.rank
	// A detection unrelated to fcHTTP's that FC's own sample meets as well.
	postInContext := source{kind: "post-in-context", rank: 5, detect: detection{
		equal: []valueAt{{at(fieldRequestContext, "http", "method"), "POST"}},
	}}
	// A copy of functionURL after apiGatewayV2, which would take its events.
	lateFunctionURL := functionURL
	lateFunctionURL.rank = apiGatewayV2.rank + 1
	// SNS's detection again, as another kind: the second is never reached.
	snsAgain := sns
	snsAgain.kind, snsAgain.rank = "sns-again", sns.rank+1
	fcSample := map[string][]byte{"fc-http-request.json": readTestdata(t, "fc-http-request.json")}
	for _, tt := range []struct {
		name    string
		list    []*source
		samples map[string][]byte
		want    string
	}{
		{"two sources of one rank", []*source{&fcHTTP, &sameRank}, nil, "share rank 100"},
		{"unrelated detections on one sample", []*source{&postInContext, &fcHTTP}, fcSample, "both take fc-http-request.json"},
		{"narrower detection ranked after", []*source{&apiGatewayV2, &lateFunctionURL}, nil, "never reached"},
		{"same detection twice", []*source{&sns, &snsAgain}, nil, "never reached"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := orderProblems(tt.list, tt.samples)
			if len(got) != 1 || !strings.Contains(got[0], tt.want) {
				t.Errorf("problems %q, want one saying %q", got, tt.want)
			}
		})
	}
}

// orderProblems lists what is wrong with the order of list (in rank order):
// two sources of one rank; a source whose detection narrows an earlier
// one's, so that the earlier one takes all its events; and a sample that
// two sources take when neither narrows the other, so that only their ranks
// decide which one it is.
func orderProblems(list []*source, samples map[string][]byte) []string {
	var problems []string
	for i, a := range list {
		for _, b := range list[i+1:] {
			if a.rank == b.rank {
				problems = append(problems, fmt.Sprintf("sources %s and %s share rank %d", a.kind, b.kind, a.rank))
			} else if narrows(&b.detect, &a.detect) {
				problems = append(problems, fmt.Sprintf("%s (rank %d) narrows the detection of %s (rank %d), which takes all its events: it is never reached", b.kind, b.rank, a.kind, a.rank))
			}
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for name := range samples {
			if !yield(name) {
				return
			}
		}
	})
	for _, name := range names {
		var p probe
		p.read(samples[name])
		var taking []*source
		for _, s := range list {
			if !p.unusable && p.matches(&s.detect) {
				taking = append(taking, s)
			}
		}
		for i, a := range taking {
			for _, b := range taking[i+1:] {
				if !narrows(&a.detect, &b.detect) {
					problems = append(problems, fmt.Sprintf("%s and %s both take %s, and the first one's detection does not narrow the second one's: only their ranks decide", a.kind, b.kind, filepath.Base(name)))
				}
			}
		}
	}
	return problems
}

// narrows reports whether detection a holds every condition of b, so that
// every payload a takes, b takes too. A condition on a value implies that
// its top-level key is there; a string that must equal or contain v
// contains every part of v.
func narrows(a, b *detection) bool {
	if a.array != b.array {
		return false
	}
	for _, f := range b.has {
		if !slices.Contains(a.has, f) && !slices.ContainsFunc(values(a), func(v valueAt) bool { return v.path.field == f }) {
			return false
		}
	}
	for _, v := range b.equal {
		if !slices.ContainsFunc(a.equal, func(w valueAt) bool { return samePath(w.path, v.path) && w.value == v.value }) {
			return false
		}
	}
	for _, v := range b.contain {
		if !slices.ContainsFunc(values(a), func(w valueAt) bool {
			return samePath(w.path, v.path) && strings.Contains(w.value, v.value)
		}) {
			return false
		}
	}
	return true
}

// values is every string a detection expects, equal or contained.
func values(d *detection) []valueAt { return slices.Concat(d.equal, d.contain) }

func samePath(a, b path) bool { return a.field == b.field && slices.Equal(a.members, b.members) }
