package ecs_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/ecs"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// The project's client against the embedded emulator, over real loopback HTTP:
// the signer and the emulator's verifier must agree, as they both must agree
// with the official SDK (shared/emulator/sdk_test.go).
func startEmulator(t *testing.T, opts emulator.Options) (*emulator.Running, *ecs.Client) {
	t.Helper()
	opts.AccessKeyID, opts.AccessKeySecret = "LTAI-test", "test-secret"
	emu, err := emulator.Listen("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	client, err := ecs.New(ecs.Options{
		Credentials: acs.Credentials{AccessKeyID: "LTAI-test", AccessKeySecret: "test-secret", SecurityToken: "sts-token"},
		Endpoint:    emu.URL, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return emu, client
}

func TestClientStops120InstancesInThreeCalls(t *testing.T) {
	inv := cloudassistant.Invocation{RegionId: "cn-hangzhou", InvokeId: "t-big120", CommandName: "backup", RepeatMode: "Once",
		CreationTime: "2026-11-20T00:00:00Z"}
	var ids []string
	for i := range 120 {
		id := fmt.Sprintf("i-bp1big%05d", i)
		ids = append(ids, id)
		inv.InvokeInstances.InvokeInstance = append(inv.InvokeInstances.InvokeInstance,
			cloudassistant.InvokeInstance{InstanceId: id, InvocationStatus: "Pending"})
	}
	emu, client := startEmulator(t, emulator.Options{Fleet: &emulator.Fleet{Invocations: []cloudassistant.Invocation{inv}}})

	if err := client.StopInvocation(context.Background(), "cn-hangzhou", "t-big120", ids); err != nil {
		t.Fatal(err)
	}
	if got := emu.StopCalls("cn-hangzhou", "t-big120"); got != 3 {
		t.Fatalf("StopInvocation calls = %d, want 3 (50+50+20)", got)
	}
	after, _ := emu.Invocation("cn-hangzhou", "t-big120")
	for _, in := range after.InvokeInstances.InvokeInstance {
		if in.InvocationStatus != "Cancelled" {
			t.Fatalf("instance %s is %s, want Cancelled", in.InstanceId, in.InvocationStatus)
		}
	}
	resp, err := client.DescribeInvocations(context.Background(), cloudassistant.DescribeInvocationsRequest{RegionId: "cn-hangzhou", InvokeId: "t-big120"})
	if err != nil || len(resp.Invocations.Invocation) != 1 || resp.Invocations.Invocation[0].InvocationStatus != "Stopped" {
		t.Fatalf("DescribeInvocations after the stop = %+v, %v", resp, err)
	}
}

func TestClientUnknownIdsAnswerTheAPICodes(t *testing.T) {
	_, client := startEmulator(t, emulator.Options{Fleet: emulator.SampleFleet()})
	for _, tc := range []struct {
		name, region, invoke string
		instances            []string
		code                 string
		status               int
	}{
		{"unknown region", "xx-nowhere-1", "t-1fad2a8876de47068cc734d57703aa76", nil, "InvalidRegionId.NotFound", 404},
		{"unknown invocation", "cn-hangzhou", "t-doesnotexist", nil, "InvalidInvokeId.NotFound", 404},
		{"invocation in another region", "cn-shanghai", "t-1fad2a8876de47068cc734d57703aa76", nil, "InvalidInvokeId.NotFound", 404},
		{"unknown instance", "cn-hangzhou", "t-1fad2a8876de47068cc734d57703aa76", []string{"i-notpartofit"}, "InvalidInstanceId.NotFound", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := client.StopInvocation(context.Background(), tc.region, tc.invoke, tc.instances)
			var api *cloudassistant.Error
			if !errors.As(err, &api) || api.Code != tc.code || api.HTTPStatus != tc.status || api.RequestId == "" {
				t.Fatalf("err = %v, want %s (%d)", err, tc.code, tc.status)
			}
		})
	}
}

func TestClientWrongSecretIsRefused(t *testing.T) {
	emu, _ := startEmulator(t, emulator.Options{Fleet: emulator.SampleFleet()})
	client, _ := ecs.New(ecs.Options{Credentials: acs.Credentials{AccessKeyID: "LTAI-test", AccessKeySecret: "wrong"}, Endpoint: emu.URL})
	err := client.StopInvocation(context.Background(), "cn-hangzhou", "t-1fad2a8876de47068cc734d57703aa76", nil)
	var api *cloudassistant.Error
	if !errors.As(err, &api) || api.Code != "SignatureDoesNotMatch" {
		t.Fatalf("err = %v, want SignatureDoesNotMatch", err)
	}
	if emu.Stops() != 0 {
		t.Fatal("a badly signed call stopped something")
	}
}

// Transient faults are retried and the stop goes through.
func TestClientRetriesEmulatorFaults(t *testing.T) {
	emu, client := startEmulator(t, emulator.Options{Fleet: emulator.SampleFleet(), FailFirst: 2})
	if err := client.StopInvocation(context.Background(), "cn-hangzhou", "t-sh0stuck9a8b7c6d5e4f3a2b1c0d9e8f", nil); err == nil {
		t.Fatal("stopping a cn-shanghai invocation in cn-hangzhou succeeded")
	}
	if err := client.StopInvocation(context.Background(), "cn-shanghai", "t-sh0stuck9a8b7c6d5e4f3a2b1c0d9e8f", nil); err != nil {
		t.Fatal(err)
	}
	if emu.StopCalls("cn-shanghai", "t-sh0stuck9a8b7c6d5e4f3a2b1c0d9e8f") != 1 {
		t.Fatalf("stop calls = %d", emu.StopCalls("cn-shanghai", "t-sh0stuck9a8b7c6d5e4f3a2b1c0d9e8f"))
	}
}

// A caller that paces itself hears of every throttled attempt, also the ones
// the client's retries got past.
func TestClientNoticesThrottledAttempts(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) <= 2 {
			w.WriteHeader(400)
			w.Write([]byte(`{"RequestId":"R","HostId":"h","Code":"Throttling.User","Message":"Request was denied due to user flow control."}`))
			return
		}
		w.Write([]byte(`{"RequestId":"R"}`))
	}))
	defer srv.Close()
	client, _ := ecs.New(ecs.Options{Credentials: acs.Credentials{AccessKeyID: "id", AccessKeySecret: "secret"},
		Endpoint: srv.URL, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond})
	var noticed atomic.Int32
	ctx := cloudassistant.WithThrottleNotice(context.Background(), func() { noticed.Add(1) })
	if err := client.StopInvocation(ctx, "cn-hangzhou", "t-abc", nil); err != nil {
		t.Fatal(err)
	}
	if noticed.Load() != 2 {
		t.Fatalf("noticed %d throttled attempts, want 2", noticed.Load())
	}
}
