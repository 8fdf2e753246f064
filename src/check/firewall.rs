//! The firewall checks: from the router, a gateway's public address and a
//! host behind it must both be unreachable. A gateway that answers is named
//! with what the router reached.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::{CheckKind, CheckResult};
use crate::engine::Engine;
use crate::scenario::{Role, Scenario};
use crate::testbed::{Running, TestbedError};

/// One firewall probe from the router: `addr` must not answer; `via` adds a
/// temporary route through a gateway for a host behind it.
struct Probe {
    gateway: String,
    what: String,
    addr: IpAddr,
    via: Option<IpAddr>,
}

/// The probe script: rounds of parallel pings with a short timeout; probes
/// of one address (overlapping sites) go in separate rounds, since each
/// needs its own temporary route. Prints `<index> reached|blocked`.
fn probe_script(probes: &[Probe]) -> String {
    let mut script = String::from(
        "probe() { if ping -c 1 -W 0.25 \"$2\" >/dev/null 2>&1; then echo \"$1 reached\"; else echo \"$1 blocked\"; fi; }\n",
    );
    let mut round_of = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        round_of.push(probes[..i].iter().filter(|q| q.addr == p.addr).count());
    }
    for round in 0..=round_of.iter().copied().max().unwrap_or(0) {
        let members: Vec<usize> = (0..probes.len()).filter(|&i| round_of[i] == round).collect();
        let host = |a: IpAddr| {
            if a.is_ipv4() { format!("{a}/32") } else { format!("{a}/128") }
        };
        for &i in &members {
            if let Some(via) = probes[i].via {
                let _ = writeln!(script, "ip route replace {} via {via}", host(probes[i].addr));
            }
        }
        for &i in &members {
            let _ = writeln!(script, "probe {i} {} &", probes[i].addr);
        }
        script += "wait\n";
        for &i in &members {
            if probes[i].via.is_some() {
                let _ = writeln!(script, "ip route del {} 2>/dev/null || true", host(probes[i].addr));
            }
        }
    }
    script
}

/// From the router: a gateway's public address and a host behind it must
/// both be unreachable (the host through a temporary route via the gateway).
pub(super) fn run(engine: &Engine, tb: &Running) -> Result<Vec<CheckResult>, TestbedError> {
    let s = &tb.scenario;
    let mut probes = Vec::new();
    for g in s.nodes_with(Role::Gateway) {
        let Some(public) = s.public_addr(g) else {
            continue;
        };
        probes.push(Probe { gateway: g.name.clone(), what: format!("{} ({public})", g.name), addr: public, via: None });
        if let Some((host, addr)) = site_host(s, g) {
            probes.push(Probe {
                gateway: g.name.clone(),
                what: format!("{host} ({addr}) through it"),
                addr,
                via: Some(public),
            });
        }
    }
    let out = engine.run(&["exec", &tb.opts.router_namespace(s), "sh", "-c", &probe_script(&probes)])?;
    let blocked = |i: usize| out.lines().any(|l| l == format!("{i} blocked"));
    let mut results = Vec::new();
    for g in s.nodes_with(Role::Gateway) {
        let mine: Vec<(usize, &Probe)> = probes.iter().enumerate().filter(|(_, p)| p.gateway == g.name).collect();
        if mine.is_empty() {
            continue;
        }
        let reached: Vec<String> =
            mine.iter().filter(|(i, _)| !blocked(*i)).map(|(_, p)| format!("router reached {}", p.what)).collect();
        let detail = if reached.is_empty() {
            format!(
                "router cannot reach {}",
                mine.iter().map(|(_, p)| p.what.as_str()).collect::<Vec<_>>().join(" nor ")
            )
        } else {
            reached.join("; ")
        };
        results.push(CheckResult::new(CheckKind::Firewall, format!("firewall {}", g.name), reached.is_empty(), detail));
    }
    Ok(results)
}

/// A client or server on one of the gateway's site networks.
fn site_host(s: &Scenario, gw: &crate::scenario::Node) -> Option<(String, IpAddr)> {
    let isp = s.isp_link(gw)?.network.clone();
    let site_nets: Vec<&str> = gw.links.iter().filter(|l| l.network != isp).map(|l| l.network.as_str()).collect();
    s.nodes.iter().filter(|n| matches!(n.role, Role::Client | Role::Server)).find_map(|n| {
        n.links.iter().find(|l| site_nets.contains(&l.network.as_str())).map(|l| (n.name.clone(), l.addrs[0].addr()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(gw: &str, addr: &str, via: Option<&str>) -> Probe {
        Probe {
            gateway: gw.into(),
            what: addr.into(),
            addr: addr.parse().unwrap(),
            via: via.map(|v| v.parse().unwrap()),
        }
    }

    #[test]
    fn probes_of_one_address_go_in_separate_rounds() {
        let probes = [
            probe("gateway-a", "172.26.26.10", None),
            probe("gateway-a", "10.1.0.10", Some("172.26.26.10")),
            probe("gateway-b", "10.1.0.10", Some("172.27.27.10")),
        ];
        let script = probe_script(&probes);
        let rounds: Vec<&str> = script.split("wait\n").collect();
        assert_eq!(rounds.len(), 3, "{script}");
        assert!(rounds[0].contains("probe 0 172.26.26.10 &") && rounds[0].contains("probe 1 10.1.0.10 &"), "{script}");
        assert!(
            rounds[1].contains("ip route replace 10.1.0.10/32 via 172.27.27.10") && rounds[1].contains("probe 2"),
            "{script}"
        );
    }
}
