package webhook

// The refusals with a fixed message: authentication is on every webhook's
// path. None of them carries the secret, the token or the expected
// signature, only what the caller sent wrong.
const (
	errNotConfigured    refusal = "the function has no webhook secret or token configured, so it accepts no webhooks"
	errMissingTimestamp refusal = "missing " + TimestampHeader + " header"
	errMissingSignature refusal = "missing " + SignatureHeader + " header"
	errBadTimestamp     refusal = "malformed " + TimestampHeader + " header: expected Unix seconds"
	errBadSignature     refusal = "malformed " + SignatureHeader + " header: expected " + SignaturePrefix + " followed by 64 hex digits"
	errMismatch         refusal = "signature does not match the body and timestamp"
	errReplayed         refusal = "this signature was already used: a signed request is accepted once, so sign every request (and every retry) anew with the current time in " + TimestampHeader
	errNoToken          refusal = "the function has no webhook token configured, so it does not accept " + AuthorizationHeader + ": Bearer; " + signInstead
	errNoSecret         refusal = "the function has no webhook secret configured, so it accepts no signatures: send " + sendBearer + " without the " + TimestampHeader + " and " + SignatureHeader + " headers"
	errBadToken         refusal = "the function's webhook token is unusable (shorter than 32 characters, or holding characters a bearer token cannot), so it accepts no bearer tokens until the token is replaced"
	errBearerMismatch   refusal = "bearer token does not match"
	errBearerMalformed  refusal = "bearer token does not match: expected one " + AuthorizationHeader + " header holding \"Bearer\", one space and the token"

	// A request without a credential is told what to send: a bearer token,
	// and a signature too when a secret is configured.
	errNoCredentials       refusal = "missing credentials: send " + sendBearer
	errNoCredentialsOrSign refusal = errNoCredentials + ", or " + signInstead
	errNotBearer           refusal = "the " + AuthorizationHeader + " header is not a Bearer token: send " + sendBearer
	errNotBearerOrSign     refusal = errNotBearer + ", or " + signInstead
	sendBearer                     = AuthorizationHeader + ": Bearer <token>"
	signInstead                    = "sign the request with the " + TimestampHeader + " and " + SignatureHeader + " headers"
)
