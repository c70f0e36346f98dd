package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// percentile is the p-th percentile (0-100) of ds by the nearest-rank
// method; ds need not be sorted and is not changed.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(p/100*float64(len(s))+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// mib formats a byte count in MiB with one decimal.
func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// bench is one benchmark line of go test -bench output.
type bench struct {
	Name       string // without the Benchmark prefix and the -GOMAXPROCS suffix
	Iterations int64
	Metrics    map[string]float64 // by unit: ns/op, B/op, allocs/op, MB/s, custom ones
}

// parseBenchOutput reads the output of go test -bench -cpu procs and returns
// its benchmark lines in order; everything else (PASS, goos:, ok ...) is
// ignored. The -procs suffix go test appends to names when procs is not 1
// is removed (and only that: a name may end in digits of its own).
func parseBenchOutput(out string, procs int) []bench {
	suffix := fmt.Sprintf("-%d", procs)
	var res []bench
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		var b bench
		if _, err := fmt.Sscan(f[1], &b.Iterations); err != nil {
			continue
		}
		b.Name = strings.TrimPrefix(f[0], "Benchmark")
		if procs != 1 {
			b.Name = strings.TrimSuffix(b.Name, suffix)
		}
		b.Metrics = map[string]float64{}
		ok := true
		for i := 2; i+1 < len(f); i += 2 {
			var v float64
			if _, err := fmt.Sscan(f[i], &v); err != nil {
				ok = false
				break
			}
			b.Metrics[f[i+1]] = v
		}
		if ok {
			res = append(res, b)
		}
	}
	return res
}
