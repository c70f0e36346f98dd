package trigger

import (
	"reflect"
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
