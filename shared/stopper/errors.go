package stopper

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// Error is a failure the function answers with: the API's own code (or one of
// the function's), a message that says how to fix the cause, and the HTTP
// status a webhook caller gets.
//
// Transient errors outlived the client's retries (throttling, 5xx, dropped
// connections): runtimes turn them into function errors so that the platform's
// retry or dead-letter queue takes over. Every other error is permanent and is
// answered, so the platform does not retry it.
type Error struct {
	Code      string
	Message   string
	Status    int
	Transient bool
	// UpstreamRequestId is the Cloud Assistant API's RequestId, for support tickets.
	UpstreamRequestId string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

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

// Invalid is a 400 InvalidParameter that names the field at fault.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidParameter, Status: http.StatusBadRequest,
		Message: fmt.Sprintf("%s: %s", field, fmt.Sprintf(format, args...))}
}

// Missing is the API's 400 MissingParameter.<Field>, as the StopInvocation
// page of 2018 lists it (docs/reference/cloud-assistant-api.md).
func Missing(field, hint string) *Error {
	return &Error{Code: "MissingParameter." + field, Status: http.StatusBadRequest,
		Message: fmt.Sprintf("The input parameter %q that is mandatory for processing this request is not supplied. %s", field, hint)}
}

// AsError turns any failure into the Error the function answers with.
// API errors keep their code, message and status; connection failures and
// deadlines become a transient 503 ServiceUnavailable that says what happened.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, cloudassistant.ErrNoCredentials) {
		return &Error{Code: CodeMissingCredentials, Status: http.StatusInternalServerError, Message: err.Error()}
	}
	var api *cloudassistant.Error
	if errors.As(err, &api) {
		status := api.HTTPStatus
		switch {
		case status == 0:
			status = http.StatusBadGateway
		case cloudassistant.Throttling(api.Code):
			// The API throttles with 400/403/429; after the client's retries
			// it is an upstream fault for the caller, not the caller's mistake.
			status = http.StatusServiceUnavailable
		}
		return &Error{Code: api.Code, Message: api.Message, Status: status,
			Transient: api.Retryable(), UpstreamRequestId: api.RequestId}
	}
	msg := "the Cloud Assistant API could not be reached: " + err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "the function's deadline passed before the Cloud Assistant API answered: " + err.Error()
	}
	return &Error{Code: CodeServiceUnavailable, Message: msg, Status: http.StatusServiceUnavailable, Transient: true}
}
