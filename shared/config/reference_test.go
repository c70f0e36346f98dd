package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docs/configuration.md's table is what the Config struct's tags give.
func TestConfigurationReferenceIsUpToDate(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := SpliceReference(string(doc)); want != string(doc) {
		t.Fatal("docs/configuration.md's table differs from the Config struct's settings: run make docs")
	}
}

func TestReferenceTable(t *testing.T) {
	table := ReferenceTable()
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if len(lines) != 2+len(settings()) || lines[0] != "| Variable | Default | Description |" || lines[1] != "|---|---|---|" {
		t.Fatalf("table:\n%s", table)
	}
	for _, want := range []string{
		"| `STOPPER_REGION_ID` |  | default RegionId for requests that name none (on FC: the function's own region) |",
		"| `STOPPER_SWEEP_OLDER_THAN` | `2h` | a sweep stops invocations created longer ago than this |",
	} {
		if !strings.Contains(table, want+"\n") {
			t.Errorf("no line %s in\n%s", want, table)
		}
	}
	if row := referenceRow(setting{Name: "STOPPER_X", Desc: "a | b"}); row != "| `STOPPER_X` |  | a \\| b |\n" {
		t.Errorf("a | in a description is escaped: %s", row)
	}
}

func TestSpliceReference(t *testing.T) {
	table := ReferenceTable()
	for _, tc := range []struct {
		doc, want string
		ok        bool
	}{
		{"intro\n" + ReferenceBegin + "\nold\n" + ReferenceEnd + "\nafter\n", "intro\n" + ReferenceBegin + "\n" + table + ReferenceEnd + "\nafter\n", true},
		{ReferenceBegin + ReferenceEnd, ReferenceBegin + "\n" + table + ReferenceEnd, true},
		{"no markers", "no markers", false},
		{ReferenceBegin + " and no end", ReferenceBegin + " and no end", false},
		{ReferenceEnd + " before " + ReferenceBegin, ReferenceEnd + " before " + ReferenceBegin, false},
	} {
		got, ok := SpliceReference(tc.doc)
		if got != tc.want || ok != tc.ok {
			t.Errorf("SpliceReference(%q) = %q, %v; want %q, %v", tc.doc, got, ok, tc.want, tc.ok)
		}
	}
}
