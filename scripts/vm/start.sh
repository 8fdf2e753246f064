#!/usr/bin/env bash
# Boots the imgtool VM (a Docker host whose kernel has ESP) in the
# background and waits until its dockerd answers on the host's
# 127.0.0.1:$IMGTOOL_VM_PORT. Each boot starts from a clean copy-on-write
# overlay of the cached disk (build-disk.sh, run first: seconds when cached).
# Idempotent: when the VM already runs, it only checks its dockerd.
#
# Prints on stdout the line to eval:  export DOCKER_HOST=tcp://127.0.0.1:23750
# Progress goes to stderr.
#
# Environment:
#   IMGTOOL_VM_ACCEL    tcg (default) or kvm (-cpu host; a software KVM may
#                       hang the guest kernel: see ENVIRONMENT.md)
#   IMGTOOL_VM_PORT     host port forwarded to the VM's dockerd (23750)
#   IMGTOOL_VM_CPU      QEMU -cpu model (max under tcg, host under kvm)
#   IMGTOOL_VM_CPUS     vCPUs (2)            IMGTOOL_VM_MEM   MiB of RAM (3072)
#   IMGTOOL_VM_TIMEOUT  seconds to wait for dockerd (300)
#   IMGTOOL_VM_APPEND   more kernel parameters (e.g. ignore_loglevel to debug)
#   IMGTOOL_VM_REGISTRY host address the VM's 10.0.2.100:5000 leads to
#                       (127.0.0.1:5000, the docker.io mirror)
#   IMGTOOL_VM_CACHE, IMGTOOL_VM_RUN, IMGTOOL_VM_LOG: directories
#     (/var/cache/imgtool-vm, /var/lib/imgtool-vm, /var/log/imgtool-vm)
# and those of build-disk.sh. Console of the guest: $IMGTOOL_VM_LOG/console.log
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TIMEOUT=${IMGTOOL_VM_TIMEOUT:-300}
CONSOLE_LOG=$VM_LOG/console.log
mkdir -p "$VM_RUN" "$VM_LOG"

if pid=$(vm_pid); then
  vm_say "already running (pid $pid, disk $(cat "$VM_RUN/disk-dir" 2>/dev/null)); checking its dockerd"
  vm_wait_ready "$VM_PIDFILE" "$VM_PORT" "$TIMEOUT" "$(vm_now_ms)" "$CONSOLE_LOG"
  echo "export DOCKER_HOST=$VM_DOCKER_HOST"
  exit 0
fi

vm_need_qemu
disk_dir=$("$VM_DIR/build-disk.sh")
[ -f "$disk_dir/done" ] || vm_die "no disk in $disk_dir"
# The image the overlay starts from: root.img, or the seeded qcow2 on top of
# it (images pulled at build time) when build-disk.sh made one.
top=$(cat "$disk_dir/top" 2>/dev/null || echo root.img)
case $top in *.qcow2) top_format=qcow2 ;; *) top_format=raw ;; esac

overlay=$VM_RUN/overlay.qcow2
rm -f "$overlay"
qemu-img create -q -f qcow2 -F "$top_format" -b "$disk_dir/$top" "$overlay"
echo "$disk_dir" >"$VM_RUN/disk-dir"

vm_say "booting (${IMGTOOL_VM_ACCEL:-tcg}, ${IMGTOOL_VM_CPUS:-2} vCPUs, ${IMGTOOL_VM_MEM:-3072} MiB, $(basename "$disk_dir")/$top); console: $CONSOLE_LOG"
t0=$(vm_now_ms)
vm_boot "$disk_dir" "$overlay" "$VM_PIDFILE" "$VM_PORT" "$CONSOLE_LOG" "$VM_RUN/monitor.sock"
if ! vm_wait_ready "$VM_PIDFILE" "$VM_PORT" "$TIMEOUT" "$t0" "$CONSOLE_LOG"; then
  vm_say "leaving it running for a look; scripts/vm/stop.sh stops it"
  exit 1
fi
echo "export DOCKER_HOST=$VM_DOCKER_HOST"
