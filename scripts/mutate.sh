#!/usr/bin/env bash
# Mutation testing (make mutate): go-gremlins over the packages that hold the
# README's promises, one at a time, with the thresholds every one must meet:
# test efficacy (killed / (killed + lived)) >= 90 % and mutator coverage
# ((killed + lived) / all mutants) >= 85 %. Prints a table and exits non-zero
# when a package is below a threshold.
#
#   ./scripts/mutate.sh                      # every package
#   ./scripts/mutate.sh shared/webhook       # some packages
#   LIVED=1 ./scripts/mutate.sh shared/acs   # also list the mutants that lived
set -euo pipefail
cd "$(dirname "$0")/.."
gremlins=${GREMLINS:-.bin/gremlins-v0.6.0/gremlins}
[ -x "$gremlins" ] || GOBIN="$(pwd)/$(dirname "$gremlins")" go install github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(shared/webhook shared/acs shared/config shared/ecs shared/trigger functions/aliyun/fcruntime shared/stopper)
# Files whose every mutant is equivalent, by package (scripts/mutate-equivalent.md
# says why); gremlins matches the regexp against paths inside the package.
excluded() {
  case $1 in
    shared/webhook) echo '^refusals\.go$' ;;
  esac
}
status=0
printf '| package | killed | lived | not covered | timed out | efficacy | mutator coverage | time | result |\n|---|---|---|---|---|---|---|---|---|\n' > .bin/mutate.md
for pkg in "${packages[@]}"; do
  start=$(date +%s)
  # A generous timeout: a loaded machine must not turn slow tests into
  # "timed out" mutants.
  exclude=(); ex=$(excluded "$pkg"); [ -z "$ex" ] || exclude=(--exclude-files "$ex")
  out=$("$gremlins" unleash "./$pkg" --timeout-coefficient 10 --workers 1 -S lt "${exclude[@]}" 2>&1) || true
  secs=$(( $(date +%s) - start ))
  [ -n "${LIVED:-}" ] && printf '%s\n' "$out" | grep -E 'LIVED|TIMED OUT' || true
  field() { printf '%s\n' "$out" | sed -n "s/.*$1: *\([0-9.]*\).*/\1/p" | head -1; }
  eff=$(field 'Test efficacy'); cov=$(field 'Mutator coverage')
  killed=$(field 'Killed'); lived=$(field 'Lived'); nc=$(field 'Not covered'); to=$(field 'Timed out')
  if [ -z "$eff" ] || [ -z "$cov" ]; then
    printf '%s\n' "$out" | tail -20 >&2
    echo "mutate: $pkg: gremlins gave no figures" >&2
    status=1
    continue
  fi
  verdict=ok
  awk -v e="$eff" -v c="$cov" 'BEGIN { exit !(e >= 90 && c >= 85) }' || { verdict=BELOW; status=1; }
  printf '| `%s` | %s | %s | %s | %s | %s %% | %s %% | %s s | %s |\n' "$pkg" "$killed" "$lived" "$nc" "$to" "$eff" "$cov" "$secs" "$verdict" | tee -a .bin/mutate.md
done
echo; cat .bin/mutate.md
exit $status
