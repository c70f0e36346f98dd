package notify

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"log/slog"
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

func tally(r stopper.Report) (total counts, regions map[string]*counts) {
	regions = map[string]*counts{}
	in := func(region string) *counts {
		c := regions[region]
		if c == nil {
			c = &counts{}
			regions[region] = c
		}
		return c
	}
	for _, s := range r.Stopped {
		total.stops++
		if s.RegionId != "" {
			in(s.RegionId).stops++
		}
	}
	for _, s := range r.WouldStop {
		total.wouldStop++
		if s.RegionId != "" {
			in(s.RegionId).wouldStop++
		}
	}
	for _, f := range r.Failed {
		total.failures++
		if f.RegionId != "" {
			in(f.RegionId).failures++
		}
	}
	for region, n := range r.Matched {
		total.matched += n
		if region != "" {
			in(region).matched += n
		}
	}
	if r.Refused != nil {
		total.refused = 1
	}
	return total, regions
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
	total, regions := tally(r)
	line := func(region string, c counts, dims []string) emfLine {
		return emfLine{AWS: emfMeta{Timestamp: ts, CloudWatchMetrics: []emfDirective{{Namespace: ns, Dimensions: [][]string{dims}, Metrics: emfMetrics}}},
			Action: action, Region: region, Stops: c.stops, WouldStop: c.wouldStop, Failures: c.failures, Matched: c.matched, Refused: c.refused,
			Trigger: clean(r.Trigger, 255), RequestId: clean(r.RequestId, 255), DryRun: r.DryRun}
	}
	var buf bytes.Buffer
	write := func(l emfLine) {
		if b, err := marshal(l); err == nil {
			buf.Write(b)
			buf.WriteByte('\n')
		}
	}
	write(line("", total, []string{"Action"}))
	for _, region := range r.Regions() {
		if c := regions[region]; c != nil {
			write(line(clean(region, 255), *c, []string{"Action", "Region"}))
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
	Region    string `json:"region"`
	Stops     int    `json:"stops"`
	WouldStop int    `json:"would_stop"`
	Failures  int    `json:"failures"`
	Matched   int    `json:"matched"`
}

// Record logs the report's numbers: request_id, trigger, action, dry_run,
// stops, would_stop (a dry run's selection), failures, matched, refused, and
// regions (a list of RegionMetrics, by region name).
func (m LogMetrics) Record(ctx context.Context, r stopper.Report) {
	defer func() { _ = recover() }()
	log := m.Log
	if log == nil {
		log = slog.Default()
	}
	total, regions := tally(r)
	byRegion := []RegionMetrics{}
	for _, region := range r.Regions() {
		if c := regions[region]; c != nil {
			byRegion = append(byRegion, RegionMetrics{Region: region, Stops: c.stops, WouldStop: c.wouldStop, Failures: c.failures, Matched: c.matched})
		}
	}
	log.LogAttrs(ctx, slog.LevelInfo, "metrics", slog.String("request_id", r.RequestId), slog.String("trigger", r.Trigger),
		slog.String("action", r.Action), slog.Bool("dry_run", r.DryRun), slog.Int("stops", total.stops),
		slog.Int("would_stop", total.wouldStop), slog.Int("failures", total.failures), slog.Int("matched", total.matched), slog.Int("refused", total.refused),
		slog.Any("regions", byRegion))
}
