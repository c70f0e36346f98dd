package trigger

// FunctionURL is a Lambda Function URL event: payload format 2.0 on a
// .lambda-url. domain, aws-lambda-go's events.LambdaFunctionURLRequest,
// answered with events.LambdaFunctionURLResponse
// (https://github.com/aws/aws-lambda-go/blob/main/events/lambda_function_urls.go).
const FunctionURL Kind = "function-url"

var functionURL = source{
	kind: FunctionURL,
	rank: 80, // before apiGatewayV2, whose detection this one narrows
	detect: detection{
		has:     []field{fieldRequestContext},
		equal:   []valueAt{{at(fieldVersion), "2.0"}},
		contain: []valueAt{{at(fieldRequestContext, "domainName"), ".lambda-url."}},
	},
	webhook: &httpEvent{
		method: methodInRequestContext,
		appendResponse: func(dst, body []byte) []byte {
			dst = append(dst, `,"body":`...)
			dst = appendJSONString(dst, body)
			return append(dst, `,"isBase64Encoded":false,"cookies":null`...)
		},
	},
}

func init() { register(&functionURL) }
