package trigger

// FCHTTP is a Function Compute 3.0 HTTP-trigger event (built-in runtimes),
// answered with FC's {"statusCode", "headers", "isBase64Encoded", "body"}
// (docs/reference/function-compute.md#event-shapes).
const FCHTTP Kind = "fc-http"

var fieldRawPath = probeField("rawPath")

var fcHTTP = source{
	kind: FCHTTP,
	rank: 100,
	detect: detection{
		has:   []field{fieldRequestContext, fieldRawPath},
		equal: []valueAt{{at(fieldVersion), "v1"}},
	},
	webhook: &httpEvent{
		method: methodInRequestContext,
		appendResponse: func(dst, body []byte) []byte {
			dst = append(dst, `,"isBase64Encoded":false,"body":`...)
			return appendJSONString(dst, body)
		},
	},
}

func init() { register(&fcHTTP) }
