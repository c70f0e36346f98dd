package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// refuse is the one form of every start-up error about a value: the
// variable, its value, what is wrong, and what to give instead, with an
// example.
func refuse(name, value, problem, fix string) error {
	return fmt.Errorf("configuration: %s=%s %s: %s", name, shown(name, value), problem, fix)
}

// shown is a value as an error shows it: quoted and cut short, or, for a
// secret or a token, only its length.
func shown(name, value string) string {
	if strings.Contains(name, "SECRET") || strings.Contains(name, "TOKEN") {
		return fmt.Sprintf("(%d characters, not shown)", len(value))
	}
	return strconv.Quote(shorten(value))
}

// shorten keeps an over-long value from filling the start-up error.
func shorten(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "..."
}

// checkEnvironment checks the raw value of every STOPPER_* variable in
// environ (KEY=value entries) before the reader parses it, so that every
// refusal is in this package's words, and refuses names it does not know.
// It returns what start-up should warn about.
func checkEnvironment(environ []string) ([]string, error) {
	all := settings()
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := env[k]; !dup { // the process sees the first of a repeated name
			env[k] = v
		}
	}
	if err := unknownVariables(env, all); err != nil {
		return nil, err
	}
	var warnings []string
	for _, s := range all {
		v, ok := env[s.Name]
		if !ok {
			continue
		}
		if err := checkValue(s, v); err != nil {
			return nil, err
		}
		if strings.Contains(s.Bare, "REGION") {
			w, err := checkRegions(s, v)
			if err != nil {
				return nil, err
			}
			warnings = append(warnings, w...)
		}
	}
	return warnings, nil
}

// unknownVariables refuses a STOPPER_* name (in any case) that is no
// setting, naming the closest one: a misspelt setting would otherwise be
// silently ignored.
func unknownVariables(env map[string]string, all []setting) error {
	var known, unknown []string
	for _, s := range all {
		known = append(known, s.Name)
	}
	for k := range env {
		if strings.HasPrefix(strings.ToUpper(k), Prefix+"_") && !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	near, _ := closest(strings.ToUpper(unknown[0]), known)
	return fmt.Errorf("configuration: %s is not a setting of this function: did you mean %s? (docs/configuration.md lists every setting)", unknown[0], near)
}

// checkValue refuses a value that is not of its setting's form.
func checkValue(s setting, v string) error {
	switch s.Kind {
	case kindDuration:
		if _, err := time.ParseDuration(v); err != nil {
			return refuse(s.Name, v, "is not a duration", "give a number and a unit, such as 2h, 90m or 45s")
		}
	case kindBool:
		if _, err := strconv.ParseBool(v); err != nil {
			return refuse(s.Name, v, "is not true or false", "give true or false, such as true")
		}
	case kindInt:
		example := cmp.Or(s.Default, "10")
		if !wholeNumber(v) {
			return refuse(s.Name, v, "is not a whole number", "give digits only, with no leading zero, unit or separator, such as "+example)
		}
		if _, err := strconv.ParseInt(v, 10, s.Bits); err != nil {
			return refuse(s.Name, v, "is too large a number", "give a smaller whole number, such as "+example)
		}
	case kindList:
		if strings.TrimSpace(v) == "" {
			return nil // an empty list
		}
		for _, item := range strings.Split(v, ",") {
			if item == "" || strings.TrimSpace(item) != item {
				return refuse(s.Name, v, "is not a comma-separated list", "give items separated by commas, with no spaces or empty items, such as cn-hangzhou,cn-beijing")
			}
		}
	case kindPairs:
		return checkPairs(s, v)
	}
	return nil
}

// wholeNumber reports whether v is an optional sign and decimal digits
// with no leading zero: the reader would take 010 as octal 8 and 0x10 as
// 16, which nobody writing a count means.
func wholeNumber(v string) bool {
	digits := strings.TrimLeft(v, "+-")
	if len(v)-len(digits) > 1 || digits == "" || (digits[0] == '0' && len(digits) > 1) {
		return false
	}
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// checkPairs refuses a key:value,key:value list that is malformed or gives
// a key twice (the reader would keep the last; no invocation carries two
// values of one key).
func checkPairs(s setting, v string) error {
	if strings.TrimSpace(v) == "" {
		return nil // no pairs
	}
	seen := map[string]bool{}
	for _, pair := range strings.Split(v, ",") {
		k, _, _ := strings.Cut(pair, ":")
		if strings.Count(pair, ":") != 1 || k == "" {
			return refuse(s.Name, v, "is not a list of key:value pairs", "give key:value,key:value (an empty value matches any value), such as env:prod,team:ops")
		}
		if seen[k] {
			return refuse(s.Name, v, fmt.Sprintf("gives the key %q more than once", shorten(k)), "give each key once, such as env:prod,team:ops")
		}
		seen[k] = true
	}
	return nil
}

// closest is the candidate fewest single-character edits (insertions,
// deletions, substitutions) away from word, the first of a tie, and how
// many edits that is.
func closest(word string, candidates []string) (string, int) {
	best, bestDistance := "", -1
	for _, c := range candidates {
		if d := editDistance(word, c); bestDistance < 0 || d < bestDistance {
			best, bestDistance = c, d
		}
	}
	return best, bestDistance
}

// editDistance is the Levenshtein distance between a and b, byte by byte.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
