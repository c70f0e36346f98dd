package emulator

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
)

// The tests' signing keys: the provider's, and one it never published.
var (
	keysOnce            sync.Once
	providerKey, rogueK *rsa.PrivateKey
)

func testKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if providerKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rogueK, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return providerKey, rogueK
}

// serveJWKS publishes key under kid on loopback.
func serveJWKS(t *testing.T, kid string, key *rsa.PublicKey) *httptest.Server {
	t.Helper()
	doc, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	t.Cleanup(hs.Close)
	return hs
}

// mintJWT builds a compact JWS: RS256 with key, HS256 with an HMAC of the
// literal "secret", or "none" unsigned.
func mintJWT(t testing.TB, header, claims map[string]any, key *rsa.PrivateKey) string {
	t.Helper()
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	signed := enc(header) + "." + enc(claims)
	var sig []byte
	switch header["alg"] {
	case "RS256":
		sum := sha256.Sum256([]byte(signed))
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:]); err != nil {
			t.Fatal(err)
		}
	case "HS256":
		m := hmac.New(sha256.New, []byte("secret"))
		m.Write([]byte(signed))
		sig = m.Sum(nil)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func anonymousClient(t *testing.T, run *Running) *openapi.Client {
	t.Helper()
	cl, err := openapi.NewClient(&openapiutil.Config{Endpoint: tea.String(run.Addr), Protocol: tea.String("HTTP"),
		ReadTimeout: tea.Int(5000), ConnectTimeout: tea.Int(2000)})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func assumeRoleWithOIDC(t *testing.T, cl *openapi.Client, kv ...string) (map[string]any, error) {
	t.Helper()
	return cl.CallApi(rpcParams("AssumeRoleWithOIDC", stsVersion, "Anonymous"), query(kv...), &dara.RuntimeOptions{})
}

func TestAssumeRoleWithOIDCOfficialSDK(t *testing.T) {
	good, rogue := testKeys(t)
	jwks := serveJWKS(t, "k1", &good.PublicKey)
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	var logs syncBuffer
	run := listenAccounts(t, clock, jwks.URL+"/jwks.json", Options{Log: jsonLogger(&logs)})
	now := clock.Now().Unix()
	claims := func(change map[string]any) map[string]any {
		c := map[string]any{"iss": testIssuer, "sub": testSubject, "aud": testAudience, "iat": now - 10, "exp": now + 300}
		for k, v := range change {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	rs256 := map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}
	for _, tc := range []struct {
		name   string
		token  string
		kv     []string // overrides
		status int
		code   string
	}{
		{name: "valid", token: mintJWT(t, rs256, claims(nil), good)},
		{name: "aud as an array", token: mintJWT(t, rs256, claims(map[string]any{"aud": []string{"other", testAudience}}), good)},
		{name: "no kid", token: mintJWT(t, map[string]any{"alg": "RS256"}, claims(nil), good)},
		{name: "expired", token: mintJWT(t, rs256, claims(map[string]any{"exp": now - 1}), good), status: 401, code: CodeOIDCTokenExpired},
		{name: "no exp", token: mintJWT(t, rs256, claims(map[string]any{"exp": nil}), good), status: 401, code: CodeOIDCTokenInvalid},
		{name: "not valid yet", token: mintJWT(t, rs256, claims(map[string]any{"nbf": now + 600}), good), status: 401, code: CodeOIDCTokenInvalid},
		{name: "issued in the future", token: mintJWT(t, rs256, claims(map[string]any{"iat": now + 3600}), good), status: 401, code: CodeOIDCTokenInvalid},
		{name: "wrong audience", token: mintJWT(t, rs256, claims(map[string]any{"aud": "someone-else"}), good), status: 401, code: CodeOIDCTokenAudience},
		{name: "wrong issuer", token: mintJWT(t, rs256, claims(map[string]any{"iss": "https://evil.example.test"}), good), status: 401, code: CodeOIDCTokenInvalid},
		{name: "HS256", token: mintJWT(t, map[string]any{"alg": "HS256", "kid": "k1"}, claims(nil), nil), status: 401, code: CodeOIDCTokenInvalid},
		{name: "alg none", token: mintJWT(t, map[string]any{"alg": "none"}, claims(nil), nil), status: 401, code: CodeOIDCTokenInvalid},
		{name: "signed by another key", token: mintJWT(t, rs256, claims(nil), rogue), status: 401, code: CodeOIDCTokenSignature},
		{name: "unknown kid", token: mintJWT(t, map[string]any{"alg": "RS256", "kid": "k9"}, claims(nil), good), status: 401, code: CodeOIDCTokenSignature},
		{name: "two parts", token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0", status: 401, code: CodeOIDCTokenInvalid},
		{name: "subject not in the role's list", token: mintJWT(t, rs256, claims(map[string]any{"sub": "arn:aws:iam::111122223333:role/other"}), good), status: 401, code: CodeOIDCNoPermission},
		{name: "unknown provider", token: mintJWT(t, rs256, claims(nil), good), kv: []string{"OIDCProviderArn", "acs:ram::" + DefaultAccountId + ":oidc-provider/none"}, status: 401, code: CodeOIDCNoPermission},
		{name: "role not trusting the provider", token: mintJWT(t, rs256, claims(nil), good), kv: []string{"RoleArn", memberARole}, status: 401, code: CodeOIDCNoPermission},
		{name: "role not in the fleet", token: mintJWT(t, rs256, claims(nil), good), kv: []string{"RoleArn", "acs:ram::" + memberB + ":role/none"}, status: 404, code: CodeRoleNotFound},
		{name: "no token", token: "", status: 401, code: CodeOIDCTokenInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := map[string]string{"OIDCProviderArn": providerArn, "RoleArn": memberBRole, "OIDCToken": tc.token, "RoleSessionName": "oidc-session"}
			for i := 0; i+1 < len(tc.kv); i += 2 {
				params[tc.kv[i]] = tc.kv[i+1]
			}
			var kv []string
			for k, v := range params {
				if v != "" {
					kv = append(kv, k, v)
				}
			}
			res, err := assumeRoleWithOIDC(t, anonymousClient(t, run), kv...)
			if tc.code != "" {
				checkSDKError(t, err, tc.status, tc.code)
				return
			}
			if err != nil {
				t.Fatalf("AssumeRoleWithOIDC: %v", err)
			}
			cred := readIssued(t, res)
			if want := "acs:ram::" + memberB + ":assumed-role/ecs-stopper/oidc-session"; cred.arn != want {
				t.Fatalf("Arn %s, want %s", cred.arn, want)
			}
			info, _ := res["body"].(map[string]any)["OIDCTokenInfo"].(map[string]any)
			if info["Subject"] != testSubject || info["Issuer"] != testIssuer {
				t.Errorf("OIDCTokenInfo %v", info)
			}
			resp, err := sdkClient(t, run, cred.keyID, cred.secret, "", cred.token).
				DescribeInvocations(&ecs.DescribeInvocationsRequest{RegionId: tea.String("cn-hangzhou")})
			if err != nil {
				t.Fatalf("DescribeInvocations with OIDC credentials: %v", err)
			}
			if invs := resp.Body.Invocations.Invocation; len(invs) != 1 || tea.StringValue(invs[0].InvokeId) != memberBInvoke {
				t.Fatalf("sees %v, want only %s", resp.Body.Invocations, memberBInvoke)
			}
		})
	}
	for _, l := range callLines(t, logs.String()) {
		if l["action"] == actionAssumeRoleWithOIDC && l["code"] == "" && (l["principal"] != providerArn || l["account"] != memberB) {
			t.Errorf("OIDC line %v, want principal %s and account %s", l, providerArn, memberB)
		}
	}
	checkNoSecrets(t, logs.String(), "eyJ")
}

// A JWKS that is not on loopback is refused before any fetch.
func TestJWKSLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/jwks.json", true},
		{"https://[::1]:8443/keys", true},
		{"http://localhost/jwks", true},
		{"https://issuer.example.test/jwks.json", false},
		{"http://10.0.0.1/jwks.json", false},
		{"http://user:pw@127.0.0.1/jwks.json", false},
		{"file:///etc/jwks.json", false},
		{"", false},
	} {
		err := checkLoopbackURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("checkLoopbackURL(%q) = %v, want ok %v", tc.url, err, tc.ok)
		}
	}
}

func TestParseJWKS(t *testing.T) {
	good, _ := testKeys(t)
	n := base64.RawURLEncoding.EncodeToString(good.N.Bytes())
	for _, tc := range []struct {
		name, doc string
		keys      int
	}{
		{"one RSA key", `{"keys":[{"kty":"RSA","kid":"a","n":"` + n + `","e":"AQAB"}]}`, 1},
		{"EC keys skipped", `{"keys":[{"kty":"EC","kid":"e"},{"kty":"RSA","kid":"a","n":"` + n + `","e":"AQAB"}]}`, 1},
		{"encryption key skipped", `{"keys":[{"kty":"RSA","use":"enc","kid":"a","n":"` + n + `","e":"AQAB"}]}`, 0},
		{"short key", `{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}`, 0},
		{"not JSON", `keys`, 0},
	} {
		keys, err := parseJWKS([]byte(tc.doc))
		if len(keys) != tc.keys || (err == nil) != (tc.keys > 0) {
			t.Errorf("%s: %d keys, %v; want %d", tc.name, len(keys), err, tc.keys)
		}
	}
}

// FuzzParseJWT feeds arbitrary tokens: parsing never panics, and what it
// accepts is three base64url parts with an RS256 header.
func FuzzParseJWT(f *testing.F) {
	key, _ := testKeys(f)
	f.Add(mintJWT(f, map[string]any{"alg": "RS256", "kid": "k"}, map[string]any{"iss": "x", "aud": []string{"a"}, "exp": 1.5}, key))
	f.Add(mintJWT(f, map[string]any{"alg": "HS256"}, map[string]any{"aud": 3}, nil))
	f.Add("a.b.c")
	f.Add("....")
	f.Add("eyJhbGciOiJSUzI1NiJ9.bnVsbA.")
	f.Fuzz(func(t *testing.T, token string) {
		j, e := parseJWT(token)
		if (j == nil) == (e == nil) {
			t.Fatalf("parseJWT(%q) = %v, %v", token, j, e)
		}
		if e != nil {
			if e.code != CodeOIDCTokenInvalid || e.status != http.StatusUnauthorized {
				t.Fatalf("refusal %d %s", e.status, e.code)
			}
			return
		}
		if j.header.Alg != "RS256" || strings.Count(token, ".") != 2 {
			t.Fatalf("accepted %q", token)
		}
	})
}
