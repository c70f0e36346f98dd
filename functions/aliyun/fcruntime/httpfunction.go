package fcruntime

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ecs-stopper/stopper/shared/stopper"
	"github.com/ecs-stopper/stopper/shared/trigger"
)

// FC 2.0 HTTP functions on the go1 runtime. FC 3.0 delivers an HTTP
// trigger's request to go1 as a JSON event (handled by trigger.Handler);
// FC 2.0 delivered it through the same Runtime API loop as an event, with
// the raw HTTP body as the next body and the request line and headers in
// x-fc-http-params, and such functions can still be deployed. Such an
// invocation is a request from the internet: it is a webhook, signed over
// its raw body like any other, and never a direct call.
//
// The protocol, from github.com/aliyun/fc-runtime-go-sdk at tag v0.3.1
// (commit 3c934e31cb8e51227e46fcade96b04b576babec6), the last the Go SDK
// that speaks it had (fc.StartHttp, deprecated there for FC 3.0):
//   - fc/runtime_api_client.go: next's response carries the header
//     x-fc-http-params (headerHttpParams); the answer is POST {id}/response
//     with Content-Type application/json, the HTTP response's body as the
//     request body, and its status and headers in the request's own
//     x-fc-http-params header.
//   - fc/http_handler.go: the request header holds base64 (standard
//     alphabet) of a JSON object {"path", "method", "requestURI",
//     "clientIP", "host", "queriesMap", "headersMap"}, the last two
//     maps of string arrays (HTTPParams, genHttpRequest).
//   - fc/http_handler_response.go: the answer header holds base64 of the
//     JSON object {"status": <int>, "headersMap": {name: [values]}}
//     (responseParams), the body goes unencoded (Body).
//   - fc/function.go, fc/invoke_loop.go: invokeHttpFunc and handleInvoke
//     put those together; a handler failure goes to {id}/error instead.
const headerHTTPParams = "x-fc-http-params"

// httpParams is the request an FC 2.0 HTTP function receives
// (fc/http_handler.go HTTPParams).
type httpParams struct {
	Path       string              `json:"path"`
	Method     string              `json:"method"`
	RequestURI string              `json:"requestURI"`
	ClientIP   string              `json:"clientIP"`
	Host       string              `json:"host"`
	QueriesMap map[string][]string `json:"queriesMap"`
	HeadersMap map[string][]string `json:"headersMap"`
}

// decodeHTTPParams reads x-fc-http-params. Members the SDK does not know
// are ignored: the platform writes this header, and may add to it.
func decodeHTTPParams(values []string) (httpParams, error) {
	var p httpParams
	if len(values) != 1 {
		return p, fmt.Errorf("came %d times, FC sends it once", len(values))
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(values[0]))
	if err != nil {
		return p, errors.New("is not base64")
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, errors.New("is not the JSON object FC sends")
	}
	if p.Method == "" {
		return p, errors.New("names no method")
	}
	return p, nil
}

// httpFunctionRequest is the HTTP request an FC 2.0 HTTP function's
// invocation carries: method, path, query and headers from
// x-fc-http-params, the raw next body as its body. The credential headers
// are removed (from the client's headers too) and x-fc-request-id is FC's,
// as on the custom runtime.
func httpFunctionRequest(ctx context.Context, p httpParams, requestID string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, p.Method, "/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("names the method %s, which is not an HTTP method", quoteOrMissing(p.Method))
	}
	req.URL = &url.URL{Path: p.Path, RawQuery: url.Values(p.QueriesMap).Encode()}
	req.RequestURI, req.Host, req.RemoteAddr = p.RequestURI, p.Host, p.ClientIP
	req.Header = requestHeader(p.HeadersMap)
	stripCredentials(req.Header)
	req.Header.Set("x-fc-request-id", trigger.RequestID(requestID))
	return req, nil
}

// requestHeader turns headersMap into one value per header name. A name
// under several spellings or with several values is joined with commas,
// in a fixed order, as FC 3.0 joins repeated headers: an ambiguous
// signature or content type is then refused rather than one of its values
// picked by map order.
func requestHeader(m map[string][]string) http.Header {
	h := make(http.Header, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		for _, v := range m[k] {
			h.Add(k, v)
		}
	}
	for k, vs := range h {
		h[k] = []string{strings.Join(vs, ", ")} // one value is itself
	}
	return h
}

// httpFunctionResponse collects the shared webhook handling's answer for the
// Runtime API (fc/http_handler_response.go fcResponse does the same).
type httpFunctionResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newHTTPFunctionResponse() *httpFunctionResponse {
	return &httpFunctionResponse{header: http.Header{}}
}

func (r *httpFunctionResponse) Header() http.Header { return r.header }

func (r *httpFunctionResponse) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *httpFunctionResponse) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

// params is the answer's x-fc-http-params: base64 of {"status", "headersMap"}.
// The status is set: every answer is written through WriteHeader or Write.
func (r *httpFunctionResponse) params() string {
	return base64.StdEncoding.EncodeToString(mustJSON(struct {
		Status     int         `json:"status"`
		HeadersMap http.Header `json:"headersMap"`
	}{r.status, r.header}))
}

// refuse answers with an error the shared handling never saw.
func (r *httpFunctionResponse) refuse(requestID string, e *stopper.Error) {
	r.header.Set("Content-Type", "application/json")
	r.WriteHeader(trigger.HTTPStatus(e))
	_, _ = r.Write(mustJSON(e.Answer(requestID)))
}

// handleHTTP runs an FC 2.0 HTTP function's invocation as a webhook and
// posts the HTTP response. A request that cannot be rebuilt faithfully is
// refused with a 400 naming why, and nothing runs. FC read the client's
// body and hands it over whole with the invocation, so there is no socket
// to leave unread; still, as everywhere, the credentials in the headers are
// checked before any work on the body (trigger.Handler.ServeHTTP).
func (l *runtimeLoop) handleHTTP(ctx context.Context, inv *invocation, params []string) {
	w := newHTTPFunctionResponse()
	id := trigger.RequestID(inv.id)
	p, err := decodeHTTPParams(params)
	var req *http.Request
	if err == nil {
		req, err = httpFunctionRequest(ctx, p, inv.id, inv.body)
	}
	switch {
	case err != nil:
		e := stopper.AsError(stopper.Invalid(headerHTTPParams, "%v: FC 2.0 sent an HTTP request this function cannot read, and it was not run", err))
		l.app.log.Warn("refused", "request_id", id, "code", e.Code, "status", trigger.HTTPStatus(e), "error", e.Message)
		w.refuse(id, e)
	case inv.large:
		w.refuse(id, &stopper.Error{Code: stopper.CodePayloadTooLarge,
			Message: "the body is larger than 1 MiB; a request is a small JSON object"})
	default:
		ictx, cancel := invocationContext(ctx, inv.header)
		defer cancel()
		l.app.handlerFor(inv.header).ServeHTTP(w, req.WithContext(ictx))
		// The shared handling closes a connection whose body it refused
		// unread; here the body came whole from the Runtime API, and the
		// connection is FC's, not this function's to close.
		w.header.Del("Connection")
	}
	l.answer(ctx, inv.id, "response", w.body.Bytes(), w.params())
}
