package main

import (
	"encoding/json"
	"fmt"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

const (
	sweepRegion  = "cn-hangzhou"
	sweepEvent   = `{"Action":"Sweep","RegionIds":["cn-hangzhou"]}`
	emuKeyID     = "LTAI-bench-emulator"
	emuKeySecret = "bench-emulator-secret-0123456789"
)

// sweepEnv is the sweep's configuration in every run: invocations older
// than an hour are stale, and no limit on how many one sweep stops (the
// default limit, 100, would refuse these sweeps).
var sweepEnv = []string{"STOPPER_SWEEP_OLDER_THAN=1h", "STOPPER_SWEEP_MAX_STOPS=0"}

// staleFleet is n one-time invocations, Pending on one instance each, in
// one region: the first stale of them created three hours before now (a
// sweep of invocations older than an hour stops them), the others ten
// minutes before now (listed, and left alone).
func staleFleet(n, stale int, now time.Time) *emulator.Fleet {
	old, fresh := now.Add(-3*time.Hour).UTC().Format(time.RFC3339), now.Add(-10*time.Minute).UTC().Format(time.RFC3339)
	f := &emulator.Fleet{Invocations: make([]ca.Invocation, n)}
	for i := range n {
		created := old
		if i >= stale {
			created = fresh
		}
		f.Invocations[i] = ca.Invocation{
			RegionId: sweepRegion, InvokeId: fmt.Sprintf("t-bench%025d", i), CommandName: "backup",
			CommandType: "RunShellScript", RepeatMode: ca.RepeatOnce, CreationTime: created,
			InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{{
				InstanceId: fmt.Sprintf("i-bench%015d", i), InvocationStatus: ca.StatusPending, CreationTime: created}}},
		}
	}
	return f
}

// sweepResult is one sweep run by a function process.
type sweepResult struct {
	n, stale         int
	stopped, failed  int
	truncated        bool
	elapsed          time.Duration // event handed out until the answer arrived
	rss              int64         // the function process's peak RSS
	stopCalls, stops int           // as the emulator counted them
}

func (r sweepResult) rate() float64 { return float64(r.stopped) / r.elapsed.Seconds() }

// runSweep starts an emulator holding n invocations of which stale are
// stale (throttled at qps with burst, or not at all when qps is 0) in this
// process, starts the function process with env pointed at it, waits until
// it asks for an event, hands it the sweep event, and times the sweep until
// the answer arrives. The function is never told the rate.
func runSweep(api *runtimeAPI, bin string, env []string, n, stale int, qps float64, burst int, timeout time.Duration) (res sweepResult, err error) {
	res.n, res.stale = n, stale
	emu, err := emulator.Listen("127.0.0.1:0", emulator.Options{AccessKeyID: emuKeyID, AccessKeySecret: emuKeySecret,
		Fleet: staleFleet(n, stale, time.Now()), ThrottleQPS: qps, ThrottleBurst: burst})
	if err != nil {
		return res, err
	}
	defer emu.Close()
	env = append(env[:len(env):len(env)], "STOPPER_ECS_ENDPOINT="+emu.URL)
	env = append(env, sweepEnv...)

	a, elapsed, rss, err := sweepOnce(api, bin, env, "bench-sweep", sweepEvent, timeout)
	res.elapsed, res.rss = elapsed, rss
	if err != nil {
		return res, err
	}
	var body struct {
		Stopped   []json.RawMessage
		Failed    []json.RawMessage
		Truncated bool
	}
	if err := json.Unmarshal(a.body, &body); err != nil {
		return res, fmt.Errorf("the sweep's answer %.200s: %w", a.body, err)
	}
	res.stopped, res.failed, res.truncated = len(body.Stopped), len(body.Failed), body.Truncated
	res.stopCalls, res.stops = emu.Calls("StopInvocation"), emu.Stops()
	return res, nil
}

// sweepOnce starts the function process with env, waits until it asks for
// an event, hands it payload, and times it until the answer arrives; rss
// is the process's peak RSS. An answer on the error path is an error.
func sweepOnce(api *runtimeAPI, bin string, env []string, id, payload string, timeout time.Duration) (a answer, elapsed time.Duration, rss int64, err error) {
	api.drain()
	p, err := startProc(bin, env)
	if err != nil {
		return a, 0, 0, err
	}
	defer func() { rss, _ = p.kill() }()
	if _, err := p.waitReady(api, 10*time.Second); err != nil {
		return a, 0, 0, err
	}
	served := make(chan time.Time, 1)
	api.events <- event{id: id, payload: []byte(payload), deadline: time.Now().Add(timeout), served: served}
	start := <-served
	select {
	case a = <-api.answers:
	case <-p.exited:
		return a, 0, 0, fmt.Errorf("the function exited during the sweep (%s):\n%s", exitStatus(p.err), p.out)
	case <-time.After(timeout + 10*time.Second):
		return a, 0, 0, fmt.Errorf("no answer to the sweep within %s:\n%s", timeout, p.out)
	}
	elapsed = a.at.Sub(start)
	if a.path != "response" {
		return a, elapsed, 0, fmt.Errorf("the sweep answered on %s: %.300s", a.path, a.body)
	}
	return a, elapsed, 0, nil
}
