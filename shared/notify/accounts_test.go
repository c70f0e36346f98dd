package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// accountsReport is a sweep over two accounts: a stop in each, and a third
// account skipped.
func accountsReport() stopper.Report {
	return stopper.Report{RequestId: "req-1", Trigger: "fc-timer", Action: stopper.ActionSweep,
		Stopped: []stopper.ReportedStop{
			{AccountId: "1000000000000001", RegionId: "cn-hangzhou", InvokeId: "t-same", CommandName: "backup", Running: 1, Why: "OlderThan=2h0m0s"},
			{AccountId: "1000000000000002", RegionId: "cn-hangzhou", InvokeId: "t-same", CommandName: "backup", Running: 1, Why: "OlderThan=2h0m0s"}},
		Failed:  []stopper.ReportedFailure{{AccountId: "1000000000000003", Code: "EntityNotExist.Role", Message: "The role not exists"}},
		Matched: map[string]int{"cn-hangzhou": 2},
		MatchedAt: map[stopper.Place]int{{AccountId: "1000000000000001", RegionId: "cn-hangzhou"}: 1,
			{AccountId: "1000000000000002", RegionId: "cn-hangzhou"}: 1}}
}

func TestMessagesNameAccounts(t *testing.T) {
	text := Text(accountsReport())
	for _, want := range []string{
		"t-same (backup) in cn-hangzhou of account 1000000000000001: 0 pending, 1 running",
		"t-same (backup) in cn-hangzhou of account 1000000000000002: 0 pending, 1 running",
		"account 1000000000000003: EntityNotExist.Role The role not exists",
		"Matched: 1000000000000001/cn-hangzhou 1, 1000000000000002/cn-hangzhou 1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

func TestMetricsDimensionAccounts(t *testing.T) {
	var out bytes.Buffer
	(&EMF{W: &out, Now: func() time.Time { return time.Unix(0, 0) }}).Record(context.Background(), accountsReport())
	var dims []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var l struct {
			AWS struct {
				CloudWatchMetrics []struct{ Dimensions [][]string }
			} `json:"_aws"`
			AccountId, Region string
			Stops, Failures   int
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		dims = append(dims, strings.Join(l.AWS.CloudWatchMetrics[0].Dimensions[0], "+")+"="+l.AccountId+"/"+l.Region+
			":"+string(rune('0'+l.Stops))+string(rune('0'+l.Failures)))
	}
	want := "Action=/:21 Action+AccountId=1000000000000001/:10 Action+AccountId=1000000000000002/:10 Action+AccountId=1000000000000003/:01 " +
		"Action+AccountId+Region=1000000000000001/cn-hangzhou:10 Action+AccountId+Region=1000000000000002/cn-hangzhou:10"
	if got := strings.Join(dims, " "); got != want {
		t.Errorf("lines\n%s\nwant\n%s", got, want)
	}

	var logs bytes.Buffer
	LogMetrics{Log: slog.New(slog.NewJSONHandler(&logs, nil))}.Record(context.Background(), accountsReport())
	if !strings.Contains(logs.String(), `{"account_id":"1000000000000002","region":"cn-hangzhou","stops":1`) {
		t.Errorf("metrics log line does not name accounts: %s", logs.String())
	}
}
