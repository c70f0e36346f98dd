package ecs

import (
	"context"
	"net/url"
	"strconv"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// StopInvocation stops invokeID on instanceIDs, or on all its instances when
// the list is empty. The API takes at most 50 instances a call, so a longer
// list is sent in batches of 50, in order, one after another (sequential so
// that a failure leaves a clean prefix stopped). A failure is a *StopError
// that says which instances were stopped and which batch failed.
func (c *Client) StopInvocation(ctx context.Context, regionID, invokeID string, instanceIDs []string) error {
	batches := batch(instanceIDs, cloudassistant.MaxInstancesPerStop)
	for i, ids := range batches {
		params := url.Values{"RegionId": {regionID}, "InvokeId": {invokeID}}
		for j, id := range ids {
			params.Set("InstanceId."+strconv.Itoa(j+1), id)
		}
		var out cloudassistant.StopInvocationResponse
		if err := c.do(ctx, call{action: "StopInvocation", regionID: regionID, params: params, out: &out}); err != nil {
			done := i * cloudassistant.MaxInstancesPerStop
			return &StopError{
				RegionId: regionID, InvokeId: invokeID,
				Batch: i + 1, Batches: len(batches),
				Stopped:  instanceIDs[:done:done],
				Failed:   ids,
				NotTried: instanceIDs[done+len(ids):],
				Err:      err,
			}
		}
		c.log.DebugContext(ctx, "ecs: stopped", "region", regionID, "invoke_id", invokeID,
			"instances", len(ids), "batch", i+1, "batches", len(batches), "request_id", out.RequestId)
	}
	return nil
}

// batch splits ids into slices of at most n; an empty list is one empty batch
// (a single call without InstanceId.N: all instances).
func batch(ids []string, n int) [][]string {
	if len(ids) == 0 {
		return [][]string{nil}
	}
	var out [][]string // a list is a few batches: no capacity to precompute
	for len(ids) > n {
		out = append(out, ids[:n:n])
		ids = ids[n:]
	}
	return append(out, ids)
}

// DescribeInvocations lists one page of invocations. Zero fields are not
// sent; Timed is sent only when set, since its absence means false to the
// API (and hides active periodic invocations). A tag with an empty value is
// sent as its key alone, which filters on the key whatever the value.
func (c *Client) DescribeInvocations(ctx context.Context, req cloudassistant.DescribeInvocationsRequest) (*cloudassistant.DescribeInvocationsResponse, error) {
	params := url.Values{"RegionId": {req.RegionId}}
	set := func(k, v string) {
		if v != "" {
			params.Set(k, v)
		}
	}
	set("InvokeId", req.InvokeId)
	set("InvokeStatus", req.InvokeStatus)
	set("CommandName", req.CommandName)
	set("RepeatMode", req.RepeatMode)
	set("InstanceId", req.InstanceId)
	set("NextToken", req.NextToken)
	if req.Timed != nil {
		params.Set("Timed", strconv.FormatBool(*req.Timed))
	}
	if req.MaxResults > 0 {
		params.Set("MaxResults", strconv.Itoa(req.MaxResults))
	}
	for i, t := range req.Tags {
		n := strconv.Itoa(i + 1)
		params.Set("Tag."+n+".Key", t.TagKey)
		if t.TagValue != "" {
			params.Set("Tag."+n+".Value", t.TagValue)
		}
	}
	out := new(cloudassistant.DescribeInvocationsResponse)
	if err := c.do(ctx, call{action: "DescribeInvocations", regionID: req.RegionId, params: params, out: out}); err != nil {
		return nil, err
	}
	return out, nil
}
