package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ecs-stopper/stopper/shared/config"
	"github.com/ecs-stopper/stopper/shared/emulator"
)

// emulate runs the Cloud Assistant emulator (and its STS) on its own, for
// the official SDKs, the aliyun CLI or a function started elsewhere.
func emulate(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	fleetFile := fs.String("fleet", "", "fleet file (default: the built-in sample fleet)")
	akid := fs.String("access-key-id", localAccessKeyID, "the AccessKey id it accepts")
	secret := fs.String("access-key-secret", localAccessKeySecret, "the AccessKey secret it accepts")
	account := fs.String("account-id", emulator.DefaultAccountId, "the account the key pair belongs to, as STS GetCallerIdentity answers")
	stsDuration := fs.Duration("sts-duration", emulator.DefaultSTSDuration, "how long credentials its STS issues (AssumeRole, AssumeRoleWithOIDC) last")
	latency := fs.Duration("latency", 0, "added to every answer")
	failFirst := fs.Int("fail-first", 0, "the first N calls answer 503 ServiceUnavailable")
	qps := fs.Float64("throttle-qps", 0, "per-action rate limit; above it calls answer 400 Throttling.User (0: off)")
	dropRate := fs.Float64("drop-rate", 0, "fraction of calls whose connection is closed without an answer")
	dropAfterRate := fs.Float64("drop-after-rate", 0, "fraction of calls that are performed (a stop takes effect) and then closed without an answer, so clients retry what already happened")
	var modes modeFlags
	modes.register(fs, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, rate := range []struct {
		flag string
		v    float64
	}{{"-drop-rate", *dropRate}, {"-drop-after-rate", *dropAfterRate}} {
		if !(rate.v >= 0 && rate.v <= 1) {
			return fmt.Errorf("%s %v must be between 0 and 1", rate.flag, rate.v)
		}
	}
	if *failFirst < 0 || *qps < 0 || *latency < 0 {
		return errors.New("-fail-first, -throttle-qps and -latency must not be negative")
	}
	if *stsDuration <= 0 {
		return fmt.Errorf("-sts-duration %v must be positive", *stsDuration)
	}
	fleet := emulator.SampleFleet()
	if *fleetFile != "" {
		var err error
		if fleet, err = emulator.LoadFleet(*fleetFile); err != nil {
			return err
		}
	}
	log := newLogger(stderr)
	opts := emulator.Options{AccessKeyID: *akid, AccessKeySecret: *secret, Fleet: fleet,
		Latency: *latency, FailFirst: *failFirst, ThrottleQPS: *qps, DropRate: *dropRate, DropAfterRate: *dropAfterRate,
		Seed: time.Now().UnixNano(), Log: log, AccountId: *account, STSDuration: *stsDuration}
	modes.apply(&opts)
	emu, err := emulator.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	log.Info("emulator listening", "endpoint", "http://"+ln.Addr().String(), "invocations", len(fleet.Invocations),
		"access_key_id", *akid, "account_id", *account, "stop_mode", opts.StopMode, "kill_delay", modes.killDelay.d.String(), "cursor", opts.Cursor)
	// HTTPServer has read, header and idle timeouts: the port is reachable
	// by every local process.
	return serveUntilDone(ctx, emu.HTTPServer(), ln)
}

// serveUntilDone serves until ctx ends (Ctrl-C), then shuts down gracefully.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shut)
	}
}

// newLogger is the runner's logger, built before the configuration is
// read: the function's JSON logger at info.
func newLogger(w io.Writer) *slog.Logger {
	return config.NewLogger(w, nil)
}
