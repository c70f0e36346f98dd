package emulator

import (
	"fmt"
	"net/http"
)

// apiError is an answer the emulator refuses a call with. Codes, statuses and
// messages are the real service's wherever the reference documents them, so
// that clients' error handling (retry or give up) is exercised faithfully.
type apiError struct {
	status  int
	code    string
	message string
	// header carries extra response headers, e.g. the rate-limit hint.
	header http.Header
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// Codes the emulator answers with. Where the reference is silent the choice
// is documented at the constructor.
const (
	CodeMissingRegionId        = "MissingParameter.RegionId"
	CodeMissingInvokeId        = "MissingParameter.InvokeId"
	CodeMissingAction          = "MissingParameter.Action"
	CodeInvalidRegion          = "InvalidRegionId.NotFound"
	CodeInvalidInvokeId        = "InvalidInvokeId.NotFound"
	CodeInvalidInstanceId      = "InvalidInstanceId.NotFound"
	CodeInstanceIdsExceedLimit = "InstanceIds.ExceedLimit"
	CodeInvalidAction          = "InvalidAction.NotFound"
	CodeInvalidVersion         = "InvalidVersion"
	CodeInvalidAccessKeyId     = "InvalidAccessKeyId.NotFound"
	CodeSignatureDoesNotMatch  = "SignatureDoesNotMatch"
	CodeIncompleteSignature    = "IncompleteSignature"
	CodeSignatureNonceUsed     = "SignatureNonceUsed"
	CodeTimeStampExpired       = "InvalidTimeStamp.Expired"
	CodeTimeStampFormat        = "InvalidTimeStamp.Format"
	CodeInvalidParameter       = "InvalidParameter"
	CodeServiceUnavailable     = "ServiceUnavailable"
	CodeThrottlingUser         = "Throttling.User"
	CodeInternalError          = "InternalError"

	// STS and credentials (see sts.go and identity.go for the sources).
	CodeMissingSecurityToken      = "MissingSecurityToken"
	CodeSecurityTokenExpired      = "InvalidSecurityToken.Expired"
	CodeSecurityTokenMismatch     = "InvalidSecurityToken.MismatchWithAccessKey"
	CodeSecurityTokenMalformed    = "InvalidSecurityToken.Malformed"
	CodeRoleNotFound              = "EntityNotExist.Role"
	CodeNoPermission              = "NoPermission"
	CodeOIDCNoPermission          = "AuthenticationFail.NoPermission"
	CodeOIDCTokenInvalid          = "AuthenticationFail.OIDCToken.Invalid"
	CodeOIDCTokenExpired          = "AuthenticationFail.OIDCToken.Expired"
	CodeOIDCTokenAudience         = "AuthenticationFail.OIDCToken.AudienceNotMatch"
	CodeOIDCTokenSignature        = "AuthenticationFail.OIDCToken.InvalidSignature"
	CodeOIDCProviderURL           = "AuthenticationFail.OIDCToken.HttpsUrlInvalid"
	CodeResourceDirectoryNotInUse = "NotExists.ResourceDirectory"
	CodeResourceDirectoryMember   = "NoPermission.ResourceDirectory.MemberAccount"
)

func missingParameter(name string) *apiError {
	return newError(http.StatusBadRequest, "MissingParameter."+name,
		"The input parameter %q that is mandatory for processing this request is not supplied.", name)
}

// invalidParameter is the emulator's answer to a value it cannot use:
// 400 InvalidParameter.<Name> (the reference lists no code for these).
func invalidParameter(name, format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, CodeInvalidParameter+"."+name,
		"The specified parameter %q is not valid: %s", name, fmt.Sprintf(format, args...))
}

func regionNotFound() *apiError {
	return newError(http.StatusNotFound, CodeInvalidRegion, "The RegionId provided does not exist in our items.")
}

func invokeNotFound() *apiError {
	return newError(http.StatusNotFound, CodeInvalidInvokeId, "The specified InvokeId does not exist.")
}

func instanceNotFound(id string) *apiError {
	return newError(http.StatusNotFound, CodeInvalidInstanceId,
		"The specified InstanceId does not exist in the invocation: %s.", id)
}

func tooManyInstances(n int) *apiError {
	return newError(http.StatusForbidden, CodeInstanceIdsExceedLimit,
		"The number of specified InstanceId.N (%d) exceeds the upper limit %d.", n, maxInstances)
}

// incompleteSignature covers every structural problem with the signature
// (none at all, a malformed Authorization header, an unsupported algorithm,
// a missing nonce or date): 400 IncompleteSignature, with what is wrong.
func incompleteSignature(detail string) *apiError {
	return newError(http.StatusBadRequest, CodeIncompleteSignature,
		"The request signature does not conform to Aliyun standards: %s", detail)
}
