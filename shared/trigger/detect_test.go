package trigger

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestDetectSamples(t *testing.T) {
	tests := []struct {
		file string
		want Kind
	}{
		{"apigw-request.json", APIGatewayV1},
		{"apigw-v2-request-no-authorizer.json", APIGatewayV2},
		{"lambda-urls-request.json", FunctionURL},
		{"fc-http-request.json", FCHTTP},
		{"eventbridge-scheduled-event.json", EventBridgeSchedule},
		{"fc-timer-event-empty.json", FCTimer},
		{"fc-timer-event-stop.json", FCTimer},
		{"fc-timer-event-sweep.json", FCTimer},
		{"fc-timer-event.json", FCTimer},
		{"direct-stop-request.json", Direct},
		{"direct-sweep-request.json", Direct},
		{"sqs-event.json", SQS},
		{"sns-event.json", SNS},
		{"eventbridge-taskcompleted-event.json", CloudEvent},
		{"eventbridge-taskcompleted-event-batch.json", CloudEvents},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			if got := Detect(readTestdata(t, tt.file)); got != tt.want {
				t.Errorf("Detect = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDetectExactKeys(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Kind
	}{
		{"v1", `{"httpMethod":"POST","resource":"/","requestContext":{}}`, APIGatewayV1},
		{"v1 payload format 1.0 of an HTTP API", `{"version":"1.0","httpMethod":"POST","resource":"/","requestContext":{}}`, APIGatewayV1},
		{"v1 keys in another case", `{"HttpMethod":"POST","Resource":"/","RequestContext":{}}`, Direct},
		{"v1 without resource", `{"httpMethod":"POST","requestContext":{}}`, Direct},
		{"escaped key is its unescaped name", `{"\u0068ttpMethod":"POST","resource":"/","requestContext":{}}`, APIGatewayV1},
		{"v2 execute-api", `{"version":"2.0","requestContext":{"domainName":"abc.execute-api.us-east-1.amazonaws.com"}}`, APIGatewayV2},
		{"v2 custom domain", `{"version":"2.0","requestContext":{"domainName":"hooks.example.com"}}`, APIGatewayV2},
		{"v2 no domain", `{"version":"2.0","requestContext":{}}`, APIGatewayV2},
		{"function url", `{"version":"2.0","requestContext":{"domainName":"x.lambda-url.us-west-2.on.aws"}}`, FunctionURL},
		{"function url, escaped value", `{"version":"2\u002e0","requestContext":{"domainName":"x.lambda-url.us-west-2.on.aws"}}`, FunctionURL},
		{"version in another case", `{"Version":"2.0","requestContext":{}}`, Direct},
		{"version 2.0 without requestContext", `{"version":"2.0"}`, Direct},
		{"version as a number", `{"version":2.0,"requestContext":{}}`, Direct},
		{"fc http", `{"version":"v1","rawPath":"/","requestContext":{"http":{"method":"POST"}}}`, FCHTTP},
		{"fc http without rawPath", `{"version":"v1","requestContext":{}}`, Direct},
		{"fc timer", `{"triggerTime":"t","triggerName":"n","payload":""}`, FCTimer},
		{"fc timer without payload", `{"triggerTime":"t","triggerName":"n"}`, FCTimer},
		{"fc timer keys in another case", `{"TriggerTime":"t","TriggerName":"n","Payload":""}`, Direct},
		{"scheduled event", `{"source":"aws.events","detail-type":"Scheduled Event"}`, EventBridgeSchedule},
		{"other EventBridge event", `{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification"}`, Direct},
		{"detail-type in another case", `{"source":"aws.events","Detail-Type":"Scheduled Event"}`, Direct},
		{"repeated probed key", `{"httpMethod":"POST","httpMethod":"GET","resource":"/","requestContext":{}}`, Direct},
		{"malformed JSON", `{"httpMethod":"POST","resource":"/","requestContext":{}`, Direct},
		{"trailing data", `{"httpMethod":"POST","resource":"/","requestContext":{}} {}`, Direct},
		{"array", `[{"httpMethod":"POST"}]`, CloudEvents},
		{"array after white space", " \n[]", CloudEvents},
		{"cloud event", `{"specversion":"1.0","type":"ecs:CloudAssistant:TaskCompleted"}`, CloudEvent},
		{"cloud event keys in another case", `{"SpecVersion":"1.0"}`, Direct},
		{"sqs", `{"Records":[{"eventSource":"aws:sqs"}]}`, SQS},
		{"sns", `{"Records":[{"EventSource":"aws:sns"}]}`, SNS},
		{"sqs source in another case", `{"Records":[{"EventSource":"aws:sqs"}]}`, Direct},
		{"sns source in another case", `{"Records":[{"eventSource":"aws:sns"}]}`, Direct},
		{"other records", `{"Records":[{"eventSource":"aws:s3"}]}`, Direct},
		{"no records", `{"Records":[]}`, Direct},
		{"records in another case", `{"records":[{"eventSource":"aws:sqs"}]}`, Direct},
		{"empty", ``, Direct},
		{"whitespace", " \n\t", Direct},
		{"request", `{"InvokeId":"t-abc"}`, Direct},
		{"request in another case", `{"invokeid":"t-abc"}`, Direct},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect([]byte(tt.payload)); got != tt.want {
				t.Errorf("Detect(%s) = %q, want %q", tt.payload, got, tt.want)
			}
		})
	}
}

func TestKindIsWebhook(t *testing.T) {
	for k, want := range map[Kind]bool{
		Direct: false, EventBridgeSchedule: false, FCTimer: false, CloudEvent: false, CloudEvents: false, SQS: false, SNS: false,
		APIGatewayV1: true, APIGatewayV2: true, FunctionURL: true, FCHTTP: true, PlainHTTP: true,
	} {
		if k.IsWebhook() != want {
			t.Errorf("%s.IsWebhook() = %v", k, !want)
		}
	}
}

// TestProbeFieldSharesDeclaredKeys: declaring a key again, whichever was
// declared first, gives the field it already has and declares nothing new.
func TestProbeFieldSharesDeclaredKeys(t *testing.T) {
	declared := slices.Clone(fieldNames)
	for i, name := range declared {
		if got := probeField(name); got != field(i) {
			t.Errorf("probeField(%q) = %d, want %d, the field it already has", name, got, i)
		}
	}
	if !slices.Equal(fieldNames, declared) {
		t.Errorf("declaring known keys again changed the fields: %q, was %q", fieldNames, declared)
	}
}

// TestDetectAllocatesNothing: detection reads every sample, of every source,
// without allocating, so that it costs every invocation next to nothing.
func TestDetectAllocatesNothing(t *testing.T) {
	for _, file := range samplePaths(t) {
		payload, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(10, func() { Detect(payload) }); n != 0 {
			t.Errorf("Detect(%s): %v allocations, want none", filepath.Base(file), n)
		}
	}
}
