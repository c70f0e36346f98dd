package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/shared/emulator"
)

// linesWith lists the lines of out that contain s.
func linesWith(out, s string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			lines = append(lines, l)
		}
	}
	return lines
}

// -output text prints the plain summary, one line per invocation, instead
// of the answer JSON; the exit code is the same.
func TestOutputText(t *testing.T) {
	// What a sweep of the sample fleet stops, from its JSON answer (every
	// invoke starts its own emulator, so the text run sees the same fleet).
	code, stdout, stderr := invokeEvent(t, `{"Action":"Sweep"}`)
	var sweep struct{ Stopped []struct{ InvokeId string } }
	if err := json.Unmarshal([]byte(stdout), &sweep); err != nil || code != 0 || len(sweep.Stopped) < 2 {
		t.Fatalf("json sweep: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	var swept []string
	for _, s := range sweep.Stopped {
		swept = append(swept, s.InvokeId)
	}

	for _, tc := range []struct {
		name, body string
		code       int
		// each of these appears on exactly one line
		oneLineEach []string
	}{
		{"stop", directStop, 0, []string{sampleOnce}},
		{"sweep", `{"Action":"Sweep"}`, 0, swept},
		{"failure", `{"RegionId":"cn-hangzhou","InvokeId":"t-doesnotexist"}`, 1, []string{"InvalidInvokeId.NotFound"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := invokeEvent(t, tc.body, "-output", "text")
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if json.Valid([]byte(stdout)) || !strings.HasSuffix(stdout, "\n") {
				t.Fatalf("stdout is not text lines:\n%s", stdout)
			}
			for _, s := range tc.oneLineEach {
				if n := len(linesWith(stdout, s)); n != 1 {
					t.Errorf("%s is on %d lines, want 1:\n%s", s, n, stdout)
				}
			}
		})
	}
}

// A function error (transient: the platform would retry) is its code and
// message on one line.
func TestOutputTextTransientError(t *testing.T) {
	t.Setenv("STOPPER_REGION_ID", "cn-hangzhou")
	t.Setenv("STOPPER_MAX_ATTEMPTS", "1")
	emu, err := emulator.Listen("127.0.0.1:0", emulator.Options{AccessKeyID: localAccessKeyID, AccessKeySecret: localAccessKeySecret,
		Fleet: emulator.SampleFleet(), FailFirst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	for _, output := range []string{"text", "json"} {
		t.Run(output, func(t *testing.T) {
			code, stdout, stderr := invokeEvent(t, directStop, "-endpoint", emu.URL, "-output", output,
				"-access-key-id", localAccessKeyID, "-access-key-secret", localAccessKeySecret)
			if code != 1 || !strings.Contains(stderr, "function error (transient") {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if output == "json" {
				var a struct{ Code, Message string }
				if err := json.Unmarshal([]byte(stdout), &a); err != nil || a.Code != "ServiceUnavailable" {
					t.Fatalf("json: %v, want the error answer:\n%s", err, stdout)
				}
				return
			}
			if strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(stdout, "ServiceUnavailable: ") {
				t.Fatalf("text: want one line with the code and message, got:\n%s", stdout)
			}
		})
	}
}

func TestOutputFlagRefusesOtherFormats(t *testing.T) {
	code, _, stderr := invokeEvent(t, directStop, "-output", "yaml")
	if code != 2 || !strings.Contains(stderr, "want json or text") {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
}

// The stop modes differ at once in what the embedded emulator holds after
// the stop, which the runner logs for each invocation it stopped: running
// instances stay Running under the documented behaviour and are Stopping
// under kill.
func TestInvokeLogsStatesAfterTheStop(t *testing.T) {
	for _, tc := range []struct {
		mode, want, never string
	}{
		{emulator.StopModeDocumented, "Running", "Stopping"},
		{emulator.StopModeKill, "Stopping", "Running"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			code, stdout, stderr := invokeEvent(t, `{"Action":"Sweep"}`, "-stop-mode", tc.mode)
			var sweep struct{ Stopped []struct{ InvokeId string } }
			if err := json.Unmarshal([]byte(stdout), &sweep); err != nil || code != 0 {
				t.Fatalf("exit %d, %v\n%s", code, err, stderr)
			}
			after := map[string]map[string]float64{}
			for _, l := range linesWith(stderr, `"local: after the stop"`) {
				var line struct {
					StopMode  string             `json:"stop_mode"`
					InvokeId  string             `json:"invoke_id"`
					Instances map[string]float64 `json:"instances"`
				}
				if err := json.Unmarshal([]byte(l), &line); err != nil || line.StopMode != tc.mode {
					t.Fatalf("log line %s: %v", l, err)
				}
				after[line.InvokeId] = line.Instances
			}
			if len(after) != len(sweep.Stopped) {
				t.Fatalf("%d after-the-stop lines for %d stopped invocations:\n%s", len(after), len(sweep.Stopped), stderr)
			}
			seen := 0.0
			for id, states := range after {
				if states[tc.never] > 0 {
					t.Errorf("%s: %v, want no %s instance under %s", id, states, tc.never, tc.mode)
				}
				seen += states[tc.want]
			}
			if seen == 0 {
				t.Errorf("no %s instance after a %s sweep: %v", tc.want, tc.mode, after)
			}
		})
	}
}
