#!/usr/bin/env bash
# Debian packages the unit tests themselves use: openssl (the pin tests check
# our SPKI hashes against the openssl pipeline of REFERENCE §2.5).
# Idempotent; the other scripts/setup-*.sh install the heavier tools.
set -euo pipefail
packages=(openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup-base: need root to install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup-base: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup-base: ok"
