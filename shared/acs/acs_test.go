package acs

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The official V3 worked example from Alibaba Cloud's signature documentation.
func TestSignatureV3OfficialVector(t *testing.T) {
	query := url.Values{
		"ImageId":  {"win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"},
		"RegionId": {"cn-shanghai"},
	}
	headers := map[string]string{
		"host":                  "ecs.cn-shanghai.aliyuncs.com",
		"x-acs-action":          "RunInstances",
		"x-acs-content-sha256":  HashHex(nil),
		"x-acs-date":            "2023-10-26T10:22:32Z",
		"x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
		"x-acs-version":         "2014-05-26",
	}
	signed := []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"}
	canonical := CanonicalRequestV3("POST", "/", query, headers, signed, HashHex(nil))
	const want = "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
	if got := SignatureV3("YourAccessKeySecret", canonical); got != want {
		t.Fatalf("signature = %s, want %s\ncanonical request:\n%s", got, want, canonical)
	}
}

// SignV3 on a real *http.Request must produce the same signature as the vector.
func TestSignV3Request(t *testing.T) {
	req, _ := http.NewRequest("POST", "https://ecs.cn-shanghai.aliyuncs.com/?ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai", nil)
	req.Header.Set("x-acs-action", "RunInstances")
	req.Header.Set("x-acs-version", "2014-05-26")
	now, _ := time.Parse(time.RFC3339, "2023-10-26T10:22:32Z")
	SignV3(req, nil, Credentials{AccessKeyID: "YourAccessKeyId", AccessKeySecret: "YourAccessKeySecret"}, now, "3156853299f313e23d1673dc12e1703d")
	want := "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
	if got := req.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization =\n%s\nwant\n%s", got, want)
	}
	a, err := ParseAuthorizationV3(want)
	if err != nil || a.AccessKeyID != "YourAccessKeyId" || len(a.SignedHeaders) != 6 || !strings.HasPrefix(a.Signature, "06563a9e") {
		t.Fatalf("ParseAuthorizationV3 = %+v, %v", a, err)
	}
}

func TestSignV3SecurityTokenIsSigned(t *testing.T) {
	req, _ := http.NewRequest("POST", "http://127.0.0.1/?RegionId=cn-hangzhou", nil)
	SignV3(req, nil, Credentials{AccessKeyID: "id", AccessKeySecret: "s", SecurityToken: "tok"}, time.Unix(0, 0), "n")
	if req.Header.Get("x-acs-security-token") != "tok" || !strings.Contains(req.Header.Get("Authorization"), "x-acs-security-token") {
		t.Fatalf("STS token not sent or not signed: %v", req.Header)
	}
}

// The official V1 worked example (GET DescribeRegions).
func TestSignatureV1OfficialVector(t *testing.T) {
	params := url.Values{
		"Action":           {"DescribeRegions"},
		"Format":           {"XML"},
		"Version":          {"2014-05-26"},
		"AccessKeyId":      {"testid"},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureVersion": {"1.0"},
		"SignatureNonce":   {"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
		"Timestamp":        {"2016-02-23T12:46:24Z"},
	}
	const want = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
	if got := SignatureV1("testsecret", StringToSignV1("GET", params)); got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
}

func TestPercentEncode(t *testing.T) {
	for in, want := range map[string]string{
		"a b":   "a%20b",
		"*":     "%2A",
		"~-_.":  "~-_.",
		"a+b/c": "a%2Bb%2Fc",
		"中":     "%E4%B8%AD",
	} {
		if got := PercentEncode(in); got != want {
			t.Errorf("PercentEncode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseAuthorizationV3Malformed(t *testing.T) {
	for _, v := range []string{"", "HMAC-SHA1 x", "ACS3-HMAC-SHA256 ", "ACS3-HMAC-SHA256 Credential=a", "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=,Signature=x"} {
		if _, err := ParseAuthorizationV3(v); err == nil {
			t.Errorf("ParseAuthorizationV3(%q) accepted", v)
		}
	}
}

func FuzzParseAuthorizationV3(f *testing.F) {
	f.Add("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;x-acs-date,Signature=ab")
	f.Add("ACS3-HMAC-SHA256 ,,,=")
	f.Fuzz(func(t *testing.T, v string) {
		a, err := ParseAuthorizationV3(v)
		if err == nil && (a.AccessKeyID == "" || a.Signature == "" || len(a.SignedHeaders) == 0) {
			t.Fatalf("accepted incomplete header %q: %+v", v, a)
		}
	})
}

// What SignV3 signs: host, every x-acs-* header and Content-Type, nothing
// else; the canonical request keeps a path other than "/".
func TestSignV3SignedHeaders(t *testing.T) {
	req, _ := http.NewRequest("POST", "http://127.0.0.1/api/v1?RegionId=cn-hangzhou", strings.NewReader("a=b"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "test")
	SignV3(req, []byte("a=b"), Credentials{AccessKeyID: "id", AccessKeySecret: "s"}, time.Unix(0, 0), "n")
	a, err := ParseAuthorizationV3(req.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(a.SignedHeaders, ";"); got != "content-type;host;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce" {
		t.Fatalf("signed headers %s", got)
	}
	canonical := CanonicalRequestV3("POST", "/api/v1", url.Values{}, map[string]string{"host": "h"}, []string{"host"}, HashHex(nil))
	if !strings.HasPrefix(canonical, "POST\n/api/v1\n") {
		t.Fatalf("canonical request %q lost its path", canonical)
	}
	if root := CanonicalRequestV3("GET", "", url.Values{}, map[string]string{"host": "h"}, []string{"host"}, HashHex(nil)); !strings.HasPrefix(root, "GET\n/\n") {
		t.Fatalf("canonical request %q: an empty path is /", root)
	}
}
