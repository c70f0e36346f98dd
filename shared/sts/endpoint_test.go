package sts

import (
	"strings"
	"testing"
)

func TestEndpointCheck(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
	}{
		{"https://sts.cn-hangzhou.aliyuncs.com", "https://sts.cn-hangzhou.aliyuncs.com"},
		{"https://sts.cn-hangzhou.aliyuncs.com/", "https://sts.cn-hangzhou.aliyuncs.com"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://[::1]:8080/", "http://[::1]:8080"},
		{"http://localhost:8080", "http://localhost:8080"},
		{"", ""},
		{"sts.cn-hangzhou.aliyuncs.com", ""},
		{"http://sts.cn-hangzhou.aliyuncs.com", ""},
		{"https://user:pw@sts.aliyuncs.com", ""},
		{"https://sts.aliyuncs.com/?a=b", ""},
		{"ftp://sts.aliyuncs.com", ""},
	} {
		got, err := checkEndpoint(tc.raw)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("checkEndpoint(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("the error shows the URL's password: %v", err)
		}
	}
}
