package ecs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/ecs"
)

func TestCheckEndpoint(t *testing.T) {
	valid := []string{
		"", "  ",
		"https://ecs.cn-hangzhou.aliyuncs.com", "https://ecs-vpc.cn-hangzhou.aliyuncs.com/", "https://10.0.0.1:8443/ecs",
		"http://127.0.0.1:8080", "http://127.9.8.7", "http://[::1]:9000/", "http://localhost:9000/ecs/",
		"http://LocalHost", "http://[::ffff:127.0.0.1]:1", "http://[::1%25lo]:1",
	}
	for _, raw := range valid {
		if err := ecs.CheckEndpoint(raw); err != nil {
			t.Errorf("CheckEndpoint(%q) = %v", raw, err)
		}
		if _, err := ecs.New(ecs.Options{Endpoint: raw}); err != nil {
			t.Errorf("New with Endpoint %q: %v", raw, err)
		}
	}

	// hunter2 and tok3n stand for secrets a user might put in the URL.
	invalid := []struct {
		raw, want string
	}{
		{"ecs.cn-hangzhou.aliyuncs.com", "absolute http:// or https://"},
		{"ftp://user:hunter2@example.com", "absolute http:// or https://"},
		{"http://", "no host"},
		{"https://user:hunter2@ecs.example.com", "user info"},
		{"https://user:hun/ter2@ecs.example.com", "not a URL"}, // url.Parse's reason would quote ":hun"
		{"https://:hunter2@ecs.example.com", "user info"},
		{"https://ecs.example.com/?AccessKeySecret=hunter2&x=tok3n", "query"},
		{"https://ecs.example.com/?", "query"},
		{"https://ecs.example.com/#hunter2", "fragment"},
		{"https://ecs.example.com/#", "fragment"},
		{"http://u:hunter2@[::1", "not a URL"},
		{"http://[::1", "not a URL (missing ']' in host)"},
		{"http://ecs.cn-hangzhou.aliyuncs.com", "in clear"},
		{"http://10.0.0.1:8080", "in clear"},
		{"http://128.0.0.1", "in clear"},
		{"http://[::2]:80", "in clear"},
		{"http://localhost.example.com", "in clear"},
		{"http://127.0.0.1.nip.io", "in clear"},
		{"http://ecs.example.com/?tok3n", "query"},
	}
	for _, tt := range invalid {
		err := ecs.CheckEndpoint(tt.raw)
		if err == nil {
			t.Errorf("CheckEndpoint(%q) accepted it", tt.raw)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "STOPPER_ECS_ENDPOINT ") || !strings.Contains(msg, tt.want) {
			t.Errorf("CheckEndpoint(%q) = %q, want STOPPER_ECS_ENDPOINT first and %q", tt.raw, msg, tt.want)
		}
		if strings.Contains(msg, "hunter2") || strings.Contains(msg, "tok3n") || strings.Contains(msg, "ter2") || strings.Contains(msg, ":hun") {
			t.Errorf("CheckEndpoint(%q) shows the secret: %q", tt.raw, msg)
		}
		// New refuses it with the same words: the two can never disagree.
		if _, nerr := ecs.New(ecs.Options{Endpoint: tt.raw}); nerr == nil || !strings.Contains(nerr.Error(), msg) {
			t.Errorf("New with Endpoint %q: %v, want it to contain %q", tt.raw, nerr, msg)
		}
	}
	// The plain-http refusal names the fix.
	msg := ecs.CheckEndpoint("http://ecs.example.com").Error()
	for _, want := range []string{"https://", "loopback", "STS token"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not mention %q", msg, want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://ecs.example.com/x":                    "https://ecs.example.com/x",
		"https://user:hunter2@ecs.example.com/x":       "https://[redacted]@ecs.example.com/x",
		"https://user:hun/ter2@ecs.example.com/x":      "https://[redacted]@ecs.example.com/x",
		"https://u:p@q@ecs.example.com":                "https://[redacted]@ecs.example.com",
		"https://ecs.example.com/?Secret=hunter2":      "https://ecs.example.com/?[redacted]",
		"https://ecs.example.com/?a=b#hunter2":         "https://ecs.example.com/?[redacted]#[redacted]",
		"https://ecs.example.com/#frag?not-a-query":    "https://ecs.example.com/#[redacted]",
		"user:hunter2@ecs.example.com":                 "[redacted]@ecs.example.com",
		"http://u:hunter2@[::1":                        "http://[redacted]@[::1",
		"":                                             "",
		"https://ecs.example.com/?user:hunter2@x.test": "https://ecs.example.com/?[redacted]",
	} {
		if got := ecs.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRegionIDs: a region id goes into the endpoint's host name only when it
// is a DNS label of lower-case letters, digits and inner '-' (1 to 63
// characters); anything else is refused before the network.
func TestRegionIDs(t *testing.T) {
	long := "cn-" + strings.Repeat("a", 60)
	tests := []struct {
		region string
		ok     bool
	}{
		{"cn-hangzhou", true},
		{"az09", true}, // the ends of both ranges
		{"a", true},
		{"9-0", true},
		{long, true}, // 63 characters
		{long + "b", false},
		{"", false},
		{"-cn", false},
		{"cn-", false},
		{"cn`", false}, // the characters either side of each range
		{"cn{", false},
		{"cn/", false},
		{"cn:", false},
		{"CN-hangzhou", false},
		{"cn_hangzhou", false},
		{"cn.hangzhou", false},
	}
	for _, tt := range tests {
		rt := &answering{}
		c, err := ecs.New(ecs.Options{Credentials: testCred, Transport: rt, MaxAttempts: 1, ReadTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = c.StopInvocation(context.Background(), tt.region, invokeID, nil)
		hosts := rt.Hosts()
		if tt.ok {
			if want := "ecs." + tt.region + ".aliyuncs.com"; err != nil || len(hosts) != 1 || hosts[0] != want {
				t.Errorf("region %q: %v, calls to %v; want one call to %s", tt.region, err, hosts, want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "is not a region id") || len(hosts) != 0 {
			t.Errorf("region %q: %v after calls to %v; want a refusal before the network", tt.region, err, hosts)
		}
	}
}

// TestRedactURLAtTheStart: the rule holds at the very start of the text too: a
// query or fragment first, a "://" with no scheme, an '@' right after it.
func TestRedactURLAtTheStart(t *testing.T) {
	for in, want := range map[string]string{
		"?Secret=hunter2":   "?[redacted]",
		"#hunter2":          "#[redacted]",
		"?a=b#hunter2":      "?[redacted]#[redacted]",
		"://u:hunter2@host": "://[redacted]@host",
		"https://@host/x":   "https://[redacted]@host/x",
		"@host":             "[redacted]@host",
	} {
		if got := ecs.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
