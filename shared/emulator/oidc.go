package emulator

// OIDC tokens are verified as STS verifies them: an RS256 JWT (RFC 7519)
// signed by a key of the provider's JWKS (RFC 7517), whose iss is the
// provider's issuer URL, whose aud (a string or an array) names one of its
// client ids and which has not expired. Codes and messages follow STS's
// error table, https://help.aliyun.com/zh/ram/developer-reference/api-sts-2015-04-01-errorcodes
// (all 401): AuthenticationFail.OIDCToken.Invalid (format, algorithm,
// content), .InvalidSignature, .AudienceNotMatch, .Expired. The table has
// no code for a wrong issuer or a token not yet valid that this project
// could confirm, so those answer AuthenticationFail.OIDCToken.Invalid with
// the reason.

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// OIDC token bounds: AssumeRoleWithOIDC takes 4 to 20,000 characters.
const (
	minOIDCToken = 4
	maxOIDCToken = 20000
	// maxJWKS bounds a JWKS document read.
	maxJWKS = 1 << 20
	// iatSkew is how far in the future a token's iat may be (clocks differ).
	iatSkew = 5 * time.Minute
)

// audience is a JWT aud claim: one string or an array of them.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// jwtClaims are the registered claims the emulator checks. Times are
// NumericDate seconds, which may carry a fraction.
type jwtClaims struct {
	Iss string   `json:"iss"`
	Sub string   `json:"sub"`
	Aud audience `json:"aud"`
	Exp *float64 `json:"exp"`
	Nbf *float64 `json:"nbf"`
	Iat *float64 `json:"iat"`
}

func (c *jwtClaims) expires() time.Time { return unixTime(*c.Exp) }

func unixTime(sec float64) time.Time {
	whole, frac := math.Modf(sec)
	return time.Unix(int64(whole), int64(frac*1e9))
}

// jwtHeader is the JOSE header of a JWS.
type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// parsedJWT is a JWT split and decoded, its signature not yet verified.
type parsedJWT struct {
	header    jwtHeader
	claims    jwtClaims
	signed    string // header.payload, what the signature covers
	signature []byte
}

func oidcInvalid(format string, args ...any) *apiError {
	return newError(http.StatusUnauthorized, CodeOIDCTokenInvalid, format, args...)
}

// parseJWT decodes a compact JWS and checks its form and algorithm; it
// verifies nothing else. Only RS256 is accepted: "none" and HMAC (whose
// key would be public here) are refused, as STS refuses HS256.
func parseJWT(token string) (*parsedJWT, *apiError) {
	if len(token) < minOIDCToken || len(token) > maxOIDCToken {
		return nil, oidcInvalid("The OIDCToken must be %d to %d characters long.", minOIDCToken, maxOIDCToken)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, oidcInvalid("The number of Jwt field should be divided into 3 parts with '.' .")
	}
	var raw [3][]byte
	for i, part := range parts {
		b, err := base64.RawURLEncoding.DecodeString(part)
		if err != nil {
			return nil, oidcInvalid("Cannot decode base64 encoded response(format invalided): JWT part %d is not base64url without padding.", i+1)
		}
		raw[i] = b
	}
	j := &parsedJWT{signed: parts[0] + "." + parts[1], signature: raw[2]}
	if err := json.Unmarshal(raw[0], &j.header); err != nil {
		return nil, oidcInvalid("The Jwt content is invalid that cannot be recognized: the header is not a JSON object.")
	}
	if j.header.Alg != "RS256" {
		return nil, oidcInvalid("The algorithm %q that be specified in Jwt header is unknown: only RS256 is accepted.", j.header.Alg)
	}
	if err := json.Unmarshal(raw[1], &j.claims); err != nil {
		return nil, oidcInvalid("The Jwt content is invalid that cannot be recognized: the claims are not a JSON object with string iss and sub, string or array aud, numeric exp, nbf and iat.")
	}
	return j, nil
}

// check applies the provider's issuer and client ids and the token's
// times.
func (c *jwtClaims) check(p OIDCProvider, now time.Time) *apiError {
	switch {
	case c.Iss != p.IssuerUrl:
		return oidcInvalid("The token's iss %q is not the issuer of provider %s.", c.Iss, p.Arn)
	case !slices.ContainsFunc(c.Aud, func(a string) bool { return slices.Contains(p.ClientIds, a) }):
		return newError(http.StatusUnauthorized, CodeOIDCTokenAudience, "Invalid audience: the token's aud names none of the client ids of provider %s.", p.Arn)
	case c.Exp == nil:
		return oidcInvalid("The Jwt content is invalid that cannot be recognized: the token has no exp.")
	case !now.Before(c.expires()):
		return newError(http.StatusUnauthorized, CodeOIDCTokenExpired, "This JsonWebToken is expired.")
	case c.Nbf != nil && now.Before(unixTime(*c.Nbf)):
		return oidcInvalid("The token is not valid yet: its nbf is in the future.")
	case c.Iat != nil && unixTime(*c.Iat).After(now.Add(iatSkew)):
		return oidcInvalid("The token's iat is in the future.")
	case c.Sub == "":
		return oidcInvalid("The Jwt content is invalid that cannot be recognized: the token has no sub.")
	}
	return nil
}

// jwksCache fetches and keeps providers' signing keys by JWKS URL. A token
// whose kid is not among the cached keys makes it fetch the JWKS again (the
// provider may have rotated its keys).
type jwksCache struct {
	client *http.Client
	mu     sync.Mutex
	keys   map[string]map[string]*rsa.PublicKey // url -> kid -> key
}

func newJWKSCache(client *http.Client) *jwksCache {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	// Never follow a redirect off the loopback host.
	c := *client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		return checkLoopbackURL(req.URL.String())
	}
	return &jwksCache{client: &c, keys: map[string]map[string]*rsa.PublicKey{}}
}

// verify checks a token against a provider: form, signature, claims.
func (k *jwksCache) verify(ctx context.Context, token string, p OIDCProvider, now time.Time) (*jwtClaims, *apiError) {
	j, e := parseJWT(token)
	if e != nil {
		return nil, e
	}
	keys, e := k.lookup(ctx, p, j.header.Kid)
	if e != nil {
		return nil, e
	}
	sum := sha256.Sum256([]byte(j.signed))
	verified := false
	for _, pub := range keys {
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], j.signature) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, newError(http.StatusUnauthorized, CodeOIDCTokenSignature, "OIDC token validate failed: invalid signature.")
	}
	if e := j.claims.check(p, now); e != nil {
		return nil, e
	}
	return &j.claims, nil
}

// lookup returns the keys a token's kid may be signed with: the one with
// that kid, or every key when the token names none.
func (k *jwksCache) lookup(ctx context.Context, p OIDCProvider, kid string) ([]*rsa.PublicKey, *apiError) {
	pick := func(set map[string]*rsa.PublicKey) []*rsa.PublicKey {
		if kid != "" {
			if key := set[kid]; key != nil {
				return []*rsa.PublicKey{key}
			}
			return nil
		}
		var all []*rsa.PublicKey
		for _, key := range set {
			all = append(all, key)
		}
		return all
	}
	k.mu.Lock()
	cached, ok := k.keys[p.JwksUrl]
	k.mu.Unlock()
	if ok {
		if keys := pick(cached); len(keys) > 0 {
			return keys, nil
		}
	}
	set, err := k.fetch(ctx, p.JwksUrl)
	if err != nil {
		return nil, newError(http.StatusUnauthorized, CodeOIDCProviderURL,
			"Invoke url failed: the JWKS of provider %s could not be read from %s: %v.", p.Arn, p.JwksUrl, err)
	}
	k.mu.Lock()
	k.keys[p.JwksUrl] = set
	k.mu.Unlock()
	keys := pick(set)
	if len(keys) == 0 {
		return nil, newError(http.StatusUnauthorized, CodeOIDCTokenSignature,
			"OIDC token validate failed: invalid signature: the JWKS of provider %s has no RSA key with kid %q.", p.Arn, kid)
	}
	return keys, nil
}

// fetch reads a JWKS from a loopback URL.
func (k *jwksCache) fetch(ctx context.Context, rawURL string) (map[string]*rsa.PublicKey, error) {
	if err := checkLoopbackURL(rawURL); err != nil {
		return nil, fmt.Errorf("the URL %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKS {
		return nil, fmt.Errorf("the JWKS is larger than %d bytes", maxJWKS)
	}
	return parseJWKS(body)
}

// parseJWKS reads the RSA signature keys of a JWKS; other keys are skipped,
// and a JWKS with none is an error.
func parseJWKS(body []byte) (map[string]*rsa.PublicKey, error) {
	var doc struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("not a JWKS: %w", err)
	}
	out := map[string]*rsa.PublicKey{}
	for i, key := range doc.Keys {
		if key.Kty != "RSA" || (key.Use != "" && key.Use != "sig") || (key.Alg != "" && key.Alg != "RS256") {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(key.N)
		e, err2 := base64.RawURLEncoding.DecodeString(key.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("key #%d: n or e is not base64url", i+1)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 {
			return nil, fmt.Errorf("key #%d: not an RSA key of at least 2048 bits with an odd exponent", i+1)
		}
		kid := key.Kid
		if kid == "" {
			kid = fmt.Sprintf("#%d", i+1)
		}
		out[kid] = pub
	}
	if len(out) == 0 {
		return nil, errors.New("the JWKS holds no RSA signing key")
	}
	return out, nil
}
