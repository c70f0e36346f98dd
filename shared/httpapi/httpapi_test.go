package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckEndpoint(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
	}{
		{"https://sts.cn-hangzhou.aliyuncs.com", "https://sts.cn-hangzhou.aliyuncs.com"},
		{"https://sts.cn-hangzhou.aliyuncs.com/", "https://sts.cn-hangzhou.aliyuncs.com"},
		{" https://proxy.example.com/acs/ ", "https://proxy.example.com/acs"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://[::1]:8080/", "http://[::1]:8080"},
		{"http://localhost:8080", "http://localhost:8080"},
		{"", ""},
		{"  ", ""},
		{"sts.cn-hangzhou.aliyuncs.com", ""},
		{"http://sts.cn-hangzhou.aliyuncs.com", ""},
		{"https://user:pw@sts.aliyuncs.com", ""},
		{"https://sts.aliyuncs.com/?a=b", ""},
		{"https://sts.aliyuncs.com/?", ""},
		{"https://sts.aliyuncs.com/#top", ""},
		{"ftp://sts.aliyuncs.com", ""},
		{"://", ""},
	} {
		got, err := CheckEndpoint(tc.raw)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("CheckEndpoint(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("the error shows the URL's password: %v", err)
		}
	}
}

// A redirect is the answer, never followed: following it would send the
// call to another host.
func TestHTTPClientFollowsNoRedirect(t *testing.T) {
	var elsewhere bool
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere = true }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusFound)
	}))
	defer srv.Close()
	for _, rt := range []http.RoundTripper{nil, http.DefaultTransport} {
		resp, err := HTTPClient(rt).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || elsewhere {
			t.Errorf("status %d, followed %v; want the 302 itself", resp.StatusCode, elsewhere)
		}
	}
	if HTTPClient(nil).Transport == nil {
		t.Error("no default transport")
	}
}

func TestQuotePrefix(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, tc := range []struct{ in, want string }{
		{"", "(empty body)"},
		{"<html>bad gateway</html>", `"<html>bad gateway</html>"`},
		{strings.Repeat("y", 256), `"` + strings.Repeat("y", 256) + `"`},
		{long, `"` + long[:256] + `"…`},
	} {
		if got := QuotePrefix([]byte(tc.in)); got != tc.want {
			t.Errorf("QuotePrefix(%d bytes) = %.40q…, want %.40q…", len(tc.in), got, tc.want)
		}
	}
}
