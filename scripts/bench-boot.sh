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
