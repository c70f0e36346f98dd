package main

import (
	"time"
)

// startTarget is one binary whose start-to-ready is measured.
type startTarget struct {
	name    string
	bin     string
	env     []string
	samples []time.Duration // exec until the first GET next arrives
	rss     []int64         // peak RSS when killed right after
	cpu     []time.Duration // user+system CPU time until killed right after
}

// measureStart execs each target runs times (after warmup unrecorded runs
// each), interleaved in a rotating order so that drift on the machine
// touches every target alike, and records exec-to-first-GET-next.
func measureStart(api *runtimeAPI, targets []*startTarget, runs, warmup int) error {
	n := len(targets)
	for i := -warmup; i < runs; i++ {
		for j := range n {
			t := targets[((i%n)+n+j)%n]
			d, rss, cpu, err := startOnce(api, t)
			if err != nil {
				return err
			}
			if i >= 0 {
				t.samples = append(t.samples, d)
				t.rss = append(t.rss, rss)
				t.cpu = append(t.cpu, cpu)
			}
		}
	}
	return nil
}

func startOnce(api *runtimeAPI, t *startTarget) (time.Duration, int64, time.Duration, error) {
	api.drain()
	t0 := time.Now()
	p, err := startProc(t.bin, t.env)
	if err != nil {
		return 0, 0, 0, err
	}
	ready, err := p.waitReady(api, 10*time.Second)
	rss, cpu := p.kill()
	if err != nil {
		return 0, 0, 0, err
	}
	return ready.Sub(t0), rss, cpu, nil
}
