package emulator

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

func TestDescribeFilters(t *testing.T) {
	_, hs := start(t, Options{})
	c := newClient(hs)
	for _, tc := range []struct {
		name   string
		params url.Values
		want   []string // in listing order
	}{
		{name: "default: one-time and inactive periodic, newest first", params: url.Values{},
			want: []string{"t-hz0longrun5e6f7a8b9c0d1e2f3a4b", "t-hz0partial2b3c4d5e6f7a8b9c0d1e", hzFinished, hzOnce, "t-hz0cancelled3c4d5e6f7a8b9c0d1e2f"}},
		{name: "Timed=false is the default", params: url.Values{"Timed": {"false"}},
			want: []string{"t-hz0longrun5e6f7a8b9c0d1e2f3a4b", "t-hz0partial2b3c4d5e6f7a8b9c0d1e", hzFinished, hzOnce, "t-hz0cancelled3c4d5e6f7a8b9c0d1e2f"}},
		{name: "Timed=true: active periodic and reboot", params: url.Values{"Timed": {"TRUE"}},
			want: []string{hzPeriodic, "t-hz0reboot4d5e6f7a8b9c0d1e2f3a"}},
		{name: "InvokeStatus Running", params: url.Values{"InvokeStatus": {"Running"}},
			want: []string{"t-hz0longrun5e6f7a8b9c0d1e2f3a4b", hzOnce}},
		{name: "InvokeStatus Finished", params: url.Values{"InvokeStatus": {"Finished"}},
			want: []string{"t-hz0partial2b3c4d5e6f7a8b9c0d1e", hzFinished, "t-hz0cancelled3c4d5e6f7a8b9c0d1e2f"}},
		{name: "InvokeStatus PartialFailed", params: url.Values{"InvokeStatus": {"partialfailed"}},
			want: []string{"t-hz0partial2b3c4d5e6f7a8b9c0d1e"}},
		{name: "InvokeStatus Stopped", params: url.Values{"InvokeStatus": {"Stopped"}},
			want: []string{"t-hz0cancelled3c4d5e6f7a8b9c0d1e2f"}},
		{name: "InvokeStatus Scheduled with Timed", params: url.Values{"InvokeStatus": {"Scheduled"}, "Timed": {"true"}},
			want: []string{hzPeriodic, "t-hz0reboot4d5e6f7a8b9c0d1e2f3a"}},
		{name: "CommandName", params: url.Values{"CommandName": {"backup"}},
			want: []string{"t-hz0longrun5e6f7a8b9c0d1e2f3a4b", hzOnce}},
		{name: "CommandType", params: url.Values{"CommandType": {"RunPowerShellScript"}}},
		{name: "InvokeId", params: url.Values{"InvokeId": {hzOnce}}, want: []string{hzOnce}},
		{name: "InstanceId", params: url.Values{"InstanceId": {"i-bp1j2k3l4m5n6o7p8q9r"}}, want: []string{hzOnce}},
		{name: "RepeatMode Period without Timed: none active shown", params: url.Values{"RepeatMode": {"Period"}}},
		{name: "RepeatMode EveryReboot, Timed", params: url.Values{"RepeatMode": {"EveryReboot"}, "Timed": {"true"}},
			want: []string{"t-hz0reboot4d5e6f7a8b9c0d1e2f3a"}},
		{name: "tag", params: url.Values{"Tag.1.Key": {"env"}, "Tag.1.Value": {"prod"}},
			want: []string{hzFinished, hzOnce}},
		{name: "two tags, both must match", params: url.Values{"Tag.1.Key": {"env"}, "Tag.1.Value": {"staging"}, "Tag.2.Key": {"team"}, "Tag.2.Value": {"storage"}},
			want: []string{"t-hz0longrun5e6f7a8b9c0d1e2f3a4b"}},
		{name: "tag key only", params: url.Values{"Tag.1.Key": {"team"}},
			want: []string{"t-hz0longrun5e6f7a8b9c0d1e2f3a4b", "t-hz0partial2b3c4d5e6f7a8b9c0d1e", hzFinished, hzOnce, "t-hz0cancelled3c4d5e6f7a8b9c0d1e2f"}},
		{name: "tag with no match", params: url.Values{"Tag.1.Key": {"env"}, "Tag.1.Value": {"dev"}}},
		{name: "known region without invocations", params: url.Values{"RegionId": {"ap-southeast-1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := url.Values{"RegionId": {"cn-hangzhou"}, "MaxResults": {"50"}}
			for k, v := range tc.params {
				p[k] = v
			}
			resp := c.describe(t, p)
			got := ids(resp.Invocations.Invocation)
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
			if resp.TotalCount != len(tc.want) || resp.NextToken != "" || resp.PageSize != 50 || resp.PageNumber != 1 {
				t.Fatalf("TotalCount %d NextToken %q PageSize %d PageNumber %d", resp.TotalCount, resp.NextToken, resp.PageSize, resp.PageNumber)
			}
		})
	}
}

// The answer has the API's shape: wrappers, derived and legacy statuses,
// [] rather than null, no RegionId, Output only on request.
func TestDescribeShape(t *testing.T) {
	_, hs := start(t, Options{})
	c := newClient(hs)
	r := c.call(t, actionDescribe, url.Values{"RegionId": {"cn-hangzhou"}, "InvokeId": {hzFinished}})
	var raw struct {
		Invocations struct {
			Invocation []map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(r.raw, &raw); err != nil || len(raw.Invocations.Invocation) != 1 {
		t.Fatalf("%v %s", err, r.raw)
	}
	for _, k := range []string{"RequestId", "TotalCount", "PageNumber", "PageSize", "NextToken", "Invocations"} {
		if _, ok := r.body[k]; !ok {
			t.Errorf("answer lacks %s", k)
		}
	}
	inv := raw.Invocations.Invocation[0]
	if _, ok := inv["RegionId"]; ok {
		t.Error("answer carries the fleet's RegionId")
	}
	resp := c.describe(t, url.Values{"RegionId": {"cn-hangzhou"}, "InvokeId": {hzFinished}})
	got := resp.Invocations.Invocation[0]
	if got.InvocationStatus != "Success" || got.InvokeStatus != "Finished" || got.Tags.Tag[0].TagKey != "env" {
		t.Fatalf("%+v", got)
	}
	for _, in := range got.InvokeInstances.InvokeInstance {
		if in.InvocationStatus != "Success" || in.InstanceInvokeStatus != "Finished" || in.Output != "" {
			t.Fatalf("instance %+v", in)
		}
	}
	withOutput := c.describe(t, url.Values{"RegionId": {"cn-hangzhou"}, "InvokeId": {hzFinished}, "IncludeOutput": {"true"}})
	if withOutput.Invocations.Invocation[0].InvokeInstances.InvokeInstance[0].Output == "" {
		t.Fatal("IncludeOutput=true gave no Output")
	}
	empty := c.call(t, actionDescribe, url.Values{"RegionId": {"eu-central-1"}})
	if string(mustJSON(empty.body["Invocations"])) != `{"Invocation":[]}` {
		t.Fatalf("empty answer: %s", empty.raw)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// bigFleet makes n one-time invocations, several sharing a CreationTime so
// that the InvokeId tie-break matters.
func bigFleet(t testing.TB, s *Server, region string, n int) {
	t.Helper()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		status := ca.StatusPending
		if i%3 == 0 {
			status = ca.StatusRunning
		}
		err := s.Add(ca.Invocation{RegionId: region, InvokeId: fmt.Sprintf("t-big%06d", (i*7919)%n),
			CommandName: "bulk", RepeatMode: ca.RepeatOnce,
			CreationTime: base.Add(time.Duration(i/4) * time.Minute).Format(timeLayout),
			InvokeInstances: ca.InvokeInstances{InvokeInstance: []ca.InvokeInstance{
				{InstanceId: "i-a", InvocationStatus: status}, {InstanceId: "i-b", InvocationStatus: ca.StatusPending}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A sweep stops what it lists between pages, so the filter result shrinks
// while it pages: the cursor token must neither skip nor repeat anything.
func TestPagingWhileStopping(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		s, hs := start(t, Options{Fleet: &Fleet{}})
		const n = 237
		bigFleet(t, s, "cn-beijing", n)
		c := newClient(hs)
		c.v1 = v1
		p := url.Values{"RegionId": {"cn-beijing"}, "InvokeStatus": {"Pending"}, "MaxResults": {"10"}}
		var seen []string
		var lastTime string
		pages := 0
		for {
			resp := c.describe(t, p)
			pages++
			if pages == 1 && resp.TotalCount != n-(n+2)/3 {
				t.Fatalf("TotalCount %d", resp.TotalCount)
			}
			if resp.PageNumber != pages {
				t.Fatalf("PageNumber %d on page %d", resp.PageNumber, pages)
			}
			for _, inv := range resp.Invocations.Invocation {
				if lastTime != "" && inv.CreationTime > lastTime {
					t.Fatalf("not newest first: %s after %s", inv.CreationTime, lastTime)
				}
				lastTime = inv.CreationTime
				seen = append(seen, inv.InvokeId)
				if r := c.stop(t, "cn-beijing", inv.InvokeId); r.status != 200 {
					t.Fatalf("stop: %s", r.raw)
				}
			}
			if resp.NextToken == "" {
				break
			}
			p.Set("NextToken", resp.NextToken)
		}
		want := n - (n+2)/3
		if len(seen) != want || len(uniq(seen)) != want {
			t.Fatalf("saw %d (%d distinct), want %d", len(seen), len(uniq(seen)), want)
		}
		for _, id := range seen {
			if s.StopCalls("cn-beijing", id) != 1 {
				t.Fatalf("%s stopped %d times", id, s.StopCalls("cn-beijing", id))
			}
		}
		if pages != (want+9)/10 {
			t.Fatalf("%d pages", pages)
		}
		// Now nothing is Pending any more.
		if resp := c.describe(t, url.Values{"RegionId": {"cn-beijing"}, "InvokeStatus": {"Pending"}}); resp.TotalCount != 0 {
			t.Fatalf("still %d pending", resp.TotalCount)
		}
	}
}

func uniq(list []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return m
}

// Paging 10,000 invocations 50 at a time stays cheap (one sort, a linear
// scan per page) and visits each exactly once in order.
func TestPagingLargeFleet(t *testing.T) {
	s, hs := start(t, Options{Fleet: &Fleet{}})
	const n = 10000
	bigFleet(t, s, "cn-beijing", n)
	c := newClient(hs)
	p := url.Values{"RegionId": {"cn-beijing"}, "MaxResults": {"50"}}
	seen := map[string]bool{}
	began := time.Now()
	for pages := 0; ; pages++ {
		resp := c.describe(t, p)
		if resp.TotalCount != n {
			t.Fatalf("TotalCount %d", resp.TotalCount)
		}
		for _, inv := range resp.Invocations.Invocation {
			if seen[inv.InvokeId] {
				t.Fatalf("%s twice", inv.InvokeId)
			}
			seen[inv.InvokeId] = true
		}
		if resp.NextToken == "" {
			break
		}
		p.Set("NextToken", resp.NextToken)
	}
	if len(seen) != n {
		t.Fatalf("saw %d of %d", len(seen), n)
	}
	t.Logf("paged %d invocations in %v", n, time.Since(began))
}

// The deprecated PageNumber/PageSize still page (by offset), and an Add
// between pages is picked up in order.
func TestDeprecatedPaging(t *testing.T) {
	_, hs := start(t, Options{})
	c := newClient(hs)
	all := ids(c.describe(t, url.Values{"RegionId": {"cn-hangzhou"}, "MaxResults": {"50"}}).Invocations.Invocation)
	var got []string
	for page := 1; page <= 3; page++ {
		resp := c.describe(t, url.Values{"RegionId": {"cn-hangzhou"}, "PageSize": {"2"}, "PageNumber": {fmt.Sprint(page)}})
		if resp.PageNumber != page || resp.PageSize != 2 {
			t.Fatalf("PageNumber %d PageSize %d", resp.PageNumber, resp.PageSize)
		}
		got = append(got, ids(resp.Invocations.Invocation)...)
	}
	if !slices.Equal(got, all) {
		t.Fatalf("pages %v, want %v", got, all)
	}
}

func TestDefaultPageSize(t *testing.T) {
	s, hs := start(t, Options{Fleet: &Fleet{}})
	bigFleet(t, s, "cn-beijing", 25)
	resp := newClient(hs).describe(t, url.Values{"RegionId": {"cn-beijing"}})
	if len(resp.Invocations.Invocation) != 10 || resp.PageSize != 10 || resp.NextToken == "" || resp.TotalCount != 25 {
		t.Fatalf("%d invocations, PageSize %d, NextToken %q, TotalCount %d", len(resp.Invocations.Invocation), resp.PageSize, resp.NextToken, resp.TotalCount)
	}
}
