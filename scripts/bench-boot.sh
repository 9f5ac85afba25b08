#!/usr/bin/env bash
# Prints the boot tier's figures: the image build (cold as recorded when
# scripts/setup-boot.sh built it, warm measured now), and, per scenario of
# test/boot, boot to multi-user.target, boot to verified join, join to
# kubelet.conf and qemu start to Node registered, from a fresh run of the
# boot tier (minutes: every machine boots under qemu).
set -euo pipefail
cd "$(dirname "$0")/.."
export KUBEBAKE_CACHE="${KUBEBAKE_CACHE:-$PWD/.cache}"
dir="$KUBEBAKE_CACHE/boot"
if [ ! -f "$dir/root/.kubebake-boot-root" ]; then
  echo "(boot tier: run scripts/setup-boot.sh first)"
  exit 0
fi
echo "== boot tier ($(head -n 1 "$dir/accel"))"
if [ -f "$dir/build-times" ]; then
  sed 's/^/image build, cold: /' "$dir/build-times"
fi
start=$(date +%s.%N)
scripts/setup-boot.sh >/dev/null
awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "image build, warm (scripts/setup-boot.sh, everything cached): %.1fs\n", e - s }'
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
if ! go test -count=1 -v -timeout 60m -run '^TestBoot$' ./test/boot/ >"$log" 2>&1; then
  tail -n 40 "$log"
  echo "bench-boot: the boot tier failed (above)" >&2
  exit 1
fi
echo "boot tier run: $(( $(date +%s) - start ))s"
printf '%-52s | %-48s | %s\n' scenario figure seconds
sed -n 's/.*BOOTFIGURE \(.*\) | \(.*\) | \(.*\)$/\1|\2|\3/p' "$log" | while IFS='|' read -r s f v; do
  printf '%-52s | %-48s | %s\n' "$s" "$f" "$v"
done
# Issue 21 item 5, as ratios from this run: cloud-init with the embedded
# agent (carried in a boothook, not the cloud-config) against Ignition, and
# its second boot against a node rendered with --join-binary baked.
sed -n 's/.*BOOTFIGURE \(.*\) | \(.*\) | \(.*\)$/\1|\2|\3/p' "$log" | awk -F'|' '
  { v[$1 "|" $2] = $3 + 0 }
  $1 ~ /^ignition fcos / && $2 == "boot to kubebake-join started" && !ign { ign = $3 + 0; ignName = $1 }
  function ratio(what, a, b, goal) {
    if (a > 0 && b > 0) printf "%-78s %6.1fs / %6.1fs = %5.2fx (goal <= %s)\n", what, a, b, a / b, goal
    else printf "%-78s (not measured in this run)\n", what
  }
  END {
    ci = "cloud-init containerd embedded"; baked = "cloud-init stock kubelet-url baked"
    print ""
    ratio("cloud-init embedded / " ignName ": boot to kubebake-join started", v[ci "|boot to kubebake-join started"], ign, "1.5x")
    ratio("second boot, embedded / baked: boot to multi-user.target", v[ci ", second boot|boot to multi-user.target"], v[baked ", second boot|boot to multi-user.target"], "1.2x")
    ratio("second boot, embedded / baked: boot to kubelet active", v[ci ", second boot|boot to kubelet active"], v[baked ", second boot|boot to kubelet active"], "1.2x")
  }'
