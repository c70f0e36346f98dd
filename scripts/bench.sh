#!/bin/sh
# Performance figures, side by side in one run (make bench): builds the
# hello-world aws-lambda-go baseline (tools/hellolambda) and the project's
# binaries with the release flags, measures start-to-ready, binary size,
# handler overhead, sweep rate against a throttled emulator and a sweep's
# peak RSS, and prints a Markdown table. Takes under a minute on 2 cores.
#
#   ./scripts/bench.sh                 # defaults: 400 start-up runs per binary
#   ./scripts/bench.sh -o bench.md     # also write the table to bench.md
#   ./scripts/bench.sh -runs 50 -skip-trigger-bench   # quicker
#   ./scripts/bench.sh -h              # every flag
#
# Rows say PASS or FAIL; the exit status is non-zero only if something
# could not be measured.
set -eu
cd "$(dirname "$0")/.."
exec "${GO:-go}" run ./tools/bench "$@"
