#!/usr/bin/env bash
# Stops the imgtool VM started by start.sh (by its pidfile) and removes the
# copy-on-write overlay, so the next start boots a clean disk. The cached
# disk stays. Idempotent.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if pid=$(vm_pid); then
  vm_say "stopping QEMU (pid $pid)"
  vm_kill "$VM_PIDFILE"
else
  vm_say "not running"
fi
rm -f "$VM_PIDFILE" "$VM_RUN/overlay.qcow2" "$VM_RUN/monitor.sock" "$VM_RUN/disk-dir"
