package trigger

import (
	"bytes"
	"encoding/json"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ecs-stopper/stopper/shared/stopper"
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
	default:
		t.Fatalf("no response type for %s: add the platform's own here", kind)
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

// TestRenderMatchesEventTypes: every webhook source's response is what
// json.Marshal of its platform's response type gives.
func TestRenderMatchesEventTypes(t *testing.T) {
	var kinds []Kind
	for _, src := range sources {
		if src.webhook == nil {
			continue
		}
		kinds = append(kinds, src.kind)
		for _, status := range []int{200, 401, 405, 503} {
			for _, body := range trickyBodies {
				got := appendHTTPResponse(nil, src.webhook, status, status == 405, []byte(body))
				want := marshalWithTypes(t, src.kind, status, status == 405, []byte(body))
				if !bytes.Equal(got, want) {
					t.Errorf("%s %d %q:\n got %s\nwant %s", src.kind, status, body, got, want)
				}
			}
		}
	}
	if want := []Kind{FunctionURL, APIGatewayV2, FCHTTP, APIGatewayV1}; !slices.Equal(kinds, want) {
		t.Errorf("webhook sources %v, want %v", kinds, want)
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

// TestAppendJSONStringAtTheASCIIEdge: bytes at the edge of ASCII (0x7f,
// and 0x80, a continuation byte with no lead) are escaped as encoding/json
// escapes them.
func TestAppendJSONStringAtTheASCIIEdge(t *testing.T) {
	for _, s := range []string{"\x7f", "\x80", "a\x80b", "\x7f\x80\xbf\xc0"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestRenderHTTPEventAllocatesOnce: the room renderHTTPEvent makes holds the
// whole response for the answers the function gives, long ones included, so
// that the envelope costs one allocation beyond the answer JSON's.
func TestRenderHTTPEventAllocatesOnce(t *testing.T) {
	if raceDetector() {
		t.Skip("under -race, sync.Pool drops items at random, and encoding/json's allocations vary")
	}
	long := strings.Repeat("the request names an invocation that is not in the region; ", 40)
	outcomes := map[string]outcome{
		"stop":         {answer: stopper.StopAnswer{RequestId: testRequestID, Action: "StopInvocation", RegionId: "cn-hangzhou", InvokeId: testInvokeID, InstanceIds: []string{"i-bp1abc"}, CommandName: "backup"}},
		"refusal":      {err: &stopper.Error{Code: stopper.CodeInvalidParameter, Message: "InvokeId is missing"}},
		"long refusal": {err: &stopper.Error{Code: stopper.CodeInvalidParameter, Message: long}},
		"not allowed":  {err: &stopper.Error{Code: stopper.CodeMethodNotAllowed, Message: long[:200]}},
	}
	for _, src := range sources {
		if src.webhook == nil {
			continue
		}
		for name, out := range outcomes {
			answer := testing.AllocsPerRun(20, func() { renderAnswer(testRequestID, out) })
			response := testing.AllocsPerRun(20, func() { renderHTTPEvent(src.webhook, testRequestID, out) })
			if response != answer+1 {
				t.Errorf("%s, %s: %v allocations for the response, %v for the answer: the envelope must take one", src.kind, name, response, answer)
			}
		}
	}
}

// raceDetector reports whether the test binary was built with -race.
func raceDetector() bool {
	bi, ok := debug.ReadBuildInfo()
	return ok && slices.ContainsFunc(bi.Settings, func(s debug.BuildSetting) bool { return s.Key == "-race" && s.Value == "true" })
}
