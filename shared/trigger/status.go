package trigger

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// HTTPStatus is the HTTP status a webhook caller gets for err: the API's own
// status for the API's errors, else the one the function's code stands for.
func HTTPStatus(err error) int {
	if api, ok := errors.AsType[*cloudassistant.Error](err); ok {
		switch {
		case api.HTTPStatus == 0:
			return http.StatusBadGateway
		case cloudassistant.Throttling(api.Code):
			// The API throttles with 400/403/429; after the client's retries
			// it is an upstream fault for the caller, not the caller's mistake.
			return http.StatusServiceUnavailable
		}
		return api.HTTPStatus
	}
	e, ok := errors.AsType[*stopper.Error](err)
	if !ok || e == nil {
		return http.StatusInternalServerError
	}
	return codeStatus(e.Code)
}

// codeStatus is the status of one of the function's own codes.
func codeStatus(code string) int {
	switch code {
	case stopper.CodeInvalidParameter, stopper.CodeInvalidTag:
		return http.StatusBadRequest
	case stopper.CodeInvalidSignature:
		return http.StatusUnauthorized
	case stopper.CodeDryRunRequired, stopper.CodeForbiddenAccount:
		return http.StatusForbidden
	case stopper.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case stopper.CodeSweepLimitExceeded:
		return http.StatusConflict
	case stopper.CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case stopper.CodeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case stopper.CodeServiceUnavailable:
		return http.StatusServiceUnavailable
	}
	switch {
	case strings.HasPrefix(code, "MissingParameter."):
		return http.StatusBadRequest
	case strings.HasPrefix(code, "Forbidden."):
		return http.StatusForbidden
	case strings.HasSuffix(code, ".NotFound"):
		return http.StatusNotFound
	}
	// MissingCredentials, and any failure without a status of its own.
	return http.StatusInternalServerError
}
