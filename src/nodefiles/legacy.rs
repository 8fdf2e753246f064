//! Course mode's reference solution in the legacy format (ipsec.conf and
//! ipsec.secrets, run by starter and the stroke plugin): the same tunnels,
//! proposals, identities and dead-peer detection as
//! [`super::solution_swanctl_conf`], so that both formats earn full marks
//! for the same reasons. In stroke, a connection and its child SA share the
//! connection's name, which is the tunnel's.

use std::fmt::Write as _;

use super::{ESP_PROPOSALS, IKE_PROPOSALS};
use crate::scenario::{Node, Scenario};

/// A gateway's ipsec.conf: one `conn` per tunnel it is in. The initiator
/// starts it (`auto = start`); the responder waits for it (`auto = add`).
/// `!` makes the proposal lists strict, as swanctl's are.
pub fn ipsec_conf(scenario: &Scenario, node: &Node) -> String {
    let me = scenario.public_addr(node).expect("resolved gateway has a public address");
    let mut c = format!("# imgtool: reference IKE configuration of {} ({}), legacy format\n", node.name, scenario.name);
    for t in scenario.tunnels_of(&node.name) {
        let (_, peer, local_ts, remote_ts) = t.sides(&node.name);
        let initiator = t.initiator == node.name;
        let peer_addr = scenario.node(peer).and_then(|p| scenario.public_addr(p)).expect("resolved peer address");
        let ts = |list: &[ipnet::IpNet]| list.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",");
        let _ = write!(
            c,
            "
conn {name}
  keyexchange = ikev2
  left = {me}
  leftsubnet = {lts}
  leftauth = pubkey
  leftcert = {gw}.pem
  leftid = {gw}
  right = {peer_addr}
  rightsubnet = {rts}
  rightauth = pubkey
  rightid = {peer}
  ike = {IKE_PROPOSALS}!
  esp = {ESP_PROPOSALS}!
  type = tunnel
  mobike = no
  keyingtries = %forever
  dpddelay = {dpd_delay}
  dpdaction = {dpd_action}
  auto = {auto}
",
            name = t.name,
            gw = node.name,
            lts = ts(local_ts),
            rts = ts(remote_ts),
            dpd_delay = if initiator { "5s" } else { "0s" },
            dpd_action = if initiator { "restart" } else { "clear" },
            auto = if initiator { "start" } else { "add" },
        );
    }
    c
}

/// A gateway's ipsec.secrets: its private key, which imgtool made and the
/// image links into /etc/ipsec.d/private/.
pub fn ipsec_secrets(node: &Node) -> String {
    format!("# imgtool: reference secrets of {}, legacy format\n: PKCS8 {}.key\n", node.name, node.name)
}
