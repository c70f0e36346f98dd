package main

import (
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/ecs-stopper/stopper/functions/aliyun/fcruntime"
)

// serve runs the function as FC would run it as a custom runtime (POST
// /invoke for events, every other request a webhook), so webhooks can be
// tried with curl. It binds to loopback by default, unlike FC's 0.0.0.0.
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
	h, err := b.cfg.Handler(b.cred, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if b.cfg.WebhookSecret != "" && b.emu != nil {
		log.Info("local: sign webhooks with the STOPPER_WEBHOOK_SECRET you set, or set STOPPER_WEBHOOK_INSECURE=true to try them unsigned")
	}
	log.Info("local: serving the function as an FC custom runtime", "url", "http://"+ln.Addr().String())
	srv := &http.Server{Handler: fcruntime.CustomRuntime(h, "", stderr), ReadHeaderTimeout: 10 * time.Second}
	return serveUntilDone(ctx, srv, ln)
}
