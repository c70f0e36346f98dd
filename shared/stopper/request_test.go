package stopper

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestDecodeStopRequest(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       StopRequest
	}{
		{"array form", `{"Action":"StopInvocation","RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76","InstanceIds":["i-a1","i-b2"]}`,
			StopRequest{RegionId: "cn-hangzhou", InvokeId: "t-1fad2a8876de47068cc734d57703aa76", InstanceIds: []string{"i-a1", "i-b2"}}},
		{"string form", `{"Action":"StopInvocation","RegionId":"cn-hangzhou","InvokeId":"t-1","InstanceIds":"[\"i-a1\", \"hbm-b2\"]"}`,
			StopRequest{RegionId: "cn-hangzhou", InvokeId: "t-1", InstanceIds: []string{"i-a1", "hbm-b2"}}},
		{"action defaults with InvokeId", `{"InvokeId":"t-abc"}`, StopRequest{InvokeId: "t-abc"}},
		{"duplicates removed in order", `{"InvokeId":"t-abc","InstanceIds":["i-b","i-a","i-b","mi-c","i-a"]}`,
			StopRequest{InvokeId: "t-abc", InstanceIds: []string{"i-b", "i-a", "mi-c"}}},
		{"absent list means all", `{"InvokeId":"t-abc","RegionId":null}`, StopRequest{InvokeId: "t-abc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := DecodeRequest([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if r.Stop == nil || r.Sweep != nil || r.Action() != ActionStopInvocation {
				t.Fatalf("got %+v", r)
			}
			got := *r.Stop
			if got.RegionId != tc.want.RegionId || got.InvokeId != tc.want.InvokeId || fmt.Sprint(got.InstanceIds) != fmt.Sprint(tc.want.InstanceIds) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeManyInstances(t *testing.T) {
	ids := make([]string, 250)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"i-%04d"`, i)
	}
	r, err := DecodeRequest([]byte(`{"InvokeId":"t-x","InstanceIds":[` + strings.Join(ids, ",") + `]}`))
	if err != nil || len(r.Stop.InstanceIds) != 250 {
		t.Fatalf("no instance limit on callers: %v, %d", err, len(r.Stop.InstanceIds))
	}
}

func TestDecodeSweepRequest(t *testing.T) {
	r, err := DecodeRequest([]byte(`{"Action":"Sweep","RegionIds":["cn-hangzhou","cn-shanghai","cn-hangzhou"],"OlderThan":"90m","CommandName":"backup","Tags":{"env":"prod"},"IncludePeriodic":true,"DryRun":true}`))
	if err != nil {
		t.Fatal(err)
	}
	s := r.Sweep
	if s == nil || r.Action() != ActionSweep || len(s.RegionIds) != 2 || s.OlderThan != 90*time.Minute || s.CommandName != "backup" ||
		s.Tags["env"] != "prod" || s.IncludePeriodic == nil || !*s.IncludePeriodic || s.DryRun == nil || !*s.DryRun {
		t.Fatalf("got %+v", s)
	}
	r, err = DecodeRequest([]byte(`{"Action":"Sweep"}`))
	if err != nil || r.Sweep == nil || r.Sweep.RegionIds != nil || r.Sweep.OlderThan != 0 || r.Sweep.DryRun != nil {
		t.Fatalf("a bare sweep leaves every field to the defaults: %+v, %v", r.Sweep, err)
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	deep := strings.Repeat("[", MaxNesting+1) + strings.Repeat("]", MaxNesting+1)
	for _, tc := range []struct{ name, body, code, field string }{
		{"missing InvokeId", `{"Action":"StopInvocation","RegionId":"cn-hangzhou"}`, "MissingParameter.InvokeId", "InvokeId"},
		{"empty object", `{}`, "MissingParameter.InvokeId", "InvokeId"},
		{"empty InvokeId", `{"InvokeId":""}`, "MissingParameter.InvokeId", "InvokeId"},
		{"not JSON", `InvokeId=t-1`, "InvalidParameter", "body"},
		{"empty body", ``, "InvalidParameter", "body"},
		{"array", `["t-1"]`, "InvalidParameter", "body"},
		{"trailing data", `{"InvokeId":"t-1"} {}`, "InvalidParameter", "body"},
		{"too deep", `{"InvokeId":"t-1","InstanceIds":` + deep + `}`, "InvalidParameter", "body"},
		{"unknown action", `{"Action":"RunCommand","InvokeId":"t-1"}`, "InvalidParameter", "Action"},
		{"action not string", `{"Action":1}`, "InvalidParameter", "Action"},
		{"lower-case key", `{"invokeid":"t-1"}`, "InvalidParameter", "invokeid"},
		{"unknown key", `{"InvokeId":"t-1","Force":true}`, "InvalidParameter", "Force"},
		{"repeated key", `{"InvokeId":"t-1","InvokeId":"t-2"}`, "InvalidParameter", "InvokeId"},
		{"bad invoke id", `{"InvokeId":"1fad2a88"}`, "InvalidParameter", "InvokeId"},
		{"invoke id with symbols", `{"InvokeId":"t-../x"}`, "InvalidParameter", "InvokeId"},
		{"invoke id number", `{"InvokeId":12}`, "InvalidParameter", "InvokeId"},
		{"bad region", `{"InvokeId":"t-1","RegionId":"CN Hangzhou"}`, "InvalidParameter", "RegionId"},
		{"bad instance id", `{"InvokeId":"t-1","InstanceIds":["i-a","vm-b"]}`, "InvalidParameter", "InstanceIds"},
		{"instances not a list", `{"InvokeId":"t-1","InstanceIds":{"i-a":1}}`, "InvalidParameter", "InstanceIds"},
		{"string not a list", `{"InvokeId":"t-1","InstanceIds":"i-a,i-b"}`, "InvalidParameter", "InstanceIds"},
		{"dry run not bool", `{"InvokeId":"t-1","DryRun":"yes"}`, "InvalidParameter", "DryRun"},
		{"sweep bad duration", `{"Action":"Sweep","OlderThan":"2 hours"}`, "InvalidParameter", "OlderThan"},
		{"sweep negative duration", `{"Action":"Sweep","OlderThan":"-1h"}`, "InvalidParameter", "OlderThan"},
		{"sweep duration number", `{"Action":"Sweep","OlderThan":7200}`, "InvalidParameter", "OlderThan"},
		{"sweep bad region", `{"Action":"Sweep","RegionIds":["cn_hangzhou"]}`, "InvalidParameter", "RegionIds"},
		{"sweep tags not strings", `{"Action":"Sweep","Tags":{"a":1}}`, "InvalidParameter", "Tags"},
		{"sweep stop field", `{"Action":"Sweep","InvokeId":"t-1"}`, "InvalidParameter", "InvokeId"},
		// A present but empty list is a caller's bug, never "every instance".
		{"empty instance list", `{"InvokeId":"t-1","InstanceIds":[]}`, "InvalidParameter", "omit InstanceIds"},
		{"empty list in a string", `{"InvokeId":"t-1","InstanceIds":"[]"}`, "InvalidParameter", "omit InstanceIds"},
		{"empty string", `{"InvokeId":"t-1","InstanceIds":""}`, "InvalidParameter", "omit InstanceIds"},
		{"blank string", `{"InvokeId":"t-1","InstanceIds":"  "}`, "InvalidParameter", "omit InstanceIds"},
		{"null in a string", `{"InvokeId":"t-1","InstanceIds":"null"}`, "InvalidParameter", "omit InstanceIds"},
		{"null list", `{"InvokeId":"t-1","InstanceIds":null}`, "InvalidParameter", "omit InstanceIds"},
		{"instance not a string", `{"InvokeId":"t-1","InstanceIds":["i-a",7]}`, "InvalidParameter", "InstanceIds"},
		{"too many instances", `{"InvokeId":"t-1","InstanceIds":[` + strings.Repeat(`"i-a",`, 10000) + `"i-b"]}`, "InvalidParameter", "10001 entries"},
		{"repeated tag key", `{"Action":"Sweep","Tags":{"env":"prod","env":"dev"}}`, "InvalidParameter", "Tags"},
		{"too many regions", `{"Action":"Sweep","RegionIds":[` + strings.Repeat(`"cn-a",`, MaxRegions) + `"cn-b"]}`, "InvalidParameter", "RegionIds"},
		{"max stops zero", `{"Action":"Sweep","MaxStops":0}`, "InvalidParameter", "MaxStops"},
		{"max stops fraction", `{"Action":"Sweep","MaxStops":1.5}`, "InvalidParameter", "MaxStops"},
		{"max stops string", `{"Action":"Sweep","MaxStops":"5"}`, "InvalidParameter", "MaxStops"},
		{"empty command name", `{"Action":"Sweep","CommandName":""}`, "InvalidParameter", "CommandName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRequest([]byte(tc.body))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error = %v, want *Error", err)
			}
			if e.Code != tc.code || !strings.Contains(e.Message, tc.field) {
				t.Fatalf("error = %+v, want %s naming %s", e, tc.code, tc.field)
			}
		})
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"Action":"StopInvocation","RegionId":"cn-hangzhou","InvokeId":"t-1fad2a8876de47068cc734d57703aa76","InstanceIds":["i-a","i-b"]}`,
		`{"InvokeId":"t-1","InstanceIds":"[\"i-a\"]"}`,
		`{"Action":"Sweep","RegionIds":["cn-hangzhou"],"OlderThan":"2h","Tags":{"k":"v"},"DryRun":true}`,
		`{"InvokeId":"t-1","InstanceIds":"[[[[[[[[[[]]]]]]]]]]"}`,
		`{"a":"\"{["}`, `[`, `{"InvokeId":"t-1","InvokeId":"t-1"}`,
	} {
		f.Add([]byte(s))
	}
	for _, b := range sampleRequests(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeRequest(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Code != CodeInvalidParameter && !strings.HasPrefix(e.Code, "MissingParameter.")) {
				t.Fatalf("error %v is not an InvalidParameter or MissingParameter *Error", err)
			}
			return
		}
		if (r.Stop == nil) == (r.Sweep == nil) {
			t.Fatalf("exactly one of Stop and Sweep must be set: %+v", r)
		}
		if r.Stop != nil {
			if !ValidInvokeID(r.Stop.InvokeId) {
				t.Fatalf("accepted invoke id %q", r.Stop.InvokeId)
			}
			seen := map[string]bool{}
			for _, id := range r.Stop.InstanceIds {
				if !ValidInstanceID(id) || seen[id] {
					t.Fatalf("accepted instance ids %q", r.Stop.InstanceIds)
				}
				seen[id] = true
			}
		}
	})
}

func TestIDForms(t *testing.T) {
	for _, tc := range []struct {
		valid func(string) bool
		id    string
		want  bool
	}{
		{ValidInvokeID, "t-1fad2a8876de47068cc734d57703aa76", true},
		{ValidInvokeID, "t-", false},
		{ValidInvokeID, "t-a_b", false},
		{ValidInvokeID, "T-abc", false},
		{ValidInvokeID, "t-" + strings.Repeat("a", 65), false},
		{ValidInstanceID, "i-bp1abc", true},
		{ValidInstanceID, "hbm-abc", true},
		{ValidInstanceID, "mi-ABC123", true},
		{ValidInstanceID, "i-", false},
		{ValidInstanceID, "vm-abc", false},
		{ValidInstanceID, "i-abc ", false},
		{ValidRegionID, "cn-hangzhou", true},
		{ValidRegionID, "ap-southeast-1", true},
		{ValidRegionID, "1cn", false},
		{ValidRegionID, "cn_hangzhou", false},
		{ValidRegionID, "CN-hangzhou", false},
		{ValidRegionID, "", false},
	} {
		if got := tc.valid(tc.id); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.id, got, tc.want)
		}
	}
}

// A huge InstanceIds list is counted before any element is decoded: a
// 6 MiB array over the limit costs a scan, not tens of MiB of strings.
func TestHugeInstanceListCostsAScan(t *testing.T) {
	body := []byte(`{"InvokeId":"t-1","InstanceIds":[` + strings.Repeat(`"i-0123456789abcdef",`, 300000) + `"i-x"]}`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := DecodeRequest(body)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "300001 entries") {
		t.Fatalf("err = %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("refusing a %d-byte list allocated %d bytes", len(body), grew)
	}
}

// The request rules hold at their exact bounds: the largest value allowed
// is accepted and the next one refused, naming the field.
func TestDecodeRequestBounds(t *testing.T) {
	sweep := func(fields string) string { return `{"Action":"Sweep",` + fields + `}` }
	quoted := func(n int) string { return `"` + strings.Repeat("a", n) + `"` }
	tags := func(n int) string {
		var kv []string
		for i := range n {
			kv = append(kv, fmt.Sprintf(`"k%02d":"v"`, i))
		}
		return `{` + strings.Join(kv, ",") + `}`
	}
	regions := func(n int) string {
		var ids []string
		for i := range n {
			ids = append(ids, fmt.Sprintf(`"cn-r%02d"`, i))
		}
		return `[` + strings.Join(ids, ",") + `]`
	}
	nested := func(depth int) string { // a body nesting depth levels, the innermost a Tags value
		return sweep(`"Tags":{"a":` + strings.Repeat("[", depth-2) + `1` + strings.Repeat("]", depth-2) + `}`)
	}
	for _, tc := range []struct {
		name, body string
		err        string // "" accepted; else the start of the error message
		check      func(Request) bool
	}{
		{"OlderThan 1ns", sweep(`"OlderThan":"1ns"`), "", func(r Request) bool { return r.Sweep.OlderThan == 1 }},
		{"OlderThan 0s", sweep(`"OlderThan":"0s"`), "OlderThan: ", nil},
		{"CommandName of 128", sweep(`"CommandName":` + quoted(128)), "", func(r Request) bool { return len(r.Sweep.CommandName) == 128 }},
		{"CommandName of 129", sweep(`"CommandName":` + quoted(129)), "CommandName: ", nil},
		{"MaxStops 1", sweep(`"MaxStops":1`), "", func(r Request) bool { return r.Sweep.MaxStops == 1 }},
		{"MaxStops 90", sweep(`"MaxStops":90`), "", func(r Request) bool { return r.Sweep.MaxStops == 90 }},
		{"MaxStops 109", sweep(`"MaxStops":109`), "", func(r Request) bool { return r.Sweep.MaxStops == 109 }},
		{"MaxStops of 9 digits", sweep(`"MaxStops":987654321`), "", func(r Request) bool { return r.Sweep.MaxStops == 987654321 }},
		{"MaxStops of 10 digits", sweep(`"MaxStops":1000000000`), "MaxStops: ", nil},
		{"MaxStops 0", sweep(`"MaxStops":0`), "MaxStops: ", nil},
		{"MaxStops with a leading 0", sweep(`"MaxStops":07`), "body: ", nil},
		{"MaxStops negative", sweep(`"MaxStops":-1`), "MaxStops: ", nil},
		{"MaxStops fraction", sweep(`"MaxStops":1.5`), "MaxStops: ", nil},
		{"MaxStops exponent", sweep(`"MaxStops":1e3`), "MaxStops: ", nil},
		{"MaxStops string", sweep(`"MaxStops":"5"`), "MaxStops: ", nil},
		{"tag key of 128", sweep(`"Tags":{` + quoted(128) + `:"v"}`), "", func(r Request) bool { return r.Sweep.Tags[strings.Repeat("a", 128)] == "v" }},
		{"tag key of 129", sweep(`"Tags":{` + quoted(129) + `:"v"}`), "Tags: tag keys", nil},
		{"tag value of 128", sweep(`"Tags":{"k":` + quoted(128) + `}`), "", func(r Request) bool { return len(r.Sweep.Tags["k"]) == 128 }},
		{"tag value of 129", sweep(`"Tags":{"k":` + quoted(129) + `}`), `Tags: the value of "k"`, nil},
		{"20 tags", sweep(`"Tags":` + tags(MaxTags)), "", func(r Request) bool { return len(r.Sweep.Tags) == MaxTags }},
		{"21 tags", sweep(`"Tags":` + tags(MaxTags+1)), "Tags: has more than 20", nil},
		{"50 regions", sweep(`"RegionIds":` + regions(MaxRegions)), "", func(r Request) bool { return len(r.Sweep.RegionIds) == MaxRegions }},
		{"51 regions", sweep(`"RegionIds":` + regions(MaxRegions+1)), "RegionIds: has 51 entries", nil},
		// MaxNesting levels pass the nesting check (and fail on the field);
		// one more is refused before any field is read.
		{"nesting 8", nested(MaxNesting), "Tags: ", nil},
		{"nesting 9", nested(MaxNesting + 1), "body: nests deeper than 8", nil},
		{"InstanceIds string nesting 9", `{"InvokeId":"t-1","InstanceIds":"` + strings.Repeat("[", 9) + strings.Repeat("]", 9) + `"}`,
			"InstanceIds: must be a JSON array", nil},
		{"not JSON says where", `{"InvokeId": }`, "body: is not valid JSON: invalid character '}'", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := DecodeRequest([]byte(tc.body))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err == "" && !tc.check(r):
				t.Fatalf("decoded as %+v", r.Sweep)
			case tc.err != "" && (err == nil || !strings.HasPrefix(AsError(err).Message, tc.err) || AsError(err).Code != CodeInvalidParameter):
				t.Fatalf("err = %v, want a message starting %q", err, tc.err)
			}
		})
	}
}

// Ids and region ids: every letter and digit at the ends of their ranges,
// and the longest id accepted.
func TestIDFormBounds(t *testing.T) {
	for _, tc := range []struct {
		valid func(string) bool
		id    string
		want  bool
	}{
		{ValidRegionID, "z-1", true},
		{ValidRegionID, "cn-r0", true},
		{ValidRegionID, "cn-r9", true},
		{ValidRegionID, "cn-r/", false},
		{ValidRegionID, "cn-r:", false},
		{ValidRegionID, "{n-hangzhou", false},
		{ValidRegionID, strings.Repeat("a", 64), true},
		{ValidRegionID, strings.Repeat("a", 65), false},
		{ValidInvokeID, "t-" + strings.Repeat("a", 64), true},
		{ValidInvokeID, "t-z", true},
		{ValidInvokeID, "t-Z", true},
		{ValidInvokeID, "t-09", true},
		{ValidInvokeID, "t-{", false},
		{ValidInvokeID, "t-[", false},
		{ValidInstanceID, "i-" + strings.Repeat("Z", 64), true},
		{ValidInstanceID, "i-" + strings.Repeat("z", 65), false},
	} {
		if got := tc.valid(tc.id); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.id, got, tc.want)
		}
	}
}

// Hostile values are cut at 80 bytes in error messages; shorter ones are
// shown whole.
func TestRefusalQuotesValuesUpTo80Bytes(t *testing.T) {
	id80 := "t-" + strings.Repeat("a", 78)
	_, err := DecodeRequest([]byte(`{"InvokeId":"` + id80 + `"}`))
	if err == nil || !strings.Contains(err.Error(), `"`+id80+`"`) {
		t.Fatalf("80 bytes: %v", err)
	}
	_, err = DecodeRequest([]byte(`{"InvokeId":"` + id80 + `b"}`))
	if err == nil || !strings.Contains(err.Error(), id80+"...(81 bytes)") {
		t.Fatalf("81 bytes: %v", err)
	}
}
