#!/usr/bin/env bash
# Installs the real consumers of kubebake's rendered configs, for the tests in
# test/consumers (helpers in test/consumertest):
#
#   - Debian packages: gcc + libblkid-dev (to build Ignition), debootstrap,
#     systemd (systemctl, systemd-analyze), cloud-init (`cloud-init schema`);
#   - the Ignition applier v2.27.0 (SELinux relabelling off) and
#     ignition-validate, built from the Go module proxy into $KUBEBAKE_CACHE/bin;
#   - a minimal Debian bookworm root with cloud-init and systemd inside,
#     snapshotted as $KUBEBAKE_CACHE/consumers/debian-cloudinit-root.tar.
#
# Idempotent: every part whose cached result exists is skipped, so a warm run
# takes a second or two. Needs root and Go; works on a clean Debian machine.
# Prints each part and how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."

export KUBEBAKE_CACHE="${KUBEBAKE_CACHE:-$PWD/.cache}"
case "$KUBEBAKE_CACHE" in
/*) ;;
*) KUBEBAKE_CACHE="$PWD/$KUBEBAKE_CACHE" ;;
esac

IGNITION_VERSION=v2.27.0
SUITE=bookworm
MIRROR="${KUBEBAKE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BIN="$KUBEBAKE_CACHE/bin"
DIR="$KUBEBAKE_CACHE/consumers"
ROOT_TAR="$DIR/debian-cloudinit-root.tar"
HOST_PACKAGES=(gcc libc6-dev libblkid-dev pkg-config debootstrap systemd cloud-init tar)
ROOT_PACKAGES=(cloud-init systemd)

mkdir -p "$BIN" "$DIR"

if [ "$(id -u)" != 0 ]; then
  echo "setup-consumers: must run as root (apt-get, debootstrap, chroot)" >&2
  exit 1
fi

total_start=$(date +%s.%N)
# elapsed and step: the steps' timing.
. scripts/lib.sh

# ---- Debian packages --------------------------------------------------------

install_packages() {
  install_debs setup-consumers "${HOST_PACKAGES[@]}"
  if printf '%s\n' "${INSTALLED[@]}" | grep -qx cloud-init; then
    # Installed here only for `cloud-init schema`: never let it configure
    # this host at boot.
    echo "kubebake: cloud-init is installed on this host only for \`cloud-init schema\` in the tests (scripts/setup-consumers.sh); this file keeps it from configuring the host at boot." \
      >/etc/cloud/cloud-init.disabled
  fi
  need_tools setup-consumers systemd-analyze systemctl cloud-init debootstrap gcc
}

# ---- Ignition ----------------------------------------------------------------

ignition_ok() {
  [ -x "$BIN/ignition" ] && [ -x "$BIN/ignition-validate" ] &&
    "$BIN/ignition" -version 2>&1 | grep -q "Ignition $IGNITION_VERSION" &&
    "$BIN/ignition-validate" -version 2>&1 | grep -q "$IGNITION_VERSION"
}

build_ignition() {
  if ignition_ok; then
    echo "   cached: $("$BIN/ignition" -version 2>&1), $BIN/ignition-validate"
    return
  fi
  local gobin
  gobin=$(mktemp -d)
  # Outside our module (we use ignition v2.26.0 as a library and must not pull
  # v2.27.0 into go.mod): pkg@version installs ignore the current module.
  (
    cd /tmp
    export GOBIN="$gobin" GOFLAGS=-mod=mod CGO_ENABLED=1
    go install -ldflags "-X github.com/coreos/ignition/v2/internal/version.Raw=$IGNITION_VERSION -X github.com/coreos/ignition/v2/internal/distro.selinuxRelabel=false" \
      "github.com/coreos/ignition/v2/internal@$IGNITION_VERSION"
    go install -ldflags "-X github.com/coreos/ignition/v2/internal/version.Raw=$IGNITION_VERSION" \
      "github.com/coreos/ignition/v2/validate@$IGNITION_VERSION"
  )
  mv -f "$gobin/internal" "$BIN/ignition"
  mv -f "$gobin/validate" "$BIN/ignition-validate"
  rmdir "$gobin"
  ignition_ok || { echo "setup-consumers: built ignition does not report $IGNITION_VERSION" >&2; exit 1; }
  echo "   built: $("$BIN/ignition" -version 2>&1)"
}

# ---- Debian root with cloud-init ------------------------------------------------

BUILD_ROOT="$DIR/debian-cloudinit-root.build"

# mounted_under DIR prints the mount points at or below DIR (host namespace).
mounted_under() {
  awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts
}

cleanup_build_root() {
  local m
  for m in $(mounted_under "$BUILD_ROOT" | sort -r); do umount -l "$m" || true; done
  if [ -n "$(mounted_under "$BUILD_ROOT")" ]; then
    echo "setup-consumers: still mounted under $BUILD_ROOT; not removing it" >&2
    return 1
  fi
  rm -rf --one-file-system "$BUILD_ROOT"
}

# install_in_root runs apt-get inside the root in a private mount namespace
# (the mounts die with it even if this script is killed), mounting /proc,
# /sys and /dev only for the install and unmounting them on any exit.
install_in_root() {
  unshare --mount --uts --propagation private bash -euo pipefail -c '
    root=$1; shift
    unmount() { umount "$root/dev/pts" 2>/dev/null || true; umount "$root/dev" 2>/dev/null || true
                umount "$root/sys" 2>/dev/null || true;     umount "$root/proc" 2>/dev/null || true; }
    trap unmount EXIT
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --bind /dev "$root/dev"
    mount --bind /dev/pts "$root/dev/pts" 2>/dev/null || true
    chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get update -qq
    chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
      apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    chroot "$root" apt-get clean
  ' install_in_root "$BUILD_ROOT" "$@"
}

build_root() {
  if [ -s "$ROOT_TAR" ]; then
    echo "   cached: $ROOT_TAR ($(du -h "$ROOT_TAR" | cut -f1))"
    return
  fi
  trap cleanup_build_root EXIT
  cleanup_build_root
  local t
  t=$(date +%s.%N)
  unshare --mount --propagation private debootstrap --variant=minbase "$SUITE" "$BUILD_ROOT" "$MIRROR" >"$DIR/debootstrap.log" 2>&1 || {
    tail -n 30 "$DIR/debootstrap.log" >&2
    echo "setup-consumers: debootstrap failed; full log: $DIR/debootstrap.log" >&2
    exit 1
  }
  echo "   debootstrap --variant=minbase $SUITE: $(elapsed "$t")"

  # No service may start while packages are installed in the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$BUILD_ROOT/usr/sbin/policy-rc.d"
  chmod 0755 "$BUILD_ROOT/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$BUILD_ROOT/etc/resolv.conf" 2>/dev/null || true
  t=$(date +%s.%N)
  install_in_root "${ROOT_PACKAGES[@]}"
  echo "   apt-get install ${ROOT_PACKAGES[*]} in the root: $(elapsed "$t")"
  rm -f "$BUILD_ROOT/usr/sbin/policy-rc.d"
  # Trim what no test reads (apt lists, docs, translations): a smaller tar to
  # extract for every cloud-init run.
  rm -rf "$BUILD_ROOT"/var/lib/apt/lists/* "$BUILD_ROOT"/usr/share/doc/* \
    "$BUILD_ROOT"/usr/share/man/* "$BUILD_ROOT"/usr/share/locale/*
  : >"$BUILD_ROOT/etc/resolv.conf"

  # NoCloud only, no network configuration, a locale the root has.
  mkdir -p "$BUILD_ROOT/etc/cloud/cloud.cfg.d"
  cat >"$BUILD_ROOT/etc/cloud/cloud.cfg.d/90-kubebake-test.cfg" <<'EOF'
# kubebake consumer tests: seed from /var/lib/cloud/seed/nocloud, touch no network.
datasource_list: [NoCloud, None]
network: {config: disabled}
locale: C.UTF-8
EOF
  chroot "$BUILD_ROOT" cloud-init --version

  t=$(date +%s.%N)
  tar --numeric-owner --xattrs -C "$BUILD_ROOT" -cf "$ROOT_TAR.tmp" .
  mv -f "$ROOT_TAR.tmp" "$ROOT_TAR"
  echo "   snapshot $ROOT_TAR ($(du -h "$ROOT_TAR" | cut -f1)): $(elapsed "$t")"
  cleanup_build_root
  trap - EXIT
}

step "debian packages" install_packages
step "ignition $IGNITION_VERSION" build_ignition
step "debian $SUITE root with cloud-init" build_root
echo "-- setup-consumers total: $(elapsed "$total_start") (cache: $KUBEBAKE_CACHE)"
