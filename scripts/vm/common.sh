# shellcheck shell=bash disable=SC2034
# Shared settings and helpers of the scripts in scripts/vm/ (sourced).
#
# The VM is a Docker host whose kernel has ESP (Debian's stock kernel), for
# running the testbed with kernel IPsec on machines whose own kernel has none.

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_CACHE=${IMGTOOL_VM_CACHE:-/var/cache/imgtool-vm}
# State of the running VM: pidfile, the copy-on-write overlay of the disk
# (it grows with the images loaded into the VM), the monitor socket.
VM_RUN=${IMGTOOL_VM_RUN:-/var/lib/imgtool-vm}
VM_LOG=${IMGTOOL_VM_LOG:-/var/log/imgtool-vm}
# Host port that reaches the VM's dockerd (tcp, no TLS, bound to 127.0.0.1).
VM_PORT=${IMGTOOL_VM_PORT:-23750}
# Address inside the VM that QEMU's guestfwd connects to the host's registry
# (127.0.0.1:5000, the docker.io mirror).
VM_REGISTRY_GUEST=10.0.2.100:5000
VM_REGISTRY_HOST=${IMGTOOL_VM_REGISTRY:-127.0.0.1:5000}
VM_DOCKER_HOST=tcp://127.0.0.1:$VM_PORT
VM_PIDFILE=$VM_RUN/qemu.pid

vm_say() { printf 'vm: %s\n' "$*" >&2; }
vm_die() {
  printf 'vm: error: %s\n' "$*" >&2
  exit 1
}
vm_now_ms() { echo $(($(date +%s%N) / 1000000)); }
vm_secs() { printf '%d.%01d' $(($1 / 1000)) $(($1 % 1000 / 100)); } # ms -> "s.d"

# Prints the pid of the QEMU started with pidfile $1 (default: the VM's);
# fails if none runs. A pid counts only if it is a QEMU started with that
# pidfile (pids get reused).
vm_pid() {
  local pidfile=${1:-$VM_PIDFILE} pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-pidfile $pidfile " || return 1
  echo "$pid"
}

# The VM's dockerd answers through the forwarded port ($1, default VM_PORT).
vm_docker_ready() {
  timeout 20 docker -H "tcp://127.0.0.1:${1:-$VM_PORT}" info >/dev/null 2>&1
}

# Installs QEMU if it is missing. Bookworm's QEMU is 7.2, and its
# qemu-system-common conflicts with the QEMU 10 qemu-utils of
# bookworm-backports that some machines come with: QEMU 10 from
# bookworm-backports (whose default pin keeps everything else as it is).
vm_need_qemu() {
  local bpo=/etc/apt/sources.list.d/bookworm-backports.sources
  if command -v qemu-system-x86_64 >/dev/null && command -v qemu-img >/dev/null &&
    command -v socat >/dev/null && [ -f /usr/share/qemu/qboot.rom ]; then
    return 0
  fi
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    vm_say "adding the bookworm-backports suite ($bpo)"
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$bpo"
  fi
  vm_say "apt-get install qemu-system-x86 (bookworm-backports), socat"
  mkdir -p "$VM_LOG"
  # One apt at a time: scripts/test.sh makes the disk while cross-check.sh may install.
  flock /var/lock/imgtool-apt.lock apt-get update -qq >"$VM_LOG/apt.log" 2>&1
  DEBIAN_FRONTEND=noninteractive flock /var/lock/imgtool-apt.lock apt-get install -y -qq --no-install-recommends \
    qemu-system-x86/bookworm-backports qemu-system-common/bookworm-backports \
    qemu-system-data/bookworm-backports seabios/bookworm-backports qemu-utils/bookworm-backports \
    socat >>"$VM_LOG/apt.log" 2>&1 || {
    tail -20 "$VM_LOG/apt.log" >&2
    vm_die "could not install QEMU"
  }
}

# Boots a VM in the background:
#   vm_boot DISK_DIR OVERLAY PIDFILE PORT CONSOLE_LOG MONITOR_SOCKET
# OVERLAY is a qcow2 file (made by the caller) whose backing chain ends in
# DISK_DIR/root.img. Environment: IMGTOOL_VM_ACCEL (tcg, kvm), IMGTOOL_VM_CPU,
# IMGTOOL_VM_CPUS, IMGTOOL_VM_MEM, IMGTOOL_VM_APPEND.
#
# Network: user-mode with restrict=on, so the guest reaches no address
# outside; the only ways through are the hostfwd of the docker port (bound to
# the host's 127.0.0.1) and the guestfwd of 10.0.2.100:5000 to the registry.
vm_boot() {
  local disk_dir=$1 overlay=$2 pidfile=$3 port=$4 console=$5 monitor=$6
  local accel kernel netdev qemu_log=${5%.log}.qemu.log
  case ${IMGTOOL_VM_ACCEL:-tcg} in
    tcg) accel=(-accel "tcg,thread=multi" -cpu "${IMGTOOL_VM_CPU:-max}") ;;
    kvm) accel=(-accel kvm -cpu "${IMGTOOL_VM_CPU:-host}") ;;
    *) vm_die "IMGTOOL_VM_ACCEL must be tcg or kvm, not '$IMGTOOL_VM_ACCEL'" ;;
  esac
  # The uncompressed kernel (PVH entry) saves decompressing it under
  # emulation.
  kernel=$disk_dir/vmlinuz
  [ -f "$disk_dir/vmlinux" ] && kernel=$disk_dir/vmlinux
  if ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
    vm_die "port $port is taken on this host (set IMGTOOL_VM_PORT)"
  fi
  netdev="user,id=net0,restrict=on,ipv6=off"
  netdev+=",hostfwd=tcp:127.0.0.1:$port-:2375"
  # A command per connection (a chardev would serve one connection only).
  netdev+=",guestfwd=tcp:$VM_REGISTRY_GUEST-cmd:socat - TCP:${VM_REGISTRY_HOST%:*}:${VM_REGISTRY_HOST##*:}"
  rm -f "$pidfile" "$monitor"
  : >"$console"
  qemu-system-x86_64 \
    -name imgtool-vm \
    -machine q35 "${accel[@]}" -smp "${IMGTOOL_VM_CPUS:-2}" -m "${IMGTOOL_VM_MEM:-3072}" \
    -nodefaults -no-user-config -display none -vga none -no-reboot \
    -bios /usr/share/qemu/qboot.rom \
    -kernel "$kernel" -initrd "$disk_dir/initrd.img" \
    -append "$(cat "$disk_dir/cmdline") ${IMGTOOL_VM_APPEND:-}" \
    -drive "file=$overlay,if=none,id=root,format=qcow2,cache=unsafe,discard=unmap" \
    -device virtio-blk-pci,drive=root \
    -netdev "$netdev" -device virtio-net-pci,netdev=net0,romfile= \
    -device virtio-rng-pci \
    -serial "file:$console" \
    -monitor "unix:$monitor,server,nowait" \
    -pidfile "$pidfile" -daemonize \
    >"$qemu_log" 2>&1 || {
    cat "$qemu_log" >&2
    vm_die "QEMU did not start"
  }
}

# Waits until the dockerd of the VM with pidfile $1 answers on port $2, at
# most $3 seconds from $4 (vm_now_ms). Prints how long it took.
vm_wait_ready() {
  local pidfile=$1 port=$2 timeout=$3 t0=$4 console=$5 pid
  while :; do
    if vm_docker_ready "$port"; then
      vm_say "docker ready after $(vm_secs $(($(vm_now_ms) - t0))) s" \
        "($(docker -H "tcp://127.0.0.1:$port" info -f 'engine {{.ServerVersion}}, kernel {{.KernelVersion}}' 2>/dev/null))"
      return 0
    fi
    if ! pid=$(vm_pid "$pidfile"); then
      vm_say "QEMU exited; last lines of $console:"
      tail -25 "$console" >&2 || true
      return 1
    fi
    if [ $(($(vm_now_ms) - t0)) -gt $((timeout * 1000)) ]; then
      vm_say "dockerd did not answer within $timeout s (QEMU pid $pid still runs; console: $console)"
      tail -25 "$console" >&2 || true
      return 1
    fi
    sleep 1
  done
}

# Stops the QEMU of pidfile $1: SIGTERM (QEMU exits cleanly), then SIGKILL.
vm_kill() {
  local pid
  pid=$(vm_pid "$1") || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  vm_say "QEMU $pid still runs: SIGKILL"
  kill -9 "$pid" 2>/dev/null || true
}
