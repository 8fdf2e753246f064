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

# Sets $found to the interface with MAC $1. Builtins only (read, not cat):
# under qemu-user every program started costs tens of milliseconds.
find_iface() {
  for dev in /sys/class/net/*; do
    read -r address 2>/dev/null <"$dev/address" || continue
    [ "$address" = "$1" ] && { found=${dev##*/}; return 0; }
  done
  return 1
}

# Sets $ll to the EUI-64 link-local address of MAC $1 (RFC 4291), as the
# kernel would make it. Builtins only.
link_local() {
  saved_ifs=$IFS
  IFS=:
  # shellcheck disable=SC2086 # split on the colons
  set -- $1
  IFS=$saved_ifs
  ll=$(printf 'fe80::%02x%s:%sff:fe%s:%s%s' $((0x$1 ^ 2)) "$2" "$3" "$4" "$5" "$6")
}

# A neighbour that is not up yet when first asked for (a peer still
# starting) is asked again every 100 ms for 3 s, not every second as the
# kernel would: what is queued for it goes as soon as it answers. Without
# this, a gateway's first IKE_SA_INIT waited a second for the router's next
# ARP request. On every interface, before the renames (the settings stay
# with the device). qemu-user cannot send these netlink messages, so on an
# emulated platform imgtool says IMGTOOL_NEIGHBOURS=outside: the native
# owners of the router's and the gateways' namespaces have done it, and a
# client needs none (its gateway is up before it sends anything).
neighbours_asked_often() {
  [ "${IMGTOOL_NEIGHBOURS:-}" != outside ] || return 0
  [ -d "$IMGTOOL_RUN" ] || mkdir -p "$IMGTOOL_RUN"
  arp="$IMGTOOL_RUN/arp.batch" ndisc="$IMGTOOL_RUN/ndisc.batch"
  : >"$arp"
  : >"$ndisc"
  for dev in /sys/class/net/*; do
    dev=${dev##*/}
    [ "$dev" != lo ] || continue
    printf 'ntable change name arp_cache dev %s retrans 100 mcast_probes 30\n' "$dev" >>"$arp"
    # Only where IPv6 is on (Docker turns it off on IPv4-only networks).
    read -r off 2>/dev/null <"/proc/sys/net/ipv6/conf/$dev/disable_ipv6" || off=1
    [ "$off" = 1 ] || printf 'ntable change name ndisc_cache dev %s retrans 100 mcast_probes 30\n' "$dev" >>"$ndisc"
  done
  if ! ip -batch "$arp" 2>/dev/null || ! ip -batch "$ndisc" 2>/dev/null; then
    log "neighbour probes left at the kernel's pace (1 s): ip cannot change them here"
  fi
}

# The links, then the routes (which need every link up), in one `ip -batch`:
# one program, not five per link; `ip` infers each route's family.
net_up() {
  [ -d "$IMGTOOL_RUN" ] || mkdir -p "$IMGTOOL_RUN"
  [ ! -e "$IMGTOOL_RUN/ready" ] || rm -f "$IMGTOOL_RUN/ready"
  neighbours_asked_often
  conf="$IMGTOOL_CONF/net.conf"
  [ -f "$conf" ] || { log "no $conf: keeping Docker's addressing"; return 0; }
  batch="$IMGTOOL_RUN/links.batch"
  : >"$batch"
  while read -r kind mac name addrs; do
    [ "$kind" = link ] || continue
    find_iface "$mac" || die "no interface with MAC $mac for $name"
    if [ "$found" != "$name" ]; then
      printf 'link set dev %s down\nlink set dev %s name %s\n' "$found" "$found" "$name" >>"$batch"
    fi
    case "$addrs" in
      *:*)
        # The kernel's own link-local would be tentative for a second or
        # two (DAD), and until then a router sends no neighbour
        # solicitation for what it forwards: the same EUI-64 address, without DAD.
        link_local "$mac"
        printf 'link set dev %s addrgenmode none\naddr flush dev %s\nlink set dev %s up\naddr add %s/64 dev %s nodad\n' \
          "$name" "$name" "$name" "$ll" "$name" >>"$batch" ;;
      *) printf 'addr flush dev %s\nlink set dev %s up\n' "$name" "$name" >>"$batch" ;;
    esac
    for a in $addrs; do
      case "$a" in
        *:*) printf 'addr add %s dev %s nodad\n' "$a" "$name" >>"$batch" ;;
        *) printf 'addr add %s dev %s\n' "$a" "$name" >>"$batch" ;;
      esac
    done
  done <"$conf"
  while read -r kind dst gw; do
    [ "$kind" = route ] || continue
    printf 'route replace %s via %s\n' "$dst" "$gw" >>"$batch"
  done <"$conf"
  ip -batch "$batch" || die "setting up the links and routes failed: $(tr '\n' ';' <"$batch")"
}

# Ready: the file the healthcheck tests, and a line in the log, which
# `imgtool up` follows instead of waiting for the next health probe.
mark_ready() { : >"$IMGTOOL_RUN/ready"; say_ready; }
say_ready() { say ready; }
# A line for imgtool, which follows the log while it waits (src/testbed/bringup.rs).
say() { echo "imgtool: $*" >&2; }

# PID 1 ignores signals it has no handler for: idle with one so that
# `docker stop` returns at once instead of after its timeout.
idle() {
  trap 'exit 0' TERM INT
  while :; do sleep 3600 & wait $!; done
}
