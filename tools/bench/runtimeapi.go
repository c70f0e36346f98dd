package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The two runtime APIs' paths: AWS Lambda's and FC go1's.
const (
	lambdaAPIPrefix = "/2018-06-01/runtime/"
	fcAPIPrefix     = "/2020-11-11/runtime/"
)

// runtimeAPI stands in for the Lambda Runtime API and FC's go1 Runtime API
// on loopback, for one function process at a time. Every GET next reports
// its arrival on ready, then waits for an event on events (or for the
// process to go away); every POST of an outcome reports on answers.
type runtimeAPI struct {
	addr    string
	srv     *http.Server
	ready   chan time.Time
	events  chan event
	answers chan answer
}

// event is one invocation handed out by next; served receives the time its
// headers were written.
type event struct {
	id       string
	payload  []byte
	deadline time.Time
	served   chan time.Time
}

// answer is one outcome posted by the function.
type answer struct {
	at   time.Time
	path string // response, error, init/error
	body []byte
}

func startRuntimeAPI() (*runtimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &runtimeAPI{
		addr:    ln.Addr().String(),
		ready:   make(chan time.Time, 1),
		events:  make(chan event),
		answers: make(chan answer, 4),
	}
	a.srv = &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.srv.Serve(ln) }() // ends when the bench closes the server
	return a, nil
}

func (a *runtimeAPI) close() { a.srv.Close() }

// drain forgets readiness and answers left over from a previous process.
func (a *runtimeAPI) drain() {
	for {
		select {
		case <-a.ready:
		case <-a.answers:
		default:
			return
		}
	}
}

func (a *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var rest string
	var fc bool
	switch {
	case strings.HasPrefix(r.URL.Path, lambdaAPIPrefix):
		rest = strings.TrimPrefix(r.URL.Path, lambdaAPIPrefix)
	case strings.HasPrefix(r.URL.Path, fcAPIPrefix):
		rest, fc = strings.TrimPrefix(r.URL.Path, fcAPIPrefix), true
	default:
		http.NotFound(w, r)
		return
	}
	switch {
	case r.Method == http.MethodGet && rest == "invocation/next":
		select {
		case a.ready <- now:
		default:
		}
		select {
		case ev := <-a.events:
			h := w.Header()
			if fc {
				h.Set("x-fc-request-id", ev.id)
				h.Set("x-fc-function-deadline", strconv.FormatInt(ev.deadline.UnixMilli(), 10))
				h.Set("x-fc-region", "cn-hangzhou")
			} else {
				h.Set("Lambda-Runtime-Aws-Request-Id", ev.id)
				h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(ev.deadline.UnixMilli(), 10))
				h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:stopper")
				h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
			}
			h.Set("Content-Type", "application/json")
			ev.served <- time.Now()
			w.WriteHeader(http.StatusOK)
			w.Write(ev.payload)
		case <-r.Context().Done():
		}
	case r.Method == http.MethodPost:
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		what := rest
		if i := strings.LastIndexByte(rest, '/'); i >= 0 && strings.HasPrefix(rest, "invocation/") {
			what = rest[i+1:]
		}
		select {
		case a.answers <- answer{at: now, path: what, body: body}:
		default:
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"status":"OK"}`)
	default:
		http.NotFound(w, r)
	}
}
