package resourcemanager_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ecs-stopper/stopper/shared/acs"
	"github.com/ecs-stopper/stopper/shared/resourcemanager"
)

// Whatever a server answers ListAccounts with, the client does not panic,
// ends its paging, and never puts the key's secret in an error.
func FuzzListAccountsAnswer(f *testing.F) {
	f.Add(200, `{"RequestId":"R","PageNumber":1,"TotalCount":1,"Accounts":{"Account":[{"AccountId":"1000000000000002","Status":"CreateSuccess"}]}}`)
	f.Add(200, `{"TotalCount":1000,"Accounts":{"Account":[]}}`)
	f.Add(404, `{"Code":"NotExists.ResourceDirectory","Message":"`+key.AccessKeySecret+`"}`)
	f.Add(502, `<html>bad gateway</html>`)
	f.Add(200, `{"Accounts":{"Account":"nope"}}`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 200 || status > 599 {
			return
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		defer srv.Close()
		c, err := resourcemanager.New(resourcemanager.Options{Endpoint: srv.URL, Provider: acs.Static(key)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListAccounts(context.Background())
		if err != nil && strings.Contains(err.Error(), key.AccessKeySecret) {
			t.Fatalf("the error shows the secret: %v", err)
		}
	})
}
