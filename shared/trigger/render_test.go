package trigger

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// fcHTTPResponse is FC's documented HTTP-trigger response, for comparison.
type fcHTTPResponse struct {
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Body            string            `json:"body"`
}

// marshalWithTypes renders a response the slow, obviously right way.
func marshalWithTypes(t testing.TB, kind Kind, status int, allowPost bool, body []byte) []byte {
	headers := map[string]string{"Content-Type": "application/json"}
	if allowPost {
		headers["Allow"] = "POST"
	}
	var v any
	switch kind {
	case APIGatewayV1:
		v = events.APIGatewayProxyResponse{StatusCode: status, Headers: headers, Body: string(body)}
	case APIGatewayV2:
		v = events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: headers, Body: string(body)}
	case FunctionURL:
		v = events.LambdaFunctionURLResponse{StatusCode: status, Headers: headers, Body: string(body)}
	case FCHTTP:
		v = fcHTTPResponse{StatusCode: status, Headers: headers, Body: string(body)}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var trickyBodies = []string{
	`{"RequestId":"r","Action":"StopInvocation","InstanceIds":["i-a"],"DryRun":false}`,
	`{"Message":"quote \" backslash \\ <tag> & amp"}`,
	"control \x00 \x01 \b \f \n \r \t \x1f \x7f",
	"line sep \u2028 para sep \u2029 emoji \U0001F600 中文",
	"invalid utf-8 \xff \xc3 end",
	"",
}

func TestRenderMatchesEventTypes(t *testing.T) {
	for _, kind := range []Kind{APIGatewayV1, APIGatewayV2, FunctionURL, FCHTTP} {
		for _, status := range []int{200, 401, 405, 503} {
			for _, body := range trickyBodies {
				got := appendHTTPResponse(nil, kind, status, status == 405, []byte(body))
				want := marshalWithTypes(t, kind, status, status == 405, []byte(body))
				if !bytes.Equal(got, want) {
					t.Errorf("%s %d %q:\n got %s\nwant %s", kind, status, body, got, want)
				}
			}
		}
	}
}

// FuzzRender holds appendJSONString to encoding/json's string escaping.
func FuzzRender(f *testing.F) {
	for _, b := range trickyBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		want, _ := json.Marshal(string(s))
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}
