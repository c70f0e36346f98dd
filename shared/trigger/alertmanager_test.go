package trigger

import (
	"context"
	"strings"
	"testing"
)

// An Alertmanager receiver's max_alerts leaves alerts out of a
// notification and counts them in truncatedAlerts: the function logs one
// warning naming the count and saying they arrive later, and handles the
// alerts it was sent as usual. Nothing is logged when nothing was left out.
func TestAlertmanagerTruncatedAlerts(t *testing.T) {
	const truncatedLine = "out of this notification (max_alerts)"
	for _, tc := range []struct {
		name      string
		truncated string // the member as sent; "" leaves it out
		warned    float64
	}{
		{"three left out", `"truncatedAlerts":3,`, 3},
		{"none left out", `"truncatedAlerts":0,`, 0},
		{"no member", "", 0},
		{"not a count", `"truncatedAlerts":"3",`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := failFastEnv(t)
			body := strings.Replace(alertmanagerBody, `"truncatedAlerts":0,`, tc.truncated, 1)
			res, err := env.handler.Invoke(context.Background(), testRequestID, httpShapes[1].event(t, withBearer([]byte(body), "Bearer "+testToken)))
			if err != nil {
				t.Fatal(err)
			}
			if a := decodeHTTPAnswer(t, httpShapes[1].kind, res.Payload); a.Status != 200 || len(env.api.stopCalls()) != 1 {
				t.Fatalf("answer %d %v, stops %v", a.Status, a.Body, env.api.stopCalls())
			}
			var warnings []map[string]any
			for _, line := range env.logs.lines(t) {
				if msg, _ := line["msg"].(string); strings.Contains(msg, truncatedLine) {
					warnings = append(warnings, line)
				}
			}
			if tc.warned == 0 {
				if len(warnings) != 0 {
					t.Fatalf("logged %v", warnings)
				}
				return
			}
			if len(warnings) != 1 {
				t.Fatalf("%d truncation warnings: %v", len(warnings), warnings)
			}
			w := warnings[0]
			msg := w["msg"].(string)
			if w["level"] != "WARN" || w["truncated_alerts"] != tc.warned || w["request_id"] != testRequestID ||
				!strings.Contains(msg, "left 3 alerts out") || !strings.Contains(msg, "arrive in later notifications") || !strings.Contains(msg, "max_alerts") {
				t.Fatalf("warning %v", w)
			}
		})
	}
}
