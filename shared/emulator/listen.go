package emulator

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Running is an emulator served over a real loopback (or any) listener.
type Running struct {
	*Server
	// URL is the base URL to point clients at, e.g. http://127.0.0.1:41234.
	URL string
	// Addr is the listener's host:port (the SDK's Endpoint).
	Addr string
	srv  *http.Server
	done chan error
}

// Listen starts an emulator on addr ("127.0.0.1:0" picks a free port).
func Listen(addr string, opts Options) (*Running, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &Running{Server: s, Addr: ln.Addr().String(), URL: "http://" + ln.Addr().String(),
		srv: s.HTTPServer(), done: make(chan error, 1)}
	go func() { r.done <- r.srv.Serve(ln) }()
	return r, nil
}

// Timeouts of the emulator's HTTP server: a client that opens connections
// and sends nothing, or trickles a request, must not hold the server's
// resources forever (a local port is reachable by every process and, through
// DNS rebinding, by web pages).
const (
	readHeaderTimeout = 10 * time.Second
	// readTimeout bounds reading a whole request (at most maxBody). In
	// net/http it also ends the request's context when it passes during the
	// handler, so the injected latency is added to it.
	readTimeout = 30 * time.Second
	idleTimeout = 2 * time.Minute
)

// HTTPServer is an http.Server serving s with read, header and idle timeouts;
// callers that bring their own listener use it.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{Handler: s, ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout: readTimeout + s.latency, IdleTimeout: idleTimeout}
}

// Close stops serving, waiting briefly for calls in flight.
func (r *Running) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = r.srv.Close()
	}
	if serveErr := <-r.done; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
