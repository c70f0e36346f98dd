#!/usr/bin/env bash
# Runs every fuzz target in the module for a bounded time each (default 10s).
# Crashers the fuzzer finds are written under the package's testdata/fuzz/ and
# then run as regression seeds by every plain `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}
status=0
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $target ($fuzztime)"
    # -fuzzminimizetime 100x: shrinking each new input for up to 60 s (the
    # default) ate most of a 10 s run; 100 tries shrink enough to read it.
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 100x "$pkg"; then
      status=1
    fi
  done
done
exit $status
