package main

import (
	"context"
	"log/slog"

	"github.com/ecs-stopper/stopper/shared/emulator"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Output formats of invoke (-output).
const (
	outputJSON = "json" // the answer, as the function returns it
	outputText = "text" // the plain summary chat notifications carry
)

// reportRecorder keeps the report of the request it records and hands it
// on to the function's own metrics: the core builds one report per request
// (stopper.Function.Finish), and -output text prints it.
type reportRecorder struct {
	next   stopper.Metrics
	report *stopper.Report
}

func (r *reportRecorder) Record(ctx context.Context, report stopper.Report) {
	r.report = &report
	if r.next != nil {
		r.next.Record(ctx, report)
	}
}

// logAfterStops writes, for each invocation the request stopped, what the
// embedded emulator holds of its instances right after the answer: the one
// place where the stop modes differ at once (documented: running instances
// stay Running; kill: they are Stopping), which the answer's counts, taken
// before the stop, cannot show.
func logAfterStops(ctx context.Context, log *slog.Logger, emu *emulator.Server, stopMode string, r *stopper.Report) {
	if emu == nil || r == nil {
		return
	}
	for _, s := range r.Stopped {
		inv, ok := emu.Invocation(s.RegionId, s.InvokeId)
		if !ok {
			continue
		}
		states := map[string]int{}
		for _, in := range inv.InvokeInstances.InvokeInstance {
			states[in.InvocationStatus]++
		}
		log.LogAttrs(ctx, slog.LevelInfo, "local: after the stop",
			slog.String("stop_mode", stopMode), slog.String("region_id", s.RegionId), slog.String("invoke_id", s.InvokeId),
			slog.String("invocation_status", inv.InvocationStatus), slog.Any("instances", states))
	}
}
