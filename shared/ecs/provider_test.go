package ecs_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/cloudassistant"
	"github.com/ecs-stopper/stopper/shared/ecs"
)

// rotatingProvider hands out its pairs in turn: the next one after each
// Invalidate, as a provider does once the API refuses a rotated key or an
// expired token.
type rotatingProvider struct {
	mu          sync.Mutex
	pairs       []acs.Credentials
	current     int
	invalidated []acs.Credentials
	err         error
}

func (p *rotatingProvider) Credentials(context.Context) (acs.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return acs.Credentials{}, p.err
	}
	return p.pairs[p.current], nil
}

func (p *rotatingProvider) Invalidate(c acs.Credentials) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.invalidated = append(p.invalidated, c)
	if c == p.pairs[p.current] && p.current+1 < len(p.pairs) {
		p.current++
	}
}

// An answer that refuses the credentials themselves makes the client tell
// the provider and make the call once more with what it hands out next;
// a second refusal is final, and any other error is not the provider's
// business.
func TestRefusedCredentialsAreRenewedOnce(t *testing.T) {
	refuse := func(code string) func(http.ResponseWriter, *http.Request, int) {
		return func(w http.ResponseWriter, r *http.Request, _ int) {
			if strings.Contains(r.Header.Get("Authorization"), "Credential="+testCred.AccessKeyID+",") {
				status(400, apiErr(code, "refused"))(w, r)
				return
			}
			status(200, okStopped)(w, r)
		}
	}
	for _, tc := range []struct {
		name, code  string
		pairs       []acs.Credentials
		wantErrCode string
		wantCalls   int
		wantRenewed bool
	}{
		{"a rotated key", "InvalidAccessKeyId.NotFound", []acs.Credentials{testCred, stsCred}, "", 2, true},
		{"an expired token", "InvalidSecurityToken.Expired", []acs.Credentials{testCred, stsCred}, "", 2, true},
		{"refused again after renewal", "InvalidSecurityToken.Expired", []acs.Credentials{testCred}, "InvalidSecurityToken.Expired", 2, true},
		{"another error is not the credentials'", "InvalidInvokeId.NotFound", []acs.Credentials{testCred, stsCred}, "InvalidInvokeId.NotFound", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStub(t, refuse(tc.code))
			p := &rotatingProvider{pairs: tc.pairs}
			c := newClient(t, s.srv.URL, nil).WithProvider(p)
			err := c.StopInvocation(context.Background(), regionHZ, invokeID, []string{"i-a"})
			var api *cloudassistant.Error
			switch {
			case tc.wantErrCode == "" && err != nil:
				t.Fatalf("StopInvocation = %v, want success with the renewed pair", err)
			case tc.wantErrCode != "" && (!errors.As(err, &api) || api.Code != tc.wantErrCode):
				t.Fatalf("StopInvocation = %v, want %s", err, tc.wantErrCode)
			}
			if got := len(s.Calls()); got != tc.wantCalls {
				t.Errorf("%d calls, want %d", got, tc.wantCalls)
			}
			if renewed := len(p.invalidated) > 0; renewed != tc.wantRenewed {
				t.Errorf("invalidated %v, want renewal %v", p.invalidated, tc.wantRenewed)
			}
			if len(p.invalidated) > 0 && p.invalidated[0] != testCred {
				t.Errorf("invalidated %v, want the pair the API refused", p.invalidated[0])
			}
		})
	}
}

// A provider that cannot give credentials fails the call before anything
// is sent, with the provider's own error; a provider with nothing to give
// is ErrNoCredentials.
func TestProviderFailureStopsTheCallBeforeTheNetwork(t *testing.T) {
	unavailable := &cloudassistant.Error{Code: "Credentials.Unavailable", HTTPStatus: 503, Message: "oidc-file: STS answered AuthenticationFail.OIDCToken.Expired"}
	for _, tc := range []struct {
		name string
		p    acs.CredentialsProvider
		want error
	}{
		{"provider error", &rotatingProvider{err: unavailable}, unavailable},
		{"empty pair", acs.Static(acs.Credentials{}), ecs.ErrNoCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStub(t, answers(status(200, okStopped)))
			err := newClient(t, s.srv.URL, nil).WithProvider(tc.p).StopInvocation(context.Background(), regionHZ, invokeID, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("StopInvocation = %v, want %v", err, tc.want)
			}
			if n := len(s.Calls()); n != 0 {
				t.Errorf("%d calls sent, want none", n)
			}
		})
	}
}

// Options.Provider signs every call with what it currently hands out.
func TestProviderOptionSignsEachCall(t *testing.T) {
	s := newStub(t, answers(status(200, okStopped)))
	p := &rotatingProvider{pairs: []acs.Credentials{stsCred, testCred}}
	c, err := ecs.New(ecs.Options{Provider: p, Endpoint: s.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.StopInvocation(context.Background(), regionHZ, invokeID, nil); err != nil {
			t.Fatal(err)
		}
		p.Invalidate(stsCred) // the provider moves on by itself
	}
	calls := s.Calls()
	for i, want := range []acs.Credentials{stsCred, testCred} {
		if !strings.Contains(calls[i].Header.Get("Authorization"), "Credential="+want.AccessKeyID+",") {
			t.Errorf("call %d signed with %q, want %s", i+1, calls[i].Header.Get("Authorization"), want.AccessKeyID)
		}
	}
}
