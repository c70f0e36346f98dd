package fakeaws

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/shared/acs"
)

// Secrets stands in for the AWS Parameters and Secrets Lambda Extension:
// GET /secretsmanager/get?secretId=<id> with the X-Aws-Parameters-Secrets-Token
// header, answered with GetSecretValue's JSON.
// https://docs.aws.amazon.com/secretsmanager/latest/userguide/retrieving-secrets_lambda.html
type Secrets struct {
	// URL is http://127.0.0.1:<Port>.
	URL string
	// Port is what PARAMETERS_SECRETS_EXTENSION_HTTP_PORT would say.
	Port string
	// SessionToken is the header value the extension accepts
	// ($AWS_SESSION_TOKEN in the function).
	SessionToken string

	mu      sync.Mutex
	secrets map[string]string // secret id → SecretString
	calls   int
}

// NewSecrets starts an extension stand-in on loopback that accepts
// sessionToken; it stops when the test ends.
func NewSecrets(t testing.TB, sessionToken string) *Secrets {
	t.Helper()
	s := &Secrets{SessionToken: sessionToken, secrets: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	u, _ := url.Parse(srv.URL)
	s.Port = u.Port()
	return s
}

// Put stores a SecretString as it is (tests of malformed secrets).
func (s *Secrets) Put(secretID, secretString string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[secretID] = secretString
}

// PutAccessKey stores an AccessKey pair in the shape the function expects.
func (s *Secrets) PutAccessKey(secretID string, c acs.Credentials) {
	b, _ := json.Marshal(struct{ AccessKeyId, AccessKeySecret string }{c.AccessKeyID, c.AccessKeySecret})
	s.Put(secretID, string(b))
}

// Rotate stores a new random AccessKey pair under secretID and returns it,
// as a rotation in Secrets Manager would.
func (s *Secrets) Rotate(secretID string) acs.Credentials {
	c := acs.Credentials{AccessKeyID: "LTAI" + randomHex(10), AccessKeySecret: randomHex(15)}
	s.PutAccessKey(secretID, c)
	return c
}

// Calls counts requests, refused ones included.
func (s *Secrets) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *Secrets) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	if r.Method != http.MethodGet || r.URL.Path != "/secretsmanager/get" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if r.Header.Get("X-Aws-Parameters-Secrets-Token") != s.SessionToken {
		http.Error(w, "missing or invalid X-Aws-Parameters-Secrets-Token header", http.StatusUnauthorized)
		return
	}
	id := r.URL.Query().Get("secretId")
	s.mu.Lock()
	secret, ok := s.secrets[id]
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"__type": "ResourceNotFoundException", "message": "Secrets Manager can't find the specified secret."})
		return
	}
	name := id
	if strings.HasPrefix(id, "arn:") {
		name = id[strings.LastIndex(id, ":")+1:]
	}
	writeJSON(w, map[string]any{
		"ARN":           "arn:aws:secretsmanager:" + DefaultRegion + ":" + DefaultAccount + ":secret:" + name + "-AbCdEf",
		"Name":          name,
		"VersionId":     randomID(),
		"SecretString":  secret,
		"VersionStages": []string{"AWSCURRENT"},
		"CreatedDate":   time.Now().UTC().Format(time.RFC3339),
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
