package trigger

// APIGatewayV2 is an API Gateway HTTP API payload format 2.0 event, from an
// .execute-api. domain, a custom domain, or any other 2.0 event that is no
// Function URL's: aws-lambda-go's events.APIGatewayV2HTTPRequest, answered
// with events.APIGatewayV2HTTPResponse
// (https://github.com/aws/aws-lambda-go/blob/main/events/apigw.go).
const APIGatewayV2 Kind = "apigateway-v2"

var apiGatewayV2 = source{
	kind: APIGatewayV2,
	rank: 90,
	detect: detection{
		has:   []field{fieldRequestContext},
		equal: []valueAt{{at(fieldVersion), "2.0"}},
	},
	webhook: &httpEvent{
		method: methodInRequestContext,
		appendResponse: func(dst, body []byte) []byte {
			dst = append(dst, `,"multiValueHeaders":null,"body":`...)
			dst = appendJSONString(dst, body)
			return append(dst, `,"cookies":null`...)
		},
	},
}

func init() { register(&apiGatewayV2) }
