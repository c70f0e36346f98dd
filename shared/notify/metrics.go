package notify

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Metrics: every request's numbers — Stops (invocations a stop was sent
// to), WouldStop (invocations a dry run selected: never counted as stops),
// Failures (what could not be handled), Matched (invocations selected for a
// stop) and Refused (1 when a sweep was refused by its limit) — by action,
// and by action and region.

// DefaultNamespace is the CloudWatch namespace of EMF metrics.
const DefaultNamespace = "ecs-stopper"

// EMF writes CloudWatch embedded metric format lines (on Lambda, to
// stdout: CloudWatch Logs turns them into metrics without an agent or an
// API call). It implements stopper.Metrics.
//
// The format (docs/reference/aws-lambda.md; awsdocs/amazon-cloudwatch-user-guide
// CloudWatch_Embedded_Metric_Format_Specification.md): one JSON object per
// line whose _aws member holds Timestamp (epoch ms) and CloudWatchMetrics
// directives {Namespace, Dimensions: [[keys]], Metrics: [{Name, Unit}]},
// every dimension key and metric name a member of the root. A line holds
// one value per dimension key, so each request writes one line with its
// totals, dimensioned by Action, and one line per region it touched,
// dimensioned by Action and Region: no number is counted twice in a
// dimension set. Failures without a region (a batch item that could not
// be decoded, a refusal) are in the totals only.
//
// When the report names accounts (the function acts in several), the
// AccountId dimension is added: one line per account, dimensioned by
// Action and AccountId (an account skipped by a sweep is a failure there),
// and the region lines become one per account and region, dimensioned by
// Action, AccountId and Region. Without accounts no line names one.
type EMF struct {
	W         io.Writer
	Namespace string // default "ecs-stopper"
	Now       func() time.Time

	mu sync.Mutex
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

// emfLine is one line; Region is empty (left out) on the totals line.
type emfLine struct {
	AWS       emfMeta `json:"_aws"`
	Action    string  `json:"Action"`
	AccountId string  `json:"AccountId,omitempty"`
	Region    string  `json:"Region,omitempty"`
	Stops     int     `json:"Stops"`
	WouldStop int     `json:"WouldStop"`
	Failures  int     `json:"Failures"`
	Matched   int     `json:"Matched"`
	Refused   int     `json:"Refused"`
	Trigger   string  `json:"Trigger,omitempty"`
	RequestId string  `json:"RequestId,omitempty"`
	DryRun    bool    `json:"DryRun,omitempty"`
}

var emfMetrics = []emfMetric{{"Stops", "Count"}, {"WouldStop", "Count"}, {"Failures", "Count"}, {"Matched", "Count"}, {"Refused", "Count"}}

// counts is one scope's numbers (the request's, or one region's).
type counts struct{ stops, wouldStop, failures, matched, refused int }

// tallyPlaces counts the report by place: by region alone (account "")
// unless byAccount, then by account and region, and by account (region
// "") in accounts.
func tallyPlaces(r stopper.Report, byAccount bool) (total counts, places, accounts map[stopper.Place]*counts) {
	places, accounts = map[stopper.Place]*counts{}, map[stopper.Place]*counts{}
	in := func(account, region string, add func(*counts)) {
		if !byAccount {
			account = ""
		}
		if region != "" {
			p := stopper.Place{AccountId: account, RegionId: region}
			if places[p] == nil {
				places[p] = &counts{}
			}
			add(places[p])
		}
		if account != "" {
			p := stopper.Place{AccountId: account}
			if accounts[p] == nil {
				accounts[p] = &counts{}
			}
			add(accounts[p])
		}
	}
	for _, s := range r.Stopped {
		total.stops++
		in(s.AccountId, s.RegionId, func(c *counts) { c.stops++ })
	}
	for _, s := range r.WouldStop {
		total.wouldStop++
		in(s.AccountId, s.RegionId, func(c *counts) { c.wouldStop++ })
	}
	for _, f := range r.Failed {
		total.failures++
		in(f.AccountId, f.RegionId, func(c *counts) { c.failures++ })
	}
	if byAccount {
		for p, n := range r.MatchedAt {
			total.matched += n
			in(p.AccountId, p.RegionId, func(c *counts) { c.matched += n })
		}
	} else {
		for region, n := range r.Matched {
			total.matched += n
			in("", region, func(c *counts) { c.matched += n })
		}
	}
	if r.Refused != nil {
		total.refused = 1
	}
	return total, places, accounts
}

// sortedPlaces is the keys of m by account, then region.
func sortedPlaces(m map[stopper.Place]*counts) []stopper.Place {
	out := make([]stopper.Place, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b stopper.Place) int {
		return cmp.Or(cmp.Compare(a.AccountId, b.AccountId), cmp.Compare(a.RegionId, b.RegionId))
	})
	return out
}

// Record writes the report's lines. It never fails the request: a write
// error is dropped (stdout on Lambda does not fail).
func (m *EMF) Record(ctx context.Context, r stopper.Report) {
	defer func() { _ = recover() }()
	if m.W == nil {
		return
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	ns := cmp.Or(m.Namespace, DefaultNamespace)
	ts := now().UnixMilli()
	// CloudWatch dimension values are 1 to 1024 characters.
	action := clean(cmp.Or(r.Action, "Unknown"), 255)
	byAccount := len(r.Accounts()) > 0
	total, places, accounts := tallyPlaces(r, byAccount)
	line := func(account, region string, c counts, dims []string) emfLine {
		return emfLine{AWS: emfMeta{Timestamp: ts, CloudWatchMetrics: []emfDirective{{Namespace: ns, Dimensions: [][]string{dims}, Metrics: emfMetrics}}},
			Action: action, AccountId: account, Region: region, Stops: c.stops, WouldStop: c.wouldStop, Failures: c.failures, Matched: c.matched, Refused: c.refused,
			Trigger: clean(r.Trigger, 255), RequestId: clean(r.RequestId, 255), DryRun: r.DryRun}
	}
	var buf bytes.Buffer
	write := func(l emfLine) {
		if b, err := marshal(l); err == nil {
			buf.Write(b)
			buf.WriteByte('\n')
		}
	}
	write(line("", "", total, []string{"Action"}))
	if byAccount {
		for _, p := range sortedPlaces(accounts) {
			write(line(clean(p.AccountId, 255), "", *accounts[p], []string{"Action", "AccountId"}))
		}
		for _, p := range sortedPlaces(places) {
			write(line(clean(p.AccountId, 255), clean(p.RegionId, 255), *places[p], []string{"Action", "AccountId", "Region"}))
		}
	} else {
		for _, region := range r.Regions() {
			if c := places[stopper.Place{RegionId: region}]; c != nil {
				write(line("", clean(region, 255), *c, []string{"Action", "Region"}))
			}
		}
	}
	// One write, so that concurrent requests' lines never interleave.
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _ = m.W.Write(buf.Bytes())
}

// LogMetrics writes the same numbers as one JSON log line per request
// (msg "metrics"), for Function Compute, where SLS charts log fields.
// It implements stopper.Metrics.
type LogMetrics struct {
	Log *slog.Logger
}

// RegionMetrics is one region's numbers in a "metrics" log line.
type RegionMetrics struct {
	// AccountId is left out when the function acts in its own account only.
	AccountId string `json:"account_id,omitempty"`
	Region    string `json:"region"`
	Stops     int    `json:"stops"`
	WouldStop int    `json:"would_stop"`
	Failures  int    `json:"failures"`
	Matched   int    `json:"matched"`
}

// Record logs the report's numbers: request_id, trigger, action, dry_run,
// stops, would_stop (a dry run's selection), failures, matched, refused, and
// regions (a list of RegionMetrics, by region name; by account and region
// name, each naming its account, when the report names accounts).
func (m LogMetrics) Record(ctx context.Context, r stopper.Report) {
	defer func() { _ = recover() }()
	log := m.Log
	if log == nil {
		log = slog.Default()
	}
	byAccount := len(r.Accounts()) > 0
	total, places, _ := tallyPlaces(r, byAccount)
	byRegion := []RegionMetrics{}
	if byAccount {
		for _, p := range sortedPlaces(places) {
			c := places[p]
			byRegion = append(byRegion, RegionMetrics{AccountId: p.AccountId, Region: p.RegionId, Stops: c.stops, WouldStop: c.wouldStop, Failures: c.failures, Matched: c.matched})
		}
	} else {
		for _, region := range r.Regions() {
			if c := places[stopper.Place{RegionId: region}]; c != nil {
				byRegion = append(byRegion, RegionMetrics{Region: region, Stops: c.stops, WouldStop: c.wouldStop, Failures: c.failures, Matched: c.matched})
			}
		}
	}
	log.LogAttrs(ctx, slog.LevelInfo, "metrics", slog.String("request_id", r.RequestId), slog.String("trigger", r.Trigger),
		slog.String("action", r.Action), slog.Bool("dry_run", r.DryRun), slog.Int("stops", total.stops),
		slog.Int("would_stop", total.wouldStop), slog.Int("failures", total.failures), slog.Int("matched", total.matched), slog.Int("refused", total.refused),
		slog.Any("regions", byRegion))
}
