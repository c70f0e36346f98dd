package fakeaws

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"testing"
)

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// TestIssuerDocuments reads the discovery document and JWKS of both
// issuers, the STS stand-in and ServeJWKS, and rebuilds the keys from them.
func TestIssuerDocuments(t *testing.T) {
	sts := NewSTS(t, STSOptions{})
	extra := NewKey(t, "other")
	only := ServeJWKS(t, extra)
	for _, tc := range []struct {
		name, issuer string
		keys         []*Key
	}{
		{"sts", sts.URL, []*Key{sts.Key}},
		{"jwks only", only.URL, []*Key{extra}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var disc struct {
				Issuer  string `json:"issuer"`
				JWKSURI string `json:"jwks_uri"`
			}
			getJSON(t, tc.issuer+"/.well-known/openid-configuration", &disc)
			if disc.Issuer != tc.issuer {
				t.Errorf("issuer %q, want %q", disc.Issuer, tc.issuer)
			}
			var jwks struct{ Keys []JWK }
			getJSON(t, disc.JWKSURI, &jwks)
			if len(jwks.Keys) != len(tc.keys) {
				t.Fatalf("%d keys, want %d", len(jwks.Keys), len(tc.keys))
			}
			for i, k := range jwks.Keys {
				n, _ := base64.RawURLEncoding.DecodeString(k.N)
				e, _ := base64.RawURLEncoding.DecodeString(k.E)
				pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
				if k.Kid != tc.keys[i].KID || k.Alg != "RS256" || !pub.Equal(tc.keys[i].Public()) {
					t.Errorf("key %d: %+v does not match", i, k)
				}
			}
		})
	}
}
