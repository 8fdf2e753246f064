# shellcheck shell=sh
# Shared start-up of every imgtool node, sourced by each image's entrypoint.
# imgtool copies the node's declared network in at /etc/imgtool/net.conf:
#   link <mac> <name> [<addr>/<prefix> ...]   rename the interface with that MAC,
#                                             drop Docker's addresses, add ours
#   route <destination> <gateway>             after all links are up
# Docker only provides layer 2; addresses and routes are the scenario's own,
# which is what makes .1 addresses and overlapping sites possible.

IMGTOOL_CONF=/etc/imgtool
IMGTOOL_RUN=/run/imgtool

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "$*"; exit 1; }

iface_by_mac() {
  for dev in /sys/class/net/*; do
    [ "$(cat "$dev/address" 2>/dev/null)" = "$1" ] && { echo "${dev##*/}"; return 0; }
  done
  return 1
}

net_up() {
  mkdir -p "$IMGTOOL_RUN"
  rm -f "$IMGTOOL_RUN/ready"
  conf="$IMGTOOL_CONF/net.conf"
  [ -f "$conf" ] || { log "no $conf: keeping Docker's addressing"; return 0; }
  while read -r kind mac name addrs; do
    [ "$kind" = link ] || continue
    dev=$(iface_by_mac "$mac") || die "no interface with MAC $mac for $name"
    if [ "$dev" != "$name" ]; then
      ip link set dev "$dev" down
      ip link set dev "$dev" name "$name"
    fi
    ip addr flush dev "$name"
    ip link set dev "$name" up
    for a in $addrs; do
      case "$a" in
        *:*) ip -6 addr add "$a" dev "$name" nodad ;;
        *) ip addr add "$a" dev "$name" ;;
      esac
    done
  done <"$conf"
  while read -r kind dst gw; do
    [ "$kind" = route ] || continue
    case "$gw" in
      *:*) ip -6 route replace "$dst" via "$gw" ;;
      *) ip route replace "$dst" via "$gw" ;;
    esac
  done <"$conf"
}

mark_ready() { touch "$IMGTOOL_RUN/ready"; }

# PID 1 ignores signals it has no handler for: idle with one so that
# `docker stop` returns at once instead of after its timeout.
idle() {
  trap 'exit 0' TERM INT
  while :; do sleep 3600 & wait $!; done
}
