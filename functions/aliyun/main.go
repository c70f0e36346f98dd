// Command aliyun is the function on Alibaba Cloud Function Compute. One
// binary serves both FC runtimes: with FC_RUNTIME_API set (runtime go1) it
// runs the Runtime API loop, otherwise it is a custom runtime's HTTP server
// on 0.0.0.0:$FC_CUSTOM_LISTEN_PORT. The protocols, and how each ends on
// SIGTERM, live in fcruntime.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/ecs-stopper/stopper/functions/aliyun/fcruntime"
)

func main() {
	if err := fcruntime.Run(context.Background(), os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stopper:", err)
		os.Exit(1)
	}
}
