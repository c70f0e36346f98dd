package fakeaws

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// This is a verifier of AWS Signature Version 4, written from the published
// algorithm independently of the signer the client links, so that a mistake
// in how the client drives its signer cannot be mirrored here.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv4-create-signed-request.html

const sigv4Algorithm = "AWS4-HMAC-SHA256"

// amzDate is the layout of X-Amz-Date.
const amzDate = "20060102T150405Z"

// sigv4Auth is a parsed Authorization header.
type sigv4Auth struct {
	AccessKeyID, Date, Region, Service string
	SignedHeaders                      []string
	Signature                          string
}

func parseAuthorization(h string) (sigv4Auth, error) {
	rest, ok := strings.CutPrefix(h, sigv4Algorithm+" ")
	if !ok {
		return sigv4Auth{}, errors.New("the Authorization header requires the AWS4-HMAC-SHA256 algorithm")
	}
	var a sigv4Auth
	var credential, signed string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			a.Signature = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || signed == "" || a.Signature == "" {
		return sigv4Auth{}, errors.New("the Authorization header requires Credential, SignedHeaders and Signature parameters")
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	a.SignedHeaders = strings.Split(signed, ";")
	return a, nil
}

// canonicalRequest builds the canonical request of r over the named headers.
func canonicalRequest(r *http.Request, signedHeaders []string, payload []byte) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	// Services other than S3 encode the already-escaped path once more.
	b.WriteString(uriEncode(path, false) + "\n")
	b.WriteString(canonicalQuery(r.URL.RawQuery) + "\n")
	for _, name := range signedHeaders {
		var value string
		if name == "host" {
			value = r.Host
			if value == "" {
				value = r.URL.Host
			}
		} else {
			values := r.Header.Values(name)
			for i, v := range values {
				values[i] = strings.Join(strings.Fields(v), " ")
			}
			value = strings.Join(values, ",")
		}
		b.WriteString(name + ":" + value + "\n")
	}
	b.WriteString("\n" + strings.Join(signedHeaders, ";") + "\n")
	sum := sha256.Sum256(payload)
	b.WriteString(hex.EncodeToString(sum[:]))
	return b.String()
}

func canonicalQuery(raw string) string {
	q, _ := url.ParseQuery(raw)
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

// uriEncode percent-encodes every byte but the unreserved ones (and '/'
// unless slash).
func uriEncode(s string, slash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~', c == '/' && !slash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// signature is the hex signature of a canonical request.
func signature(secret string, a sigv4Auth, amzTime, creq string) string {
	sum := sha256.Sum256([]byte(creq))
	toSign := sigv4Algorithm + "\n" + amzTime + "\n" + a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+secret), a.Date)
	key = hmacSHA256(key, a.Region)
	key = hmacSHA256(key, a.Service)
	key = hmacSHA256(key, "aws4_request")
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

// awsCredentials is what the stand-in knows of the caller.
type awsCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// verifyError is a refusal as AWS words it.
type verifyError struct{ Code, Message string }

func (e *verifyError) Error() string { return e.Code + ": " + e.Message }

// maxSkew is how far the request's clock may be from the server's.
const maxSkew = 5 * time.Minute

// verifySigV4 checks r's signature as AWS does: the key id, the scope
// (date, region, service), the date, the session token and the signature.
func verifySigV4(r *http.Request, payload []byte, cred awsCredentials, region, service string, now time.Time) error {
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return &verifyError{"IncompleteSignature", err.Error()}
	}
	if a.AccessKeyID != cred.AccessKeyID {
		return &verifyError{"InvalidClientTokenId", "The security token included in the request is invalid."}
	}
	if cred.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != cred.SessionToken {
		return &verifyError{"InvalidClientTokenId", "The security token included in the request is invalid."}
	}
	amzTime := r.Header.Get("X-Amz-Date")
	when, err := time.Parse(amzDate, amzTime)
	switch {
	case err != nil:
		return &verifyError{"IncompleteSignature", "X-Amz-Date is missing or malformed."}
	case a.Date != amzTime[:8]:
		return &verifyError{"SignatureDoesNotMatch", "Date in Credential scope does not match YYYYMMDD from X-Amz-Date."}
	case when.Sub(now) > maxSkew || now.Sub(when) > maxSkew:
		return &verifyError{"SignatureDoesNotMatch", "Signature expired: " + amzTime + " is now earlier or later than the server's time minus or plus 5 min."}
	case a.Region != region:
		return &verifyError{"SignatureDoesNotMatch", "Credential should be scoped to a valid region, not '" + a.Region + "'."}
	case a.Service != service:
		return &verifyError{"SignatureDoesNotMatch", "Credential should be scoped to correct service: '" + service + "'."}
	case !slices.IsSorted(a.SignedHeaders) || !slices.Contains(a.SignedHeaders, "host") || !slices.Contains(a.SignedHeaders, "x-amz-date"):
		return &verifyError{"SignatureDoesNotMatch", "SignedHeaders must be sorted and include host and x-amz-date."}
	case cred.SessionToken != "" && !slices.Contains(a.SignedHeaders, "x-amz-security-token"):
		return &verifyError{"SignatureDoesNotMatch", "x-amz-security-token must be signed."}
	}
	want := signature(cred.SecretAccessKey, a, amzTime, canonicalRequest(r, a.SignedHeaders, payload))
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return &verifyError{"SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	}
	return nil
}
