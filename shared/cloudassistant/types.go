// Package cloudassistant holds the Cloud Assistant API's wire shapes (ECS API
// version 2014-05-26) as plain structs, and its error body as a Go error.
// The client, the emulator and the core all speak these types; the package
// has no dependencies so that any of them can import it.
package cloudassistant

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNoCredentials is the cause of a call refused before it was sent because
// the caller has no AccessKey pair: a configuration error, never transient.
var ErrNoCredentials = errors.New("no Alibaba Cloud credentials")

// Version is the ECS API version every call is made against.
const Version = "2014-05-26"

// MaxInstancesPerStop is today's limit on InstanceId.N in one StopInvocation call.
const MaxInstancesPerStop = 50

// MaxResultsLimit is the largest page DescribeInvocations returns.
const MaxResultsLimit = 50

// Invocation is one element of DescribeInvocations' Invocations.Invocation.
// RegionId is not part of the API's answer: the emulator's fleet file uses it.
type Invocation struct {
	RegionId         string          `json:"RegionId,omitempty"`
	InvokeId         string          `json:"InvokeId"`
	InvocationStatus string          `json:"InvocationStatus,omitempty"`
	InvokeStatus     string          `json:"InvokeStatus,omitempty"`
	CreationTime     string          `json:"CreationTime,omitempty"`
	CommandId        string          `json:"CommandId,omitempty"`
	CommandName      string          `json:"CommandName,omitempty"`
	CommandType      string          `json:"CommandType,omitempty"`
	CommandContent   string          `json:"CommandContent,omitempty"`
	RepeatMode       string          `json:"RepeatMode,omitempty"`
	Frequency        string          `json:"Frequency,omitempty"`
	Timed            bool            `json:"Timed"`
	Timeout          int64           `json:"Timeout,omitempty"`
	Tags             Tags            `json:"Tags"`
	InvokeInstances  InvokeInstances `json:"InvokeInstances"`
}

// Tags is the API's {"Tag": [...]} wrapper.
type Tags struct {
	Tag []Tag `json:"Tag"`
}

// Tag is one key/value tag of an invocation.
type Tag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

// InvokeInstances is the API's {"InvokeInstance": [...]} wrapper.
type InvokeInstances struct {
	InvokeInstance []InvokeInstance `json:"InvokeInstance"`
}

// InvokeInstance is the state of an invocation on one instance.
type InvokeInstance struct {
	InstanceId           string `json:"InstanceId"`
	InvocationStatus     string `json:"InvocationStatus,omitempty"`
	InstanceInvokeStatus string `json:"InstanceInvokeStatus,omitempty"`
	CreationTime         string `json:"CreationTime,omitempty"`
	StartTime            string `json:"StartTime,omitempty"`
	UpdateTime           string `json:"UpdateTime,omitempty"`
	FinishTime           string `json:"FinishTime,omitempty"`
	StopTime             string `json:"StopTime,omitempty"`
	Repeats              int    `json:"Repeats"`
	ExitCode             int64  `json:"ExitCode"`
	ErrorCode            string `json:"ErrorCode,omitempty"`
	ErrorInfo            string `json:"ErrorInfo,omitempty"`
	Output               string `json:"Output,omitempty"`
	Dropped              int    `json:"Dropped"`
}

// DescribeInvocationsResponse is DescribeInvocations' JSON answer.
type DescribeInvocationsResponse struct {
	RequestId   string      `json:"RequestId"`
	TotalCount  int         `json:"TotalCount"`
	PageNumber  int         `json:"PageNumber"`
	PageSize    int         `json:"PageSize"`
	NextToken   string      `json:"NextToken"`
	Invocations Invocations `json:"Invocations"`
}

// Invocations is the API's {"Invocation": [...]} wrapper.
type Invocations struct {
	Invocation []Invocation `json:"Invocation"`
}

// StopInvocationResponse is StopInvocation's JSON answer.
type StopInvocationResponse struct {
	RequestId string `json:"RequestId"`
}

// Error is the API's error body, {RequestId, HostId, Code, Message[, Recommend]},
// with the HTTP status it came with.
type Error struct {
	RequestId  string `json:"RequestId"`
	HostId     string `json:"HostId"`
	Code       string `json:"Code"`
	Message    string `json:"Message"`
	Recommend  string `json:"Recommend,omitempty"`
	HTTPStatus int    `json:"-"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d, RequestId %s)", e.Code, e.Message, e.HTTPStatus, e.RequestId)
}

// Throttling reports whether the code is one of the API's throttling answers
// (Throttling, Throttling.User, Throttling.Api, ...).
func Throttling(code string) bool {
	return code == "Throttling" || strings.HasPrefix(code, "Throttling.")
}

// Retryable reports whether an API error is worth another try: throttling and
// server-side faults. Every other 4xx is final.
func (e *Error) Retryable() bool {
	return Throttling(e.Code) || e.HTTPStatus >= 500
}

// Invocation-level and per-instance statuses the project reasons about.
const (
	StatusPending   = "Pending"
	StatusScheduled = "Scheduled"
	StatusRunning   = "Running"
	StatusStopping  = "Stopping"
	StatusStopped   = "Stopped"
	StatusSuccess   = "Success"
	StatusFailed    = "Failed"
	StatusCancelled = "Cancelled"
	StatusFinished  = "Finished"
	StatusPartial   = "PartialFailed"
	StatusInvalid   = "Invalid"
	StatusAborted   = "Aborted"
	StatusError     = "Error"
	StatusTimeout   = "Timeout"
	StatusTerminate = "Terminated"
)

// Repeat modes.
const (
	RepeatOnce           = "Once"
	RepeatPeriod         = "Period"
	RepeatNextRebootOnly = "NextRebootOnly"
	RepeatEveryReboot    = "EveryReboot"
)

// DescribeInvocationsRequest holds the DescribeInvocations parameters the
// project uses. Zero values are not sent; Timed is sent only when non-nil
// because its absence means false to the API.
type DescribeInvocationsRequest struct {
	RegionId     string
	InvokeId     string
	InvokeStatus string
	CommandName  string
	RepeatMode   string
	InstanceId   string
	Timed        *bool
	Tags         []Tag
	MaxResults   int
	NextToken    string
}

type throttleNoticeKey struct{}

// WithThrottleNotice returns a context whose API calls tell notice about
// every throttled attempt, including those the client's retries got past: a
// caller that paces itself (the sweep) learns of throttling as it happens,
// not only when a call finally fails.
func WithThrottleNotice(ctx context.Context, notice func()) context.Context {
	return context.WithValue(ctx, throttleNoticeKey{}, notice)
}

type pacedKey struct{}

// WithPacer is WithThrottleNotice for a caller that paces itself (the
// sweep): besides telling it of every throttled attempt, a client hands
// throttling back to it after a few quick retries rather than backing off
// for seconds on its own, which would idle the caller's workers and defeat
// its pacing.
func WithPacer(ctx context.Context, notice func()) context.Context {
	return context.WithValue(WithThrottleNotice(ctx, notice), pacedKey{}, true)
}

// Paced reports whether ctx's caller paces itself (WithPacer).
func Paced(ctx context.Context) bool {
	paced, _ := ctx.Value(pacedKey{}).(bool)
	return paced
}

type handBackKey struct{}

// WithThrottleHandBack returns a context whose API calls hand a throttling
// answer back at once, with no retry of the client's own: a caller holding
// one of a few shared call slots (a sweep over many accounts) waits the
// throttling out itself, without the slot, so that calls to other
// accounts go on meanwhile.
func WithThrottleHandBack(ctx context.Context) context.Context {
	return context.WithValue(ctx, handBackKey{}, true)
}

// HandsBackThrottling reports whether ctx's caller waits throttling out
// itself (WithThrottleHandBack).
func HandsBackThrottling(ctx context.Context) bool {
	back, _ := ctx.Value(handBackKey{}).(bool)
	return back
}

// NoticeThrottle is what a client calls when the API throttled an attempt.
func NoticeThrottle(ctx context.Context) {
	if notice, ok := ctx.Value(throttleNoticeKey{}).(func()); ok {
		notice()
	}
}
