package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every sample event in events/ must run through `make invoke` to a success
// against the embedded emulator: the README promises it.
func TestInvokeEverySampleEvent(t *testing.T) {
	files, err := filepath.Glob("../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"invoke", "-event", file}, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
			}
			var answer map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &answer); err != nil {
				t.Fatalf("stdout is not one JSON answer: %v\n%s", err, stdout.String())
			}
			if strings.Contains(stderr.String(), localAccessKeySecret) {
				t.Fatalf("the access key secret was logged:\n%s", stderr.String())
			}
		})
	}
}

func TestInvokeBothInstanceIdFormsAnswerAlike(t *testing.T) {
	answers := map[string]map[string]any{}
	for _, file := range []string{"direct-stop.json", "direct-stop-string-instance-ids.json"} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"invoke", "-event", "../../events/" + file}, &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d: %s %s", file, code, stdout.String(), stderr.String())
		}
		var a map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &a); err != nil {
			t.Fatalf("%s: the answer is not JSON: %v\n%s", file, err, stdout.String())
		}
		delete(a, "RequestId")
		answers[file] = a
	}
	a, b := answers["direct-stop.json"], answers["direct-stop-string-instance-ids.json"]
	if a["Action"] != "StopInvocation" || a["InvokeId"] != "t-1fad2a8876de47068cc734d57703aa76" {
		t.Fatalf("answer = %v", a)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatalf("the two InstanceIds forms answer differently:\n%s\n%s", ja, jb)
	}
}

// A permanent failure prints the error answer and exits non-zero.
func TestInvokeFailureExitsNonZero(t *testing.T) {
	for _, tc := range []struct{ body, code string }{
		{`{"RegionId":"cn-hangzhou"}`, "MissingParameter.InvokeId"},
		{`{"RegionId":"cn-hangzhou","InvokeId":"t-doesnotexist"}`, "InvalidInvokeId.NotFound"},
		{`{"RegionId":"xx-nowhere-1","InvokeId":"t-1fad2a8876de47068cc734d57703aa76"}`, "InvalidRegionId.NotFound"},
		{`{"InvokeId":"t-1fad2a8876de47068cc734d57703aa76","InstanceIds":["i-notinthisinvocation"]}`, "InvalidInstanceId.NotFound"},
		{`not json`, "InvalidParameter"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "event.json")
			if err := os.WriteFile(file, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"invoke", "-event", file}, &stdout, &stderr); code == 0 {
				t.Fatalf("exit 0 for a failure: %s", stdout.String())
			}
			var a struct{ RequestId, Code, Message string }
			if err := json.Unmarshal(stdout.Bytes(), &a); err != nil || a.Code != tc.code || a.RequestId == "" || a.Message == "" {
				t.Fatalf("answer = %s (%v), want code %s", stdout.String(), err, tc.code)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage") {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	if code := run(context.Background(), []string{"invoke"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "-event") {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
}
