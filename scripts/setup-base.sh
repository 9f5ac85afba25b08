#!/usr/bin/env bash
# Debian packages the unit tests themselves use: openssl (the pin tests check
# our SPKI hashes against the openssl pipeline of REFERENCE §2.5).
# Idempotent; the other scripts/setup-*.sh install the heavier tools.
set -euo pipefail
cd "$(dirname "$0")/.."
# install_debs and need_tools.
. scripts/lib.sh
install_debs setup-base openssl
need_tools setup-base openssl
echo "setup-base: ok"
