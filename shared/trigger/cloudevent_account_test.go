package trigger

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// A TaskCompleted event's aliyunaccountid is the account fail-fast acts in.
func TestCloudEventAccount(t *testing.T) {
	for _, tc := range []struct {
		name    string
		account any // nil: left out
		want    string
		err     string
	}{
		{name: "a member account", account: "1000000000000002", want: "1000000000000002"},
		{name: "none", account: nil},
		{name: "not digits", account: "acs:ram::1:root", err: "aliyunaccountid: must be an account id"},
		{name: "a number", account: 1000000000000002, err: "aliyunaccountid: must be an account id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := taskCompleted(t, func(ev map[string]any) {
				delete(ev, "aliyunaccountid")
				if tc.account != nil {
					ev["aliyunaccountid"] = tc.account
				}
			})
			req, err := cloudEventRequest(body)
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("%v, want %q", err, tc.err)
				}
			case err != nil || req.AccountId != tc.want:
				t.Errorf("%+v %v, want AccountId %q", req, err, tc.want)
			}
		})
	}
}

func TestForbiddenAccountStatus(t *testing.T) {
	if got := HTTPStatus(&stopper.Error{Code: stopper.CodeForbiddenAccount}); got != http.StatusForbidden {
		t.Errorf("%s is %d, want 403", stopper.CodeForbiddenAccount, got)
	}
}
