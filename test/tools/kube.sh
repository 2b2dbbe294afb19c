#!/usr/bin/env bash
# Prints the directory holding a real Kubernetes control plane for tests:
# kube-apiserver and kube-controller-manager from k8s.io/kubernetes v1.37.2,
# and etcd (our loopback-only main around go.etcd.io/etcd/server/v3/embed).
# They are built from the separate module in test/kube/controlplane into a
# per-machine cache keyed by version when missing. The cold build took 8.5
# minutes on 2 cores (plus about 30 s of module downloads); after that this
# prints at once. Run it before a first `go test`, whose default 10-minute
# timeout the build would nearly use up. A lock file keeps parallel test
# processes from building twice.
set -euo pipefail
version=v1.37.2
cache="${CHATOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chatops}/bin"
dir="$cache/kube-$version"
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../kube/controlplane" && pwd)"
bins=(kube-apiserver kube-controller-manager etcd)

built() {
  local b
  for b in "${bins[@]}"; do [ -x "$dir/$b" ] || return 1; done
}

if ! built; then
  mkdir -p "$cache"
  exec 9>"$cache/kube-$version.lock"
  flock 9
  # Another process may have finished the build while this one waited.
  if ! built; then
    echo "building the Kubernetes $version control plane into $dir (about 9 minutes on 2 cores)" >&2
    start=$SECONDS
    tmp="$(mktemp -d "$cache/.kube-$version.XXXXXX")"
    chmod 755 "$tmp"
    trap 'rm -rf "$tmp"' EXIT
    # The same version stamps as Kubernetes' own build (hack/lib/version.sh),
    # so /version reports v1.37.2 rather than v0.0.0-master.
    ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=37 -X $pkg.gitTreeState=clean"
      ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    (
      cd "$src"
      GOWORK=off go build -trimpath -ldflags "$ldflags" -o "$tmp/" \
        k8s.io/kubernetes/cmd/kube-apiserver \
        k8s.io/kubernetes/cmd/kube-controller-manager \
        ./cmd/etcd
    ) >&2
    rm -rf "$dir"
    mv "$tmp" "$dir"
    trap - EXIT
    echo "built the Kubernetes $version control plane in $((SECONDS - start)) s" >&2
  fi
  flock -u 9
fi

for b in "${bins[@]}"; do
  "$dir/$b" --version >/dev/null 2>&1 || { echo "FAIL: $dir/$b does not run" >&2; exit 1; }
done
echo "$dir"
