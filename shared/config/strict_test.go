package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"
)

// libraryWords are the reader's and the standard library's wording, which
// no message a user reads may carry.
var libraryWords = []string{"envconfig", "strconv", "converting", "parsing", "invalid syntax", "out of range"}

func checkNoLibraryWords(t *testing.T, msg string) {
	t.Helper()
	for _, w := range libraryWords {
		if strings.Contains(strings.ToLower(msg), w) {
			t.Errorf("the message speaks the library's words (%q): %s", w, msg)
		}
	}
}

// Each value's form: the whole message, in the project's words, naming the
// variable, the value, the form wanted and an example.
func TestBadValuesOfEachFormAreRefusedInTheProjectsWords(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"STOPPER_SWEEP_OLDER_THAN=2hours", `configuration: STOPPER_SWEEP_OLDER_THAN="2hours" is not a duration: give a number and a unit, such as 2h, 90m or 45s`},
		{"STOPPER_CONNECT_TIMEOUT=5", `configuration: STOPPER_CONNECT_TIMEOUT="5" is not a duration: give a number and a unit, such as 2h, 90m or 45s`},
		{"STOPPER_DRY_RUN=yes", `configuration: STOPPER_DRY_RUN="yes" is not true or false: give true or false, such as true`},
		{"STOPPER_SWEEP_MAX_STOPS=many", `configuration: STOPPER_SWEEP_MAX_STOPS="many" is not a whole number: give digits only, with no leading zero, unit or separator, such as 100`},
		{"STOPPER_SWEEP_CONCURRENCY=010", `configuration: STOPPER_SWEEP_CONCURRENCY="010" is not a whole number: give digits only, with no leading zero, unit or separator, such as 8`},
		{"STOPPER_MAX_ATTEMPTS=99999999999999999999", `configuration: STOPPER_MAX_ATTEMPTS="99999999999999999999" is too large a number: give a smaller whole number, such as 5`},
		{"STOPPER_ALLOWED_REGIONS=cn-hangzhou,,cn-beijing", `configuration: STOPPER_ALLOWED_REGIONS="cn-hangzhou,,cn-beijing" is not a comma-separated list: give items separated by commas, with no spaces or empty items, such as cn-hangzhou,cn-beijing`},
		{"STOPPER_SWEEP_TAGS=env=prod", `configuration: STOPPER_SWEEP_TAGS="env=prod" is not a list of key:value pairs: give key:value,key:value (an empty value matches any value), such as env:prod,team:ops`},
		{"STOPPER_SWEEP_TAGS=env:prod,env:dev", `configuration: STOPPER_SWEEP_TAGS="env:prod,env:dev" gives the key "env" more than once: give each key once, such as env:prod,team:ops`},
		{"STOPPER_REGION_ID=cn-hangzou", `configuration: STOPPER_REGION_ID="cn-hangzou" is not an Alibaba Cloud region: did you mean cn-hangzhou?`},
		{"STOPPER_REGION_ID=CN_Hangzhou", `configuration: STOPPER_REGION_ID="CN_Hangzhou" is not a region id: give lowercase letters, digits and hyphens, such as cn-hangzhou`},
		{"STOPPER_ALLOWED_REGIONS=cn-hangzhou,cn-bejing", `configuration: STOPPER_ALLOWED_REGIONS="cn-hangzhou,cn-bejing" names "cn-bejing", which is not an Alibaba Cloud region: did you mean cn-beijing?`},
		{"STOPPER_SWEEP_REGION_IDS=cn-hangzhou,Cn-Beijing", `configuration: STOPPER_SWEEP_REGION_IDS="cn-hangzhou,Cn-Beijing" names "Cn-Beijing", which is not a region id: give lowercase letters, digits and hyphens, such as cn-hangzhou`},
	} {
		t.Run(tc.env, func(t *testing.T) {
			_, err := checkEnvironment([]string{tc.env})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error\n got %v\nwant %s", err, tc.want)
			}
			checkNoLibraryWords(t, err.Error())
		})
	}
}

// What the reader takes, the check takes; where the reader would read
// something else than was meant (010 as octal 8), the check refuses.
func TestValuesOfEachForm(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"STOPPER_SWEEP_OLDER_THAN", "90m", true},
		{"STOPPER_SWEEP_OLDER_THAN", "1h30m", true},
		{"STOPPER_SWEEP_OLDER_THAN", "", false},
		{"STOPPER_SWEEP_OLDER_THAN", " 2h", false},
		{"STOPPER_DRY_RUN", "true", true},
		{"STOPPER_DRY_RUN", "FALSE", true},
		{"STOPPER_DRY_RUN", "", false},
		{"STOPPER_SWEEP_MAX_STOPS", "0", true},
		{"STOPPER_SWEEP_MAX_STOPS", "100", true},
		{"STOPPER_SWEEP_MAX_STOPS", "+5", true},
		{"STOPPER_SWEEP_MAX_STOPS", "-5", true}, // a range, not a form: Validate refuses it
		{"STOPPER_SWEEP_MAX_STOPS", "9223372036854775807", true},
		{"STOPPER_SWEEP_MAX_STOPS", "9223372036854775808", false},
		{"STOPPER_SWEEP_MAX_STOPS", "", false},
		{"STOPPER_SWEEP_MAX_STOPS", "-", false},
		{"STOPPER_SWEEP_MAX_STOPS", "--5", false},
		{"STOPPER_SWEEP_MAX_STOPS", "+-5", false},
		{"STOPPER_SWEEP_MAX_STOPS", "00", false},
		{"STOPPER_SWEEP_MAX_STOPS", "0x10", false},
		{"STOPPER_SWEEP_MAX_STOPS", "1_000", false},
		{"STOPPER_SWEEP_MAX_STOPS", "1e3", false},
		{"STOPPER_SWEEP_MAX_STOPS", "5/", false},
		{"STOPPER_SWEEP_MAX_STOPS", "5:", false},
		{"STOPPER_SWEEP_MAX_STOPS", " 5", false},
		{"STOPPER_ALLOWED_REGIONS", "", true},
		{"STOPPER_ALLOWED_REGIONS", "cn-hangzhou", true},
		{"STOPPER_ALLOWED_REGIONS", "cn-hangzhou,cn-beijing", true},
		{"STOPPER_ALLOWED_REGIONS", ",cn-hangzhou", false},
		{"STOPPER_ALLOWED_REGIONS", "cn-hangzhou,", false},
		{"STOPPER_ALLOWED_REGIONS", "cn-hangzhou ,cn-beijing", false},
		{"STOPPER_ALLOWED_REGIONS", "cn-hangzhou,\tcn-beijing", false},
		{"STOPPER_SWEEP_TAGS", "", true},
		{"STOPPER_SWEEP_TAGS", "env:prod", true},
		{"STOPPER_SWEEP_TAGS", "env:", true},
		{"STOPPER_SWEEP_TAGS", "env:prod,team:ops", true},
		{"STOPPER_SWEEP_TAGS", "env", false},
		{"STOPPER_SWEEP_TAGS", ":prod", false},
		{"STOPPER_SWEEP_TAGS", "env:prod:eu", false},
		{"STOPPER_SWEEP_TAGS", "env:prod,", false},
		{"STOPPER_SWEEP_COMMAND_NAME", "any text, even 010 or a,b", true},
		{"STOPPER_REGION_ID", "", true},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			_, err := checkEnvironment([]string{tc.name + "=" + tc.value})
			if (err == nil) != tc.ok {
				t.Fatalf("checkEnvironment = %v, want accepted %v", err, tc.ok)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tc.name+"=") {
					t.Errorf("the error does not name %s: %v", tc.name, err)
				}
				checkNoLibraryWords(t, err.Error())
				return
			}
			// Accepted: the reader takes it as the library would.
			t.Setenv(tc.name, tc.value)
			readsLikeTheLibrary(t)
		})
	}
}

// A STOPPER_* name the function does not know refuses start-up, naming
// the closest one; only STOPPER_* names are its business.
func TestUnknownVariablesAreRefusedNamingTheClosest(t *testing.T) {
	for _, tc := range []struct{ env, unknown, closest string }{
		{"STOPPER_SWEEP_OLDERTHAN=3h", "STOPPER_SWEEP_OLDERTHAN", "STOPPER_SWEEP_OLDER_THAN"},
		{"STOPPER_REGION=cn-hangzhou", "STOPPER_REGION", "STOPPER_REGION_ID"},
		{"STOPPER_DRYRUN=true", "STOPPER_DRYRUN", "STOPPER_DRY_RUN"},
		{"stopper_dry_run=true", "stopper_dry_run", "STOPPER_DRY_RUN"},
		{"STOPPER_WEBHOOK_TOKEN_PREVOUS=x", "STOPPER_WEBHOOK_TOKEN_PREVOUS", "STOPPER_WEBHOOK_TOKEN_PREVIOUS"},
		{"STOPPER_NOTIFY_URLS=https://chat.example/hook", "STOPPER_NOTIFY_URLS", "STOPPER_NOTIFY_URL"},
		{"STOPPER_SWEEP_REGION_ID=cn-hangzhou", "STOPPER_SWEEP_REGION_ID", "STOPPER_SWEEP_REGION_IDS"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			_, err := checkEnvironment([]string{"STOPPER_REGION_ID=cn-hangzhou", tc.env})
			want := "configuration: " + tc.unknown + " is not a setting of this function: did you mean " + tc.closest + "? (docs/configuration.md lists every setting)"
			if err == nil || err.Error() != want {
				t.Fatalf("error\n got %v\nwant %s", err, want)
			}
		})
	}
	// Several: the first in order is named.
	_, err := checkEnvironment([]string{"STOPPER_ZZZ=1", "STOPPER_DRYRUN=1", "STOPPER_MAX_ATTEMPT=1"})
	if err == nil || !strings.HasPrefix(err.Error(), "configuration: STOPPER_DRYRUN is not") {
		t.Fatalf("error = %v, want the first unknown name in order", err)
	}
	// Through Load as well.
	t.Setenv("STOPPER_SWEEP_OLDERTHAN", "3h")
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "did you mean STOPPER_SWEEP_OLDER_THAN?") {
		t.Fatalf("Load() = %v", err)
	}
}

func TestOtherVariablesAreNotTheFunctionsBusiness(t *testing.T) {
	warnings, err := checkEnvironment([]string{
		"PATH=/usr/bin", "HOME=/root", "STOPPER=1", "STOPPERS_X=1", "XSTOPPER_REGION_ID=x", "ECS_STOPPER_RIE=/bin/rie",
		"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI", "FC_REGION=cn-hangzhou", "AWS_REGION=us-east-1", "=odd", "NOEQUALS",
	})
	if err != nil || len(warnings) != 0 {
		t.Fatalf("checkEnvironment = %v, %v; want nothing to say", warnings, err)
	}
}

// Only STOPPER_* names are read: a LOG_LEVEL or REGION_ID meant for
// something else neither becomes a setting nor stops start-up.
func TestAVariableWithoutThePrefixIsNotRead(t *testing.T) {
	t.Setenv("LOG_LEVEL", "verbose")
	t.Setenv("DRY_RUN", "true")
	t.Setenv("REGION_ID", "cn-beijing")
	c, err := Load()
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	if c.LogLevel != "info" || c.DryRun || c.RegionId != "" {
		t.Errorf("read the unprefixed names: LogLevel %q, DryRun %v, RegionId %q", c.LogLevel, c.DryRun, c.RegionId)
	}
}

// The process sees the first of a repeated name, and so does the check.
func TestTheFirstOfARepeatedNameCounts(t *testing.T) {
	if _, err := checkEnvironment([]string{"STOPPER_DRY_RUN=true", "STOPPER_DRY_RUN=maybe"}); err != nil {
		t.Fatalf("the first value is good: %v", err)
	}
	if _, err := checkEnvironment([]string{"STOPPER_DRY_RUN=maybe", "STOPPER_DRY_RUN=true"}); err == nil {
		t.Fatal("the first value is bad")
	}
}

// A region id that is not known: within two edits of a known one it is a
// misspelling, refused; further away it is taken as a region newer than
// this list, a warning.
func TestRegionsThisVersionDoesNotKnow(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want string // the refusal's suggestion; empty: accepted
		warn string // the warning's region; empty: none
	}{
		{"STOPPER_REGION_ID=cn-hangzhou", "", ""},
		{"STOPPER_REGION_ID=cn-north-2-gov-1", "", ""},
		{"STOPPER_REGION_ID=cn-hangzou", "cn-hangzhou", ""},
		{"STOPPER_REGION_ID=cn-hangzh", "cn-hangzhou", ""},         // two edits
		{"STOPPER_REGION_ID=cn-hangz", "", "cn-hangz"},             // three
		{"STOPPER_REGION_ID=ap-southeast-9", "ap-southeast-1", ""}, // the first of a tie
		{"STOPPER_REGION_ID=xx-newland-1", "", "xx-newland-1"},
		{"STOPPER_ALLOWED_REGIONS=cn-hangzhou,xx-newland-1", "", "xx-newland-1"},
		{"STOPPER_SWEEP_REGION_IDS=xx-newland-1,cn-shangai", "cn-shanghai", ""},
	} {
		t.Run(tc.env, func(t *testing.T) {
			warnings, err := checkEnvironment([]string{tc.env})
			name, value, _ := strings.Cut(tc.env, "=")
			switch {
			case tc.want != "":
				if err == nil || !strings.HasSuffix(err.Error(), "is not an Alibaba Cloud region: did you mean "+tc.want+"?") {
					t.Fatalf("error = %v, want did you mean %s?", err, tc.want)
				}
			case err != nil:
				t.Fatalf("error = %v", err)
			case tc.warn == "":
				if len(warnings) != 0 {
					t.Fatalf("warnings = %q, want none", warnings)
				}
			default:
				want := "configuration: " + name + `="` + value + `": ` + tc.warn + " is not a region this version knows; it is used as given (regions are added over time), but check its spelling"
				if len(warnings) != 1 || warnings[0] != want {
					t.Fatalf("warnings\n got %q\nwant %q", warnings, want)
				}
			}
		})
	}
}

func TestWarningsComeBackFromLoad(t *testing.T) {
	t.Setenv("STOPPER_REGION_ID", "xx-newland-1")
	t.Setenv("STOPPER_SWEEP_REGION_IDS", "xx-newland-1,xx-newland-2")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 3 || !strings.Contains(w[0], "STOPPER_REGION_ID=") || !strings.Contains(w[2], "xx-newland-2 is not") {
		t.Fatalf("Warnings() = %q", w)
	}
	os.Unsetenv("STOPPER_REGION_ID")
	os.Unsetenv("STOPPER_SWEEP_REGION_IDS")
	if c, err := Load(); err != nil || c.Warnings() != nil {
		t.Fatalf("Load() = %q, %v; want no warnings", c.Warnings(), err)
	}
}

// A secret or a token is never shown, only its length; a long value is cut.
func TestValuesAsErrorsShowThem(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"STOPPER_WEBHOOK_SECRET", "hunter2", "(7 characters, not shown)"},
		{"STOPPER_WEBHOOK_TOKEN_PREVIOUS", "", "(0 characters, not shown)"},
		{"STOPPER_NOTIFY_SECRET", "SEC123", "(6 characters, not shown)"},
		{"STOPPER_REGION_ID", "cn-hangzhou", `"cn-hangzhou"`},
		{"STOPPER_SWEEP_TAGS", `a"b`, `"a\"b"`},
		{"STOPPER_SWEEP_COMMAND_NAME", strings.Repeat("c", 64), `"` + strings.Repeat("c", 64) + `"`},
		{"STOPPER_SWEEP_COMMAND_NAME", strings.Repeat("c", 65), `"` + strings.Repeat("c", 64) + `..."`},
	} {
		if got := shown(tc.name, tc.value); got != tc.want {
			t.Errorf("shown(%s, %q) = %s, want %s", tc.name, tc.value, got, tc.want)
		}
	}
}

// A repeated tag key is named in the start-up error, cut after 64 characters.
func TestLongKeysAreShortenedInErrors(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{strings.Repeat("k", 64), `the key "` + strings.Repeat("k", 64) + `" more`},
		{strings.Repeat("k", 65), `the key "` + strings.Repeat("k", 64) + `..." more`},
	} {
		t.Setenv("STOPPER_SWEEP_TAGS", tc.key+":a,"+tc.key+":b")
		_, err := Load()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("key of %d characters: error %v, want %s in it", len(tc.key), err, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "ab", 2},
		{"abc", "abc", 0},
		{"kitten", "sitting", 3},
		{"flaw", "lawn", 2},
		{"cn-hangzou", "cn-hangzhou", 1},
		{"ab", "ba", 2},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := editDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
	if near, d := closest("ab", nil); near != "" || d != -1 {
		t.Errorf("closest of nothing = %q, %d", near, d)
	}
	if near, d := closest("abc", []string{"abc", "abd"}); near != "abc" || d != 0 {
		t.Errorf("closest = %q, %d; want the exact match", near, d)
	}
	if near, d := closest("abd", []string{"xyz", "abc", "abe"}); near != "abc" || d != 1 {
		t.Errorf("closest = %q, %d; want the first of a tie, abc at 1", near, d)
	}
}

// Every field has a form the check knows, and every default is of its form:
// a new field is covered with nothing else to change.
func TestEveryFieldIsChecked(t *testing.T) {
	all := settings()
	if len(all) != len(variables()) || len(all) < 25 {
		t.Fatalf("%d settings, %d variables", len(all), len(variables()))
	}
	for _, s := range all {
		if s.Kind == kindUnknown {
			t.Errorf("%s has a type checkValue does not know: teach it the form", s.Name)
		}
		if s.Desc == "" {
			t.Errorf("%s has no desc tag: docs/configuration.md would say nothing of it", s.Name)
		}
		if s.Default != "" {
			if err := checkValue(s, s.Default); err != nil {
				t.Errorf("the default of %s is refused: %v", s.Name, err)
			}
		}
	}
	for _, tc := range []struct {
		v    any
		want kind
	}{
		{"", kindText}, {true, kindBool}, {int8(0), kindInt}, {int64(0), kindInt}, {0, kindInt},
		{[]string{}, kindList}, {map[string]string{}, kindPairs},
		{uint(0), kindUnknown}, {1.5, kindUnknown}, {[]int{}, kindUnknown}, {map[string]int{}, kindUnknown}, {map[int]string{}, kindUnknown},
	} {
		if got := kindOf(reflectType(tc.v)); got != tc.want {
			t.Errorf("kindOf(%T) = %d, want %d", tc.v, got, tc.want)
		}
	}
}

// Any (name, value) pair: no panic; a refusal names the variable and never
// speaks the library's words; what the check accepts, the reader reads.
func FuzzCheckEnvironment(f *testing.F) {
	for _, seed := range [][2]string{
		{"STOPPER_SWEEP_OLDER_THAN", "2hours"}, {"STOPPER_SWEEP_TAGS", "env=prod"}, {"STOPPER_REGION_ID", "cn-hangzou"},
		{"STOPPER_SWEEP_MAX_STOPS", "010"}, {"STOPPER_DRY_RUN", "T"}, {"STOPPER_ALLOWED_REGIONS", "a,,b"},
		{"STOPPER_SWEEP_OLDERTHAN", "3h"}, {"LOG_LEVEL", "x"}, {"PATH", "/bin"}, {"STOPPER_SWEEP_TAGS", "a:b:c"},
	} {
		f.Add(seed[0], seed[1])
	}
	known := map[string]bool{}
	for _, s := range settings() {
		known[s.Name] = true
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		entry := name + "=" + value
		key, _, _ := strings.Cut(entry, "=")
		_, err := checkEnvironment([]string{entry})
		if err != nil {
			if !strings.Contains(err.Error(), key) {
				t.Fatalf("the error does not name %q: %v", key, err)
			}
			checkNoLibraryWords(t, err.Error())
			return
		}
		if known[key] && !strings.ContainsRune(entry, 0) {
			t.Setenv(key, strings.TrimPrefix(entry, key+"="))
			readsLikeTheLibrary(t)
		}
	})
}

func reflectType(v any) reflect.Type { return reflect.TypeOf(v) }

// readsLikeTheLibrary checks that the reader gives the Config that
// github.com/kelseyhightower/envconfig, which the function used to call,
// gives for the same environment.
func readsLikeTheLibrary(t *testing.T) {
	t.Helper()
	var ours, library Config
	read(&ours, os.LookupEnv)
	if err := envconfig.Process(Prefix, &library); err != nil {
		t.Fatalf("the check accepted what the library refuses: %v", err)
	}
	if !reflect.DeepEqual(ours, library) {
		t.Fatalf("the reader and the library differ:\n ours    %+v\n library %+v", ours, library)
	}
}

// Every setting unset, each one set, and all set at once: the reader
// agrees with the library, defaults included.
func TestTheReaderReadsAsTheLibrary(t *testing.T) {
	readsLikeTheLibrary(t)
	values := map[kind]string{kindText: "some text", kindDuration: "90m", kindBool: "true", kindInt: "7",
		kindList: "cn-hangzhou,cn-beijing", kindPairs: "env:prod,team:"}
	for _, s := range settings() {
		t.Run(s.Name, func(t *testing.T) {
			t.Setenv(s.Name, values[s.Kind])
			readsLikeTheLibrary(t)
			t.Setenv(s.Name, "")
			if s.Kind == kindText || s.Kind == kindList || s.Kind == kindPairs {
				readsLikeTheLibrary(t) // empty: set to empty, not the default
			}
		})
	}
	for _, s := range settings() {
		t.Setenv(s.Name, values[s.Kind])
	}
	readsLikeTheLibrary(t)
}
