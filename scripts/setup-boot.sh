#!/usr/bin/env bash
# Sets up the boot tier (test/boot): a Debian bookworm machine that boots
# kubebake's rendered configs with systemd as PID 1, under qemu.
#
#   - Debian packages on the host: qemu-system-x86 (the machine),
#     genisoimage (the NoCloud `cidata` seed), debootstrap, e2fsprogs
#     (mkfs.ext4 -d builds each run's disk from a directory, no loop device),
#     squashfs-tools (the system extension image the stock-image machine
#     fetches, built by the test);
#   - the image root, from Debian packages only: debootstrap of bookworm with
#     systemd, udev, dbus, cloud-init, containerd, docker.io and the stock
#     kernel (linux-image-amd64, booted with qemu -kernel/-initrd), set up as
#     a cloud image would be (NoCloud datasource, DHCP on the first NIC with
#     systemd-networkd, /etc/machine-id "uninitialized" so that the first boot
#     is a first boot and systemd applies presets, docker not enabled: a
#     rendered config enables the runtime it uses), kept as a directory
#     $KUBEBAKE_CACHE/boot/root that each test run lays its own files over;
#   - cri-dockerd (not in Debian), built from the Go module proxy; when that
#     fails the reason is written to $KUBEBAKE_CACHE/boot/cri-dockerd.failed
#     and the docker scenario uses containerd instead;
#   - which accelerator works: a short trial boot of the image's kernel under
#     KVM; the verdict ("kvm" or "tcg" and why) goes to
#     $KUBEBAKE_CACHE/boot/accel.
#
# The kubelet and kubebake-join are not in the root: the test adds the
# binaries of setup-k8s.sh and `make embed` to each run's disk.
#
# Idempotent: every part whose cached result exists (and matches RECIPE) is
# skipped, so a warm run takes a second. Needs root. Prints what each part took.
set -euo pipefail
cd "$(dirname "$0")/.."

export KUBEBAKE_CACHE="${KUBEBAKE_CACHE:-$PWD/.cache}"
case "$KUBEBAKE_CACHE" in
/*) ;;
*) KUBEBAKE_CACHE="$PWD/$KUBEBAKE_CACHE" ;;
esac

# Bump RECIPE whenever what goes into the root changes: a cached root made
# by another recipe is rebuilt.
RECIPE=4
SUITE=bookworm
MIRROR="${KUBEBAKE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CRI_DOCKERD_VERSION=v0.3.17
DIR="$KUBEBAKE_CACHE/boot"
ROOT="$DIR/root"
BUILD_ROOT="$DIR/root.build"
HOST_PACKAGES=(qemu-system-x86 genisoimage debootstrap e2fsprogs squashfs-tools)
ROOT_PACKAGES=(systemd-sysv udev dbus cloud-init python3-cffi-backend containerd docker.io
  iproute2 iptables ca-certificates kmod procps e2fsprogs linux-image-amd64)

mkdir -p "$DIR"
if [ "$(id -u)" != 0 ]; then
  echo "setup-boot: must run as root (apt-get, debootstrap, chroot)" >&2
  exit 1
fi

total_start=$(date +%s.%N)
# elapsed and step: the steps' timing.
. scripts/lib.sh

# ---- Debian packages on the host ---------------------------------------------

install_packages() {
  install_debs setup-boot "${HOST_PACKAGES[@]}"
  need_tools setup-boot qemu-system-x86_64 genisoimage debootstrap mkfs.ext4 debugfs mksquashfs
}

# ---- the image root --------------------------------------------------------------

mounted_under() {
  awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts
}

remove_tree() {
  local m
  for m in $(mounted_under "$1" | sort -r); do umount -l "$m" || true; done
  if [ -n "$(mounted_under "$1")" ]; then
    echo "setup-boot: still mounted under $1; not removing it" >&2
    return 1
  fi
  rm -rf --one-file-system "$1"
}

# in_root runs a command in the build root in a private mount namespace with
# /proc, /sys and /dev mounted (they die with the namespace).
in_root() {
  unshare --mount --uts --propagation private bash -euo pipefail -c '
    root=$1; shift
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --bind /dev "$root/dev"
    mount --bind /dev/pts "$root/dev/pts" 2>/dev/null || true
    chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"
  ' in_root "$BUILD_ROOT" "$@"
}

root_ok() { [ -f "$ROOT/.kubebake-boot-root" ] && [ "$(cat "$ROOT/.kubebake-boot-root")" = "recipe $RECIPE" ]; }

build_root() {
  if root_ok; then
    echo "   cached: $ROOT (recipe $RECIPE, $(du -sh "$ROOT" | cut -f1))"
    return
  fi
  trap 'remove_tree "$BUILD_ROOT"' EXIT
  remove_tree "$BUILD_ROOT"
  local t
  t=$(date +%s.%N)
  # python3-cffi-backend by name: debootstrap does not follow the virtual
  # package cloud-init needs through python3-cryptography.
  local include
  include=$(
    IFS=,
    echo "${ROOT_PACKAGES[*]}"
  )
  unshare --mount --propagation private debootstrap --variant=minbase --include="$include" \
    "$SUITE" "$BUILD_ROOT" "$MIRROR" >"$DIR/debootstrap.log" 2>&1 || {
    tail -n 30 "$DIR/debootstrap.log" >&2
    echo "setup-boot: debootstrap failed; full log: $DIR/debootstrap.log" >&2
    exit 1
  }
  local debootstrap_took
  debootstrap_took=$(elapsed "$t")
  echo "   debootstrap --variant=minbase $SUITE (${#ROOT_PACKAGES[@]} packages and their dependencies): $debootstrap_took"
  configure_root
  # Trim what no boot reads.
  rm -rf "$BUILD_ROOT"/var/lib/apt/lists/* "$BUILD_ROOT"/var/cache/apt/*.bin \
    "$BUILD_ROOT"/var/cache/apt/archives/*.deb "$BUILD_ROOT"/usr/share/doc/* \
    "$BUILD_ROOT"/usr/share/man/* "$BUILD_ROOT"/usr/share/locale/*
  echo "recipe $RECIPE" >"$BUILD_ROOT/.kubebake-boot-root"
  remove_tree "$ROOT"
  mv "$BUILD_ROOT" "$ROOT"
  trap - EXIT
  echo "   $ROOT: $(du -sh "$ROOT" | cut -f1)"
  echo "image root $debootstrap_took (debootstrap and set-up, $(date -u +%Y-%m-%d))" >"$DIR/build-times"
}

# configure_root makes the root what a cloud image is: it boots from
# /dev/vda, gets its address by DHCP, reads NoCloud, and has never booted.
configure_root() {
  local r=$BUILD_ROOT
  echo "/dev/vda / ext4 defaults 0 1" >"$r/etc/fstab"
  echo "localhost" >"$r/etc/hostname"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$r/etc/hosts"
  : >"$r/etc/resolv.conf"
  # First boot: systemd treats a machine-id of "uninitialized" (or none; an
  # empty file is not) as one and applies the presets (Ignition's
  # 20-ignition.preset among them), as on FCOS.
  echo uninitialized >"$r/etc/machine-id"
  rm -f "$r/var/lib/dbus/machine-id"
  mkdir -p "$r/etc/systemd/network"
  cat >"$r/etc/systemd/network/10-kubebake-test.network" <<'EOF'
# kubebake boot tier: DHCP on the machine's NIC (qemu user networking).
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
EOF
  mkdir -p "$r/etc/cloud/cloud.cfg.d"
  cat >"$r/etc/cloud/cloud.cfg.d/90-kubebake-test.cfg" <<'EOF'
# kubebake boot tier: the NoCloud seed volume (label cidata) is the
# datasource; systemd-networkd, not cloud-init, configures the network.
datasource_list: [NoCloud, None]
network: {config: disabled}
locale: C.UTF-8
EOF
  # The packages' postinsts enable their units in the chroot (containerd,
  # docker); networkd and its wait-online are ours to enable. docker is
  # left to the rendered config (cloud-init's runcmd, Ignition's preset):
  # starting it on a containerd node costs minutes under emulation.
  in_root systemctl enable systemd-networkd.service systemd-networkd-wait-online.service >/dev/null 2>&1
  in_root systemctl disable docker.service docker.socket >/dev/null 2>&1
  # A serial console to read, no login prompt on it.
  in_root systemctl mask serial-getty@ttyS0.service getty@tty1.service >/dev/null 2>&1
  local k i
  k=$(ls "$r"/boot/vmlinuz-* | sort -V | tail -n 1)
  i=$(ls "$r"/boot/initrd.img-* | sort -V | tail -n 1)
  [ -f "$k" ] && [ -f "$i" ] || { echo "setup-boot: no kernel or initrd in the root's /boot" >&2; exit 1; }
  ln -sfn "$(basename "$k")" "$r/boot/vmlinuz"
  ln -sfn "$(basename "$i")" "$r/boot/initrd.img"
}

# ---- cri-dockerd -------------------------------------------------------------------

build_cri_dockerd() {
  local out="$DIR/cri-dockerd" failed="$DIR/cri-dockerd.failed"
  if [ -x "$out" ] && "$out" --version 2>&1 | grep -q "${CRI_DOCKERD_VERSION#v}"; then
    echo "   cached: $("$out" --version 2>&1 | head -n 1)"
    return
  fi
  if [ -f "$failed" ] && grep -q "^$CRI_DOCKERD_VERSION:" "$failed"; then
    echo "   cached failure: $(head -n 1 "$failed")"
    return
  fi
  # cri-dockerd's go.mod has replace directives, so `go install pkg@version`
  # refuses it: build from the downloaded module's source instead.
  local src work log="$DIR/cri-dockerd-build.log"
  if ! src=$(cd / && GOFLAGS=-mod=mod go mod download -json "github.com/Mirantis/cri-dockerd@$CRI_DOCKERD_VERSION" 2>>"$log" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') || [ -z "$src" ]; then
    echo "$CRI_DOCKERD_VERSION: the module proxy did not give github.com/Mirantis/cri-dockerd@$CRI_DOCKERD_VERSION (see $log)" >"$failed"
    echo "   $(cat "$failed")"
    return
  fi
  local t
  t=$(date +%s.%N)
  work=$(mktemp -d)
  cp -r "$src/." "$work"
  chmod -R u+w "$work"
  if (cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/Mirantis/cri-dockerd/cmd/version.Version=${CRI_DOCKERD_VERSION#v}" \
    -o "$out.tmp" .) >>"$log" 2>&1; then
    mv -f "$out.tmp" "$out"
    rm -f "$failed"
    echo "cri-dockerd $(elapsed "$t") (go build, $(date -u +%Y-%m-%d))" >>"$DIR/build-times"
    echo "   built: $("$out" --version 2>&1 | head -n 1)"
  else
    echo "$CRI_DOCKERD_VERSION: go build failed (see $log)" >"$failed"
    echo "   $(cat "$failed")"
  fi
  rm -rf "$work"
}

# ---- KVM or TCG ------------------------------------------------------------------------

# The host's /dev/kvm may be one a stock kernel cannot run under (a nested
# kvm_pvm needs PVM-aware guests). Boot the image's kernel with no root for
# 20 s under KVM: if it reaches its "Kernel panic - not syncing: VFS" (it has
# no root disk), KVM works.
probe_accel() {
  local verdict="$DIR/accel" log="$DIR/accel-trial.log"
  local key
  key="recipe $RECIPE $(uname -r) $(readlink "$ROOT/boot/vmlinuz")"
  if [ -f "$verdict" ] && [ "$(sed -n 2p "$verdict")" = "$key" ]; then
    echo "   cached: $(head -n 1 "$verdict")"
    return
  fi
  local accel=tcg why
  if [ ! -w /dev/kvm ]; then
    why="no writable /dev/kvm"
  else
    timeout 20 qemu-system-x86_64 -accel kvm -cpu host,-arch-capabilities -machine q35 -smp 1 -m 512 \
      -nographic -no-reboot -kernel "$ROOT/boot/vmlinuz" -append "console=ttyS0 edd=off panic=-1" >"$log" 2>&1 || true
    if grep -q "Kernel panic" "$log" || grep -q "Linux version" "$log"; then
      accel=kvm why="a stock kernel boots under KVM"
    else
      why="a stock Debian kernel printed nothing in 20 s under -accel kvm ($(ls /sys/module | grep -x kvm_pvm || echo kvm)); see $log"
    fi
  fi
  printf '%s: %s\n%s\n' "$accel" "$why" "$key" >"$verdict"
  echo "   $(head -n 1 "$verdict")"
}

step "debian packages" install_packages
step "debian $SUITE image root" build_root
step "cri-dockerd $CRI_DOCKERD_VERSION" build_cri_dockerd
step "accelerator" probe_accel
echo "-- setup-boot total: $(elapsed "$total_start") (cache: $KUBEBAKE_CACHE)"
