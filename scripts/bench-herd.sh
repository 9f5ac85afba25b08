#!/usr/bin/env bash
# Prints, side by side, a herd of kubebake-join processes against one real
# kube-apiserver on loopback with kubebake's retry policy (internal/discovery/retry.go: paced,
# Retry-After honoured) and with kubeadm's fixed 5 s retry (the same
# agent built with -tags kubebake_bench): BenchmarkHerd in test/herd.
#
#   scripts/bench-herd.sh                  # 1,000 agents each way
#   HERD_AGENTS=200 scripts/bench-herd.sh
#   HERD_WAVE=500 scripts/bench-herd.sh    # at most 500 alive at once
set -euo pipefail
cd "$(dirname "$0")/.."
export KUBEBAKE_CACHE="${KUBEBAKE_CACHE:-$PWD/.cache}"
scripts/setup-k8s.sh >/dev/null

# How busy the machine is without the herd: CPU use over 3 s (the load
# average still counts a herd that has just ended).
read -r _ u1 n1 s1 i1 w1 _ < /proc/stat; sleep 3; read -r _ u2 n2 s2 i2 w2 _ < /proc/stat
busy=$(( u2 + n2 + s2 - u1 - n1 - s1 )); all=$(( busy + i2 + w2 - i1 - w1 ))
load="before the run, $(( 100 * busy / (all > 0 ? all : 1) ))% of the two cores were busy (over 3 s)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! go test -count=1 -run '^$' -bench '^BenchmarkHerd$' -benchtime 1x -timeout 60m ./test/herd >"$out" 2>&1; then
  tail -50 "$out" >&2
  echo "bench-herd: the benchmark failed" >&2
  exit 1
fi
awk -v load="$load" '
  /^BenchmarkHerd\// {
    name = $1; sub(/^BenchmarkHerd\//, "", name); sub(/-[0-9]+$/, "", name)
    names[++n] = name
    for (i = 3; i < NF; i += 2) v[name, $(i + 1)] = $i
  }
  function row(label, key, fmt,   i, s) {
    s = sprintf("| %-38s |", label)
    for (i = 1; i <= n; i++) s = s sprintf(" " fmt " |", v[names[i], key])
    print s
  }
  END {
    if (n == 0) { print "bench-herd: no results" > "/dev/stderr"; exit 1 }
    printf "A herd of %d kubebake-join processes (at most %d alive at once) against one kube-apiserver v1.37.2 on 127.0.0.1;\n", v[names[1], "agents"], v[names[1], "wave"]
    print "the token is created 10 s after the last agent started, so every agent retries. Times count from the"
    print "token'"'"'s creation; the bootstrapsigner signs cluster-info for it a moment later (no agent can verify before)."
    print "Agents run with GOMAXPROCS=1, at nice 19 until all have started (see test/herdtest); " load "."
    print ""
    s = sprintf("| %-38s |", ""); d = "|----------------------------------------|"
    for (i = 1; i <= n; i++) { s = s sprintf(" %14s |", names[i]); d = d "----------------|" }
    print s; print d
    row("agents verified", "verified", "%14d")
    row("time to start them all (ms)", "start-ms", "%14.0f")
    row("token signed (ms after its creation)", "signed-ms", "%14.0f")
    row("first verified (ms after creation)", "first-ms", "%14.0f")
    row("p50 (ms)", "p50-ms", "%14.0f")
    row("p99 (ms)", "p99-ms", "%14.0f")
    row("last verified (ms)", "last-ms", "%14.0f")
    row("cluster-info requests per agent", "req/agent", "%14.2f")
    row("cluster-info requests (audit log)", "requests", "%14d")
    row("all API server requests (audit log)", "all-requests", "%14d")
    row("peak cluster-info requests in 1 s", "peak-req/s", "%14d")
    row("peak cluster-info requests in 0.1 s", "peak-req/100ms", "%14d")
    row("answers 429", "429s", "%14d")
    row("answers 5xx", "5xx", "%14d")
    row("requests agents gave up on (10 s)", "no-answer", "%14d")
    s = sprintf("| %-38s |", "Retry-After received / waited out")
    for (i = 1; i <= n; i++) s = s sprintf(" %14s |", sprintf("%d / %d", v[names[i], "retry-after"], v[names[i], "retry-after-kept"]))
    print s
    row("longest Retry-After (ms)", "retry-after-max-ms", "%14.0f")
    # Issue 21: the kubebake policy against the fixed retry of the same run.
    if (n >= 2) {
      a = names[1]; f = names[2]
      print ""
      printf "%s / %s, same run (goal):\n", a, f
      printf "  total cluster-info requests   %6.2fx (<= 0.7x)\n", v[a, "requests"] / (v[f, "requests"] > 0 ? v[f, "requests"] : 1)
      printf "  peak requests in 0.1 s        %6.2fx (<= 0.5x)\n", v[a, "peak-req/100ms"] / (v[f, "peak-req/100ms"] > 0 ? v[f, "peak-req/100ms"] : 1)
      printf "  p99 time to verified          %6.2fx (<= 1x)\n", v[a, "p99-ms"] / (v[f, "p99-ms"] > 0 ? v[f, "p99-ms"] : 1)
      printf "  answers 5xx                   %6d  (0)\n", v[a, "5xx"]
      printf "  Retry-After waited out        %d of %d (all)\n", v[a, "retry-after-kept"], v[a, "retry-after"]
    }
  }' "$out"
grep -h "API server 5xx:" "$out" | sed 's/^ *[a-z_]*\.go:[0-9]*: /  /' || true
