package stopper

import "strings"

// A dry run never says "stopped" for what it did not stop. Answers carry
// either the real outcome (Stopped) or, in a dry run, what would have been
// done (WouldStop), never both: the other field is nil and left out of the
// JSON, so that nobody reads "Stopped" in an answer that stopped nothing.

// StopAnswer is the success answer to a StopInvocation request.
// InstanceIds is the de-duplicated list that was stopped; empty means every
// instance of the invocation. Pending and Running count the targeted
// instances as they were when the stop was sent: the pending ones are
// cancelled, the running ones may have been killed. Stopped (not in a dry
// run) says whether a stop was sent, WouldStop (in a dry run only) whether
// one would have been; neither is true when nothing was left to stop, an
// alert named a protected invocation or this instance stopped it already
// (ReasonAlreadyStopped), and Reason says why not.
type StopAnswer struct {
	RequestId   string   `json:"RequestId"`
	Action      string   `json:"Action"`
	AccountId   string   `json:"AccountId,omitempty"`
	RegionId    string   `json:"RegionId"`
	InvokeId    string   `json:"InvokeId"`
	InstanceIds []string `json:"InstanceIds"`
	DryRun      bool     `json:"DryRun"`
	CommandName string   `json:"CommandName"`
	Pending     int      `json:"Pending"`
	Running     int      `json:"Running"`
	Stopped     *bool    `json:"Stopped,omitempty"`
	WouldStop   *bool    `json:"WouldStop,omitempty"`
	Reason      string   `json:"Reason,omitempty"`
	// Alert names the alert the stop came from, when it did.
	Alert string `json:"Alert,omitempty"`
}

// SweepAnswer is the success answer to a Sweep. Stopped lists the
// invocations a stop was sent to; in a dry run it is nil (left out) and
// WouldStop lists the selection instead, which is nil (left out) otherwise.
// Spared lists the stale invocations whose owner tags kept them running,
// or that this instance stopped already ("already stopped").
// NoLongerStoppable counts the selected invocations that, read again just
// before their stop, had ended, were gone or had every active instance
// Stopping already: not stopped. With several accounts (Function.Accounts)
// every item carries AccountId, and Skipped lists the accounts that could
// not be swept (left out otherwise).
type SweepAnswer struct {
	RequestId         string           `json:"RequestId"`
	Action            string           `json:"Action"`
	DryRun            bool             `json:"DryRun"`
	Scanned           int              `json:"Scanned"`
	Matched           int              `json:"Matched"`
	Stopped           []SweptInvoke    `json:"Stopped,omitzero"`
	WouldStop         []SweptInvoke    `json:"WouldStop,omitzero"`
	Spared            []SparedInvoke   `json:"Spared"`
	NoLongerStoppable int              `json:"NoLongerStoppable"`
	Failed            []FailedInvoke   `json:"Failed"`
	Skipped           []SkippedAccount `json:"Skipped,omitzero"`
	Truncated         bool             `json:"Truncated"`
	// matchedByRegion is Matched region by region, for reports;
	// matchedAt the same by account and region.
	matchedByRegion map[string]int
	matchedAt       map[Place]int
}

// Place is where an invocation lives: an account ("" for the function's
// only one) and a region.
type Place struct {
	AccountId, RegionId string
}

// SkippedAccount is an account a sweep could not act in (its role could
// not be assumed), with the refusing service's code and message.
type SkippedAccount struct {
	AccountId string `json:"AccountId"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	// transient is whether another run may succeed (Unfinished).
	transient bool
}

// SweptInvoke is one invocation a sweep stopped (or would stop, in a dry
// run: WouldStop): why (Rule: "OlderThan=2h0m0s" or "stopper:ttl=45m"), and how many of
// its instances were pending (cancelled) and running (possibly killed).
type SweptInvoke struct {
	AccountId    string `json:"AccountId,omitempty"`
	RegionId     string `json:"RegionId"`
	InvokeId     string `json:"InvokeId"`
	CommandName  string `json:"CommandName"`
	CreationTime string `json:"CreationTime"`
	Rule         string `json:"Rule"`
	Pending      int    `json:"Pending"`
	Running      int    `json:"Running"`
}

// SparedInvoke is a stale invocation a sweep left running: Reason is
// "stopper:protect", "stopper:ttl=6h" when its own stale age is not
// reached yet, or "already stopped" (ReasonAlreadyStopped) when this
// instance stopped it within StopMemory and nothing is pending.
type SparedInvoke struct {
	AccountId   string `json:"AccountId,omitempty"`
	RegionId    string `json:"RegionId"`
	InvokeId    string `json:"InvokeId"`
	CommandName string `json:"CommandName"`
	Reason      string `json:"Reason"`
}

// FailedInvoke is one invocation (or, with an empty InvokeId, one region) a
// sweep could not handle, with the API's code.
type FailedInvoke struct {
	AccountId string `json:"AccountId,omitempty"`
	RegionId  string `json:"RegionId"`
	InvokeId  string `json:"InvokeId"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	// transient is whether another run may succeed (Unfinished).
	transient bool
}

// Unfinished says what a sweep left for another run, "" when nothing: it
// answered Truncated, a region could not be listed, or a stop failed
// transiently. A queued sweep that is unfinished goes back to its queue.
func (a SweepAnswer) Unfinished() string {
	var why []string
	if a.Truncated {
		why = append(why, "truncated: out of time, or a listing gave up, before everything was looked at")
	}
	for _, fl := range a.Failed {
		of := ""
		if fl.AccountId != "" {
			of = " of account " + fl.AccountId
		}
		switch {
		case fl.InvokeId == "":
			why = append(why, "region "+fl.RegionId+of+" not listed: "+fl.Code)
		case fl.transient:
			why = append(why, "invocation "+fl.InvokeId+" in "+fl.RegionId+of+" not stopped: "+fl.Code)
		}
	}
	for _, sk := range a.Skipped {
		if sk.transient {
			why = append(why, "account "+sk.AccountId+" not swept: "+sk.Code)
		}
	}
	return strings.Join(why, "; ")
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

// stopFlags is the answer's word for whether a stop was sent, or in a dry run
// whether one would have been: the pair of Stopped and WouldStop.
func stopFlags(dryRun, stop bool) (stopped, wouldStop *bool) {
	if dryRun {
		return nil, &stop
	}
	return &stop, nil
}

// isTrue reports whether an answer's flag is there and true.
func isTrue(p *bool) bool { return p != nil && *p }
