//! The shell scripts of imgtool's helper containers. Every value reaches
//! them as an argument (`sh -c SCRIPT sh ARG...`), never spliced into the
//! script text, so no name or address from input is ever shell code.

use super::spec::NetworkSpec;

/// What a holder runs: the firewall and, for host-to-host tunnels, the
/// routing rules that qemu-user cannot add (see
/// images/strongswan/strongswan.sh) and the neighbour timers (see
/// images/common/node.sh), then the mark on lo that the gateway's
/// entrypoint waits for; then it idles. `$1` is `policy` or absent.
/// In course mode (a nat.nft), the student's ruleset, if any, whose errors
/// go to the holder's lab.log for imgtool, then imgtool's NAT and IKE gate,
/// as the gateway's entrypoint loads them natively (imgtool lifts the gate).
pub const NETNS_HOLDER: &str = r#"set -e
if [ -f /etc/imgtool/nat.nft ]; then
  mkdir -p /run/imgtool
  : >/run/imgtool/lab.log
  if [ -f /etc/imgtool/firewall.nft ]; then
    nft -f /etc/imgtool/firewall.nft 2>>/run/imgtool/lab.log || true
  fi
  nft -f /etc/imgtool/nat.nft
  nft -f /etc/imgtool/gate.nft
else
  nft -f /etc/imgtool/firewall.nft
fi
if [ "${1:-}" = policy ]; then
  for family in -4 -6; do
    for port in 500 4500; do
      ip "$family" rule add pref 210 ipproto 17 sport "$port" lookup main
    done
    ip "$family" rule add pref 220 lookup 220
  done
fi
. /usr/local/lib/imgtool/node.sh
neighbours_asked_often
ip link set dev lo alias imgtool-firewall
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
"#;

/// Script for a host-network helper on the daemon's side that makes the veth
/// parents of a testbed's macvlan networks, then says whether macvlan works
/// on them (`macvlan yes`, or `macvlan no <why>`). Values come as arguments,
/// never spliced into the script: `sh -c SCRIPT sh PARENT PEER ALIAS ...`;
/// each alias names the testbed, so `down` finds leftovers of an
/// interrupted `up`.
pub const VETH: &str = r#"set -e
first=$1
while [ $# -ge 3 ]; do
  p=$1 q=$2 alias=$3
  shift 3
  ip link show "$p" >/dev/null 2>&1 || ip link add "$p" type veth peer name "$q"
  ip link set "$p" alias "$alias"
  ip link set "$p" up
  ip link set "$q" up
done
if err=$(ip link add "${first}m" link "$first" type macvlan mode bridge 2>&1); then
  ip link del "${first}m"
  echo "macvlan yes"
else
  echo "macvlan no $err"
fi
"#;

/// The arguments of [`VETH`] for a testbed's networks.
pub fn veth_args(nets: &[NetworkSpec], testbed: &str) -> Vec<String> {
    let mut args = Vec::new();
    for n in nets {
        if let Some((p, q)) = &n.veth {
            args.extend([p.clone(), q.clone(), format!("imgtool/{testbed}/{}", n.scenario_net)]);
        }
    }
    args
}

/// Removes every veth parent whose alias names testbed `$1`.
pub const VETH_CLEANUP: &str = r#"ip -o link show type veth | while read -r _ name rest; do
  case "$rest" in *"alias imgtool/$1/"*) ip link del "${name%%@*}" 2>/dev/null || true ;; esac
done
"#;
