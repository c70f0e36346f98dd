package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Compile-time checks: the notify types are the core's interfaces.
var (
	_ stopper.Notifier = (*Notifier)(nil)
	_ stopper.Metrics  = (*EMF)(nil)
	_ stopper.Metrics  = LogMetrics{}
)

// EMF lines are JSON objects, one per line: the totals dimensioned by
// Action, then one line per region dimensioned by Action and Region, every
// dimension key and metric name a root member (docs/reference/aws-lambda.md).
func TestEMF(t *testing.T) {
	refused := stopper.NewReport("fc-timer", "req-9", nil, &stopper.Error{Code: stopper.CodeSweepLimitExceeded, Message: "over the limit"})
	for _, tc := range []struct {
		name   string
		r      stopper.Report
		action string
		// per line: Region ("" for the totals), Stops, WouldStop, Failures, Matched, Refused
		lines []emfLine
	}{
		{name: "two-stop sweep", r: twoStopSweep(), action: "Sweep", lines: []emfLine{
			{Stops: 2, Failures: 1, Matched: 3},
			{Region: "cn-hangzhou", Stops: 1, Matched: 1},
			{Region: "cn-shanghai", Stops: 1, Failures: 1, Matched: 2},
		}},
		{name: "dry run counts no stops", r: dryTwoStopSweep(), action: "Sweep", lines: []emfLine{
			{WouldStop: 2, Failures: 1, Matched: 3, DryRun: true},
			{Region: "cn-hangzhou", WouldStop: 1, Matched: 1, DryRun: true},
			{Region: "cn-shanghai", WouldStop: 1, Failures: 1, Matched: 2, DryRun: true},
		}},
		{name: "refused sweep", r: refused, action: "Sweep", lines: []emfLine{{Failures: 1, Refused: 1}}},
		{name: "failed before knowing the action", r: stopper.NewReport("direct", "req-3", nil, stopper.AsError(stopper.Invalid("InvokeId", "bad"))),
			action: "Unknown", lines: []emfLine{{Failures: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			m := &EMF{W: &out, Now: func() time.Time { return testNow }}
			m.Record(context.Background(), tc.r)
			raw := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(raw) != len(tc.lines) {
				t.Fatalf("%d lines, want %d:\n%s", len(raw), len(tc.lines), out.String())
			}
			for i, line := range raw {
				var root map[string]any
				if err := json.Unmarshal([]byte(line), &root); err != nil {
					t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
				}
				var l emfLine
				if err := json.Unmarshal([]byte(line), &l); err != nil {
					t.Fatal(err)
				}
				want := tc.lines[i]
				if l.Region != want.Region || l.Stops != want.Stops || l.WouldStop != want.WouldStop || l.Failures != want.Failures ||
					l.Matched != want.Matched || l.Refused != want.Refused || l.DryRun != want.DryRun || l.Action != tc.action || l.Trigger != tc.r.Trigger || l.RequestId != tc.r.RequestId {
					t.Errorf("line %d = %s", i, line)
				}
				aws := l.AWS
				if aws.Timestamp != testNow.UnixMilli() || len(aws.CloudWatchMetrics) != 1 {
					t.Fatalf("line %d: _aws = %+v", i, aws)
				}
				d := aws.CloudWatchMetrics[0]
				wantDims := "Action"
				if want.Region != "" {
					wantDims = "Action,Region"
				}
				if d.Namespace != DefaultNamespace || len(d.Dimensions) != 1 || strings.Join(d.Dimensions[0], ",") != wantDims {
					t.Errorf("line %d: directive %+v", i, d)
				}
				// Every dimension key and metric name is a root member.
				for _, key := range d.Dimensions[0] {
					if _, ok := root[key].(string); !ok {
						t.Errorf("line %d: dimension %s is not a root string member", i, key)
					}
				}
				var names []string
				for _, metric := range d.Metrics {
					names = append(names, metric.Name+"/"+metric.Unit)
					if _, ok := root[metric.Name].(float64); !ok {
						t.Errorf("line %d: metric %s is not a root number", i, metric.Name)
					}
				}
				if got := strings.Join(names, " "); got != "Stops/Count WouldStop/Count Failures/Count Matched/Count Refused/Count" {
					t.Errorf("metrics %s", got)
				}
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

// Metrics never fail (nor panic on) the request.
func TestMetricsNeverFail(t *testing.T) {
	(&EMF{W: failingWriter{}}).Record(context.Background(), twoStopSweep())
	(&EMF{}).Record(context.Background(), twoStopSweep())
	var out bytes.Buffer
	(&EMF{W: &out, Namespace: "custom"}).Record(context.Background(), stopper.Report{})
	if !strings.Contains(out.String(), `"Namespace":"custom"`) || !strings.Contains(out.String(), `"Action":"Unknown"`) {
		t.Fatalf("empty report: %s", out.String())
	}
	LogMetrics{Log: slog.New(slog.DiscardHandler)}.Record(context.Background(), stopper.Report{})
}

// On FC the numbers are fields of one "metrics" log line per request; a
// dry run's selection is would_stop, never stops.
func TestLogMetrics(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		var logs bytes.Buffer
		LogMetrics{Log: slog.New(slog.NewJSONHandler(&logs, nil))}.Record(context.Background(), sweepReport(dryRun))
		var line struct {
			Msg       string `json:"msg"`
			RequestId string `json:"request_id"`
			Trigger   string `json:"trigger"`
			Action    string `json:"action"`
			DryRun    bool   `json:"dry_run"`
			Stops     int    `json:"stops"`
			WouldStop *int   `json:"would_stop"`
			Failures  int    `json:"failures"`
			Matched   int    `json:"matched"`
			Refused   *int   `json:"refused"`
			Regions   []RegionMetrics
		}
		if strings.Count(logs.String(), "\n") != 1 {
			t.Fatalf("want one line: %s", logs.String())
		}
		if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		stops, wouldStop := 2, 0
		if dryRun {
			stops, wouldStop = 0, 2
		}
		if line.Msg != "metrics" || line.RequestId != "c0ffee00-1d2e-4f50-8a6b-7c8d9e0f1a2b" || line.Trigger != "fc-timer" || line.Action != "Sweep" ||
			line.DryRun != dryRun || line.Stops != stops || line.WouldStop == nil || *line.WouldStop != wouldStop ||
			line.Failures != 1 || line.Matched != 3 || line.Refused == nil || *line.Refused != 0 || len(line.Regions) != 2 ||
			line.Regions[1] != (RegionMetrics{Region: "cn-shanghai", Stops: stops / 2, WouldStop: wouldStop / 2, Failures: 1, Matched: 2}) {
			t.Fatalf("dry run %v: line = %+v\n%s", dryRun, line, logs.String())
		}
	}
}
