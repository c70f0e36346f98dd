package notify

import (
	"strings"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Text is the report's summary as plain text: what a chat message says,
// without markup, the title on the first line ("Dry run: ..." for a dry
// run) and one line per invocation, every one listed (a terminal has no
// size limit). Outside text is cleaned as in messages (control characters,
// which a terminal would act on, become spaces); there is no webhook URL
// or secret to redact.
func Text(r stopper.Report) string {
	s := summarize(r, redactor{})
	var b strings.Builder
	b.WriteString(s.Title + "\n")
	for _, p := range compose(s, plainStyle, all(s)) {
		for _, l := range p.lines {
			if p.list {
				b.WriteString("  ")
			}
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
