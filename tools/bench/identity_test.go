package main

import (
	"strings"
	"testing"
)

func TestFirstCallRows(t *testing.T) {
	out := `BenchmarkFirstCall/env-2         	      20	   1000000 ns/op	         0 exchanges/op
BenchmarkFirstCall/oidc-aws-2    	      20	   3000000 ns/op	         2.000 exchanges/op
BenchmarkFirstCall/warm-2        	      20	    300000 ns/op	         0 exchanges/op
BenchmarkFirstCall/env-2         	      20	    600000 ns/op	         0 exchanges/op
BenchmarkFirstCall/oidc-aws-2    	      20	   2500000 ns/op	         2.000 exchanges/op
BenchmarkFirstCall/warm-2        	      20	    400000 ns/op	         0 exchanges/op
BenchmarkFirstCall/env-2         	      20	    800000 ns/op	         0 exchanges/op
BenchmarkFirstCall/oidc-aws-2    	      20	   2000000 ns/op	         2.000 exchanges/op
BenchmarkFirstCall/warm-2        	      20	    350000 ns/op	         0 exchanges/op
BenchmarkInvoke/direct-2 	  312345	      3812 ns/op
`
	for _, tc := range []struct {
		name, out string
		want      []string // each row's figure | project | baseline, in order
		err       string
	}{
		{"medians over the runs", out, []string{
			"First call, env (info) | 0.80 ms | —",
			"First call, oidc-aws (info) | 2.50 ms (+1.70 ms over env; 2 credential fetches) | 0.80 ms env first call",
			"Second call, env (warm: the floor) (info) | 0.35 ms (-0.45 ms from env's first) | 0.80 ms env first call",
		}, ""},
		{"one fetch", "BenchmarkFirstCall/env-2 20 1000000 ns/op 0 exchanges/op\nBenchmarkFirstCall/oidc-file-2 20 1500000 ns/op 1.000 exchanges/op\n",
			[]string{"First call, env (info) | 1.00 ms | —", "First call, oidc-file (info) | 1.50 ms (+0.50 ms over env; 1 credential fetch) | 1.00 ms env first call"}, ""},
		{"floor listed first still ends last", "BenchmarkFirstCall/warm-2 20 100000 ns/op\nBenchmarkFirstCall/env-2 20 1000000 ns/op\n",
			[]string{"First call, env (info) | 1.00 ms | —", "Second call, env (warm: the floor) (info) | 0.10 ms (-0.90 ms from env's first) | 1.00 ms env first call"}, ""},
		{"no env line", "BenchmarkFirstCall/oidc-file-2 20 1500000 ns/op\n", nil, "no FirstCall/env line"},
		{"no benchmark at all", "FAIL\n", nil, "among 0 benchmark lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := firstCallRows(parseBenchOutput(tc.out, 2))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				if r.target != "—" || r.verdict != "info" {
					t.Errorf("row %+v: want target — and verdict info", r)
				}
				got = append(got, r.figure+" | "+r.project+" | "+r.baseline)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
