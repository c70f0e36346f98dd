package trigger

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Prometheus Alertmanager webhook payloads ("version": "4"), posted to the
// webhook URL with a bearer token (Alertmanager cannot sign a body). From
// prometheus/alertmanager docs/configuration.md (<webhook_config>) and
// template/template.go (type Data):
//
//	{"version": "4", "groupKey": "...", "truncatedAlerts": 0, "status": "firing", "receiver": "...",
//	 "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...}, "externalURL": "...",
//	 "alerts": [{"status": "firing", "labels": {...}, "annotations": {...}, "startsAt": "...",
//	             "endsAt": "...", "generatorURL": "...", "fingerprint": "..."}]}
//
// Each firing alert whose labels carry invoke_id (with region_id, and
// optionally instance_id) is a stop request; resolved alerts, and alerts
// without invoke_id, are ignored. Members other than version and alerts
// are read by nobody and left alone (Alertmanager adds some in new
// versions, e.g. routeLabels in v0.34), but for truncatedAlerts, which is
// logged.

// Labels an alert names its invocation with.
const (
	labelInvokeID   = "invoke_id"
	labelRegionID   = "region_id"
	labelInstanceID = "instance_id"
	labelAlertName  = "alertname"
)

// isAlertmanager reports whether a webhook body is an Alertmanager payload:
// an object with "alerts" and "version" (neither is a request parameter).
func isAlertmanager(fields map[string][]byte) bool {
	_, alerts := fields["alerts"]
	_, version := fields["version"]
	return alerts && version
}

// alertmanagerItems turns an Alertmanager payload into one item per alert.
func alertmanagerItems(fields map[string][]byte) ([]stopper.Item, error) {
	if v := fields["version"]; !jsonscan.IsString(v, "4") {
		got, _ := jsonscan.Unquote(v)
		return nil, stopper.Invalid("version", "%s is not an Alertmanager webhook version this function reads (\"4\")", strconv.Quote(truncate(string(got))))
	}
	return arrayItems(fields["alerts"], "an Alertmanager payload's alerts", alertItem)
}

// logTruncatedAlerts logs, as one warning, the alerts a receiver's
// max_alerts left out of this notification. Alertmanager sorts a group's
// alerts by labels (job, instance, then the rest) and sends the first
// max_alerts (notify/webhook/webhook.go truncateAlerts, types.AlertSlice in
// github.com/prometheus/alertmanager), so the others come in a later
// notification, once alerts ahead of them resolve and leave the group.
func (h *Handler) logTruncatedAlerts(ctx context.Context, requestID string, fields map[string][]byte) {
	n, err := strconv.ParseUint(string(fields["truncatedAlerts"]), 10, 64)
	if err != nil || n == 0 {
		return
	}
	h.logger().LogAttrs(ctx, slog.LevelWarn,
		fmt.Sprintf("alertmanager left %d alerts out of this notification (max_alerts): they arrive in later notifications, once alerts ahead of them resolve; raise max_alerts to receive them at once", n),
		slog.String("request_id", requestID), slog.Uint64("truncated_alerts", n))
}

// alertItem is one alert's request, or why there is none.
func alertItem(i int, raw []byte) stopper.Item {
	it := stopper.Item{Id: "#" + strconv.Itoa(i)}
	alert, err := eventFields(raw, "an Alertmanager alert")
	if err != nil {
		it.Err = err
		return it
	}
	if fp, ok := jsonscan.Unquote(alert["fingerprint"]); ok && len(fp) > 0 && len(fp) <= 64 {
		it.Id = string(fp)
	}
	status, _ := jsonscan.Unquote(alert["status"])
	switch string(status) {
	case "resolved":
		it.Ignored = "resolved: only firing alerts stop anything"
		return it
	case "firing":
	default:
		it.Err = stopper.Invalid("status", "%s is not an alert status: \"firing\" or \"resolved\"", strconv.Quote(truncate(string(status))))
		return it
	}
	labels, err := eventFields(alert["labels"], "an Alertmanager alert's labels")
	if err != nil {
		it.Err = stopper.Invalid("labels", "must be an object of label names and values in an Alertmanager alert")
		return it
	}
	label := func(name string) (string, bool) {
		v, ok := jsonscan.Unquote(labels[name])
		return string(v), ok
	}
	invokeID, ok := label(labelInvokeID)
	if !ok {
		it.Ignored = "no " + labelInvokeID + " label: nothing names an invocation to stop"
		return it
	}
	if !stopper.ValidInvokeID(invokeID) {
		it.Err = stopper.Invalid("labels."+labelInvokeID, "%s is not an invocation id such as \"t-1fad2a88...\"", strconv.Quote(truncate(invokeID)))
		return it
	}
	req := &stopper.StopRequest{InvokeId: invokeID, Alert: "firing alert"}
	if name, ok := label(labelAlertName); ok && name != "" {
		req.Alert = truncate(name)
	}
	if region, ok := label(labelRegionID); ok {
		if !stopper.ValidRegionID(region) {
			it.Err = stopper.Invalid("labels."+labelRegionID, "%s is not a region id such as \"cn-hangzhou\"", strconv.Quote(truncate(region)))
			return it
		}
		req.RegionId = region
	}
	if instance, ok := label(labelInstanceID); ok {
		if !stopper.ValidInstanceID(instance) {
			it.Err = stopper.Invalid("labels."+labelInstanceID, "%s is not an instance id such as \"i-bp1...\"", strconv.Quote(truncate(instance)))
			return it
		}
		req.InstanceIds = []string{instance}
	}
	it.Request = stopper.Request{Stop: req}
	return it
}
