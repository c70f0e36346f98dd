// Command local is the developer's runner: it runs the function on a sample
// event (invoke), serves it as an FC custom runtime (serve), or runs the Cloud
// Assistant emulator on its own (emulator). invoke and serve embed the
// emulator, seeded with a sample fleet, unless -endpoint names another one;
// an -endpoint that is not on this machine is a real account, which they
// name first (STS GetCallerIdentity) and act on only with -yes or -dry-run.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  local invoke   -event FILE [-output json|text] [-timeout 60s] [-dry-run] [-fleet FILE] [EMULATOR MODES]
                 [-endpoint URL [-sts-endpoint URL] [-yes]]
  local serve    [-addr 127.0.0.1:9000] [-dry-run] [-fleet FILE] [EMULATOR MODES]
                 [-endpoint URL [-sts-endpoint URL] [-yes]]
  local emulator [-addr 127.0.0.1:8080] [-fleet FILE] [-access-key-id ID] [-access-key-secret SECRET] [-account-id N]
                 [-latency D] [-fail-first N] [-throttle-qps N] [-drop-rate F] [-drop-after-rate F]
                 [EMULATOR MODES]
EMULATOR MODES (invoke and serve: the embedded emulator's, refused with -endpoint):
  -stop-mode documented|kill  what a stop does to running work (default documented: it finishes;
                              kill: Stopping, then Terminated after -kill-delay, as the agent does)
  -kill-delay D               default 1s
  -cursor stable|offset       what NextToken is (default stable; offset: stops while paging skip items)
A REAL ACCOUNT (invoke and serve with -endpoint on a host that is not this machine):
  credentials come from ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (-access-key-id and
  -access-key-secret still work, but leave the secret in the shell history). The runner first prints the
  endpoint, the credentials' source and the account and principal STS GetCallerIdentity names
  (-sts-endpoint, default https://sts.<region>.aliyuncs.com, or sts-vpc for an ecs-vpc endpoint), then
  sends nothing more unless -dry-run (every request a dry run) or -yes (act on that account): exit 2.
-output text prints the summary chat notifications carry, one line per invocation, instead of the answer JSON.
Run "local <command> -h" for a command's flags.`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run returns the process exit code: 0 only for a success.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "invoke":
		return invoke(ctx, args[1:], stdout, stderr)
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "emulator":
		err = emulate(ctx, args[1:], stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "local: unknown command %q\n%s\n", args[0], usage)
		return 2
	}
	switch {
	case errors.Is(err, errRefused):
		return 2 // guard said why
	case err != nil:
		fmt.Fprintln(stderr, "local:", err)
		return 1
	}
	return 0
}
