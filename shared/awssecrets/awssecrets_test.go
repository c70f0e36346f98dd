package awssecrets_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ecs-stopper/stopper/internal/fakeaws"
	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/awssecrets"
)

const (
	sessionToken = "IQoJb3JpZ2luX2VjEXAMPLE/session+token=="
	secretID     = "stopper/alibaba-access-key"
	keyID        = "LTAI5tEXAMPLEkeyID000000"
	keySecret    = "EXAMPLEsecretEXAMPLEsecret00"
)

func newClient(t *testing.T, o awssecrets.Options) *awssecrets.Client {
	t.Helper()
	c, err := awssecrets.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAccessKey(t *testing.T) {
	ext := fakeaws.NewSecrets(t, sessionToken)
	ext.PutAccessKey(secretID, acs.Credentials{AccessKeyID: keyID, AccessKeySecret: keySecret})
	arn := "arn:aws:secretsmanager:eu-west-1:111122223333:secret:stopper/ak+&=?"
	ext.PutAccessKey(arn, acs.Credentials{AccessKeyID: keyID, AccessKeySecret: keySecret})
	for _, id := range []string{secretID, arn} {
		t.Run(id, func(t *testing.T) {
			got, err := newClient(t, awssecrets.Options{SecretID: id, Port: ext.Port, SessionToken: sessionToken}).AccessKey(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got.AccessKeyID != keyID || got.AccessKeySecret != keySecret || got.SecurityToken != "" {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func TestRotationIsSeen(t *testing.T) {
	ext := fakeaws.NewSecrets(t, sessionToken)
	c := newClient(t, awssecrets.Options{SecretID: secretID, Port: ext.Port, SessionToken: sessionToken})
	var want acs.Credentials
	for i, rotate := range []bool{true, false, true} {
		if rotate {
			want = ext.Rotate(secretID)
		}
		got, err := c.AccessKey(context.Background())
		if err != nil || got != want {
			t.Fatalf("read %d: got %v, %v; want %v", i, got, err, want)
		}
	}
	if ext.Calls() != 3 {
		t.Fatalf("the extension saw %d calls, want one per read", ext.Calls())
	}
}

func TestRefusals(t *testing.T) {
	ext := fakeaws.NewSecrets(t, sessionToken)
	ext.Put("empty", "")
	ext.Put("not json", "LTAI5tEXAMPLE:"+keySecret)
	ext.Put("array", `["`+keySecret+`"]`)
	ext.Put("other names", `{"accessKeyIdX": "`+keyID+`", "secret": "`+keySecret+`"}`)
	ext.Put("extra field", `{"AccessKeyId": "`+keyID+`", "AccessKeySecret": "`+keySecret+`", "SecurityToken": "x"}`)
	ext.Put("empty secret", `{"AccessKeyId": "`+keyID+`", "AccessKeySecret": ""}`)
	ext.Put("newline", `{"AccessKeyId": "`+keyID+`", "AccessKeySecret": "`+keySecret+`\n"}`)
	ext.Put("two objects", `{"AccessKeyId": "`+keyID+`", "AccessKeySecret": "`+keySecret+`"}{}`)
	ext.Put("string values only", `{"AccessKeyId": "`+keyID+`", "AccessKeySecret": 12345}`)

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, closedPort, _ := net.SplitHostPort(strings.TrimPrefix(closed.URL, "http://"))

	for _, tc := range []struct {
		name     string
		id, port string
		token    string
		want     []string
	}{
		{"extension missing", secretID, closedPort, sessionToken, []string{"STOPPER_ALIBABA_SECRET_ID", "Parameters and Secrets Lambda Extension", "layer", "127.0.0.1:" + closedPort}},
		{"wrong token header", "empty", ext.Port, "another-session-token", []string{"401", "X-Aws-Parameters-Secrets-Token", "AWS_SESSION_TOKEN", `"empty"`}},
		{"unknown secret", "no-such-secret", ext.Port, sessionToken, []string{"ResourceNotFoundException", "STOPPER_ALIBABA_SECRET_ID", "no-such-secret"}},
		{"empty", "empty", ext.Port, sessionToken, []string{`"AccessKeyId": "..."`, `"empty"`, "STOPPER_ALIBABA_SECRET_ID"}},
		{"not json", "not json", ext.Port, sessionToken, []string{`"AccessKeyId": "..."`}},
		{"array", "array", ext.Port, sessionToken, []string{`"AccessKeyId": "..."`}},
		{"other names", "other names", ext.Port, sessionToken, []string{`"AccessKeyId": "..."`}},
		{"extra field", "extra field", ext.Port, sessionToken, []string{`"AccessKeyId": "..."`}},
		{"empty secret", "empty secret", ext.Port, sessionToken, []string{`"AccessKeyId": "..."`}},
		{"newline", "newline", ext.Port, sessionToken, []string{`"AccessKeyId": "..."`}},
		{"two objects", "two objects", ext.Port, sessionToken, []string{`"AccessKeyId": "..."`}},
		{"string values only", "string values only", ext.Port, sessionToken, []string{`"AccessKeyId": "..."`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newClient(t, awssecrets.Options{SecretID: tc.id, Port: tc.port, SessionToken: tc.token}).AccessKey(context.Background())
			if err == nil {
				t.Fatalf("got %v; want a refusal", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			for _, secret := range []string{keySecret, sessionToken, tc.token, "LTAI5tEXAMPLE"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("%q shows a secret", err)
				}
			}
		})
	}
}

// TestAnswersOfAnotherShape serves what is not GetSecretValue's JSON.
func TestAnswersOfAnotherShape(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"not json", "<html>" + keySecret, "not GetSecretValue's JSON"},
		{"binary secret", `{"Name": "x", "SecretBinary": "` + keySecret + `"}`, "no SecretString"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(tc.body)) }))
			defer srv.Close()
			_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
			_, err := newClient(t, awssecrets.Options{SecretID: secretID, Port: port, SessionToken: sessionToken}).AccessKey(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), keySecret) {
				t.Fatalf("got %v; want %q without the secret", err, tc.want)
			}
		})
	}
}

func TestNewNamesWhatToFix(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    awssecrets.Options
		want string // "" = accepted
	}{
		{"complete", awssecrets.Options{SecretID: secretID, SessionToken: sessionToken}, ""},
		{"port", awssecrets.Options{SecretID: secretID, SessionToken: sessionToken, Port: "8080"}, ""},
		{"no secret id", awssecrets.Options{SessionToken: sessionToken}, "STOPPER_ALIBABA_SECRET_ID"},
		{"no session token", awssecrets.Options{SecretID: secretID}, "AWS_SESSION_TOKEN"},
		{"port not a number", awssecrets.Options{SecretID: secretID, SessionToken: sessionToken, Port: "localhost:2773"}, "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"},
		{"port out of range", awssecrets.Options{SecretID: secretID, SessionToken: sessionToken, Port: "70000"}, "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"},
		{"negative timeout", awssecrets.Options{SecretID: secretID, SessionToken: sessionToken, Timeout: -time.Second}, "Timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := awssecrets.New(tc.o)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v; want an error saying %q", err, tc.want)
			case c != nil && (strings.Contains(c.String(), sessionToken) || !strings.Contains(c.String(), "127.0.0.1:")):
				t.Fatalf("String = %s", c)
			}
		})
	}
}
