package sts

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// An exchange's answer decodes to usable credentials or to an
// InvalidResponse error that quotes none of the credentials the answer held.
func FuzzDecodeAssumed(f *testing.F) {
	f.Add([]byte(`{"RequestId":"R","AssumedRoleUser":{"Arn":"acs:ram::1:assumed-role/r/s"},"Credentials":{"AccessKeyId":"STS.id","AccessKeySecret":"secret-value","SecurityToken":"token-value","Expiration":"2026-12-01T08:00:00Z"}}`))
	f.Add([]byte(`{"Credentials":{"AccessKeyId":"STS.id","AccessKeySecret":"secret-value","SecurityToken":"token-value","Expiration":"2026-12-01T08:00:00.123+08:00"}}`))
	f.Add([]byte(`{"Credentials":{"AccessKeySecret":"secret-value","Expiration":"secret-value"}}`))
	f.Add([]byte(`{"Credentials":{"AccessKeySecret":"secret-value"`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeAssumed("AssumeRole", body, "HDR", 200)
		if err == nil {
			if !got.Pair.Set() || got.Pair.SecurityToken == "" || got.Expiration.IsZero() || got.Expiration.Location().String() != "UTC" {
				t.Fatalf("decoded unusable credentials %+v from %q", got, body)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != "InvalidResponse" || e.Action != "AssumeRole" || e.HTTPStatus != 200 {
			t.Fatalf("error %#v", err)
		}
		var a assumedAnswer
		_ = json.Unmarshal(body, &a)
		for _, s := range []string{a.Credentials.AccessKeySecret, a.Credentials.SecurityToken} {
			// A short value may legitimately appear in the message's own words.
			if len(s) >= 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("the error %q quotes a credential %q", err, s)
			}
		}
	})
}
