//! What each node is given at run time, derived from the scenario: its links
//! and routes (`net.conf`), a gateway's firewall and NAT (`firewall.nft`), its
//! IKE configuration (`swanctl.conf`) and the child SAs its healthcheck waits
//! for. The images read these files; they hold no configuration of their own.

use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::scenario::{Node, Role, Scenario};

/// The interface kernel-libipsec creates for decrypted traffic.
const LIBIPSEC_IFACE: &str = "ipsec0";
/// IKE proposals as modern as the study's: AES-GCM-256 with X25519 (or P-384).
pub const IKE_PROPOSALS: &str = "aes256gcm16-prfsha256-x25519,aes256gcm16-prfsha384-ecp384";
pub const ESP_PROPOSALS: &str = "aes256gcm16-x25519,aes256gcm16-ecp384";

/// How the gateways authenticate each other.
#[derive(Debug, Clone)]
pub enum Auth {
    /// One certificate per gateway, signed by a CA made at `up`.
    Certificates,
    /// A random pre-shared key (hex), never printed.
    Psk(String),
}

/// The MAC of a node's interface on a network: locally administered,
/// deterministic, so the node finds its links by MAC and names them.
pub fn mac(scenario: &Scenario, node: &str, network: &str) -> String {
    let n = scenario.nodes.iter().position(|x| x.name == node).unwrap_or(0) + 1;
    let w = scenario.networks.iter().position(|x| x.name == network).unwrap_or(0) + 1;
    format!("02:1b:00:00:{w:02x}:{n:02x}")
}

pub fn net_conf(scenario: &Scenario, node: &Node) -> String {
    let mut out = format!("# imgtool: links and routes of {} ({})\n", node.name, scenario.name);
    for link in &node.links {
        let addrs: Vec<String> = link.addrs.iter().map(|a| a.to_string()).collect();
        let _ = writeln!(out, "link {} {} {}", mac(scenario, &node.name, &link.network), link.network, addrs.join(" "));
    }
    for r in &node.routes {
        let dst = r.dst.map_or("default".to_string(), |d| d.to_string());
        let _ = writeln!(out, "route {dst} {}", r.via);
    }
    out
}

fn family(addr: IpAddr) -> &'static str {
    if addr.is_ipv4() { "ip" } else { "ip6" }
}

/// Whether a gateway's tunnels carry its own public address (host-to-host):
/// then the peer's address is routed into the tunnel, and charon's own IKE
/// and ESP packets must bypass that route by mark (policy routing).
pub fn needs_policy_routing(scenario: &Scenario, node: &Node) -> bool {
    scenario.tunnels_of(&node.name).any(|t| {
        let (_, peer, _, remote_ts) = t.sides(&node.name);
        let peer_addr = scenario.node(peer).and_then(|p| scenario.public_addr(p));
        peer_addr.is_some_and(|a| remote_ts.iter().any(|ts| ts.contains(&a)))
    })
}

/// A gateway's nftables ruleset: from the ISP side only IKE and ESP from the
/// peer gateways (and IPv6 neighbour discovery); site traffic is forwarded,
/// tunnel traffic passes as is, everything else leaving the site is NATed to
/// the gateway's public address.
pub fn firewall(scenario: &Scenario, node: &Node) -> String {
    let mut r = format!(
        "# imgtool: firewall and NAT of {} ({})\nflush ruleset\ntable inet imgtool {{\n",
        node.name, scenario.name
    );
    r += &filter_chains(scenario, node);
    r += &nat_chains(scenario, node);
    r += "}\n";
    r
}

/// The firewall without the NAT, as a student writes it in course mode,
/// where imgtool supplies the NAT ([`nat_table`]): the reference solution.
pub fn filter_ruleset(scenario: &Scenario, node: &Node) -> String {
    let mut r = format!(
        "# imgtool: reference firewall of {} ({}); the NAT is imgtool's own (nat.nft)\nflush ruleset\ntable inet filter {{\n",
        node.name, scenario.name
    );
    r += &filter_chains(scenario, node);
    r += "}\n";
    r
}

/// The table of a bare gateway (course mode): the scenario's NAT and nothing
/// else. Loaded after the student's ruleset, which may flush everything, so
/// it replaces itself (declare, delete, define) and can be loaded again.
pub fn nat_table(scenario: &Scenario, node: &Node) -> String {
    let mut r = format!(
        "# imgtool: NAT of {} ({}), loaded after the student's firewall.nft\n\
         table inet imgtool_nat\ndelete table inet imgtool_nat\ntable inet imgtool_nat {{\n",
        node.name, scenario.name
    );
    r += &nat_chains(scenario, node);
    r += "}\n";
    r
}

/// The sites a gateway serves (its links other than the ISP one) and its
/// public address.
fn sides<'a>(scenario: &'a Scenario, node: &'a Node) -> (&'a str, IpAddr, Vec<&'a str>) {
    let isp = scenario.isp_link(node).expect("resolved gateway has an ISP link");
    let sites = node.links.iter().filter(|l| l.network != isp.network).map(|l| l.network.as_str()).collect();
    (isp.network.as_str(), isp.addrs[0].addr(), sites)
}

fn filter_chains(scenario: &Scenario, node: &Node) -> String {
    let (isp, public, sites) = sides(scenario, node);
    let peers: Vec<IpAddr> = scenario
        .tunnels_of(&node.name)
        .filter_map(|t| scenario.node(t.sides(&node.name).1).and_then(|p| scenario.public_addr(p)))
        .collect();
    let fam = family(public);
    let peer_set = peers.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");

    let mut r = String::from("  chain input {\n    type filter hook input priority filter; policy drop;\n");
    r += "    iif lo accept\n    ct state established,related accept\n    ct state invalid drop\n";
    let _ = writeln!(r, "    iifname != \"{isp}\" accept");
    // Decrypted by the kernel's ESP, tunnel traffic arrives on the ISP link
    // itself (kernel-libipsec hands it in on ipsec0, accepted above).
    r += "    meta ipsec exists accept\n";
    if !peers.is_empty() {
        let _ = writeln!(r, "    {fam} saddr {{ {peer_set} }} udp dport {{ 500, 4500 }} accept");
        let _ = writeln!(r, "    {fam} saddr {{ {peer_set} }} meta l4proto esp accept");
    }
    r += "    icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept\n  }\n";

    r += "  chain forward {\n    type filter hook forward priority filter; policy drop;\n";
    r += "    ct state established,related accept\n";
    for s in &sites {
        let _ = writeln!(r, "    iifname \"{s}\" accept");
    }
    let _ = writeln!(r, "    iifname \"{LIBIPSEC_IFACE}\" accept");
    r += "    meta ipsec exists accept\n  }\n";
    r
}

fn nat_chains(scenario: &Scenario, node: &Node) -> String {
    let (_, public, sites) = sides(scenario, node);
    let fam = family(public);
    let mut r = String::from("  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n");
    if scenario.service.via.as_deref() == Some(node.name.as_str()) {
        let server = scenario.node(&scenario.service.server).expect("resolved service server");
        let to =
            server.addrs().find(|a| a.is_ipv4() == public.is_ipv4()).expect("server address of the gateway's family");
        let _ = writeln!(
            r,
            "    iifname != {{ {} }} {fam} daddr {public} tcp dport {} dnat {fam} to {}",
            sites.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", "),
            scenario.service.port,
            bracket(to, scenario.service.port)
        );
    }
    r += "  }\n";

    r += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
    for t in scenario.tunnels_of(&node.name) {
        let (_, _, local_ts, remote_ts) = t.sides(&node.name);
        for l in local_ts {
            for m in remote_ts.iter().filter(|m| m.addr().is_ipv4() == l.addr().is_ipv4()) {
                let f = family(l.addr());
                let _ = writeln!(r, "    {f} saddr {l} {f} daddr {m} accept");
            }
        }
    }
    for s in &sites {
        let _ = writeln!(r, "    iifname \"{s}\" oifname != \"{s}\" snat {fam} to {public}");
    }
    r += "  }\n";
    r
}

/// `addr:port` for DNAT, with IPv6 addresses in brackets.
fn bracket(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

fn ts_list(ts: &[IpNet]) -> String {
    ts.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(",")
}

/// A gateway's swanctl.conf: one connection and child per tunnel it is in.
/// The first gateway of a tunnel initiates (see [`initiate`]); the other
/// only responds, so the two never race to make duplicate SAs (two sides
/// initiating at once can each delete the other's SA on INITIAL_CONTACT,
/// leaving none). The testbed heals by itself: the initiator alone runs
/// dead-peer detection and, finding its peer gone (paused, vanished), keeps
/// trying to bring the tunnel back (`dpd_action = restart`, `keyingtries =
/// 0`). The responder keeps its SAs while the initiator is silent (paused),
/// so they carry traffic again the moment it is back; a restarted
/// initiator's INITIAL_CONTACT clears them. (A restarted *responder*
/// initiates once, see images/strongswan/strongswan.sh.) No MOBIKE: the
/// addresses never move, and with it charon sends dead-peer probes only after
/// a route lookup for each address the peer announced, which failed in the
/// testbed ("no route found to reach peer, MOBIKE update deferred"), so a
/// paused peer was never declared dead.
pub fn swanctl_conf(scenario: &Scenario, node: &Node, auth: &Auth) -> String {
    connections(scenario, node, auth, "IKE configuration", "none")
}

/// The reference solution of course mode: [`swanctl_conf`] with
/// certificates, except that charon itself starts the tunnels this gateway
/// initiates (`start_action = start`), as a student's configuration must,
/// since no `initiate` file drives it there.
pub fn solution_swanctl_conf(scenario: &Scenario, node: &Node) -> String {
    connections(scenario, node, &Auth::Certificates, "reference IKE configuration", "start")
}

fn connections(scenario: &Scenario, node: &Node, auth: &Auth, what: &str, initiator_start: &str) -> String {
    let mut c = format!("# imgtool: {what} of {} ({})\nconnections {{\n", node.name, scenario.name);
    let mut secrets = String::new();
    let me = scenario.public_addr(node).expect("resolved gateway has a public address");
    for t in scenario.tunnels_of(&node.name) {
        let (_, peer, local_ts, remote_ts) = t.sides(&node.name);
        let initiator = t.initiator == node.name;
        let peer_addr = scenario.node(peer).and_then(|p| scenario.public_addr(p)).expect("resolved peer address");
        let (local_auth, remote_auth) = match auth {
            Auth::Certificates => (
                format!("auth = pubkey\n      certs = {}.pem\n      id = {}", node.name, node.name),
                format!("auth = pubkey\n      id = {peer}"),
            ),
            Auth::Psk(_) => (format!("auth = psk\n      id = {}", node.name), format!("auth = psk\n      id = {peer}")),
        };
        let _ = write!(
            c,
            "  {name} {{
    version = 2
    local_addrs = {me}
    remote_addrs = {peer_addr}
    proposals = {IKE_PROPOSALS}
    dpd_delay = {dpd_delay}
    keyingtries = 0
    mobike = no
    local {{
      {local_auth}
    }}
    remote {{
      {remote_auth}
    }}
    children {{
      {name} {{
        local_ts = {lts}
        remote_ts = {rts}
        esp_proposals = {ESP_PROPOSALS}
        mode = tunnel
        start_action = {start_action}
        dpd_action = {dpd_action}
      }}
    }}
  }}
",
            name = t.name,
            dpd_delay = if initiator { "5s" } else { "0s" },
            dpd_action = if initiator { "restart" } else { "clear" },
            start_action = if initiator { initiator_start } else { "none" },
            lts = ts_list(local_ts),
            rts = ts_list(remote_ts),
        );
        if let Auth::Psk(key) = auth {
            let _ = write!(
                secrets,
                "  ike-{} {{\n    id-1 = {}\n    id-2 = {peer}\n    secret = 0x{key}\n  }}\n",
                t.name, node.name
            );
        }
    }
    c += "}\n";
    if !secrets.is_empty() {
        c += &format!("secrets {{\n{secrets}}}\n");
    }
    c
}

/// Course mode's reference solution: for each gateway, the files a student
/// writes (`<gateway>/firewall.nft` and `<gateway>/swanctl.conf`, or with
/// `legacy` `ipsec.conf` and `ipsec.secrets`), as imgtool's own
/// configuration would have them.
pub fn solution(scenario: &Scenario, legacy: bool) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for node in scenario.nodes.iter().filter(|n| is_gateway(n)) {
        let dir = std::path::Path::new(&node.name);
        if legacy {
            out.push((dir.join("ipsec.conf"), legacy::ipsec_conf(scenario, node)));
            out.push((dir.join("ipsec.secrets"), legacy::ipsec_secrets(node)));
        } else {
            out.push((dir.join("swanctl.conf"), solution_swanctl_conf(scenario, node)));
        }
        out.push((dir.join("firewall.nft"), filter_ruleset(scenario, node)));
    }
    out
}

/// Child SAs the node initiates (its image retries until each is up).
pub fn initiate(scenario: &Scenario, node: &Node) -> String {
    scenario.tunnels_of(&node.name).filter(|t| t.initiator == node.name).map(|t| format!("{}\n", t.name)).collect()
}

/// Child SA names the node's healthcheck waits for, one per line.
pub fn children(scenario: &Scenario, node: &Node) -> String {
    scenario.tunnels_of(&node.name).map(|t| format!("{}\n", t.name)).collect()
}

/// The address families ("4", "6") whose ESP the scenario's tunnels need:
/// those of the gateways' public addresses (the outer packets) and of the
/// traffic selectors (the inner ones). The gateway image probes kernel ESP
/// for exactly these; `up --esp kernel` demands them of the daemon's kernel.
pub fn esp_families(scenario: &Scenario) -> Vec<&'static str> {
    let mut addrs: Vec<IpAddr> = Vec::new();
    for t in &scenario.tunnels {
        for g in [&t.initiator, &t.responder] {
            addrs.extend(scenario.node(g).and_then(|n| scenario.public_addr(n)));
            let (_, _, local_ts, remote_ts) = t.sides(g);
            addrs.extend(local_ts.iter().chain(remote_ts).map(|n| n.addr()));
        }
    }
    let v4 = addrs.iter().any(IpAddr::is_ipv4);
    let v6 = addrs.iter().any(IpAddr::is_ipv6);
    [(v4, "4"), (v6, "6")].into_iter().filter(|(on, _)| *on).map(|(_, f)| f).collect()
}

/// Whether the node needs the strongSwan files.
pub fn is_gateway(node: &Node) -> bool {
    node.role == Role::Gateway
}

mod legacy;

#[cfg(test)]
mod tests;
