package stopper

import (
	"context"
	"errors"
	"fmt"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// Error is a failure the function answers with: the API's own code (or one of
// the function's) and a message that says how to fix the cause. The HTTP
// status a webhook caller gets is the trigger's to choose, from the code
// (and, for the API's errors, the API's own status, reachable with
// errors.As through Unwrap).
//
// Transient errors outlived the client's retries (throttling, 5xx, dropped
// connections): runtimes turn them into function errors so that the platform's
// retry or dead-letter queue takes over. Every other error is permanent and is
// answered, so the platform does not retry it.
type Error struct {
	Code      string
	Message   string
	Transient bool
	// UpstreamRequestId is the Cloud Assistant API's RequestId, for support tickets.
	UpstreamRequestId string
	// api is the API's error this one passes through, nil for the function's own.
	api *cloudassistant.Error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap is the API's error this one passes through, or nil.
func (e *Error) Unwrap() error {
	if e == nil || e.api == nil {
		return nil
	}
	return e.api
}

// The function's own codes; the API's codes pass through unchanged.
const (
	CodeInvalidParameter      = "InvalidParameter"
	CodeInvalidSignature      = "InvalidSignature"
	CodeMethodNotAllowed      = "MethodNotAllowed"
	CodePayloadTooLarge       = "PayloadTooLarge"
	CodeUnsupportedMediaType  = "UnsupportedMediaType"
	CodeForbiddenRegion       = "Forbidden.Region"
	CodeServiceUnavailable    = "ServiceUnavailable"
	CodeMissingCredentials    = "MissingCredentials"
	CodeMissingRegionId       = "MissingParameter.RegionId"
	CodeMissingInvokeId       = "MissingParameter.InvokeId"
	CodeInvalidInvokeNotFound = "InvalidInvokeId.NotFound"
	CodeDryRunRequired        = "DryRun.Required"
)

// Invalid is an InvalidParameter error that names the field at fault.
func Invalid(field, format string, args ...any) error {
	return &Error{Code: CodeInvalidParameter,
		Message: fmt.Sprintf("%s: %s", field, fmt.Sprintf(format, args...))}
}

// Missing is the API's MissingParameter.<Field>, as the StopInvocation
// page of 2018 lists it (docs/reference/cloud-assistant-api.md).
func Missing(field, hint string) error {
	return &Error{Code: "MissingParameter." + field,
		Message: fmt.Sprintf("The input parameter %q that is mandatory for processing this request is not supplied. %s", field, hint)}
}

// AsError turns any failure into the Error the function answers with.
// API errors keep their code and message, and wrap the API's error (its
// HTTP status among the rest); connection failures and deadlines become a
// transient ServiceUnavailable that says what happened.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	if errors.Is(err, cloudassistant.ErrNoCredentials) {
		return &Error{Code: CodeMissingCredentials, Message: err.Error()}
	}
	if api, ok := errors.AsType[*cloudassistant.Error](err); ok {
		return &Error{Code: api.Code, Message: api.Message,
			Transient: api.Retryable(), UpstreamRequestId: api.RequestId, api: api}
	}
	msg := "the Cloud Assistant API could not be reached: " + err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "the function's deadline passed before the Cloud Assistant API answered: " + err.Error()
	}
	return &Error{Code: CodeServiceUnavailable, Message: msg, Transient: true}
}
