package notify

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// FormatSlack is a Slack incoming webhook's message of blocks.
const FormatSlack = "slack"

// slack posts to a Slack incoming webhook
// (docs/reference/chat-services.md): blocks with a fallback text, both
// mrkdwn, unsigned, answered HTTP 200 with the body "ok".
type slack struct{}

func init() { register(slack{}) }

func (slack) name() string    { return FormatSlack }
func (slack) service() string { return "Slack" }
func (slack) hosts() []string { return []string{"hooks.slack.com"} }

const slackHookPath = "/services/"

func (slack) checkURL(u *url.URL, shown string) error {
	if !strings.HasPrefix(u.Path, slackHookPath) || len(u.Path) == len(slackHookPath) {
		return fmt.Errorf("STOPPER_NOTIFY_URL %s is not a Slack incoming webhook (https://hooks.slack.com/services/…): copy it whole from the app's Incoming Webhooks page", shown)
	}
	return nil
}

// redactPath: /services/T…/B…/… is the secret, whole and each segment.
func (slack) redactPath(u *url.URL) (string, []string) {
	rest := strings.TrimPrefix(u.Path, slackHookPath)
	return slackHookPath + redacted, append([]string{rest}, strings.Split(rest, "/")...)
}

// rateLimit: about one a second per webhook, with short bursts
// (api.slack.com/docs/rate-limits): 3, then one a second.
func (slack) rateLimit() rateLimit {
	return rateLimit{burst: 3, every: time.Second, said: "about 1 message a second"}
}

// Size limits, each at or below Slack's: a section block's text is at
// most 3000 characters, a header's 150, a message at most 50 blocks (Block
// Kit reference, api.slack.com/reference/block-kit/blocks); messages whose
// blocks total about 13,000 characters are refused with
// msg_blocks_too_long although no limit says so
// (github.com/slackapi/bolt-js/issues/2509), hence 12,000 in all.
const (
	slackMaxSection   = 3000
	slackMaxHeader    = 150
	slackMaxBlocks    = 50
	slackMaxBlockText = 12000
	slackMaxFallback  = 500
)

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type string    `json:"type"`
	Text slackText `json:"text"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Slack mrkdwn: &, < and > are escaped as the documentation says
// (api.slack.com/reference/surfaces/formatting#escaping), which keeps
// <url|text> links, <!here> and <@U…> mentions out; emphasis (*, _, ~) and
// code (`) have no escape, so they become look-alikes.
var slackMarkup = markup{lookalike: map[rune]rune{'*': '＊', '~': '～', '`': '\''},
	entity: map[rune]string{'&': "&amp;", '<': "&lt;", '>': "&gt;"}, underscore: true}

var slackStyle = style{
	code: func(s string) string {
		if s == "" {
			return ""
		}
		return "`" + slackMarkup.escape(s) + "`"
	},
	text: slackMarkup.escape,
	bold: func(s string) string { return "*" + s + "*" },
}

// slackFallbackStyle is the fallback's: escaped, without markup.
var slackFallbackStyle = style{code: slackMarkup.escape, text: slackMarkup.escape, bold: same}

func (slack) render(d draft) ([]byte, error) {
	return fit(d.summary(), func(s summary, n shown) ([]byte, bool) {
		m := slackMessage{Text: clipUTF16(s.Title+". "+compose(s, slackFallbackStyle, shown{})[0].lines[0], slackMaxFallback),
			Blocks: []slackBlock{{Type: "header", Text: slackText{Type: "plain_text", Text: clipUTF16(s.Title, slackMaxHeader)}}}}
		total := utf16Len(m.Blocks[0].Text.Text)
		section := func(text string) {
			m.Blocks = append(m.Blocks, slackBlock{Type: "section", Text: slackText{Type: "mrkdwn", Text: text}})
			total += utf16Len(text)
		}
		// Parts packed into as few sections as fit: a blank line between
		// parts, one line per list item.
		var cur string
		for _, p := range compose(s, slackStyle, n) {
			for i, l := range p.lines {
				if p.list {
					l = "• " + l
				}
				l = clipUTF16(l, slackMaxSection)
				sep := "\n"
				if i == 0 {
					sep = "\n\n"
				}
				switch {
				case cur == "":
					cur = l
				case utf16Len(cur)+utf16Len(sep)+utf16Len(l) <= slackMaxSection:
					cur += sep + l
				default:
					section(cur)
					cur = l
				}
			}
		}
		if cur != "" {
			section(cur)
		}
		body, err := marshal(m)
		return body, err == nil && len(m.Blocks) <= slackMaxBlocks && total <= slackMaxBlockText
	})
}

// utf16Len counts characters as Slack does (as JavaScript does).
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// clipUTF16 cuts s to at most max UTF-16 code units, ending in an ellipsis
// when cut. The text is escaped already, so a cut never splits one of the
// escaper's entities (&amp;, &lt;, &gt;): half of one would leave a bare &.
func clipUTF16(s string, max int) string {
	if utf16Len(s) <= max {
		return s
	}
	n, cut := 0, 0
	for cut < len(s) {
		r, size := utf8.DecodeRuneInString(s[cut:])
		if n+utf16.RuneLen(r) > max-1 {
			break
		}
		n += utf16.RuneLen(r)
		cut += size
	}
	if amp := strings.LastIndexByte(s[:cut], '&'); amp >= 0 {
		for _, entity := range []string{"&amp;", "&lt;", "&gt;"} {
			if strings.HasPrefix(s[amp:], entity) && amp+len(entity) > cut {
				cut = amp
				break
			}
		}
	}
	return s[:cut] + "…"
}

// check: Slack answers HTTP 200 with the body "ok" when it took the
// message, and names its refusals in the body.
func (slack) check(a reply) string {
	text := strings.TrimSpace(string(a.body))
	if a.status != http.StatusOK || text != "ok" {
		return a.httpFailure() + slackHint(text)
	}
	return ""
}

// slackHint names the setting behind a refusal: 403 action_prohibited,
// 404 channel_not_found, 410 channel_is_archived and the like
// (docs/reference/chat-services.md) mean the webhook is gone.
func slackHint(answer string) string {
	switch answer {
	case "action_prohibited", "channel_not_found", "channel_is_archived", "no_service", "invalid_token", "no_team", "team_disabled":
		return " (the webhook was revoked or its channel is gone: create a new incoming webhook and set STOPPER_NOTIFY_URL)"
	}
	return ""
}
