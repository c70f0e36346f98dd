package main

import (
	"testing"
	"time"
)

func TestParseBenchOutput(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/ecs-stopper/stopper/shared/trigger
cpu: Intel(R) Xeon(R) Processor @ 2.10GHz
BenchmarkInvoke/direct-2         	  312345	      3812 ns/op	  21.78 MB/s	    1456 B/op	      19 allocs/op
BenchmarkInvoke/serve-http-2     	  100000	     11042 ns/op	    6066 B/op	      58 allocs/op
BenchmarkInvoke/lambda-url-refused-401-2 	   50000	      9000 ns/op	    3000 B/op	      31 allocs/op
BenchmarkSweepThrottled-2   	       1	5012345678 ns/op	       199.6 stops/s	         0.998 fraction_of_limit
--- FAIL: BenchmarkBroken
BenchmarkInvoke/odd-2 notanumber 1 ns/op
PASS
ok  	github.com/ecs-stopper/stopper/shared/trigger	12.3s
`
	got := parseBenchOutput(out, 2)
	if len(got) != 4 {
		t.Fatalf("got %d benchmarks, want 4: %+v", len(got), got)
	}
	if b := got[0]; b.Name != "Invoke/direct" || b.Iterations != 312345 || b.Metrics["ns/op"] != 3812 ||
		b.Metrics["allocs/op"] != 19 || b.Metrics["B/op"] != 1456 || b.Metrics["MB/s"] != 21.78 {
		t.Errorf("first = %+v", b)
	}
	if got[1].Name != "Invoke/serve-http" || got[1].Metrics["allocs/op"] != 58 {
		t.Errorf("second = %+v", got[1])
	}
	if got[2].Name != "Invoke/lambda-url-refused-401" {
		t.Errorf("a name ending in digits of its own = %q", got[2].Name)
	}
	if got[3].Name != "SweepThrottled" || got[3].Metrics["stops/s"] != 199.6 {
		t.Errorf("custom metrics = %+v", got[3])
	}
	one := parseBenchOutput("BenchmarkInvoke/fc-http-refused-401 \t 100\t 5 ns/op\n", 1)
	if len(one) != 1 || one[0].Name != "Invoke/fc-http-refused-401" {
		t.Errorf("with -cpu 1 = %+v", one)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 10; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 5 * time.Millisecond}, {90, 9 * time.Millisecond}, {100, 10 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if ds[0] != 10*time.Millisecond {
		t.Error("percentile sorted its argument in place")
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseVmHWM(t *testing.T) {
	status := "Name:\tbootstrap\nVmPeak:\t 1265736 kB\nVmHWM:\t   21344 kB\nVmRSS:\t   20012 kB\n"
	if got := parseVmHWM(status); got != 21344*1024 {
		t.Errorf("parseVmHWM = %d", got)
	}
	if got := parseVmHWM("Name:\tx\n"); got != 0 {
		t.Errorf("parseVmHWM without the line = %d", got)
	}
}
