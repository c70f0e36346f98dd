package main

import (
	"context"

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
