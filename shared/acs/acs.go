// Package acs signs and verifies Alibaba Cloud API requests: ACS3-HMAC-SHA256
// (V3, what the official SDKs send by default) and the older RPC HMAC-SHA1 (V1).
//
// The client and the embedded emulator share this code on purpose: both sides
// must canonicalise a request byte for byte the same way, and the official test
// vectors pin that canonicalisation down.
package acs

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// AlgorithmV3 is the only V3 algorithm the project signs with.
const AlgorithmV3 = "ACS3-HMAC-SHA256"

// PercentEncode is RFC 3986 encoding as Alibaba Cloud canonicalises it:
// unreserved characters kept, everything else %XX in upper case, space as %20.
func PercentEncode(s string) string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
	}
	return b.String()
}

// CanonicalQuery sorts the parameters by key (then value) and joins the
// encoded pairs with '&'; an empty value is written as "k=".
func CanonicalQuery(params url.Values) string {
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(params))
	for k, vs := range params {
		for _, v := range vs {
			pairs = append(pairs, pair{PercentEncode(k), PercentEncode(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// HashHex is the lower-case hex SHA-256 of b (the x-acs-content-sha256 value).
func HashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// CanonicalRequestV3 builds the V3 canonical request. headers maps lower-case
// names to values; signedHeaders must be lower-case and is sorted here.
func CanonicalRequestV3(method, path string, query url.Values, headers map[string]string, signedHeaders []string, hashedPayload string) string {
	names := append([]string(nil), signedHeaders...)
	sort.Strings(names)
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(path)
	b.WriteByte('\n')
	b.WriteString(CanonicalQuery(query))
	b.WriteByte('\n')
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(strings.TrimSpace(headers[n]))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(names, ";"))
	b.WriteByte('\n')
	b.WriteString(hashedPayload)
	return b.String()
}

// SignatureV3 is hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex(SHA256(canonicalRequest)))).
func SignatureV3(secret, canonicalRequest string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(AlgorithmV3 + "\n" + HashHex([]byte(canonicalRequest))))
	return hex.EncodeToString(mac.Sum(nil))
}

// SignV3 signs req (an RPC call: parameters in the URL query, body as given)
// in place: it sets host, x-acs-date, x-acs-signature-nonce,
// x-acs-content-sha256, x-acs-security-token (STS) and Authorization.
// x-acs-action and x-acs-version must already be set by the caller.
func SignV3(req *http.Request, body []byte, cred Credentials, now time.Time, nonce string) {
	h := req.Header
	h.Set("x-acs-date", now.UTC().Format("2006-01-02T15:04:05Z"))
	h.Set("x-acs-signature-nonce", nonce)
	hashed := HashHex(body)
	h.Set("x-acs-content-sha256", hashed)
	if cred.SecurityToken != "" {
		h.Set("x-acs-security-token", cred.SecurityToken)
	}
	headers := map[string]string{"host": req.URL.Host}
	signed := []string{"host"}
	for name, vs := range h {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-acs-") || lower == "content-type" {
			headers[lower] = strings.Join(vs, ",")
			signed = append(signed, lower)
		}
	}
	sort.Strings(signed)
	canonical := CanonicalRequestV3(req.Method, req.URL.EscapedPath(), req.URL.Query(), headers, signed, hashed)
	h.Set("Authorization", fmt.Sprintf("%s Credential=%s,SignedHeaders=%s,Signature=%s",
		AlgorithmV3, cred.AccessKeyID, strings.Join(signed, ";"), SignatureV3(cred.AccessKeySecret, canonical)))
}

// AuthorizationV3 is a parsed V3 Authorization header.
type AuthorizationV3 struct {
	AccessKeyID   string
	SignedHeaders []string
	Signature     string
}

// ErrMalformedAuthorization is returned for an Authorization header that is not V3.
var ErrMalformedAuthorization = errors.New("acs: malformed ACS3-HMAC-SHA256 Authorization header")

// ParseAuthorizationV3 reads "ACS3-HMAC-SHA256 Credential=..,SignedHeaders=a;b,Signature=..".
func ParseAuthorizationV3(v string) (AuthorizationV3, error) {
	var a AuthorizationV3
	rest, ok := strings.CutPrefix(v, AlgorithmV3+" ")
	if !ok {
		return a, ErrMalformedAuthorization
	}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, ErrMalformedAuthorization
		}
		switch k {
		case "Credential":
			a.AccessKeyID = val
		case "SignedHeaders":
			if val != "" {
				a.SignedHeaders = strings.Split(val, ";")
			}
		case "Signature":
			a.Signature = val
		}
	}
	if a.AccessKeyID == "" || a.Signature == "" || len(a.SignedHeaders) == 0 {
		return a, ErrMalformedAuthorization
	}
	return a, nil
}

// StringToSignV1 is Method & %2F & percentEncode(canonical query) over every
// parameter but Signature.
func StringToSignV1(method string, params url.Values) string {
	p := make(url.Values, len(params))
	for k, v := range params {
		if k != "Signature" {
			p[k] = v
		}
	}
	return method + "&" + PercentEncode("/") + "&" + PercentEncode(CanonicalQuery(p))
}

// SignatureV1 is Base64(HMAC-SHA1(secret + "&", stringToSign)).
func SignatureV1(secret, stringToSign string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
