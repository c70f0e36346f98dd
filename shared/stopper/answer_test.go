package stopper

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// flags says which of an answer's Stopped and WouldStop it carries, and
// their values: "Stopped=true", "WouldStop=false", "neither" or "both".
func flags(stopped, wouldStop *bool) string {
	switch {
	case stopped != nil && wouldStop != nil:
		return "both"
	case stopped != nil:
		return fmt.Sprintf("Stopped=%v", *stopped)
	case wouldStop != nil:
		return fmt.Sprintf("WouldStop=%v", *wouldStop)
	}
	return "neither"
}

func wantFlags(dryRun, stop bool) string {
	if dryRun {
		return fmt.Sprintf("WouldStop=%v", stop)
	}
	return fmt.Sprintf("Stopped=%v", stop)
}

// checkStopLog checks the last log line's word for the stops: would_stop
// in a dry run and never stopped, stopped otherwise and never would_stop.
func checkStopLog(t *testing.T, logs string, dryRun bool, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &line); err != nil {
		t.Fatalf("log line %q: %v", lines[len(lines)-1], err)
	}
	key, other := "stopped", "would_stop"
	if dryRun {
		key, other = other, key
	}
	if got, ok := line[key]; !ok || fmt.Sprint(got) != want {
		t.Errorf("log %s = %v, want %s: %s", key, got, want, lines[len(lines)-1])
	}
	if _, ok := line[other]; ok {
		t.Errorf("log has %s: %s", other, lines[len(lines)-1])
	}
}

// topKeys is a JSON object's keys, in order.
func topKeys(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if _, err := d.Token(); err != nil { // {
		t.Fatal(err)
	}
	var keys []string
	for d.More() {
		key, err := d.Token()
		var value json.RawMessage
		if err == nil {
			err = d.Decode(&value)
		}
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		keys = append(keys, key.(string))
	}
	return strings.Join(keys, " ")
}

// A dry run never says "stopped": its answers carry WouldStop where the
// real ones carry Stopped, in the same place, and never both.
func TestAnswerShapes(t *testing.T) {
	ctx := context.Background()
	run := func(dryRun bool, do func(fn *Function) any) any {
		api := newRecorder(rollout("t-a", []string{"Failed", "Failed", "Running"}, tag(TagMaxErrors, "2")))
		fn := &Function{API: api, RegionId: "cn-hangzhou", DryRun: dryRun, Log: testFunction(nil, &bytes.Buffer{}).Log}
		return do(fn)
	}
	stop := func(fn *Function) any {
		a, _ := fn.Stop(ctx, "r", StopRequest{InvokeId: "t-a"})
		return a
	}
	failFast := func(fn *Function) any {
		a, _ := fn.FailFast(ctx, "r", FailFastRequest{InvokeId: "t-a", Status: "Failed"})
		return a
	}
	sweep := func(fleet ...ca.Invocation) func(fn *Function) any {
		return func(fn *Function) any {
			fn.API = newFake(fleet...)
			a, _ := fn.RunSweep(ctx, "r", SweepRequest{RegionIds: []string{"cn-hangzhou"}})
			return a
		}
	}
	stale := inv("t-old", 3*time.Hour, ca.StatusRunning)
	const (
		stopHead = "RequestId Action RegionId InvokeId InstanceIds DryRun CommandName Pending Running "
		ffHead   = "RequestId Action EventId RegionId InvokeId InstanceId InvocationStatus CommandName Failed Instances MaxErrors "
		ffTail   = " Pending Running DryRun Reason"
	)
	for _, tc := range []struct {
		name   string
		dryRun bool
		do     func(fn *Function) any
		keys   string
	}{
		{"stop", false, stop, stopHead + "Stopped"},
		{"dry-run stop", true, stop, stopHead + "WouldStop"},
		{"fail-fast", false, failFast, ffHead + "Stopped" + ffTail},
		{"dry-run fail-fast", true, failFast, ffHead + "WouldStop" + ffTail},
		{"sweep", false, sweep(stale), "RequestId Action DryRun Scanned Matched Stopped Spared NoLongerStoppable Failed Truncated"},
		{"dry-run sweep", true, sweep(stale), "RequestId Action DryRun Scanned Matched WouldStop Spared NoLongerStoppable Failed Truncated"},
		{"sweep of nothing", false, sweep(), "RequestId Action DryRun Scanned Matched Stopped Spared NoLongerStoppable Failed Truncated"},
		{"dry-run sweep of nothing", true, sweep(), "RequestId Action DryRun Scanned Matched WouldStop Spared NoLongerStoppable Failed Truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := topKeys(t, run(tc.dryRun, tc.do)); got != tc.keys {
				t.Errorf("keys %s\nwant %s", got, tc.keys)
			}
		})
	}
}

// A dry-run sweep lists its selection under WouldStop exactly as a real one
// lists its stops under Stopped, [] when it selected nothing, and logs
// would_stop.
func TestSweepDryRunAnswer(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		var logs bytes.Buffer
		a, err := testFunction(newFake(inv("t-old", 3*time.Hour, ca.StatusRunning)), &logs).RunSweep(context.Background(), "r",
			SweepRequest{DryRun: &dryRun})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(a)
		item := `[{"RegionId":"cn-hangzhou","InvokeId":"t-old","CommandName":"backup","CreationTime":"2026-11-26T09:00:00Z","Rule":"OlderThan=2h0m0s","Pending":0,"Running":0}]`
		want := `"Stopped":` + item
		if dryRun {
			want = `"WouldStop":` + item
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("dry run %v: %s\nwant %s", dryRun, b, want)
		}
		checkStopLog(t, logs.String(), dryRun, "1")
	}
	a, _ := testFunction(newFake(), &bytes.Buffer{}).RunSweep(context.Background(), "r", SweepRequest{DryRun: boolp(true)})
	if b, _ := json.Marshal(a); !strings.Contains(string(b), `"WouldStop":[]`) || strings.Contains(string(b), `"Stopped"`) {
		t.Errorf("empty dry run: %s", b)
	}
}
