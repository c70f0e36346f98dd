package ecs_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/ecs"
)

func TestEndpoint(t *testing.T) {
	tests := []struct {
		name   string
		opts   ecs.Options
		region string
		want   string
	}{
		{"public by default", ecs.Options{}, "cn-hangzhou", "https://ecs.cn-hangzhou.aliyuncs.com"},
		{"public", ecs.Options{Network: "public"}, "ap-southeast-1", "https://ecs.ap-southeast-1.aliyuncs.com"},
		{"vpc", ecs.Options{Network: "vpc"}, "cn-shanghai", "https://ecs-vpc.cn-shanghai.aliyuncs.com"},
		{"VPC in capitals", ecs.Options{Network: "VPC"}, "cn-beijing", "https://ecs-vpc.cn-beijing.aliyuncs.com"},
		{"override wins over region", ecs.Options{Endpoint: "http://127.0.0.1:8080"}, "cn-hangzhou", "http://127.0.0.1:8080"},
		{"override wins over vpc", ecs.Options{Endpoint: "https://ecs.example.internal/", Network: "vpc"}, "cn-hangzhou", "https://ecs.example.internal"},
		{"override with a path", ecs.Options{Endpoint: "http://localhost:9000/ecs/"}, "cn-hangzhou", "http://localhost:9000/ecs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ecs.New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Endpoint(tt.region); got != tt.want {
				t.Errorf("Endpoint(%q) = %q, want %q", tt.region, got, tt.want)
			}
		})
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		opts ecs.Options
		want string // what the message must name
	}{
		{"relative endpoint", ecs.Options{Endpoint: "ecs.cn-hangzhou.aliyuncs.com"}, "Endpoint"},
		{"ftp endpoint", ecs.Options{Endpoint: "ftp://example.com"}, "Endpoint"},
		{"endpoint without host", ecs.Options{Endpoint: "http://"}, "Endpoint"},
		{"endpoint with a query", ecs.Options{Endpoint: "http://127.0.0.1:1/?RegionId=x"}, "query"},
		{"endpoint with a fragment", ecs.Options{Endpoint: "http://127.0.0.1:1/#x"}, "fragment"},
		{"endpoint that does not parse", ecs.Options{Endpoint: "http://[::1"}, "Endpoint"},
		{"unknown network", ecs.Options{Network: "internal"}, "Network"},
		{"negative read timeout", ecs.Options{ReadTimeout: -1}, "ReadTimeout"},
		{"negative connect timeout", ecs.Options{ConnectTimeout: -1}, "ConnectTimeout"},
		{"negative attempts", ecs.Options{MaxAttempts: -1}, "MaxAttempts"},
		{"base above cap", ecs.Options{BaseDelay: 10e9, MaxDelay: 1e9}, "BaseDelay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ecs.New(tt.opts)
			if err == nil {
				t.Fatalf("New accepted %+v (endpoint %q)", tt.opts, c.Endpoint("cn-hangzhou"))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
		})
	}
}

// failingTransport fails the test if the client touches the network.
type failingTransport struct{ t *testing.T }

func (f failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("unexpected network call to %s", r.URL.Host)
	return nil, errors.New("no network in this test")
}

func TestRefusedBeforeTheNetwork(t *testing.T) {
	tests := []struct {
		name   string
		cred   acs.Credentials
		region string
		want   string
		is     error
	}{
		{"no credentials", acs.Credentials{}, regionHZ, "ALIBABA_CLOUD_ACCESS_KEY_ID", ecs.ErrNoCredentials},
		{"no secret", acs.Credentials{AccessKeyID: "ak"}, regionHZ, "ALIBABA_CLOUD_ACCESS_KEY_SECRET", ecs.ErrNoCredentials},
		{"region that is a host", testCred, "evil.example/x?", "RegionId", nil},
		{"empty region", testCred, "", "RegionId", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ecs.New(ecs.Options{Credentials: tt.cred, Transport: failingTransport{t}})
			if err != nil {
				t.Fatal(err)
			}
			err = c.StopInvocation(context.Background(), tt.region, invokeID, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v does not mention %s", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			_, err = c.DescribeInvocations(context.Background(), cloudassistant.DescribeInvocationsRequest{RegionId: tt.region})
			if err == nil {
				t.Error("DescribeInvocations went ahead")
			}
		})
	}
}

func TestWithCredentialsAndConcurrency(t *testing.T) {
	s := newStub(t, answers(status(200, okStopped)))
	base := newClient(t, s.srv.URL, func(o *ecs.Options) { o.Credentials = acs.Credentials{} })
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cred := testCred
			if i%2 == 1 {
				cred = stsCred
			}
			c := base.WithCredentials(cred)
			if err := c.StopInvocation(context.Background(), regionHZ, fmt.Sprintf("t-%d", i), ids(60)); err != nil {
				t.Errorf("goroutine %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if n := len(s.Calls()); n != 64 {
		t.Errorf("%d calls, want 64", n)
	}
	// The copies did not change the original.
	if err := base.StopInvocation(context.Background(), regionHZ, invokeID, nil); !errors.Is(err, ecs.ErrNoCredentials) {
		t.Errorf("base client: %v, want ErrNoCredentials", err)
	}
}

func TestWithMaxAttempts(t *testing.T) {
	s := newStub(t, answers(status(503, apiErr("ServiceUnavailable", "busy"))))
	c := newClient(t, s.srv.URL, nil).WithMaxAttempts(1)
	err := c.StopInvocation(context.Background(), regionHZ, invokeID, nil)
	if !ecs.IsRetryable(err) || len(s.Calls()) != 1 {
		t.Errorf("error %v after %d calls, want one retryable failure", err, len(s.Calls()))
	}
}
