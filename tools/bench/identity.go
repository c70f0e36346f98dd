package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// The first-call benchmark (shared/config's BenchmarkFirstCall): each
// credential source's first request of a freshly wired function, the
// credential exchange included, against the emulator on loopback.
const (
	identityBenchPkg   = "./shared/config/"
	identityBenchRegex = "FirstCall"
	identityBenchTime  = "20x"
	identityBenchCount = 5 // runs of each sub-benchmark; the median is reported
	identityBaseline   = "env"
	identityWarm       = "warm"
)

// identityRows runs the first-call benchmark and adds one info row per
// credential source: its first call, and what it adds over the env pair's.
func (b *bencher) identityRows() {
	fig := "First call per credential source"
	procs := runtime.GOMAXPROCS(0)
	args := []string{"test", "-run", "^$", "-bench", identityBenchRegex, "-benchtime", identityBenchTime,
		"-count", fmt.Sprint(identityBenchCount), "-cpu", fmt.Sprint(procs), identityBenchPkg}
	b.logf("identity benchmarks: go %s", strings.Join(args, " "))
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = b.root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var rows []row
	if err == nil {
		rows, err = firstCallRows(parseBenchOutput(out.String(), procs))
	}
	if err != nil {
		b.fail(fig, fmt.Errorf("go test -bench %s: %w\n%s", identityBenchRegex, err, out.String()))
		return
	}
	for _, r := range rows {
		b.add(r)
	}
	b.notes = append(b.notes, fmt.Sprintf("First call per credential source: `go test -run '^$' -bench %s -benchtime %s -count %d %s` (shared/config's BenchmarkFirstCall), the median of the %d runs' means. Each iteration wires a new identity and handler through the configuration (untimed, no network) and times its first request, a direct stop (DescribeInvocations, then StopInvocation), which fetches the temporary credentials first; the emulator (STS included) and the AWS stand-ins answer on loopback at once, so a real deployment adds a network round trip per exchange (TLS handshake included) on top. \"+ over env\" is that first call less the env pair's; the warm row is a second request of one function, the floor.",
		identityBenchRegex, identityBenchTime, identityBenchCount, identityBenchPkg, identityBenchCount))
}

// firstCallRows turns the benchmark's lines (several runs of each
// sub-benchmark) into info rows, in the benchmark's order: each source's
// median first call and the difference to env's.
func firstCallRows(benches []bench) ([]row, error) {
	var names []string
	ns := map[string][]time.Duration{}
	exchanges := map[string]float64{}
	for _, be := range benches {
		name, ok := strings.CutPrefix(be.Name, identityBenchRegex+"/")
		v, has := be.Metrics["ns/op"]
		if !ok || !has {
			continue
		}
		if _, seen := ns[name]; !seen {
			names = append(names, name)
		}
		ns[name] = append(ns[name], time.Duration(v))
		exchanges[name] = be.Metrics["exchanges/op"]
	}
	if _, ok := ns[identityBaseline]; !ok {
		return nil, fmt.Errorf("no %s/%s line among %d benchmark lines", identityBenchRegex, identityBaseline, len(benches))
	}
	base := percentile(ns[identityBaseline], 50)
	var rows []row
	for _, name := range names {
		d := percentile(ns[name], 50)
		r := row{ratio: fmt.Sprintf("%.2f×", float64(d)/float64(base)), target: "—", verdict: "info"}
		switch name {
		case identityBaseline:
			r.figure, r.project, r.baseline, r.ratio = "First call, env (info)", ms(d), "—", "1.00×"
		case identityWarm:
			r.figure = "Second call, env (warm: the floor) (info)"
			r.project = fmt.Sprintf("%s (%s from env's first)", ms(d), signedMs(d-base))
			r.baseline = ms(base) + " env first call"
		default:
			r.figure = "First call, " + name + " (info)"
			r.project = fmt.Sprintf("%s (%s over env; %s)", ms(d), signedMs(d-base), plural(exchanges[name], "credential fetch", "credential fetches"))
			r.baseline = ms(base) + " env first call"
		}
		rows = append(rows, r)
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		// The floor last, whatever order the benchmark ran in.
		return btoi(strings.HasPrefix(a.figure, "Second")) - btoi(strings.HasPrefix(b.figure, "Second"))
	})
	return rows, nil
}

// signedMs is a difference in milliseconds with its sign: +0.52 ms.
func signedMs(d time.Duration) string {
	return fmt.Sprintf("%+.2f ms", float64(d)/float64(time.Millisecond))
}

// plural writes n with the unit's form for it: 1 credential fetch.
func plural(n float64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%g %s", n, many)
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}
