package stopper

// StopAnswer is the success answer to a StopInvocation request.
// InstanceIds is the de-duplicated list that was stopped; empty means every
// instance of the invocation.
type StopAnswer struct {
	RequestId   string   `json:"RequestId"`
	Action      string   `json:"Action"`
	RegionId    string   `json:"RegionId"`
	InvokeId    string   `json:"InvokeId"`
	InstanceIds []string `json:"InstanceIds"`
	DryRun      bool     `json:"DryRun"`
}

// SweepAnswer is the success answer to a Sweep.
type SweepAnswer struct {
	RequestId string         `json:"RequestId"`
	Action    string         `json:"Action"`
	DryRun    bool           `json:"DryRun"`
	Scanned   int            `json:"Scanned"`
	Matched   int            `json:"Matched"`
	Stopped   []SweptInvoke  `json:"Stopped"`
	Failed    []FailedInvoke `json:"Failed"`
	Truncated bool           `json:"Truncated"`
}

// SweptInvoke names one invocation a sweep stopped (or would stop, in a dry run).
type SweptInvoke struct {
	RegionId string `json:"RegionId"`
	InvokeId string `json:"InvokeId"`
}

// FailedInvoke is one invocation (or, with an empty InvokeId, one region) a
// sweep could not handle, with the API's code.
type FailedInvoke struct {
	RegionId string `json:"RegionId"`
	InvokeId string `json:"InvokeId"`
	Code     string `json:"Code"`
	Message  string `json:"Message"`
}

// ErrorAnswer is the body of every error answer.
type ErrorAnswer struct {
	RequestId string `json:"RequestId"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
}

// Answer returns the error body for this error under the function's request id.
func (e *Error) Answer(requestID string) ErrorAnswer {
	return ErrorAnswer{RequestId: requestID, Code: e.Code, Message: e.Message}
}
