package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
)

// FuzzServeHTTP feeds arbitrary query strings, Authorization headers and
// form bodies: the emulator must never panic and always answer JSON with a
// RequestId.
func FuzzServeHTTP(f *testing.F) {
	signedV1 := func(method string, p url.Values) string {
		p.Set("Version", "2014-05-26")
		p.Set("AccessKeyId", testKeyID)
		p.Set("SignatureMethod", "HMAC-SHA1")
		p.Set("SignatureVersion", "1.0")
		p.Set("SignatureNonce", "seed")
		p.Set("Timestamp", testNow.Format(timeLayout))
		p.Set("Signature", acs.SignatureV1(testSecret, acs.StringToSignV1(method, p)))
		return p.Encode()
	}
	f.Add(uint8(0), signedV1("GET", url.Values{"Action": {"DescribeInvocations"}, "RegionId": {"cn-hangzhou"}, "Timed": {"true"}, "Tag.1.Key": {"env"}}), "", "")
	f.Add(uint8(0), signedV1("GET", url.Values{"Action": {"StopInvocation"}, "RegionId": {"cn-hangzhou"}, "InvokeId": {hzOnce}, "InstanceId.1": {"i-bp1j2k3l4m5n6o7p8q9r"}}), "", "")
	f.Add(uint8(1), "", "", signedV1("POST", url.Values{"Action": {"DescribeInvocations"}, "RegionId": {"cn-hangzhou"}, "NextToken": {"djJ8c3wyfDF8dC1hfDAw"}}))
	f.Add(uint8(1), "RegionId=cn-hangzhou", "ACS3-HMAC-SHA256 Credential="+testKeyID+",SignedHeaders=host;x-acs-date,Signature=00", "")
	f.Add(uint8(0), "Action=StopInvocation&InstanceId.0=&Tag.99.Value=x&MaxResults=-1", "ACS3-HMAC-SHA256 ,,,=", "")
	f.Add(uint8(2), "%zz&;;", "ACS3-X", "a=%")
	// One server for all inputs: it is safe for concurrent use, and the state
	// the inputs leave behind (stops, used nonces) is more input.
	s, err := New(Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Fleet: SampleFleetAt(testNow),
		Now: func() time.Time { return testNow }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, m uint8, query, authorization, body string) {
		method := []string{"GET", "POST", "PUT", "DELETE"}[m%4]
		req := &http.Request{Method: method, URL: &url.URL{Path: "/", RawQuery: query}, Host: "ecs.aliyuncs.com",
			Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
			req.Header.Set("x-acs-action", "DescribeInvocations")
			req.Header.Set("x-acs-version", "2014-05-26")
			req.Header.Set("x-acs-date", testNow.Format(timeLayout))
			req.Header.Set("x-acs-signature-nonce", "n")
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if ct := w.Header().Get("Content-Type"); ct != "application/json;charset=utf-8" {
			t.Fatalf("Content-Type %q", ct)
		}
		var answer map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("not JSON: %v %q", err, w.Body.String())
		}
		if answer["RequestId"] == nil {
			t.Fatalf("no RequestId: %s", w.Body.String())
		}
		if w.Code != http.StatusOK && (answer["Code"] == nil || answer["Message"] == nil) {
			t.Fatalf("error without Code/Message: %d %s", w.Code, w.Body.String())
		}
	})
}
