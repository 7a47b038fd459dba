#!/usr/bin/env bash
# Build etcd, kube-apiserver, kube-controller-manager and the node programs (kube-scheduler, kubelet)
# from the Go module proxy into a cache directory outside the clone, keyed by versions and module
# hashes, so fresh clones reuse them.
# Prints the binary directory as its last line. Build log: <cache>/build-<key>.log
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

die() { echo "error: $*" >&2; exit 1; }

command -v go >/dev/null || die "Go is not installed; install Go >= 1.26 (https://go.dev/doc/install or the distro package) and retry"
gover=$(go env GOVERSION)
minor=$(echo "$gover" | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "${minor:-0}" -ge 26 ] 2>/dev/null || die "Go ${gover} is too old: k8s.io/kubernetes 1.37 needs Go >= 1.26; upgrade Go and retry"

modver() { (cd "$here/$1" && go mod edit -json) | python3 -c 'import json,sys; print(next(r["Path"] and r["Version"] for r in json.load(sys.stdin)["Require"] if r["Path"]==sys.argv[1]))' "$2"; }
kver=$(modver kube k8s.io/kubernetes)
ever=$(modver etcd go.etcd.io/etcd/server/v3)
[ -n "$kver" ] && [ -n "$ever" ] || die "could not read versions from tools/kube/go.mod and tools/etcd/go.mod"
hash=$(cat "$here"/kube/go.mod "$here"/kube/go.sum "$here"/etcd/go.mod "$here"/etcd/go.sum "$0" | sha256sum | cut -c1-12)
key="k8s-${kver}_etcd-${ever}_${gover}_${hash}"
cache="${REPLICHECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/replicheck}"
out="$cache/bin/$key"
log="$cache/build-$key.log"

mkdir -p "$cache/bin" 2>/dev/null && [ -w "$cache/bin" ] || die "cache directory $cache is not writable; set REPLICHECK_CACHE to a writable directory"

if [ -x "$out/kube-apiserver" ] && [ -x "$out/kube-controller-manager" ] && [ -x "$out/etcd" ] \
   && [ -x "$out/kube-scheduler" ] && [ -x "$out/kubelet" ] && "$out/kube-apiserver" --version 2>/dev/null | grep -qx "Kubernetes ${kver}"; then
  echo "$out"; exit 0
fi
# --check (the preflight, fixtures/conformance/preflight.py): answer from the cache, never build
[ "${1:-}" = "--check" ] && die "etcd and the Kubernetes ${kver} programs are not built in $out"

# One builder at a time per cache (parallel make or two clones).
exec 9>"$cache/build.lock"
flock 9
if [ -x "$out/kube-apiserver" ] && "$out/kube-apiserver" --version 2>/dev/null | grep -qx "Kubernetes ${kver}"; then
  echo "$out"; exit 0
fi

tmp="$out.tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
echo "building control-plane binaries ${kver} / etcd ${ever} (first time on this machine; log: $log)" >&2

kminor=$(echo "$kver" | cut -d. -f2)
bdate=$(go mod download -json "k8s.io/kubernetes@${kver}" 2>>"$log" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("Time",""))' || true)
ld="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X ${pkg}.gitVersion=${kver} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${kminor} -X ${pkg}.gitTreeState=clean"
  [ -n "$bdate" ] && ld+=" -X ${pkg}.buildDate=${bdate}"
done

{
  echo "== $(date -u +%FT%TZ) go ${gover} k8s ${kver} etcd ${ever}"
  (cd "$here/kube" && go mod download && go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags "$ld" \
      -o "$tmp/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet)
  (cd "$here/etcd" && go mod download && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
} >>"$log" 2>&1 || die "building control-plane binaries failed; see the build log $log"

"$tmp/kube-apiserver" --version | grep -qx "Kubernetes ${kver}" || die "kube-apiserver --version does not print ${kver}; see $log"
"$tmp/etcd" --version >>"$log" 2>&1 || die "etcd does not run; see $log"
rm -rf "$out"; mv "$tmp" "$out"; trap - EXIT
echo "built in $(( $(date +%s) - start ))s -> $out" >&2
echo "build_seconds=$(( $(date +%s) - start ))" > "$out/BUILD_INFO"
echo "$out"
