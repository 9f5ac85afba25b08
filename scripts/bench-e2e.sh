#!/usr/bin/env bash
# Prints, as a table, kubebake-join's token discovery against the real
# `kubeadm join` on the same loopback control plane, and each binary's size
# (BenchmarkDiscovery in test/e2e). Needs root; builds what it needs first.
#
#   scripts/bench-e2e.sh          # 10 runs each
#   RUNS=30 scripts/bench-e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export KUBEBAKE_CACHE="${KUBEBAKE_CACHE:-$PWD/.cache}"
RUNS="${RUNS:-10}"

make --no-print-directory embed >/dev/null
scripts/setup-k8s.sh >/dev/null
scripts/setup-consumers.sh >/dev/null

out=$(mktemp)
breakdown=$(mktemp)
trap 'rm -f "$out" "$breakdown"' EXIT
if ! KUBEBAKE_BENCH_BREAKDOWN="$breakdown" go test -count=1 -run '^$' -bench '^BenchmarkDiscovery$' -benchtime "${RUNS}x" -timeout 20m ./test/e2e >"$out" 2>&1; then
  grep -v '^        [IWE][0-9]\{4\} \|^        {' "$out" | tail -80 >&2
  echo "bench-e2e: the benchmark failed" >&2
  exit 1
fi

read -r l1 l5 l15 _ < /proc/loadavg
echo "Token discovery with CA pinning against one kube-apiserver v1.37.2 on 127.0.0.1, $RUNS runs each"
echo "(exec->verified: from the sandbox's exec of the tool (a marker line it writes just before) to the tool's"
echo " own \"verified\" log line; start->verified also counts the sandbox's unshare and mounts, and for"
echo " kubebake-join runs to its exit, its files written; discovery: from its \"discovery starts\" line to"
echo " \"verified\"; kubeadm runs with --skip-phases preflight; kubebake-join-trace is the agent built with"
echo " -tags kubebake_bench and KUBEBAKE_JOIN_TRACE=1, which marks each step, breakdown below)"
echo "load average at the end of the runs: $l1 $l5 $l15 ($(nproc) CPUs)"
echo
awk '
  /^BenchmarkDiscovery\// {
    name = $1; sub(/^BenchmarkDiscovery\//, "", name); sub(/-[0-9]+$/, "", name)
    delete m
    for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i
    rows[++n] = sprintf("| %-19s | %16.1f | %18.1f | %10.1f | %12.1f | %10.1f | %11.1f |", name,
      m["exec-ms"], m["ns/op"] / 1e6, m["sandbox-ms"], m["discovery-ms"], m["binary-bytes"] / 1048576, m["gzip-bytes"] / 1048576)
    total[name] = m["ns/op"]; exec[name] = m["exec-ms"]
  }
  END {
    if (n == 0) { print "bench-e2e: no benchmark results" > "/dev/stderr"; exit 1 }
    printf "| %-19s | %16s | %18s | %10s | %12s | %10s | %11s |\n", "tool", "exec->verified ms", "start->verified ms", "sandbox ms", "discovery ms", "binary MiB", "gzip -9 MiB"
    printf "|%s|%s|%s|%s|%s|%s|%s|\n", "---------------------", "------------------", "--------------------", "------------", "--------------", "------------", "-------------"
    for (i = 1; i <= n; i++) print rows[i]
    if (("kubebake-join" in exec) && exec["kubeadm"] > 0) {
      print ""
      printf "kubebake-join / kubeadm join, exec->verified, same run: %.2fx (goal <= 0.5x, issue 21)\n", exec["kubebake-join"] / exec["kubeadm"]
      printf "kubebake-join / kubeadm join, start->verified (sandbox set-up included), same run: %.2fx\n", total["kubebake-join"] / total["kubeadm"]
    }
  }' "$out"
if [ -s "$breakdown" ]; then
  echo
  echo "Where kubebake-join's time goes (kubebake-join-trace, mean of the runs; times from the agent's own clock,"
  echo "the exec and the exit as the benchmark saw them):"
  cat "$breakdown"
fi
