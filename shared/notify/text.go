package notify

import (
	"strings"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Text is a report as the plain summary chat messages carry: the title, the
// request, then one line per stopped invocation and per failure. It is for
// a terminal, so nothing is capped but what every message caps.
func Text(r stopper.Report) string {
	s := summarize(r, redactor{})
	title := s.Title
	if r.DryRun && r.Refused == nil {
		title = "ecs-stopper dry run: nothing was stopped"
	}
	lines := []string{title}
	for _, p := range compose(s, plainStyle, len(s.Stops), len(s.Failures)) {
		for _, l := range p.lines {
			if p.list {
				l = "- " + l
			}
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n") + "\n"
}
