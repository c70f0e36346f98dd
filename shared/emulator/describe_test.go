package emulator

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// The sample fleet's cn-hangzhou invocations, as constants for the tables.
const (
	hzProtected        = "t-hz0protected0dbmigrate0a1b2c3d"
	hzTTLShort         = "t-hz0ttlshort0cachewarm0a1b2c3d"
	hzTTLLong          = "t-hz0ttllong0backupfull0a1b2c3d"
	hzBadTTL           = "t-hz0badttl0reportgen0a1b2c3d4e"
	hzFresh            = "t-hz0fresh0deployapp0a1b2c3d4e5"
	hzAgent            = "t-hz0rolloutagent0a1b2c3d4e5f6a"
	hzCanary           = "t-hz0rolloutcanary0a1b2c3d4e5f6"
	hzUntagged         = "t-hz0rolloutuntagged0a1b2c3d4e5"
	hzRolloutProtected = "t-hz0rolloutprotected0a1b2c3d4e"
	hzLongrun          = "t-hz0longrun5e6f7a8b9c0d1e2f3a4b"
	hzPartial          = "t-hz0partial2b3c4d5e6f7a8b9c0d1e"
	hzCancelled        = "t-hz0cancelled3c4d5e6f7a8b9c0d1e2f"
	hzReboot           = "t-hz0reboot4d5e6f7a8b9c0d1e2f3a"
)

// hzOneTime is cn-hangzhou's default listing (one-time and inactive
// periodic), newest first, ties by InvokeId.
var hzOneTime = []string{hzFresh, hzAgent, hzCanary, hzRolloutProtected, hzUntagged, hzTTLShort, hzTTLLong, hzBadTTL,
	hzProtected, hzLongrun, hzPartial, hzFinished, hzOnce, hzCancelled}

func TestDescribeFilters(t *testing.T) {
	_, hs := start(t, Options{})
	c := newClient(hs)
	for _, tc := range []struct {
		name   string
		params url.Values
		want   []string // in listing order
	}{
		{name: "default: one-time and inactive periodic, newest first", params: url.Values{}, want: hzOneTime},
		{name: "Timed=false is the default", params: url.Values{"Timed": {"false"}}, want: hzOneTime},
		{name: "Timed=true: active periodic and reboot", params: url.Values{"Timed": {"TRUE"}},
			want: []string{hzPeriodic, hzReboot}},
		{name: "InvokeStatus Running", params: url.Values{"InvokeStatus": {"Running"}},
			want: []string{hzFresh, hzAgent, hzCanary, hzTTLShort, hzTTLLong, hzBadTTL, hzProtected, hzLongrun, hzOnce}},
		{name: "InvokeStatus Pending", params: url.Values{"InvokeStatus": {"Pending"}},
			want: []string{hzRolloutProtected, hzUntagged}},
		{name: "InvokeStatus Finished", params: url.Values{"InvokeStatus": {"Finished"}},
			want: []string{hzPartial, hzFinished, hzCancelled}},
		{name: "InvokeStatus PartialFailed", params: url.Values{"InvokeStatus": {"partialfailed"}},
			want: []string{hzPartial}},
		{name: "InvokeStatus Stopped", params: url.Values{"InvokeStatus": {"Stopped"}},
			want: []string{hzCancelled}},
		{name: "InvokeStatus Scheduled with Timed", params: url.Values{"InvokeStatus": {"Scheduled"}, "Timed": {"true"}},
			want: []string{hzPeriodic, hzReboot}},
		{name: "CommandName", params: url.Values{"CommandName": {"backup"}},
			want: []string{hzLongrun, hzOnce}},
		{name: "CommandType", params: url.Values{"CommandType": {"RunPowerShellScript"}}},
		{name: "InvokeId", params: url.Values{"InvokeId": {hzOnce}}, want: []string{hzOnce}},
		{name: "InstanceId", params: url.Values{"InstanceId": {"i-bp1j2k3l4m5n6o7p8q9r"}}, want: []string{hzOnce}},
		{name: "RepeatMode Period without Timed: none active shown", params: url.Values{"RepeatMode": {"Period"}}},
		{name: "RepeatMode EveryReboot, Timed", params: url.Values{"RepeatMode": {"EveryReboot"}, "Timed": {"true"}},
			want: []string{hzReboot}},
		{name: "tag", params: url.Values{"Tag.1.Key": {"env"}, "Tag.1.Value": {"prod"}},
			want: []string{hzFresh, hzAgent, hzCanary, hzRolloutProtected, hzUntagged, hzTTLShort, hzTTLLong, hzProtected, hzFinished, hzOnce}},
		{name: "two tags, both must match", params: url.Values{"Tag.1.Key": {"env"}, "Tag.1.Value": {"staging"}, "Tag.2.Key": {"team"}, "Tag.2.Value": {"storage"}},
			want: []string{hzLongrun}},
		{name: "tag key only", params: url.Values{"Tag.1.Key": {"team"}}, want: hzOneTime},
		{name: "owner tag", params: url.Values{"Tag.1.Key": {"stopper:protect"}},
			want: []string{hzRolloutProtected, hzProtected}},
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
	for page := 1; ; page++ {
		resp := c.describe(t, url.Values{"RegionId": {"cn-hangzhou"}, "PageSize": {"2"}, "PageNumber": {fmt.Sprint(page)}})
		if resp.PageNumber != page || resp.PageSize != 2 {
			t.Fatalf("PageNumber %d PageSize %d", resp.PageNumber, resp.PageSize)
		}
		if len(resp.Invocations.Invocation) == 0 {
			break
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

// A caller that stops what it lists while paging through a status-filtered
// listing: with the stable cursor it sees every invocation once; with the
// offset cursor each page starts as many items too far as were stopped, so it
// skips some (the worst case of the API's undocumented cursor), and a second
// listing finds them still there.
func TestCursorModesWhileStopping(t *testing.T) {
	const n = 237
	const matching = n - (n+2)/3 // bigFleet: every third has a Running instance
	for _, tc := range []struct {
		cursor string
		seen   int
	}{
		{"", matching},
		{CursorStable, matching},
		// Page k starts at offset 10(k-1) of a listing 10(k-1) shorter: the
		// pages show items 0-9, 20-29, ... of the original, 8 pages of 10,
		// then an empty one.
		{CursorOffset, 80},
	} {
		t.Run(cmp.Or(tc.cursor, "default"), func(t *testing.T) {
			s, hs := start(t, Options{Fleet: &Fleet{}, Cursor: tc.cursor})
			bigFleet(t, s, "cn-beijing", n)
			c := newClient(hs)
			p := url.Values{"RegionId": {"cn-beijing"}, "InvokeStatus": {"Pending"}, "MaxResults": {"10"}}
			var seen []string
			for pages := 1; ; pages++ {
				resp := c.describe(t, p)
				if resp.PageNumber != pages {
					t.Fatalf("PageNumber %d on page %d", resp.PageNumber, pages)
				}
				if want := matching - len(seen); tc.cursor == CursorOffset && resp.TotalCount != want {
					t.Fatalf("TotalCount %d on page %d, want the current listing's %d", resp.TotalCount, pages, want)
				}
				for _, inv := range resp.Invocations.Invocation {
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
			if len(seen) != tc.seen || len(uniq(seen)) != tc.seen {
				t.Fatalf("saw %d (%d distinct), want %d", len(seen), len(uniq(seen)), tc.seen)
			}
			left := c.describe(t, url.Values{"RegionId": {"cn-beijing"}, "InvokeStatus": {"Pending"}, "MaxResults": {"50"}})
			if left.TotalCount != matching-tc.seen {
				t.Fatalf("%d still pending, want %d", left.TotalCount, matching-tc.seen)
			}
			for _, inv := range left.Invocations.Invocation {
				if slices.Contains(seen, inv.InvokeId) {
					t.Fatalf("%s was seen and stopped, yet is pending", inv.InvokeId)
				}
			}
		})
	}
}

// Without stops in between, both cursors page through everything once.
func TestCursorModesPageEverything(t *testing.T) {
	for _, cursor := range Cursors {
		s, hs := start(t, Options{Fleet: &Fleet{}, Cursor: cursor})
		bigFleet(t, s, "cn-beijing", 123)
		c := newClient(hs)
		p := url.Values{"RegionId": {"cn-beijing"}, "MaxResults": {"7"}}
		var seen []string
		for {
			resp := c.describe(t, p)
			seen = append(seen, ids(resp.Invocations.Invocation)...)
			if resp.NextToken == "" {
				break
			}
			p.Set("NextToken", resp.NextToken)
		}
		all := ids(c.describe(t, url.Values{"RegionId": {"cn-beijing"}, "MaxResults": {"50"}, "PageSize": {"50"}}).Invocations.Invocation)
		if len(seen) != 123 || len(uniq(seen)) != 123 || !slices.Equal(seen[:50], all) {
			t.Fatalf("%s: saw %d (%d distinct)", cursor, len(seen), len(uniq(seen)))
		}
	}
}

// NextTokens are opaque and only this server's, in its own cursor mode.
func TestNextTokenIsVerified(t *testing.T) {
	tokenOf := func(s *Server, hs *httptest.Server) string {
		t.Helper()
		bigFleet(t, s, "cn-beijing", 25)
		tok := newClient(hs).describe(t, url.Values{"RegionId": {"cn-beijing"}}).NextToken
		if tok == "" {
			t.Fatal("no NextToken")
		}
		return tok
	}
	stable, stableHS := start(t, Options{Fleet: &Fleet{}})
	offset, offsetHS := start(t, Options{Fleet: &Fleet{}, Cursor: CursorOffset})
	other, otherHS := start(t, Options{Fleet: &Fleet{}})
	stableTok, offsetTok := tokenOf(stable, stableHS), tokenOf(offset, offsetHS)
	tokenOf(other, otherHS)
	raw, _ := base64.RawURLEncoding.DecodeString(offsetTok)
	if _, err := strconv.Atoi(offsetTok); err == nil || !strings.Contains(string(raw), "|10|") {
		t.Fatalf("offset token %q (%q) is not the opaque form of offset 10", offsetTok, raw)
	}
	forged := base64.RawURLEncoding.EncodeToString([]byte("v2|o|2|10|" + strings.Repeat("0", 32)))
	tampered := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), "|10|", "|11|", 1)))
	for _, tc := range []struct {
		name string
		hs   *httptest.Server
		tok  string
	}{
		{"offset token to a stable server", stableHS, offsetTok},
		{"stable token to an offset server", offsetHS, stableTok},
		{"another server's token", otherHS, stableTok},
		{"forged offset token", offsetHS, forged},
		{"tampered offset token", offsetHS, tampered},
		{"not base64", offsetHS, "page-2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newClient(tc.hs).call(t, actionDescribe, url.Values{"RegionId": {"cn-beijing"}, "NextToken": {tc.tok}})
			checkError(t, r, 400, "InvalidParameter.NextToken", hostOf(tc.hs))
		})
	}
	for _, ok := range []struct {
		hs  *httptest.Server
		tok string
	}{{stableHS, stableTok}, {offsetHS, offsetTok}} {
		if resp := newClient(ok.hs).describe(t, url.Values{"RegionId": {"cn-beijing"}, "NextToken": {ok.tok}}); len(resp.Invocations.Invocation) != 10 || resp.PageNumber != 2 {
			t.Fatalf("page 2: %d invocations, PageNumber %d", len(resp.Invocations.Invocation), resp.PageNumber)
		}
	}
}
