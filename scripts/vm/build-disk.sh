#!/usr/bin/env bash
# Builds the disk of the imgtool VM: a Docker host whose kernel has ESP
# (Debian's stock linux-image-amd64, ESP/XFRM as modules), for running the
# testbed with kernel IPsec where the host's own kernel has none.
#
# Three cached stages under $IMGTOOL_VM_CACHE (default /var/cache/imgtool-vm):
#   base-KEY.tar.zst   the packages, made by mmdebstrap (bookworm base and
#                      kernel, Docker engine 26 from trixie with a low pin);
#                      keyed by the package list and apt/initramfs settings.
#   disk-KEY/          root.img (sparse raw ext4, made with mke2fs -d),
#                      vmlinuz, vmlinux (the same kernel uncompressed: QEMU
#                      boots it through its PVH entry), initrd.img, cmdline,
#                      packages.txt; keyed by the base key and this script,
#                      imgtool-init and the disk size.
#   disk-KEY/seed-KEY.qcow2  root.img plus the images of IMGTOOL_VM_SEED_IMAGES
#                      (default debian:bookworm-slim, the testbed's base),
#                      pulled through the registry mirror by a VM booted once
#                      at build time, so that each boot has them and loading
#                      an image into the VM sends only its own layers. Keyed
#                      by the disk key and the images' digests in the
#                      registry; skipped (with a warning) when the registry
#                      does not answer. disk-KEY/top names the file to boot.
# A run whose keys are cached takes about a second. Prints the disk
# directory on stdout (everything else goes to stderr).
#
# Environment: IMGTOOL_VM_CACHE, IMGTOOL_VM_DISK_SIZE (default 32G, sparse),
# IMGTOOL_VM_SEED_IMAGES (docker.io names, space-separated; empty: none),
# IMGTOOL_VM_SEED_PORT (host port of the build-time VM: IMGTOOL_VM_PORT + 1),
# IMGTOOL_VM_REBUILD=1 (ignore the cache of every stage), and those of
# start.sh for the build-time VM.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DISK_SIZE=${IMGTOOL_VM_DISK_SIZE:-32G}
MIRROR=http://deb.debian.org/debian
SECURITY_MIRROR=http://deb.debian.org/debian-security

# --- stage 1: packages ------------------------------------------------------
SOURCES=(
  "deb $MIRROR bookworm main"
  "deb $MIRROR bookworm-updates main"
  "deb $SECURITY_MIRROR bookworm-security main"
  "deb $MIRROR trixie main"
)
PACKAGES=(
  linux-image-amd64 initramfs-tools zstd kmod e2fsprogs
  iproute2 iptables nftables procps psmisc iputils-ping netbase
  pigz xz-utils tini ca-certificates
  # Docker engine 26.1, containerd 1.7 and the 26.1 CLI from trixie (pins
  # below); nothing else comes from there.
  docker.io containerd docker-cli
)
# The low pin of docs/ENVIRONMENT: trixie only for what is asked for.
APT_PIN='Package: *
Pin: release n=trixie
Pin-Priority: 100
'
# What is asked for. Not "containerd/trixie" on the command line: apt then
# takes the dependencies that are not installed yet from trixie too (runc
# 1.1.15, which needs trixie's libc), and in a fresh chroot none are.
APT_PIN_DOCKER='Package: docker.io containerd docker-cli
Pin: release n=trixie
Pin-Priority: 600
'
# The initrd only has to mount the root disk: virtio-blk with ext4.
INITRAMFS_CONF='MODULES=list
COMPRESS=zstd
'
# shellcheck disable=SC2016 # expanded when mkinitramfs runs the hook
INITRAMFS_HOOK='#!/bin/sh
# imgtool VM: the root file system is ext4 on virtio-blk.
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
for m in virtio_pci virtio_blk ext4 crc32c_generic; do
  manual_add_modules "$m"
  echo "$m" >>"${DESTDIR}/conf/modules"
done
'
DPKG_EXCLUDES=(
  'path-exclude=/usr/share/man/*'
  'path-exclude=/usr/share/info/*'
  'path-exclude=/usr/share/locale/*'
  'path-exclude=/usr/share/doc/*'
  'path-include=/usr/share/doc/*/copyright'
)
BASE_FORMAT=1 # bump to force a new base with the same package list

# --- stage 2: files of the VM ------------------------------------------------
DAEMON_JSON='{"features":{"containerd-snapshotter":true},"insecure-registries":["'$VM_REGISTRY_GUEST'"],"registry-mirrors":["http://'$VM_REGISTRY_GUEST'"]}'
CMDLINE='root=/dev/vda rw rootfstype=ext4 init=/sbin/imgtool-init console=ttyS0 loglevel=4 panic=-1 apparmor=0 cryptomgr.notests tsc=reliable net.ifnames=0 mitigations=off'

hash() { sha256sum | cut -c1-16; }
base_key=$({
  printf '%s\0' "${SOURCES[@]}" -- "${PACKAGES[@]}" -- "${DPKG_EXCLUDES[@]}" --
  printf '%s\0' "$APT_PIN" "$APT_PIN_DOCKER" "$INITRAMFS_CONF" "$INITRAMFS_HOOK" "$BASE_FORMAT"
} | hash)
disk_key=$({
  echo "$base_key"
  printf '%s\0' "$DISK_SIZE" "$DAEMON_JSON" "$CMDLINE"
  cat "${BASH_SOURCE[0]}" "$VM_DIR/imgtool-init"
} | hash)
base_tar=$VM_CACHE/base-$base_key.tar.zst
disk_dir=$VM_CACHE/disk-$disk_key

SEED_IMAGES=${IMGTOOL_VM_SEED_IMAGES-debian:bookworm-slim}
SEED_PORT=${IMGTOOL_VM_SEED_PORT:-$((VM_PORT + 1))}
REBUILD=${IMGTOOL_VM_REBUILD:-0}

build_disk() {
need() { command -v "$1" >/dev/null 2>&1; }
missing=()
need mmdebstrap || missing+=(mmdebstrap)
need mke2fs || missing+=(e2fsprogs)
need zstd || missing+=(zstd)
need xz || missing+=(xz-utils)
need curl || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  vm_say "apt-get install ${missing[*]}"
  # One apt at a time: scripts/test.sh makes the disk while cross-check.sh may install.
  flock /var/lock/imgtool-apt.lock apt-get update -qq
  DEBIAN_FRONTEND=noninteractive flock /var/lock/imgtool-apt.lock apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$VM_CACHE" "$VM_LOG"
exec 9>"$VM_CACHE/.build.lock"
flock 9
# Someone else may have built it while we waited for the lock.
if [ "$REBUILD" != 1 ] && [ -f "$disk_dir/done" ]; then
  return 0
fi

t_start=$(date +%s)
work=$(mktemp -d "$VM_CACHE/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- stage 1 ---------------------------------------------------------------
if [ "$REBUILD" = 1 ] || [ ! -s "$base_tar" ]; then
  vm_say "mmdebstrap: bookworm + linux-image-amd64 + docker.io 26 from trixie (a few minutes the first time)"
  printf '%s' "$APT_PIN" >"$work/pin"
  printf '%s' "$APT_PIN_DOCKER" >"$work/pin-docker"
  printf '%s' "$INITRAMFS_CONF" >"$work/initramfs.conf"
  printf '%s' "$INITRAMFS_HOOK" >"$work/initramfs-hook"
  debs=$VM_CACHE/debs
  mkdir -p "$debs"
  q() { printf '%q' "$1"; }
  args=(
    --mode=root --variant=minbase --architectures=amd64
    --skip=essential/unlink
    --aptopt='APT::Install-Recommends "false"'
    --setup-hook="mkdir -p \"\$1/etc/apt/preferences.d\" \"\$1/etc/initramfs-tools/conf.d\" \"\$1/etc/initramfs-tools/hooks\" \"\$1/var/cache/apt/archives\""
    --setup-hook="cp $(q "$work/pin") \"\$1/etc/apt/preferences.d/trixie\""
    --setup-hook="cp $(q "$work/pin-docker") \"\$1/etc/apt/preferences.d/trixie-docker\""
    --setup-hook="cp $(q "$work/initramfs.conf") \"\$1/etc/initramfs-tools/conf.d/imgtool.conf\""
    --setup-hook="install -m 0755 $(q "$work/initramfs-hook") \"\$1/etc/initramfs-tools/hooks/imgtool\""
    --setup-hook="sync-in $(q "$debs") /var/cache/apt/archives/"
    --customize-hook="sync-out /var/cache/apt/archives $(q "$debs")"
  )
  for o in "${DPKG_EXCLUDES[@]}"; do args+=(--dpkgopt="$o"); done
  pkgs=()
  for p in "${PACKAGES[@]}"; do pkgs+=(--include="$p"); done
  log=$VM_LOG/mmdebstrap.log
  t1=$(date +%s)
  if ! mmdebstrap "${args[@]}" "${pkgs[@]}" bookworm "$work/base.tar.zst" "${SOURCES[@]}" >"$log" 2>&1; then
    tail -30 "$log" >&2
    vm_die "mmdebstrap failed (log: $log)"
  fi
  mv "$work/base.tar.zst" "$base_tar"
  vm_say "base $base_tar: $(du -h "$base_tar" | cut -f1) in $(($(date +%s) - t1)) s"
  for old in "$VM_CACHE"/base-*.tar.zst; do
    [ "$old" = "$base_tar" ] || rm -f "$old"
  done
else
  vm_say "base cached: $base_tar"
fi

# --- stage 2 ---------------------------------------------------------------
t2=$(date +%s)
root=$work/root
mkdir -p "$root"
tar --zstd -xpf "$base_tar" -C "$root" --numeric-owner --xattrs --xattrs-include='*'
out=$work/disk
mkdir -p "$out"

kernel=$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -1)
initrd=$(find "$root/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -1)
if [ -z "$kernel" ] || [ -z "$initrd" ]; then
  vm_die "no kernel or initrd in the base (see $VM_LOG/mmdebstrap.log)"
fi
cp "$kernel" "$out/vmlinuz"
# The kernel uncompressed (xz in Debian's bzImage), for QEMU's PVH boot: it
# saves about 7 s of decompression under emulation. Skipped if anything
# does not fit; start.sh then boots vmlinuz.
if grep -q '^CONFIG_PVH=y' "$root/boot/config-${kernel##*/vmlinuz-}" 2>/dev/null; then
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$kernel" | head -1 | cut -d: -f1 || true)
  # (xz stops reading after its stream: no pipe from tail, which pipefail
  # would fail on SIGPIPE.)
  if [ -n "$off" ] && xz -dc --single-stream <(tail -c +$((off + 1)) "$kernel") >"$out/vmlinux" 2>/dev/null &&
    [ "$(head -c 4 "$out/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
    :
  else
    rm -f "$out/vmlinux"
  fi
fi
cp "$initrd" "$out/initrd.img"
echo "$CMDLINE" >"$out/cmdline"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Package} ${Version}\n' >"$out/packages.txt"
# The download cache keeps only the debs of this base (apt names them
# NAME_VERSION_ARCH.deb, an epoch's colon written %3a).
if [ -d "$VM_CACHE/debs" ]; then
  keep=$(awk '{ v = $2; gsub(/:/, "%3a", v); print $1 "_" v }' "$out/packages.txt")
  for deb in "$VM_CACHE"/debs/*.deb; do
    [ -e "$deb" ] || continue
    name=${deb##*/}
    grep -qxF "${name%_*}" <<<"$keep" || rm -f "$deb"
  done
fi

install -m 0755 "$VM_DIR/imgtool-init" "$root/sbin/imgtool-init"
mkdir -p "$root/etc/docker"
echo "$DAEMON_JSON" >"$root/etc/docker/daemon.json"
echo imgtool-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 imgtool-vm\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# No name server: the VM has no way out, and nothing should try.
printf '# imgtool VM: no name server (the VM reaches nothing outside)\n' >"$root/etc/resolv.conf"
printf '# imgtool VM: / is mounted by the initrd; the rest by /sbin/imgtool-init\n' >"$root/etc/fstab"
rm -f "$root/etc/machine-id"
# imgtool-init loads dummy up front: without an unasked-for dummy0.
echo 'options dummy numdummies=0' >"$root/etc/modprobe.d/imgtool.conf"

img=$out/root.img
truncate -s "$DISK_SIZE" "$img"
# No journal: the disk is a throw-away overlay, and fewer writes help under
# emulation.
mke2fs -q -F -t ext4 -O ^has_journal -L imgtool-root -m 0 -E lazy_itable_init=0,lazy_journal_init=0 -d "$root" "$img"
touch "$out/done"
rm -rf "$disk_dir"
mv "$out" "$disk_dir"
vm_say "disk $disk_dir: root.img $(du -h "$disk_dir/root.img" | cut -f1) used of $DISK_SIZE, kernel $(basename "$kernel"), $(($(date +%s) - t2)) s for the disk, $(($(date +%s) - t_start)) s in all"

# Old disks go, unless a VM started from one still runs.
in_use=$(cat "$VM_RUN/disk-dir" 2>/dev/null || true)
for old in "$VM_CACHE"/disk-*; do
  [ -d "$old" ] || continue
  [ "$old" = "$disk_dir" ] || [ "$old" = "$in_use" ] || rm -rf "$old"
done
rm -rf "$work"
trap - EXIT
}

# --- stage 3: images pulled at build time -----------------------------------
# Prints the digest of a docker.io image in the registry (the mirror).
registry_digest() {
  local ref=$1 name tag
  # Only docker.io names: the VM pulls them through the mirror.
  if [[ $ref == */* ]] && [[ ${ref%%/*} == *[.:]* ]]; then return 1; fi
  name=${ref%:*}
  tag=${ref##*:}
  [ "$name" != "$ref" ] || tag=latest
  [[ $name == */* ]] || name=library/$name
  curl -fsS -o /dev/null -w '%header{docker-content-digest}' \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$VM_REGISTRY_HOST/v2/$name/manifests/$tag" 2>/dev/null
}

seed_disk() { # seed file name
  local seed=$1 tmp=$disk_dir/$1.tmp pidfile=$VM_RUN/seed.pid console=$VM_LOG/seed-console.log
  local t0 img first ok=1
  first=${SEED_IMAGES%% *}
  vm_need_qemu
  mkdir -p "$VM_RUN"
  rm -f "$tmp"
  qemu-img create -q -f qcow2 -F raw -b "$disk_dir/root.img" "$tmp"
  vm_say "seeding the disk with $SEED_IMAGES: booting it once (port $SEED_PORT; console $console)"
  t0=$(vm_now_ms)
  vm_boot "$disk_dir" "$tmp" "$pidfile" "$SEED_PORT" "$console" "$VM_RUN/seed-monitor.sock"
  trap 'vm_kill "$VM_RUN/seed.pid"; rm -f "$disk_dir/$seed.tmp"' EXIT
  vm_wait_ready "$pidfile" "$SEED_PORT" 300 "$t0" "$console" || ok=0
  for img in $SEED_IMAGES; do
    [ "$ok" = 1 ] || break
    docker -H "tcp://127.0.0.1:$SEED_PORT" pull -q "$img" >/dev/null || ok=0
  done
  if [ "$ok" = 1 ]; then
    # A clean shutdown (imgtool-init on SIGTERM), so that dockerd's and
    # containerd's state is on the disk.
    docker -H "tcp://127.0.0.1:$SEED_PORT" run -d --rm --pid=host "$first" sh -c 'kill -TERM 1' >/dev/null || ok=0
    for _ in $(seq 120); do
      vm_pid "$pidfile" >/dev/null || break
      sleep 0.5
    done
    if vm_pid "$pidfile" >/dev/null || ! grep -q 'imgtool-init.*powering off' "$console"; then
      vm_say "the build-time VM did not shut down cleanly"
      ok=0
    fi
  fi
  vm_kill "$pidfile"
  rm -f "$pidfile" "$VM_RUN/seed-monitor.sock"
  trap - EXIT
  if [ "$ok" != 1 ]; then
    rm -f "$tmp"
    return 1
  fi
  mv "$tmp" "$disk_dir/$seed"
  vm_say "seeded $disk_dir/$seed ($(du -h "$disk_dir/$seed" | cut -f1)) in $(vm_secs $(($(vm_now_ms) - t0))) s"
}

# --- main --------------------------------------------------------------------
mkdir -p "$VM_CACHE" "$VM_LOG"
if [ "$REBUILD" = 1 ] || [ ! -f "$disk_dir/done" ]; then
  build_disk
fi

top=root.img
if [ -n "$SEED_IMAGES" ]; then
  seed_key=$disk_key
  digests_ok=1
  for img in $SEED_IMAGES; do
    if d=$(registry_digest "$img") && [ -n "$d" ]; then
      seed_key+=" $img@$d"
    else
      vm_say "warning: $img not found in the registry $VM_REGISTRY_HOST: the disk is not seeded"
      digests_ok=0
    fi
  done
  if [ "$digests_ok" = 1 ]; then
    seed=seed-$(printf '%s' "$seed_key" | hash).qcow2
    exec 9>"$VM_CACHE/.build.lock"
    flock 9
    if [ "$REBUILD" = 1 ] || [ ! -f "$disk_dir/$seed" ]; then
      if pid=$(vm_pid); then
        # One VM at a time (2 cores): the next start.sh after stop.sh seeds.
        vm_say "the VM runs (pid $pid): not seeding now; the next start after stop.sh does"
      elif seed_disk "$seed"; then
        for old in "$disk_dir"/seed-*.qcow2; do
          [ "$old" = "$disk_dir/$seed" ] || rm -f "$old"
        done
      else
        vm_say "warning: seeding failed (console: $VM_LOG/seed-console.log): the disk is not seeded"
      fi
    fi
    [ -f "$disk_dir/$seed" ] && top=$seed
  fi
fi
echo "$top" >"$disk_dir/top.tmp"
mv "$disk_dir/top.tmp" "$disk_dir/top"
echo "$disk_dir"
