package fakeaws

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Key is an RSA signing key with a key id, as an OIDC issuer publishes it
// in its JWKS. Tests use it to sign tokens of any shape: expired, for
// another audience, with a wrong kid.
type Key struct {
	KID  string
	priv *rsa.PrivateKey
}

// NewKey makes a 2048-bit RSA key.
func NewKey(t testing.TB, kid string) *Key {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("fakeaws: generating an RSA key: %v", err)
	}
	return &Key{KID: kid, priv: priv}
}

// Public is the key's public half.
func (k *Key) Public() *rsa.PublicKey { return &k.priv.PublicKey }

// Sign returns an RS256 JWT of claims with header {"alg":"RS256","typ":"JWT","kid":KID}.
func (k *Key) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	return k.SignWithHeader(t, map[string]any{"alg": "RS256", "typ": "JWT", "kid": k.KID}, claims)
}

// SignWithHeader signs claims under any header (a wrong alg, no kid) with
// RS256 all the same.
func (k *Key) SignWithHeader(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	token, err := k.sign(header, claims)
	if err != nil {
		t.Fatalf("fakeaws: %v", err)
	}
	return token
}

func (k *Key) sign(header, claims map[string]any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("JWT header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("JWT claims: %w", err)
	}
	input := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.priv, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("signing a JWT: %w", err)
	}
	return input + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// JWK is one public key of a JWKS.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWK is the key's public half as a JWKS lists it.
func (k *Key) JWK() JWK {
	return JWK{Kty: "RSA", Kid: k.KID, Use: "sig", Alg: "RS256",
		N: b64(k.priv.N.Bytes()), E: b64(big.NewInt(int64(k.priv.E)).Bytes())}
}

// JWKS is the document served at /.well-known/jwks.json.
func JWKS(keys ...*Key) []byte {
	doc := struct {
		Keys []JWK `json:"keys"`
	}{Keys: []JWK{}}
	for _, k := range keys {
		doc.Keys = append(doc.Keys, k.JWK())
	}
	b, _ := json.Marshal(doc)
	return b
}

// discoveryHandler serves an issuer's OIDC discovery document and JWKS,
// as AWS's token issuer does; issuer is the server's own URL.
func discoveryHandler(mux *http.ServeMux, issuer func() string, jwks func() []byte) {
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                issuer(),
			"jwks_uri":                              issuer() + "/.well-known/jwks.json",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256", "ES384"},
		})
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks())
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// ServeJWKS starts an OIDC issuer on loopback that serves only its
// discovery document and the keys' JWKS; its URL is the issuer. It stops
// when the test ends.
func ServeJWKS(t testing.TB, keys ...*Key) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	discoveryHandler(mux, func() string { return srv.URL }, func() []byte { return JWKS(keys...) })
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}
