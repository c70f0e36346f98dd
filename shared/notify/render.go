package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Size limits, each below the service's own:
//   - DingTalk rejects bodies over 20000 bytes: errcode 460101 "message too
//     long, exceed 20000 bytes" / "body 大小不合法; 请保持大小在 20000bytes 以内"
//     (reported in github.com/Le0nsec/SecCrawler/issues/12 and
//     github.com/feiyu563/PrometheusAlert/issues/318; older answers said
//     101002 "message is too long": timonwong/prometheus-webhook-dingtalk#30).
//   - Lark: the request body must not exceed 20 KB (docs/reference/chat-services.md;
//     error 9499 Bad Request otherwise).
//   - Slack: a section block's text is at most 3000 characters, a header's
//     150, a message at most 50 blocks (Block Kit reference,
//     api.slack.com/reference/block-kit/blocks); messages whose blocks total
//     about 13,000 characters are refused with msg_blocks_too_long although
//     no limit says so (github.com/slackapi/bolt-js/issues/2509), hence
//     12,000 in all.
const (
	dingTalkMaxBody   = 19000
	larkMaxBody       = 19000
	larkSignReserve   = 128 // "timestamp" and "sign" members, added when sending
	slackMaxSection   = 3000
	slackMaxHeader    = 150
	slackMaxBlocks    = 50
	slackMaxBlockText = 12000
	slackMaxFallback  = 500
)

// style is how a format marks up the message's parts. Outside text goes
// through code or text, which escape it for the format; the message's own
// words (counts, labels) are written as they are, and bold wraps them.
type style struct {
	code func(string) string // outside ids, names, codes, rules
	text func(string) string // outside free text
	bold func(string) string // own words
}

// part is a paragraph, or a list of items.
type part struct {
	list  bool
	lines []string
}

// shown is how many stops, dry-run selections and failures a rendering
// lists (the rest are "and N more").
type shown struct{ stops, wouldStops, failures int }

// all lists everything, for plain text without a size limit.
func all(s summary) shown { return shown{len(s.Stops), len(s.WouldStops), len(s.Failures)} }

// compose lays the summary out, with at most n.stops stops, n.wouldStops
// dry-run selections and n.failures failures. The request line comes
// first, then the notice of suppressed notifications, if any.
func compose(s summary, st style, n shown) []part {
	var parts []part
	para := func(line string) {
		if line != "" {
			parts = append(parts, part{lines: []string{line}})
		}
	}
	h := st.bold(st.text(s.Action))
	if s.Action == "" {
		h = "Request"
	}
	if s.Trigger != "" {
		h += " (trigger " + st.code(s.Trigger) + ")"
	}
	if s.RequestId != "" {
		h += ", request " + st.code(s.RequestId)
	}
	para(h)
	para(s.Notice)
	if s.RefusedCode != "" || s.RefusedMessage != "" {
		refused := "Nothing was stopped."
		if len(s.Stops) > 0 {
			refused = "A sweep was refused and stopped nothing."
		}
		para(st.bold(refused) + " " + st.code(s.RefusedCode) + ": " + st.text(s.RefusedMessage))
	}
	stops := func(lines []stopLine, n int) {
		var items []string
		for _, l := range lines[:n] {
			item := st.code(l.InvokeId)
			if l.CommandName != "" {
				item += " (" + st.code(l.CommandName) + ")"
			}
			if l.RegionId != "" {
				item += " in " + st.code(l.RegionId)
			}
			item += ": " + l.counts()
			if l.Why != "" {
				item += "; why: " + st.code(l.Why)
			}
			items = append(items, item)
		}
		if rest := len(lines) - n; rest > 0 {
			items = append(items, more(rest, "invocations"))
		}
		parts = append(parts, part{list: true, lines: items})
	}
	if len(s.Stops) > 0 {
		para(fmt.Sprintf("Instances: %d pending (cancelled), %d running (possibly killed)", s.Pending, s.Running))
		stops(s.Stops, n.stops)
	}
	if len(s.WouldStops) > 0 {
		para(st.bold("Dry run.") + " " + fmt.Sprintf("Instances: %d pending (would cancel), %d running (would possibly kill)", s.WouldPending, s.WouldRunning))
		stops(s.WouldStops, n.wouldStops)
	}
	if len(s.Failures) > 0 {
		para(st.bold(fmt.Sprintf("Failed (%d)", len(s.Failures))))
		var items []string
		for _, f := range s.Failures[:n.failures] {
			item := ""
			if f.Where != "" {
				item = st.code(f.Where) + ": "
			}
			item += st.code(f.Code)
			if f.Message != "" {
				item += " " + st.text(f.Message)
			}
			items = append(items, item)
		}
		if rest := len(s.Failures) - n.failures; rest > 0 {
			items = append(items, more(rest, "failures"))
		}
		parts = append(parts, part{list: true, lines: items})
	}
	if s.Matched != "" {
		para("Matched: " + st.text(s.Matched))
	}
	return parts
}

// fit renders with as many stops, dry-run selections and failures as fit
// the format's limits (at most maxStops, maxStops and maxFailures),
// dropping list items from the longest list first; the counts and "and N
// more" always remain.
func fit(s summary, render func(s summary, n shown) ([]byte, bool)) ([]byte, error) {
	n := shown{min(len(s.Stops), maxStops), min(len(s.WouldStops), maxStops), min(len(s.Failures), maxFailures)}
	less := func(k int) int { return max(0, min(k-1, k/2+1)) }
	for {
		b, ok := render(s, n)
		if ok {
			return b, nil
		}
		switch {
		case n == shown{}:
			return nil, errors.New("the message does not fit the service's size limit")
		case n.stops >= n.wouldStops && n.stops >= n.failures:
			n.stops = less(n.stops)
		case n.wouldStops >= n.failures:
			n.wouldStops = less(n.wouldStops)
		default:
			n.failures = less(n.failures)
		}
	}
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// DingTalk: a markdown message (docs/reference/chat-services.md). Outside
// identifiers sit in code spans; all outside text is escaped
// (dingTalkMarkup), code spans included, since DingTalk documents no code
// span.

type dingTalkMessage struct {
	MsgType  string           `json:"msgtype"`
	Markdown dingTalkMarkdown `json:"markdown"`
}

type dingTalkMarkdown struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

var dingTalkStyle = style{
	code: func(s string) string {
		if s == "" {
			return ""
		}
		return "`" + dingTalkMarkup.escape(s) + "`"
	},
	text: dingTalkMarkup.escape,
	bold: func(s string) string { return "**" + s + "**" },
}

func renderDingTalk(s summary) ([]byte, error) {
	return fit(s, func(s summary, n shown) ([]byte, bool) {
		var b strings.Builder
		b.WriteString("#### " + s.Title + "\n\n")
		for _, p := range compose(s, dingTalkStyle, n) {
			for _, l := range p.lines {
				if p.list {
					b.WriteString("- ")
				}
				b.WriteString(l + "\n")
			}
			b.WriteString("\n")
		}
		body, err := marshal(dingTalkMessage{MsgType: "markdown",
			Markdown: dingTalkMarkdown{Title: s.Title, Text: strings.TrimRight(b.String(), "\n")}})
		return body, err == nil && len(body) <= dingTalkMaxBody
	})
}

// Lark: a rich text ("post") message, one paragraph per line, each a
// single "text" element: no "a", "at" or "img" element is ever made, so
// outside text cannot become a link, mention or image. The body shape
// follows the official guide's post example
// (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot). The first
// paragraph starts with "ecs-stopper", for bots secured by keyword.

type larkMessage struct {
	Timestamp string      `json:"timestamp,omitempty"`
	Sign      string      `json:"sign,omitempty"`
	MsgType   string      `json:"msg_type"`
	Content   larkContent `json:"content"`
}

type larkContent struct {
	Post map[string]larkPost `json:"post"`
}

type larkPost struct {
	Title   string           `json:"title"`
	Content [][]larkTextNode `json:"content"`
}

type larkTextNode struct {
	Tag  string `json:"tag"`
	Text string `json:"text"`
}

func same(s string) string { return s }

// plainStyle is plain text for a terminal (Text): clean is all it needs.
var plainStyle = style{code: same, text: same, bold: same}

var larkStyle = style{code: larkMarkup.escape, text: larkMarkup.escape, bold: same}

// larkKeyword starts the first paragraph: a keyword-secured bot may not
// look for its keyword in the title.
const larkKeyword = "ecs-stopper: "

// renderLark returns the message without its signature (added per attempt).
func renderLark(s summary, signed bool) (larkMessage, error) {
	limit := larkMaxBody
	if signed {
		limit -= larkSignReserve
	}
	var m larkMessage
	_, err := fit(s, func(s summary, n shown) ([]byte, bool) {
		var paras [][]larkTextNode
		for i, p := range compose(s, larkStyle, n) {
			for _, l := range p.lines {
				if p.list {
					l = "• " + l
				}
				if i == 0 {
					l = larkKeyword + l
				}
				paras = append(paras, []larkTextNode{{Tag: "text", Text: l}})
			}
		}
		m = larkMessage{MsgType: "post", Content: larkContent{Post: map[string]larkPost{
			"zh_cn": {Title: s.Title, Content: paras}}}}
		body, err := marshal(m)
		return body, err == nil && len(body) <= limit
	})
	return m, err
}

// Slack: blocks with a fallback text (docs/reference/chat-services.md),
// both mrkdwn: outside text is escaped (slackMarkup) in both.

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

func renderSlack(s summary) ([]byte, error) {
	return fit(s, func(s summary, n shown) ([]byte, bool) {
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

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// clipUTF16 cuts s to at most max UTF-16 code units (Slack counts
// characters as JavaScript does), ending in an ellipsis when cut.
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
	return s[:cut] + "…"
}
