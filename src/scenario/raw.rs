//! The scenario file as written, and its resolution into a checked
//! [`Scenario`]. Errors name the file and the line of the offending value.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use indexmap::IndexMap;
use ipnet::IpNet;
use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default)]
    description: String,
    networks: IndexMap<String, RawNetwork>,
    nodes: IndexMap<String, RawNode>,
    #[serde(default)]
    tunnels: Vec<RawTunnel>,
    service: RawService,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    kind: NetKind,
    subnets: Vec<IpNet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    role: Role,
    links: IndexMap<String, Vec<IpAddr>>,
    #[serde(default)]
    routes: IndexMap<String, IpAddr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTunnel {
    gateways: [String; 2],
    traffic: [Vec<IpNet>; 2],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    server: String,
    port: u16,
    via: Option<String>,
}

struct Ctx<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Ctx<'_> {
    /// An error at the first line that mentions `needle` (the value at fault).
    fn err(&self, needle: &str, message: String) -> ScenarioError {
        let line =
            self.text.lines().position(|l| !l.trim_start().starts_with('#') && l.contains(needle)).map_or(1, |i| i + 1);
        ScenarioError::Invalid { origin: self.origin.into(), line, message }
    }
}

/// Linux interface names (our link names inside nodes) are at most 15 bytes.
const IFNAMSIZ: usize = 15;

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= IFNAMSIZ
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

pub(super) fn resolve(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    let cx = Ctx { text, origin };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| text[..s.start].lines().count().max(1));
        let message = e.message().trim().to_string();
        ScenarioError::Invalid { origin: origin.into(), line, message }
    })?;

    let mut networks = Vec::new();
    for (name, n) in raw.networks {
        if !valid_name(&name) {
            return Err(cx.err(&name, format!("network name '{name}': use 1 to 15 of a-z, 0-9 and '-'")));
        }
        if n.subnets.is_empty() {
            return Err(cx.err(&name, format!("network {name} has no subnet")));
        }
        for s in &n.subnets {
            if s.trunc() != *s {
                return Err(
                    cx.err(&s.to_string(), format!("subnet {s} has host bits set (did you mean {}?)", s.trunc()))
                );
            }
        }
        networks.push(Network { name, kind: n.kind, subnets: n.subnets });
    }

    // (network, address) -> node, to catch an address taken twice.
    let mut taken: HashMap<(String, IpAddr), String> = HashMap::new();
    let mut nodes = Vec::new();
    for (name, n) in raw.nodes {
        if !valid_name(&name) {
            return Err(cx.err(&name, format!("node name '{name}': use 1 to 15 of a-z, 0-9 and '-'")));
        }
        let mut links = Vec::new();
        for (net_name, addrs) in n.links {
            let net = networks
                .iter()
                .find(|x| x.name == net_name)
                .ok_or_else(|| cx.err(&net_name, format!("node {name} links to unknown network '{net_name}'")))?;
            if addrs.is_empty() {
                return Err(cx.err(&net_name, format!("node {name} has no address on {net_name}")));
            }
            let mut resolved = Vec::new();
            for a in addrs {
                let subnet = net.subnets.iter().find(|s| s.contains(&a)).ok_or_else(|| {
                    let within = net.subnets.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ");
                    cx.err(&a.to_string(), format!("node {name}: {a} is not within {net_name} ({within})"))
                })?;
                if a == subnet.network()
                    || (subnet.prefix_len() < subnet.max_prefix_len() - 1 && a == subnet.broadcast() && a.is_ipv4())
                {
                    return Err(cx.err(
                        &a.to_string(),
                        format!("node {name}: {a} is the network or broadcast address of {subnet}"),
                    ));
                }
                if let Some(other) = taken.insert((net_name.clone(), a), name.clone()) {
                    return Err(
                        cx.err(&a.to_string(), format!("{a} on {net_name} is given to both {other} and {name}"))
                    );
                }
                resolved.push(IpNet::new(a, subnet.prefix_len()).expect("prefix from a valid subnet"));
            }
            links.push(Link { network: net_name, addrs: resolved });
        }
        if links.is_empty() {
            return Err(cx.err(&format!("[nodes.{name}]"), format!("node {name} has no link")));
        }
        let mut routes = Vec::new();
        for (dst, via) in n.routes {
            let dst = if dst == "default" {
                None
            } else {
                Some(dst.parse::<IpNet>().map_err(|_| {
                    cx.err(
                        &dst,
                        format!("node {name}: route destination '{dst}' is not 'default' or a prefix like 10.0.0.0/8"),
                    )
                })?)
            };
            if dst.is_some_and(|d| d.addr().is_ipv4() != via.is_ipv4()) {
                return Err(cx.err(&via.to_string(), format!("node {name}: route via {via} mixes IPv4 and IPv6")));
            }
            let connected = links.iter().flat_map(|l| &l.addrs).any(|a| a.contains(&via) && a.addr() != via);
            if !connected {
                return Err(
                    cx.err(&via.to_string(), format!("node {name}: route via {via} is not on any of its links"))
                );
            }
            routes.push(Route { dst, via });
        }
        nodes.push(Node { name, role: n.role, links, routes });
    }

    let routers = nodes.iter().filter(|n| n.role == Role::Router).count();
    if routers != 1 {
        return Err(cx.err("role = \"router\"", format!("a scenario needs exactly one router node, found {routers}")));
    }

    let mut scenario = Scenario {
        name: raw.name,
        description: raw.description,
        networks,
        nodes,
        tunnels: Vec::new(),
        service: Service { server: raw.service.server, port: raw.service.port, via: raw.service.via },
    };
    for node in &scenario.nodes {
        if node.role == Role::Gateway && scenario.isp_link(node).is_none() {
            return Err(cx.err(
                &format!("[nodes.{}]", node.name),
                format!("gateway {} has no link on an isp network", node.name),
            ));
        }
    }

    let mut names = BTreeSet::new();
    for t in raw.tunnels {
        let [a, b] = &t.gateways;
        for g in [a, b] {
            match scenario.node(g) {
                Some(n) if n.role == Role::Gateway => {}
                Some(_) => return Err(cx.err(g, format!("tunnel end {g} is not a gateway"))),
                None => return Err(cx.err(g, format!("tunnel names unknown node '{g}'"))),
            }
        }
        if a == b {
            return Err(cx.err(a, format!("tunnel joins {a} to itself")));
        }
        let [ts_a, ts_b] = t.traffic;
        if ts_a.is_empty() || ts_b.is_empty() {
            return Err(cx.err("traffic", "tunnel traffic needs a selector on each side".into()));
        }
        let short = |g: &str| g.strip_prefix("gateway-").unwrap_or(g).to_string();
        let name = format!("{}-{}", short(a), short(b));
        if !names.insert(name.clone()) {
            return Err(cx.err(a, format!("two tunnels between {a} and {b}")));
        }
        scenario.tunnels.push(Tunnel {
            name,
            initiator: a.clone(),
            responder: b.clone(),
            initiator_ts: ts_a,
            responder_ts: ts_b,
        });
    }

    let svc = &scenario.service;
    match scenario.node(&svc.server) {
        Some(n) if n.role == Role::Server => {}
        _ => {
            return Err(
                cx.err(&svc.server, format!("service server '{}' is not a node with role \"server\"", svc.server))
            );
        }
    }
    if let Some(via) = &svc.via {
        match scenario.node(via) {
            Some(n) if n.role == Role::Gateway => {}
            _ => return Err(cx.err(via, format!("service via '{via}' is not a gateway"))),
        }
    }
    Ok(scenario)
}
