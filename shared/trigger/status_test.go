package trigger

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	ca "github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Every code the function answers with, and the API's errors passed
// through, get the status docs/triggers.md lists.
func TestHTTPStatus(t *testing.T) {
	own := func(code string) error { return &stopper.Error{Code: code, Message: "m"} }
	for _, tc := range []struct {
		name   string
		err    error
		status int
	}{
		{"invalid parameter", stopper.Invalid("InvokeId", "bad"), 400},
		{"missing region", stopper.Missing("RegionId", "give it"), 400},
		{"missing region ids", stopper.Missing("RegionIds", "give them"), 400},
		{"invalid tag", own(stopper.CodeInvalidTag), 400},
		{"undeliverable queue message", undeliverable(stopper.Invalid("Records", "bad")), 400},
		{"invalid signature", own(stopper.CodeInvalidSignature), 401},
		{"forbidden region", own(stopper.CodeForbiddenRegion), 403},
		{"forbidden host", own("Forbidden.Host"), 403},
		{"dry run required", own(stopper.CodeDryRunRequired), 403},
		{"invocation not found", own(stopper.CodeInvalidInvokeNotFound), 404},
		{"instance not found", own("InvalidInstanceId.NotFound"), 404},
		{"method not allowed", own(stopper.CodeMethodNotAllowed), 405},
		{"sweep limit", own(stopper.CodeSweepLimitExceeded), 409},
		{"payload too large", own(stopper.CodePayloadTooLarge), 413},
		{"unsupported media type", own(stopper.CodeUnsupportedMediaType), 415},
		{"missing credentials", stopper.AsError(fmt.Errorf("ecs: %w: set ...", ca.ErrNoCredentials)), 500},
		{"unreadable creation time", own(stopper.CodeInvalidCreationTime), 500},
		{"service unavailable", own(stopper.CodeServiceUnavailable), 503},
		{"network", stopper.AsError(&net.OpError{Op: "dial", Err: errors.New("connection refused")}), 503},
		{"deadline", stopper.AsError(context.DeadlineExceeded), 503},
		{"not an answer's error", errors.New("boom"), 500},
		{"nil *stopper.Error", (*stopper.Error)(nil), 500},
		// The API's errors keep the API's status, except throttling that
		// outlived the retries (an upstream fault, not the caller's) and
		// an error without a status.
		{"api not found", stopper.AsError(fmt.Errorf("batch 1: %w", &ca.Error{Code: "InvalidInvokeId.NotFound", HTTPStatus: 404})), 404},
		{"api forbidden", stopper.AsError(&ca.Error{Code: "Operation.Forbidden", HTTPStatus: 403}), 403},
		{"api instance limit", stopper.AsError(&ca.Error{Code: "InstanceIds.ExceedLimit", HTTPStatus: 403}), 403},
		{"api parameter", stopper.AsError(&ca.Error{Code: "InvalidParameter", HTTPStatus: 400}), 400},
		{"api throttled", stopper.AsError(&ca.Error{Code: "Throttling.User", HTTPStatus: 400}), 503},
		{"api server", stopper.AsError(&ca.Error{Code: "ServiceUnavailable", HTTPStatus: 503}), 503},
		{"api internal", stopper.AsError(&ca.Error{Code: "InternalError", HTTPStatus: 500}), 500},
		{"api without a status", stopper.AsError(&ca.Error{Code: "InvalidResponse"}), 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := HTTPStatus(tc.err); got != tc.status {
				t.Fatalf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.status)
			}
		})
	}
}
