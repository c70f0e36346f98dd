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
		srv: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}, done: make(chan error, 1)}
	go func() { r.done <- r.srv.Serve(ln) }()
	return r, nil
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
