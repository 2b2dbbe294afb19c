#!/usr/bin/env bash
# Prints the path of a real Alertmanager v0.28.1 binary, building it into a
# per-machine cache keyed by version when it is not there yet (about a minute).
# v0.35's module lacks its built UI files and does not `go install`; v0.28.1
# speaks the same API v2 and webhook format.
set -euo pipefail
version=v0.28.1
dir="${CHATOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chatops}/bin/alertmanager-$version"
bin="$dir/alertmanager"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  echo "building Alertmanager $version into $dir" >&2
  GOBIN="$dir" go install "github.com/prometheus/alertmanager/cmd/alertmanager@$version" >&2
fi
"$bin" --version >/dev/null 2>&1 || { echo "FAIL: $bin does not run" >&2; exit 1; }
echo "$bin"
