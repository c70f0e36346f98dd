package emulator

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"
)

// The official SDK is the truth about the wire: it must work against the
// emulator unchanged, with either signature.
func TestOfficialSDK(t *testing.T) {
	for _, tc := range []struct {
		name      string
		algorithm string // "" is the SDK's default, ACS3-HMAC-SHA256
		token     string
	}{
		{name: "V3"},
		{name: "V3 with STS token", token: "CAIS-any-sts-token"},
		{name: "V1 (SignatureAlgorithm v2)", algorithm: "v2"},
		{name: "V1 with STS token", algorithm: "v2", token: "CAIS-any-sts-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			run := listen(t, slog.New(slog.NewTextHandler(&logs, nil)))
			cl := sdkClient(t, run, testKeyID, testSecret, tc.algorithm, tc.token)

			_, err := cl.StopInvocation(&ecs.StopInvocationRequest{
				RegionId: tea.String("cn-hangzhou"), InvokeId: tea.String(hzOnce),
				InstanceId: tea.StringSlice([]string{"i-bp1j2k3l4m5n6o7p8q9r", "i-bp1s2t3u4v5w6x7y8z9a"}),
			})
			if err != nil {
				t.Fatalf("StopInvocation: %v", err)
			}
			if n := run.StopCalls("cn-hangzhou", hzOnce); n != 1 {
				t.Fatalf("StopCalls = %d", n)
			}
			resp, err := cl.DescribeInvocations(&ecs.DescribeInvocationsRequest{
				RegionId: tea.String("cn-hangzhou"), InvokeId: tea.String(hzOnce), MaxResults: tea.Int32(5),
				Tag: []*ecs.DescribeInvocationsRequestTag{{Key: tea.String("env"), Value: tea.String("prod")}},
			})
			if err != nil {
				t.Fatalf("DescribeInvocations: %v", err)
			}
			b := resp.Body
			if tea.Int64Value(b.TotalCount) != 1 || len(b.Invocations.Invocation) != 1 || tea.StringValue(b.RequestId) == "" {
				t.Fatalf("answer %v", b)
			}
			inv := b.Invocations.Invocation[0]
			got := map[string]string{}
			for _, in := range inv.InvokeInstances.InvokeInstance {
				got[tea.StringValue(in.InstanceId)] = tea.StringValue(in.InvocationStatus)
			}
			if tea.StringValue(inv.InvocationStatus) != "Running" || got["i-bp1a2b3c4d5e6f7g8h9i"] != "Running" ||
				got["i-bp1j2k3l4m5n6o7p8q9r"] != "Cancelled" || got["i-bp1s2t3u4v5w6x7y8z9a"] != "Cancelled" {
				t.Fatalf("after the stop: %s %v", tea.StringValue(inv.InvocationStatus), got)
			}

			// Timed=true through the SDK lists the active periodic task.
			timed, err := cl.DescribeInvocations(&ecs.DescribeInvocationsRequest{RegionId: tea.String("cn-hangzhou"), Timed: tea.Bool(true)})
			if err != nil || tea.Int64Value(timed.Body.TotalCount) != 2 {
				t.Fatalf("Timed=true: %v %v", err, timed)
			}

			_, err = cl.StopInvocation(&ecs.StopInvocationRequest{RegionId: tea.String("cn-hangzhou"), InvokeId: tea.String("t-nosuchinvocation")})
			checkSDKError(t, err, 404, "InvalidInvokeId.NotFound")

			want := "signature=V3"
			if tc.algorithm == "v2" {
				want = "signature=V1"
			}
			if l := logs.String(); strings.Count(l, want) != 4 {
				t.Fatalf("the SDK did not sign with %s every time:\n%s", want, l)
			}
			if l := logs.String(); strings.Contains(l, testSecret) || (tc.token != "" && strings.Contains(l, tc.token)) {
				t.Fatal("the log shows a secret")
			}
		})
	}
}

func TestOfficialSDKRefusals(t *testing.T) {
	for _, algorithm := range []string{"", "v2"} {
		run := listen(t, nil)
		_, err := sdkClient(t, run, testKeyID, "wrong-secret", algorithm, "").
			DescribeInvocations(&ecs.DescribeInvocationsRequest{RegionId: tea.String("cn-hangzhou")})
		checkSDKError(t, err, 400, "SignatureDoesNotMatch")
		_, err = sdkClient(t, run, "LTAInobody", testSecret, algorithm, "").
			StopInvocation(&ecs.StopInvocationRequest{RegionId: tea.String("cn-hangzhou"), InvokeId: tea.String(hzOnce)})
		checkSDKError(t, err, 404, "InvalidAccessKeyId.NotFound")
		if run.Stops() != 0 {
			t.Fatal("a refused call stopped something")
		}
	}
}

func listen(t *testing.T, log *slog.Logger) *Running {
	t.Helper()
	run, err := Listen("127.0.0.1:0", Options{AccessKeyID: testKeyID, AccessKeySecret: testSecret, Fleet: SampleFleet(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Close() })
	return run
}

func sdkClient(t *testing.T, run *Running, keyID, secret, algorithm, token string) *ecs.Client {
	t.Helper()
	cfg := &openapiutil.Config{
		AccessKeyId: tea.String(keyID), AccessKeySecret: tea.String(secret),
		Endpoint: tea.String(run.Addr), Protocol: tea.String("HTTP"), RegionId: tea.String("cn-hangzhou"),
		ReadTimeout: tea.Int(5000), ConnectTimeout: tea.Int(2000),
	}
	if algorithm != "" {
		cfg.SignatureAlgorithm = tea.String(algorithm)
	}
	if token != "" {
		cfg.SecurityToken = tea.String(token)
	}
	cl, err := ecs.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func checkSDKError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var se *tea.SDKError
	if !errors.As(err, &se) {
		t.Fatalf("error %T %v, want *tea.SDKError", err, err)
	}
	if tea.StringValue(se.Code) != code || tea.IntValue(se.StatusCode) != status {
		t.Fatalf("SDK error %d %s (%s), want %d %s", tea.IntValue(se.StatusCode), tea.StringValue(se.Code), tea.StringValue(se.Message), status, code)
	}
}

// syncBuffer is a log sink the server's goroutines may write concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
