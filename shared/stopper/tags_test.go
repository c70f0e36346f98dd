package stopper

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// A share's limit is ceil(instances × share), at least 1, exact: 16.1 % of
// 1,000 instances is 161, where float arithmetic made it 162.
func TestShareLimit(t *testing.T) {
	for _, tc := range []struct {
		share     string
		instances int
		want      int
	}{
		{"16.1%", 1000, 161},
		{"16.1%", 999, 161},  // 160.839
		{"16.1%", 1001, 162}, // 161.161
		{"10%", 10, 1},
		{"10%", 11, 2},
		{"10%", 1, 1},
		{"10%", 0, 1}, // at least 1, even of no instances
		{"0.01%", 1, 1},
		{"0.01%", 10000, 1},
		{"0.01%", 10001, 2},
		{"33.33%", 3, 1}, // 0.9999
		{"33.34%", 3, 2}, // 1.0002
		{"50%", 7, 4},
		{"57.5%", 200, 115},
		{"100%", 1, 1},
		{"100%", 1000, 1000},
		{"100%", math.MaxInt, math.MaxInt},
		{"50%", math.MaxInt, math.MaxInt/2 + 1},
		{"0.01%", math.MaxInt, math.MaxInt/10000 + 1},
		{"99.99%", math.MaxInt, exactLimit(9999, math.MaxInt)},
	} {
		th, err := ParseThreshold(tc.share)
		if err != nil {
			t.Fatalf("%s: %v", tc.share, err)
		}
		if got := th.Limit(tc.instances); got != tc.want {
			t.Errorf("%s of %d instances: limit %d, want %d", tc.share, tc.instances, got, tc.want)
		}
	}
}

// A count is its own limit, whatever the instances.
func TestCountLimit(t *testing.T) {
	th, err := ParseThreshold(" 3 ")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 3, 1000} {
		if got := th.Limit(n); got != 3 {
			t.Errorf("3 of %d instances: limit %d", n, got)
		}
	}
}

// Shares and counts as written: plain decimal digits, at most two decimal
// places (trailing zeros carry none), more than 0 %, at most 100 %. They
// read back as written, without trailing zeros; "" is refused.
func TestParseThreshold(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		errHas   string // part of the refusal's message
	}{
		{in: "10%", want: "10%"},
		{in: " 16.1 % ", want: "16.1%"},
		{in: "12.25%", want: "12.25%"},
		{in: "0.01%", want: "0.01%"},
		{in: ".5%", want: "0.5%"},
		{in: "007%", want: "7%"},
		{in: "10.000%", want: "10%"},
		{in: "100.00%", want: "100%"},
		{in: "12.50%", want: "12.5%"},
		{in: "3", want: "3"},
		{in: "12.125%", errHas: "more than 2 decimal places: give a share such as 12.25%"},
		{in: "0.001%", errHas: "more than 2 decimal places"},
		{in: "100.001%", errHas: "more than 2 decimal places"},
		{in: "100.01%", errHas: "at most 100%"},
		{in: "0%", errHas: "more than 0%"},
		{in: "0.00%", errHas: "more than 0%"},
		{in: "1000%", errHas: "at most 100%"},
		{in: "99999999999999999999999%", errHas: "at most 100%"},
		{in: "-5%", errHas: "is not a share"},
		{in: "+5%", errHas: "is not a share"},
		{in: "1e1%", errHas: "is not a share"},
		{in: "NaN%", errHas: "is not a share"},
		{in: "Inf%", errHas: "is not a share"},
		{in: "1,5%", errHas: "is not a share"},
		{in: "1.2.3%", errHas: "is not a share"},
		{in: ".%", errHas: "is not a share"},
		{in: "%", errHas: "is not a share"},
		{in: "5%%", errHas: "is not a share"},
		{in: "0", errHas: "not a count of at least 1"},
		{in: "1.5", errHas: "not a count of at least 1"},
	} {
		th, err := ParseThreshold(tc.in)
		var e *Error
		errors.As(err, &e)
		switch {
		case tc.errHas == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.errHas == "" && th.String() != tc.want:
			t.Errorf("%q reads back as %q, want %q", tc.in, th.String(), tc.want)
		case tc.errHas != "" && (e == nil || e.Code != CodeInvalidParameter || !strings.Contains(e.Message, tc.errHas) || !th.IsZero()):
			t.Errorf("%q: %+v, %v; want InvalidParameter with %q", tc.in, th, err, tc.errHas)
		}
	}
}

// A tag too precise to read leaves the invocation alone, and its message
// names the form a threshold takes.
func TestMaxErrorsTagTooPrecise(t *testing.T) {
	o := readOwnerTags([]ca.Tag{{TagKey: TagMaxErrors, TagValue: "16.125%"}})
	if o.maxErrorsErr == nil || o.maxErrorsErr.Code != CodeInvalidTag || !o.maxErrors.IsZero() ||
		!strings.Contains(o.maxErrorsErr.Message, "at most 2 decimal places") {
		t.Fatalf("%+v", o)
	}
}

// Property: over many shares and instance counts, the written share read
// exactly (big.Rat) times the instances, rounded up and at least 1, is the
// limit; and the threshold reads back as the same number.
func TestShareLimitMatchesExactArithmetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	counts := func() int {
		switch rng.IntN(4) {
		case 0:
			return rng.IntN(20)
		case 1:
			return rng.IntN(10_000)
		case 2:
			return rng.IntN(1 << 40)
		default:
			return math.MaxInt - rng.IntN(1000)
		}
	}
	for i := 0; i < 50_000; i++ {
		hundredths := 1 + rng.IntN(10_000)
		written := fmt.Sprintf("%d.%02d", hundredths/100, hundredths%100)
		n := counts()
		th, err := ParseThreshold(written + "%")
		if err != nil {
			t.Fatalf("%s%%: %v", written, err)
		}
		share, ok := new(big.Rat).SetString(written)
		if !ok {
			t.Fatal(written)
		}
		if back, _ := new(big.Rat).SetString(strings.TrimSuffix(th.String(), "%")); back.Cmp(share) != 0 {
			t.Fatalf("%s%% reads back as %s", written, th.String())
		}
		if got, want := th.Limit(n), ratLimit(share, n); got != want {
			t.Fatalf("%s%% of %d instances: limit %d, exact %d", written, n, got, want)
		}
	}
}

// Every share of one decimal place against every count up to 1,000: the
// grid where float arithmetic was off by one.
func TestShareLimitGrid(t *testing.T) {
	for tenths := 1; tenths <= 1000; tenths++ {
		th, err := ParseThreshold(fmt.Sprintf("%d.%d%%", tenths/10, tenths%10))
		if err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= 1000; n++ {
			if got, want := th.Limit(n), exactLimit(tenths*10, n); got != want {
				t.Fatalf("%s of %d instances: limit %d, exact %d", th, n, got, want)
			}
		}
	}
}

// exactLimit is max(ceil(n × hundredths / 10000), 1) in big.Rat.
func exactLimit(hundredths, n int) int {
	return ratLimit(big.NewRat(int64(hundredths), 100), n)
}

// ratLimit is max(ceil(n × percent / 100), 1) in exact arithmetic.
func ratLimit(percent *big.Rat, n int) int {
	x := new(big.Rat).Mul(percent, new(big.Rat).SetInt64(int64(n)))
	x.Quo(x, big.NewRat(100, 1))
	q, r := new(big.Int).QuoRem(x.Num(), x.Denom(), new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return max(int(q.Int64()), 1)
}

// Any text that parses as a share has a limit equal to the exact one for
// any instance count.
func FuzzShareLimit(f *testing.F) {
	for _, s := range []string{"16.1", "0.01", "100", "12.50", ".5", "99.99", "1e2", "100.001"} {
		f.Add(s, 1000)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		th, err := ParseThreshold(s + "%")
		if err != nil || th.Count > 0 {
			return
		}
		share, ok := new(big.Rat).SetString(strings.TrimSpace(s))
		if !ok {
			t.Fatalf("%q parsed as %s but is no decimal", s, th)
		}
		n = max(n, 0)
		if got, want := th.Limit(n), ratLimit(share, n); got != want {
			t.Fatalf("%q%% of %d instances: limit %d, exact %d", s, n, got, want)
		}
	})
}

// Shares: more than 0 %, at most 100 %; a count: at least 1. The threshold
// reads back as written ("" when unset).
func TestThresholdBounds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" refused
	}{
		{"100%", "100%"}, {"0%", ""}, {"0.5%", "0.5%"}, {"100.0001%", ""}, {"1", "1"}, {"0", ""}, {"12", "12"},
	} {
		th, err := ParseThreshold(tc.in)
		if got := th.String(); got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if s := (Threshold{}).String(); s != "" {
		t.Errorf("unset threshold reads %q", s)
	}
}
