#!/usr/bin/env bash
# Runs every kubebake test on a fresh Debian machine with Go: installs what the
# tests need (idempotent, cached under $KUBEBAKE_CACHE), builds the agents,
# then runs the Go tests. CI runs exactly this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
export KUBEBAKE_CACHE="${KUBEBAKE_CACHE:-$PWD/.cache}"
mkdir -p "$KUBEBAKE_CACHE"

start=$(date +%s)
make --no-print-directory embed
for s in scripts/setup-*.sh; do
  echo "== $s"
  "$s"
done
echo "== set-up took $(( $(date +%s) - start ))s"

go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi
# The boot tier (test/boot) runs alone after the rest: its machines are
# emulated (TCG) and want both cores to themselves.
go test -count=1 -timeout 45m "$@" $(go list ./... | grep -v '/test/boot$')
start=$(date +%s)
go test -count=1 -timeout 60m "$@" ./test/boot/
echo "== boot tier took $(( $(date +%s) - start ))s"
