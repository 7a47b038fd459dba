#!/usr/bin/env bash
# Build one Go program pinned by tools/<name>/go.mod (the OCI registry, Flux's source-controller,
# kustomize-controller or helm-controller, External Secrets Operator) into the shared cache outside
# the clone, keyed like tools/build-binaries.sh: the pinned module version, the Go version and a hash
# of go.mod, go.sum and this script.
# One builder at a time per cache (the same flock as the control-plane build).
# Usage: tools/build-tool.sh registry|source-controller|kustomize-controller|helm-controller|external-secrets [--check]
# Prints the binary's path as its last line. Build log: <cache>/build-<key>.log (`go build -v`: one
# line per package compiled, which replicheck/build_progress.py counts for its progress line)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

die() { echo "error: $*" >&2; exit 1; }

name="${1:-}"
case "$name" in
  registry) module=github.com/distribution/distribution/v3; pkg=$module/cmd/registry ;;
  source-controller) module=github.com/fluxcd/source-controller; pkg=$module ;;
  kustomize-controller) module=github.com/fluxcd/kustomize-controller; pkg=$module ;;
  helm-controller) module=github.com/fluxcd/helm-controller; pkg=$module ;;
  external-secrets) module=github.com/external-secrets/external-secrets; pkg=$module ;;
  *) die "usage: $0 registry|source-controller|kustomize-controller|helm-controller|external-secrets (got '${name}')" ;;
esac
dir="$here/$name"
[ -f "$dir/go.mod" ] && [ -f "$dir/go.sum" ] || die "$dir/go.mod or go.sum is missing; restore them from git"
command -v go >/dev/null || die "Go is not installed; install Go >= 1.26 (https://go.dev/doc/install or the distro package) and retry"
gover=$(go env GOVERSION)
minor=$(echo "$gover" | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "${minor:-0}" -ge 26 ] 2>/dev/null || die "Go ${gover} is too old: ${name} needs Go >= 1.26; upgrade Go and retry"

version=$(cd "$dir" && go list -m -f '{{.Version}}' "$module") || die "could not read the ${module} version from $dir/go.mod"
hash=$(cat "$dir/go.mod" "$dir/go.sum" "$0" | sha256sum | cut -c1-12)
key="${name}-${version}_${gover}_${hash}"
cache="${REPLICHECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/replicheck}"
out="$cache/bin/$key"
log="$cache/build-$key.log"

mkdir -p "$cache/bin" 2>/dev/null && [ -w "$cache/bin" ] || die "cache directory $cache is not writable; set REPLICHECK_CACHE to a writable directory"
if [ -x "$out/$name" ]; then echo "$out/$name"; exit 0; fi
# --check (the preflight, fixtures/conformance/preflight.py): answer from the cache, never build
[ "${2:-}" = "--check" ] && die "${name} ${version} is not built in $out"

exec 9>"$cache/build.lock"
flock 9
if [ -x "$out/$name" ]; then echo "$out/$name"; exit 0; fi

tmp="$out.tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
echo "building ${name} ${version} (first time on this machine; log: $log)" >&2
ld="-s -w"
[ "$name" = registry ] && ld+=" -X ${module}/version.version=${version}"
{
  echo "== $(date -u +%FT%TZ) go ${gover} ${module} ${version}"
  (cd "$dir" && go mod download "$module" && go build -v -trimpath -ldflags "$ld" -o "$tmp/$name" "$pkg")
} >>"$log" 2>&1 || die "building ${name} ${version} failed; see the build log $log"
"$tmp/$name" --help >>"$log" 2>&1 || die "${name} does not run; see $log"
echo "build_seconds=$(( $(date +%s) - start ))" > "$tmp/BUILD_INFO"
rm -rf "$out"; mv "$tmp" "$out"; trap - EXIT
echo "built ${name} in $(( $(date +%s) - start ))s -> $out" >&2
echo "$out/$name"
