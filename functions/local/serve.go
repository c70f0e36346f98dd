package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/ecs-stopper/stopper/functions/aliyun/fcruntime"
)

// serve runs the function as FC would run it as a custom runtime (POST
// /invoke for events, every other request a webhook), so webhooks can be
// tried with curl. Against a real account it first says which, and needs
// -yes or -dry-run (guard). It binds to loopback by default, unlike FC's 0.0.0.0,
// and takes events only from a loopback Host as application/json (see
// fcruntime.CustomRuntime): with -endpoint they reach the real API.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on")
	var bf backendFlags
	bf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := newLogger(stderr)
	b, err := bf.start(log)
	if err != nil {
		return err
	}
	defer b.stop()
	if err := b.guard(ctx, "serve", &bf, stderr); err != nil {
		return err
	}
	h, err := b.handler(log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	switch {
	case b.generatedSecret:
		// Made up for this run, it guards only the embedded emulator's
		// fleet: shown, so that a signed curl can be tried at once. A secret
		// the user set is never shown.
		fmt.Fprintf(stderr, "local: webhook secret for this run: %s (export STOPPER_WEBHOOK_SECRET=%s to sign requests)\n",
			b.cfg.WebhookSecret, b.cfg.WebhookSecret)
	case b.cfg.WebhookSecret != "" && b.emu != nil:
		log.Info("local: sign webhooks with the STOPPER_WEBHOOK_SECRET you set, or set STOPPER_WEBHOOK_INSECURE=true to try them unsigned")
	}
	log.Info("local: serving the function as an FC custom runtime", "url", "http://"+ln.Addr().String())
	return serveUntilDone(ctx, newServeServer(fcruntime.CustomRuntime(h, "", stderr)), ln)
}

// newServeServer bounds every phase of a connection: a client that sends
// slowly, or opens connections and leaves them idle, cannot hold the
// runner's connections for ever. Unlike on FC, nobody keeps connections
// across freezes here, so an idle timeout costs nothing.
func newServeServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// No WriteTimeout: a sweep may run up to its own deadline.
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
	}
}
