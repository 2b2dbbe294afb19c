#!/usr/bin/env bash
# Runs every fuzz target of the repository for TIME each (default 5s):
#
#   bash test/tools/fuzz.sh            # CI: 5 s each, one at a time
#   FUZZ_JOBS=2 nice -n 19 bash test/tools/fuzz.sh 10m   # the long run
#
# Go fuzzes one target per `go test` invocation, so this is the one list of
# targets. Each runs with one worker (-parallel=1): the machine is shared.
# A failing input is written by Go to the package's testdata/fuzz/<Target>/;
# commit it with the fix, and plain `go test` replays it from then on. The
# summary shows each target's exec count; the logs stay in FUZZ_LOG_DIR
# (default: a temporary folder). Exits 1 if any target failed.
set -euo pipefail
cd "$(dirname "$0")/../.."

fuzztime="${1:-5s}"
jobs="${FUZZ_JOBS:-1}"
logdir="${FUZZ_LOG_DIR:-$(mktemp -d -t chatops-fuzz.XXXXXX)}"
mkdir -p "$logdir"

# package target
targets=(
  "./integrations/alertmanager FuzzDecode"
  "./integrations/alertmanager FuzzParseMatchers"
  "./integrations/prometheus FuzzSplitThreshold"
  "./bot FuzzParseMatcher"
  "./bot/command FuzzParseCommand"
  "./bot/config FuzzLoad"
  "./bot/config FuzzConfigMatcher"
  "./integrations/slack FuzzSlashCommand"
  "./integrations/slack FuzzInteraction"
  "./integrations/slack FuzzEvent"
  "./integrations/discord FuzzInteraction"
)

run() {
  local pkg=$1 name=$2
  local log="$logdir/$(basename "$pkg")-$name.log"
  # -timeout=0: go test's default 10-minute timeout would end a long run;
  # the fuzzer notices a hung input by itself.
  if go test -run='^$' -fuzz="^$name\$" -fuzztime="$fuzztime" -fuzzminimizetime=30s \
    -parallel=1 -timeout=0 "$pkg" >"$log" 2>&1; then
    echo "ok   $pkg $name: $(grep -o 'execs: [0-9]*' "$log" | tail -n 1)"
  else
    echo "FAIL $pkg $name (log: $log)"
    grep -v '^fuzz: elapsed' "$log" | head -n 30
    return 1
  fi
}

echo "fuzzing ${#targets[@]} targets for $fuzztime each, $jobs at a time; logs in $logdir"
failed=0
running=0
for t in "${targets[@]}"; do
  # shellcheck disable=SC2086 # "package target" splits in two on purpose
  run $t &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
exit "$failed"
