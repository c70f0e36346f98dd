package emulator

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// Fleet is the emulator's starting state: invocations exactly as elements of
// DescribeInvocations' Invocations.Invocation, each with its RegionId. The
// invocation-level status may be left out; it is derived from the instances.
type Fleet struct {
	Invocations []ca.Invocation `json:"Invocations"`
}

//go:embed sample-fleet.json
var sampleFleet []byte

// SampleFleet is the fleet the sample events refer to, a fresh copy each call
// so that callers may change it.
func SampleFleet() *Fleet {
	f, err := ParseFleet(sampleFleet)
	if err != nil {
		panic("emulator: embedded sample-fleet.json is invalid: " + err.Error())
	}
	return f
}

// LoadFleet reads and checks a fleet file; errors name the file and the entry.
func LoadFleet(path string) (*Fleet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	f, err := ParseFleet(data)
	if err != nil {
		return nil, fmt.Errorf("fleet %s: %w", path, err)
	}
	return f, nil
}

// ParseFleet decodes and checks a fleet. Unknown fields are tolerated so that
// a real DescribeInvocations answer, with fields this project does not model,
// can be pasted in.
func ParseFleet(data []byte) (*Fleet, error) {
	var f Fleet
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a fleet (want {\"Invocations\": [...]}): %w", err)
	}
	seen := map[string]int{}
	for i, inv := range f.Invocations {
		if _, err := newRecord(inv, time.Time{}); err != nil {
			return nil, fmt.Errorf("invocation #%d%s: %w", i+1, label(inv), err)
		}
		key := inv.RegionId + "/" + inv.InvokeId
		if j, dup := seen[key]; dup {
			return nil, fmt.Errorf("invocation #%d%s: duplicate InvokeId in %s (first at #%d)", i+1, label(inv), inv.RegionId, j)
		}
		seen[key] = i + 1
	}
	return &f, nil
}

func label(inv ca.Invocation) string {
	if inv.InvokeId == "" {
		return ""
	}
	return " (" + inv.InvokeId + ")"
}

// newRecord checks an invocation and turns it into a record. An empty
// CreationTime means now (a zero now, as when only checking, keeps it empty);
// an instance without status is Pending.
func newRecord(inv ca.Invocation, now time.Time) (*record, error) {
	if inv.RegionId == "" {
		return nil, errors.New("missing RegionId")
	}
	if inv.InvokeId == "" {
		return nil, errors.New("missing InvokeId")
	}
	inv = copyInvocation(inv)
	r := &record{}
	if inv.CreationTime == "" {
		if !now.IsZero() {
			inv.CreationTime = now.UTC().Format(timeLayout)
		}
		r.created = now
	} else {
		t, err := time.Parse(time.RFC3339, inv.CreationTime)
		if err != nil {
			return nil, fmt.Errorf("bad CreationTime %q (want UTC like 2026-11-20T07:00:00Z)", inv.CreationTime)
		}
		r.created = t
	}
	seen := map[string]bool{}
	for i := range inv.InvokeInstances.InvokeInstance {
		in := &inv.InvokeInstances.InvokeInstance[i]
		if in.InstanceId == "" {
			return nil, fmt.Errorf("instance #%d: missing InstanceId", i+1)
		}
		if seen[in.InstanceId] {
			return nil, fmt.Errorf("instance %s listed twice", in.InstanceId)
		}
		seen[in.InstanceId] = true
		if in.InvocationStatus == "" {
			in.InvocationStatus = ca.StatusPending
		}
		if !instanceStatuses[in.InvocationStatus] {
			return nil, fmt.Errorf("instance %s: unknown InvocationStatus %q", in.InstanceId, in.InvocationStatus)
		}
	}
	r.inv = inv
	r.halted = make([]bool, len(inv.InvokeInstances.InvokeInstance))
	return r, nil
}

// timeLayout is how the API writes times: UTC, seconds.
const timeLayout = "2006-01-02T15:04:05Z"

// knownRegions are real Alibaba Cloud region ids, so that a call to a real
// region with no invocations answers an empty list rather than
// InvalidRegionId.NotFound. Regions named in the fleet are known as well.
var knownRegions = []string{
	"cn-qingdao", "cn-beijing", "cn-zhangjiakou", "cn-huhehaote", "cn-wulanchabu",
	"cn-hangzhou", "cn-shanghai", "cn-nanjing", "cn-fuzhou", "cn-shenzhen", "cn-heyuan",
	"cn-guangzhou", "cn-chengdu", "cn-wuhan-lr", "cn-hongkong",
	"ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-3", "ap-southeast-5",
	"ap-southeast-6", "ap-southeast-7", "ap-south-1",
	"us-west-1", "us-east-1", "eu-central-1", "eu-west-1", "me-east-1", "me-central-1", "na-south-1",
}
