package trigger

// APIGatewayV1 is an API Gateway REST API (or HTTP API payload format 1.0)
// proxy event: aws-lambda-go's events.APIGatewayProxyRequest, answered with
// events.APIGatewayProxyResponse
// (https://github.com/aws/aws-lambda-go/blob/main/events/apigw.go).
const APIGatewayV1 Kind = "apigateway-v1"

var (
	fieldHTTPMethod = probeField("httpMethod")
	fieldResource   = probeField("resource")
)

var apiGatewayV1 = source{
	kind:   APIGatewayV1,
	rank:   110,
	detect: detection{has: []field{fieldRequestContext, fieldHTTPMethod, fieldResource}},
	webhook: &httpEvent{
		method: at(fieldHTTPMethod),
		appendResponse: func(dst, body []byte) []byte {
			dst = append(dst, `,"multiValueHeaders":null,"body":`...)
			return appendJSONString(dst, body)
		},
	},
}

func init() { register(&apiGatewayV1) }
