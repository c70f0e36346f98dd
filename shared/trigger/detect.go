package trigger

import (
	"bytes"

	"github.com/ecs-stopper/stopper/shared/jsonscan"
)

// Kind names the trigger a payload came from.
type Kind string

// The triggers a payload can come from.
const (
	// Direct is a StopInvocation or Sweep request object: `aws lambda invoke`,
	// `s invoke`, EventBridge Scheduler, a rule with Input, a local sample.
	// Every payload that matches no other kind is Direct, so the strict
	// request decoder names whatever field is unexpected.
	Direct Kind = "direct"
	// EventBridgeSchedule is an EventBridge rule's Scheduled Event envelope:
	// a sweep with the configured defaults.
	EventBridgeSchedule Kind = "eventbridge-schedule"
	// APIGatewayV1 is an API Gateway REST API (or HTTP API payload 1.0) proxy event.
	APIGatewayV1 Kind = "apigateway-v1"
	// APIGatewayV2 is an API Gateway HTTP API payload 2.0 event.
	APIGatewayV2 Kind = "apigateway-v2"
	// FunctionURL is a Lambda Function URL event (payload 2.0 on a .lambda-url. domain).
	FunctionURL Kind = "function-url"
	// FCTimer is a Function Compute timer trigger event.
	FCTimer Kind = "fc-timer"
	// FCHTTP is a Function Compute 3.0 HTTP-trigger event (built-in runtimes).
	FCHTTP Kind = "fc-http"
	// PlainHTTP is a webhook arriving as an HTTP request (ServeHTTP: FC
	// custom runtime, local serve). Invoke never returns it.
	PlainHTTP Kind = "http"
	// CloudEvent is one Alibaba EventBridge event (CloudEvents 1.0), as FC's
	// EventBridge trigger delivers it: ecs:CloudAssistant:TaskCompleted.
	CloudEvent Kind = "eventbridge"
	// CloudEvents is a JSON array of them (EventBridge's batch push).
	CloudEvents Kind = "eventbridge-batch"
	// SQS is an AWS SQS event (Records with eventSource "aws:sqs").
	SQS Kind = "sqs"
	// SNS is an AWS SNS event (Records with EventSource "aws:sns").
	SNS Kind = "sns"
)

// IsWebhook reports whether the kind is an HTTP request from a webhook
// caller, which must be authenticated (signed, or a bearer token).
func (k Kind) IsWebhook() bool {
	switch k {
	case APIGatewayV1, APIGatewayV2, FunctionURL, FCHTTP, PlainHTTP:
		return true
	}
	return false
}

// Detect names the trigger a raw payload came from.
func Detect(payload []byte) Kind {
	var p probe
	p.read(payload)
	return p.kind()
}

// probe holds the raw values of the top-level keys detection looks at, found
// by their exact names (encoding/json would match "Body" for "body" and take
// an SNS event for an SQS one); nil when absent.
type probe struct {
	version, requestContext, rawPath, headers, body, isBase64Encoded []byte // HTTP events
	httpMethod, resource                                             []byte // API Gateway v1
	triggerTime, triggerName, payload                                []byte // FC timer
	source, detailType                                               []byte // EventBridge
	specversion, typ                                                 []byte // CloudEvents
	records                                                          []byte // SQS, SNS
	// array is set when the payload is a JSON array (a batch of events).
	array bool
	// unusable is set when the payload is not a well-formed JSON object or
	// repeats a probed key: it is then Direct, and the strict request
	// decoder says what is wrong.
	unusable bool
}

func (p *probe) read(payload []byte) {
	m, ok := jsonscan.Object(payload, 0)
	if !ok {
		if _, ok := jsonscan.Array(payload, 0); ok {
			p.array = true
			return
		}
		p.unusable = true
		return
	}
	for m.Next() {
		var slot *[]byte
		switch string(m.Key) {
		case "version":
			slot = &p.version
		case "requestContext":
			slot = &p.requestContext
		case "rawPath":
			slot = &p.rawPath
		case "headers":
			slot = &p.headers
		case "body":
			slot = &p.body
		case "isBase64Encoded":
			slot = &p.isBase64Encoded
		case "httpMethod":
			slot = &p.httpMethod
		case "resource":
			slot = &p.resource
		case "triggerTime":
			slot = &p.triggerTime
		case "triggerName":
			slot = &p.triggerName
		case "payload":
			slot = &p.payload
		case "source":
			slot = &p.source
		case "detail-type":
			slot = &p.detailType
		case "specversion":
			slot = &p.specversion
		case "type":
			slot = &p.typ
		case "Records":
			slot = &p.records
		default:
			continue
		}
		if *slot != nil {
			p.unusable = true
			return
		}
		*slot = m.Value
	}
	if !m.Complete() {
		p.unusable = true
	}
}

// kind applies the detection rules. The probed keys are not request
// parameters, so a payload that has them can never be a valid Direct
// request: a caller cannot dodge authentication by shaping a request
// like an event, nor turn an event into an unsigned request.
func (p *probe) kind() Kind {
	switch {
	case p.array:
		return CloudEvents
	case p.unusable:
		return Direct
	case p.triggerTime != nil && p.triggerName != nil:
		// FC omits "payload" when the trigger has none configured.
		return FCTimer
	case p.specversion != nil:
		return CloudEvent
	case p.records != nil:
		return p.recordsKind()
	case jsonscan.IsString(p.source, "aws.events") && jsonscan.IsString(p.detailType, "Scheduled Event"):
		return EventBridgeSchedule
	case p.requestContext != nil && jsonscan.IsString(p.version, "2.0"):
		if bytes.Contains(p.domainName(), []byte(".lambda-url.")) {
			return FunctionURL
		}
		// .execute-api. domains, custom domains, and every other 2.0 event.
		return APIGatewayV2
	case p.requestContext != nil && p.rawPath != nil && jsonscan.IsString(p.version, "v1"):
		return FCHTTP
	case p.requestContext != nil && p.httpMethod != nil && p.resource != nil:
		return APIGatewayV1
	}
	return Direct
}

// recordsKind tells SQS from SNS by the first record's exact key: SQS
// writes eventSource, SNS EventSource (encoding/json alone would decode
// either as the other). Anything else is Direct, and refused there.
func (p *probe) recordsKind() Kind {
	e, ok := jsonscan.Array(p.records, 1)
	if !ok || !e.Next() {
		return Direct
	}
	if v, _ := member(e.Value, "eventSource"); jsonscan.IsString(v, "aws:sqs") {
		return SQS
	}
	if v, _ := member(e.Value, "EventSource"); jsonscan.IsString(v, "aws:sns") {
		return SNS
	}
	return Direct
}

// domainName is requestContext.domainName, or nil.
func (p *probe) domainName() []byte {
	v, _ := member(p.requestContext, "domainName")
	s, _ := jsonscan.Unquote(v)
	return s
}

// member returns the raw value of an exact key of a JSON object (the last
// one, as encoding/json would), or nil.
func member(object []byte, key string) (value []byte, ok bool) {
	m, ok := jsonscan.Object(object, 1)
	if !ok {
		return nil, false
	}
	for m.Next() {
		if string(m.Key) == key {
			value = m.Value
		}
	}
	return value, !m.Invalid()
}
