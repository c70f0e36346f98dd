#!/usr/bin/env bash
# Runs every fuzz target in the module for a bounded time each (default 10s).
# Crashers the fuzzer finds are written under the package's testdata/fuzz/ and
# then run as regression seeds by every plain `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    for try in 1 2; do
      echo "== $pkg $target ($fuzztime)"
      # -fuzzminimizetime 100x: shrinking each new input for up to 60 s (the
      # default) ate most of a 10 s run; 100 tries shrink enough to read it.
      if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 100x "$pkg" 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
        break
      fi
      # The fuzzing engine can end a run with "context deadline exceeded"
      # when its time is up while a worker is still busy, writing no input:
      # that says nothing of the code, so the target runs once more. A
      # failure that wrote an input, or a second such end, fails the run.
      if [ "$try" = 1 ] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
        echo "fuzz: $target ended on the engine's deadline without an input; running it once more"
        continue
      fi
      status=1
      break
    done
  done
done
exit $status
