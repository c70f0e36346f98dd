package notify

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Outside text (command names, tag values, request fields, API messages
// that echo what a request sent) reaches a chat message only through its
// format's escaper (a markup, in the format's file), after clean has made
// it one line. Each turns the characters its format reads as markup into
// look-alikes that mean nothing there, so that no link, image, mention, heading, emphasis or HTML tag can
// be formed from outside text, whatever the client's renderer makes of
// escapes: DingTalk documents no escape at all, Slack only &amp; &lt; &gt;.
// Look-alikes keep the text readable: [x](y) shows as ［x］(y).

// defang breaks "scheme://" so that no client turns an outside URL into a
// live link: https://evil.example shows as https：//evil.example.
func defang(s string) string { return strings.ReplaceAll(s, "://", "：//") }

// markup is what one format reads as markup in text: runes turned into
// look-alikes, runes written as entities, and whether '_' is emphasis.
type markup struct {
	lookalike  map[rune]rune
	entity     map[rune]string
	underscore bool
}

// escape defangs s's URLs and writes each of its markup runes as a
// look-alike (or an entity); an underscore that could open or close
// emphasis (not between two letters or digits: nightly_backup stays as it
// is) becomes '＿'. Look-alikes are one rune each, so the length clean
// capped stays.
func (m markup) escape(s string) string {
	s = defang(s)
	var b strings.Builder
	b.Grow(len(s))
	prev := rune(-1)
	for i, r := range s {
		switch {
		case r == '_' && m.underscore:
			next, _ := utf8.DecodeRuneInString(s[i+1:])
			if wordRune(prev) && wordRune(next) {
				b.WriteRune(r)
			} else {
				b.WriteRune('＿')
			}
		case m.entity[r] != "":
			b.WriteString(m.entity[r])
		case m.lookalike[r] != 0:
			b.WriteRune(m.lookalike[r])
		default:
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

func wordRune(r rune) bool { return r >= 0 && (unicode.IsLetter(r) || unicode.IsDigit(r)) }
