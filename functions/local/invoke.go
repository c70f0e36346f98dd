package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/notify"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// invoke runs the function once on an event file, as a runtime would: the
// answer on stdout (its JSON, or with -output text the plain summary), logs
// on stderr, exit 0 only for a success. Against a real account it first
// says which, and needs -yes or -dry-run (guard).
func invoke(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	event := fs.String("event", "", "event file (JSON), e.g. events/direct-stop.json")
	timeout := fs.Duration("timeout", 60*time.Second, "the function's deadline, as the platform's timeout")
	output := choiceFlag{value: outputJSON, choices: []string{outputJSON, outputText}}
	fs.Var(&output, "output", "what stdout shows (the `format`): json (the answer) or text (the summary chat notifications carry, one line per invocation)")
	var bf backendFlags
	bf.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *event == "" {
		fmt.Fprintln(stderr, "local invoke: -event FILE is required (see events/)")
		return 2
	}
	payload, err := os.ReadFile(*event)
	if err != nil {
		fmt.Fprintln(stderr, "local invoke:", err)
		return 2
	}
	log := newLogger(stderr)
	b, err := bf.start(log)
	if err != nil {
		fmt.Fprintln(stderr, "local invoke:", err)
		return 2
	}
	defer b.stop()
	if b.guard(ctx, "invoke", &bf, stderr) != nil {
		return 2
	}
	h, err := b.handler(log)
	if err != nil {
		fmt.Fprintln(stderr, "local invoke:", err)
		return 2
	}
	rec := &reportRecorder{next: h.Function.Metrics}
	h.Function.Metrics = rec
	if b.cfg.WebhookSecret != "" {
		signed, didSign, err := signWebhookEvent(payload, b.cfg.WebhookSecret, time.Now())
		if err != nil {
			fmt.Fprintln(stderr, "local invoke:", err)
			return 2
		}
		if didSign {
			log.Info("local: signed the unsigned webhook sample with the configured secret")
			payload = signed
		}
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	requestID := "local-" + randomHex(8)
	res, err := h.Invoke(ctx, requestID, payload)
	if err != nil {
		// A transient failure: the platform would count a function error and retry.
		e := stopper.AsError(err)
		if output.value == outputText {
			fmt.Fprintln(stdout, oneLine(e.Code+": "+e.Message))
		} else {
			out, _ := json.Marshal(e.Answer(requestID))
			fmt.Fprintf(stdout, "%s\n", out)
		}
		fmt.Fprintf(stderr, "local invoke: function error (transient, the platform would retry): %s\n", e)
		return 1
	}
	logAfterStops(ctx, log, b.emu, bf.modes.stopMode.value, rec.report)
	if output.value == outputText && rec.report != nil {
		fmt.Fprintln(stdout, strings.TrimRight(notify.Text(*rec.report), "\n"))
	} else {
		fmt.Fprintf(stdout, "%s\n", res.Payload)
	}
	if line := b.refusal("invoke", rec.report); line != "" {
		fmt.Fprintln(stderr, line)
		return 2
	}
	if res.Failure != nil {
		fmt.Fprintf(stderr, "local invoke: failed: %s\n", res.Failure)
		return 1
	}
	return 0
}

// oneLine folds every run of white space, line breaks included, into one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
