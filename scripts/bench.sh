#!/usr/bin/env bash
# Prints kubebake's figures: render time per format (median, whole process),
# output sizes, the agents' sizes, the butane CLI on the same config for
# comparison, and, when the Kubernetes binaries are cached, kubebake-join
# against kubeadm join on a real control plane (scripts/bench-e2e.sh), and the
# boot tier's figures (scripts/bench-boot.sh: minutes, every machine boots).
set -euo pipefail
cd "$(dirname "$0")/.."
export KUBEBAKE_CACHE="${KUBEBAKE_CACHE:-$PWD/.cache}"
make --no-print-directory build >/dev/null
butane="$KUBEBAKE_CACHE/bin/butane"
if [ ! -x "$butane" ]; then
  echo "building the butane CLI v0.29.0 for comparison..." >&2
  # A scratch module: the proxy refuses the version listing that
  # `go install pkg@version` asks for.
  tmp=$(mktemp -d)
  mkdir -p "$KUBEBAKE_CACHE/bin"
  (cd "$tmp" && go mod init butane-bench >/dev/null 2>&1 &&
    go get github.com/coreos/butane/internal@v0.29.0 >/dev/null 2>&1 &&
    go build -o "$butane" github.com/coreos/butane/internal) >&2
  rm -rf "$tmp"
fi
go run ./tools/benchrender -kubebake bin/kubebake -butane "$butane" "$@"
go test -run "^$" -bench . -benchtime 20x ./render/ ./internal/discovery/ 2>/dev/null | grep -E "^Benchmark" || true
echo
go run ./tools/benchfleet -kubebake bin/kubebake
if [ -x scripts/bench-e2e.sh ] && [ -x "$KUBEBAKE_CACHE/k8s/bin/kubeadm" ]; then
  echo
  scripts/bench-e2e.sh
  echo
  scripts/bench-herd.sh
else
  echo "(kubebake-join vs kubeadm join on a real control plane: run scripts/setup-k8s.sh, then scripts/bench-e2e.sh)"
fi
if [ -x scripts/bench-boot.sh ] && [ -f "$KUBEBAKE_CACHE/boot/root/.kubebake-boot-root" ] && [ -x "$KUBEBAKE_CACHE/k8s/bin/kubelet" ]; then
  echo
  scripts/bench-boot.sh
else
  echo "(boot figures: run scripts/setup-boot.sh and scripts/setup-k8s.sh, then scripts/bench-boot.sh)"
fi
