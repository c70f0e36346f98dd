package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/webhook"
)

// signWebhookEvent adds X-Stopper-Timestamp and X-Stopper-Signature to a
// webhook-shaped sample event (API Gateway v1/v2, Function URL, FC HTTP
// trigger: an object with "headers" and "body") that carries no signature,
// so the samples stay free of stale timestamps. Other events are returned as
// they are.
func signWebhookEvent(payload []byte, secret string, now time.Time) ([]byte, bool, error) {
	var event map[string]any
	if json.Unmarshal(payload, &event) != nil {
		return payload, false, nil
	}
	headers, ok := event["headers"].(map[string]any)
	if !ok {
		return payload, false, nil
	}
	body, _ := event["body"].(string)
	for k := range headers {
		if strings.EqualFold(k, "X-Stopper-Signature") {
			return payload, false, nil
		}
	}
	raw := []byte(body)
	if b64, _ := event["isBase64Encoded"].(bool); b64 {
		var err error
		if raw, err = base64.StdEncoding.DecodeString(body); err != nil {
			return nil, false, fmt.Errorf("sample's body is marked isBase64Encoded but is not base64: %w", err)
		}
	}
	ts, sig := webhook.Sign(secret, now, raw)
	headers["x-stopper-timestamp"] = ts
	headers["x-stopper-signature"] = sig
	out, err := json.Marshal(event)
	return out, err == nil, err
}
