//! From the file as written to a checked [`Scenario`]: every name allowed,
//! every address inside its network and not taken twice on it, every route
//! via a neighbour, exactly one router, tunnels only between gateways, a
//! real server. Each error points at the line of the key or value at fault.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use toml::Spanned;

use super::names::{self, Kind};
use super::raw::{Prefix, RawNode, RawScenario, RawTunnel, Source, SpannedMap};
use super::{Link, Network, Node, Role, Route, Scenario, ScenarioError, Service, Tunnel};

/// Nodes and networks are numbered from 1 in one byte of their MAC
/// addresses (`nodefiles::mac`).
const MAX_COUNT: usize = 255;

type Result<T> = std::result::Result<T, ScenarioError>;

pub(super) fn resolve(text: &str, origin: &str) -> Result<Scenario> {
    let src = Source { text, origin };
    let raw = src.parse()?;
    let name = named(&src, Kind::Scenario, &raw.name)?;
    let networks = networks(&src, &raw)?;
    let nodes = nodes(&src, &raw, &networks)?;
    let service = Service {
        server: raw.service.server.get_ref().clone(),
        port: *raw.service.port.get_ref(),
        via: raw.service.via.as_ref().map(|v| v.get_ref().clone()),
    };
    let grading = super::grading::resolve(&src, raw.grading.as_ref())?;
    let mut scenario =
        Scenario { name, description: raw.description.clone(), networks, nodes, tunnels: Vec::new(), service, grading };
    check_gateways(&src, &scenario, &raw)?;
    scenario.tunnels = tunnels(&src, &scenario, &raw.tunnels)?;
    check_service(&src, &scenario, &raw)?;
    Ok(scenario)
}

/// The name, if it is allowed as a `kind`.
fn named(src: &Source, kind: Kind, name: &Spanned<String>) -> Result<String> {
    names::check(kind, name.get_ref()).map_err(|message| src.err(name.span(), message))?;
    Ok(name.get_ref().clone())
}

/// Fails on more than [`MAX_COUNT`] entries, at the first one too many.
fn at_most<V>(src: &Source, what: &str, map: &SpannedMap<V>) -> Result<()> {
    match map.keys().nth(MAX_COUNT) {
        Some(key) => Err(src.err(key.span(), format!("a scenario has at most {MAX_COUNT} {what}: remove some"))),
        None => Ok(()),
    }
}

fn networks(src: &Source, raw: &RawScenario) -> Result<Vec<Network>> {
    at_most(src, "networks", raw.networks.get_ref())?;
    let mut networks = Vec::new();
    for (name, n) in raw.networks.get_ref() {
        let name = named(src, Kind::Network, name)?;
        if n.subnets.get_ref().is_empty() {
            return Err(
                src.err(n.subnets.span(), format!("network {name} has no subnet: add one like \"10.1.0.0/16\""))
            );
        }
        let mut subnets = Vec::new();
        for s in n.subnets.get_ref() {
            let net = s.get_ref().0;
            if net.trunc() != net {
                return Err(src.err(s.span(), format!("subnet {net} has host bits set: write {}", net.trunc())));
            }
            subnets.push(net);
        }
        networks.push(Network { name, kind: n.kind, subnets });
    }
    Ok(networks)
}

fn nodes(src: &Source, raw: &RawScenario, networks: &[Network]) -> Result<Vec<Node>> {
    at_most(src, "nodes", raw.nodes.get_ref())?;
    // (network, address) -> node, to catch an address taken twice.
    let mut taken = HashMap::new();
    let mut nodes = Vec::new();
    let mut router = None;
    for (name, n) in raw.nodes.get_ref() {
        let name = named(src, Kind::Node, name)?;
        let role = *n.role.get_ref();
        if role == Role::Router
            && let Some(first) = router.replace(name.clone())
        {
            let message = format!("{name} is a second router (after {first}): a scenario has exactly one");
            return Err(src.err(n.role.span(), message));
        }
        let links = links(src, &name, n, networks, &mut taken)?;
        let routes = routes(src, &name, n, &links)?;
        nodes.push(Node { name, role, links, routes });
    }
    if router.is_none() {
        return Err(src.err(raw.nodes.span(), "a scenario needs a node with role = \"router\": none has it"));
    }
    Ok(nodes)
}

fn links(
    src: &Source,
    node: &str,
    raw: &RawNode,
    networks: &[Network],
    taken: &mut HashMap<(String, IpAddr), String>,
) -> Result<Vec<Link>> {
    if raw.links.get_ref().is_empty() {
        return Err(src.err(raw.links.span(), format!("node {node} has no link: give it an address on a network")));
    }
    let mut links = Vec::new();
    for (net_name, addrs) in raw.links.get_ref() {
        let Some(net) = networks.iter().find(|x| &x.name == net_name.get_ref()) else {
            let known = networks.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ");
            let message = format!("node {node} links to unknown network {:?}: use one of {known}", net_name.get_ref());
            return Err(src.err(net_name.span(), message));
        };
        if addrs.get_ref().is_empty() {
            return Err(src.err(addrs.span(), format!("node {node} has no address on {}: add one", net.name)));
        }
        let mut resolved = Vec::new();
        for a in addrs.get_ref() {
            let addr = a.get_ref().0;
            let Some(subnet) = net.subnets.iter().find(|s| s.contains(&addr)) else {
                let within = net.subnets.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ");
                return Err(src.err(a.span(), format!("node {node}: {addr} is not within {} ({within})", net.name)));
            };
            // The network address, and IPv4's broadcast address where the
            // subnet has one (not /31 and /32), cannot be a host's.
            let broadcast =
                addr.is_ipv4() && subnet.prefix_len() + 1 < subnet.max_prefix_len() && addr == subnet.broadcast();
            if addr == subnet.network() || broadcast {
                let message = format!("node {node}: {addr} is the network or broadcast address of {subnet}");
                return Err(src.err(a.span(), message));
            }
            if let Some(other) = taken.insert((net.name.clone(), addr), node.to_string()) {
                let message = format!("{addr} on {} is given to both {other} and {node}", net.name);
                return Err(src.err(a.span(), message));
            }
            resolved.push(IpNet::new(addr, subnet.prefix_len()).expect("prefix from a valid subnet"));
        }
        links.push(Link { network: net.name.clone(), addrs: resolved });
    }
    Ok(links)
}

fn routes(src: &Source, node: &str, raw: &RawNode, links: &[Link]) -> Result<Vec<Route>> {
    let mut routes = Vec::new();
    for (dst_text, via) in &raw.routes {
        let dst = match dst_text.get_ref().as_str() {
            "default" => None,
            text => Some(text.parse::<IpNet>().map_err(|_| {
                let message =
                    format!("node {node}: route destination {text:?} is not 'default' or a prefix like 10.0.0.0/8");
                src.err(dst_text.span(), message)
            })?),
        };
        let via_addr = via.get_ref().0;
        if dst.is_some_and(|d| d.addr().is_ipv4() != via_addr.is_ipv4()) {
            return Err(src.err(via.span(), format!("node {node}: route via {via_addr} mixes IPv4 and IPv6")));
        }
        let connected = links.iter().flat_map(|l| &l.addrs).any(|a| a.contains(&via_addr) && a.addr() != via_addr);
        if !connected {
            return Err(src.err(via.span(), format!("node {node}: route via {via_addr} is not on any of its links")));
        }
        routes.push(Route { dst, via: via_addr });
    }
    Ok(routes)
}

/// A gateway's public address is its first address on an ISP network.
fn check_gateways(src: &Source, scenario: &Scenario, raw: &RawScenario) -> Result<()> {
    for (name, node) in raw.nodes.get_ref() {
        let resolved = scenario.node(name.get_ref()).expect("every raw node was resolved");
        if resolved.role == Role::Gateway && scenario.isp_link(resolved).is_none() {
            return Err(src.err(node.links.span(), format!("gateway {name} has no link on an isp network: add one")));
        }
    }
    Ok(())
}

fn tunnels(src: &Source, scenario: &Scenario, raw: &[RawTunnel]) -> Result<Vec<Tunnel>> {
    let mut tunnels: Vec<Tunnel> = Vec::new();
    let mut names = BTreeSet::new();
    for t in raw {
        let [a, b] = &t.gateways;
        for g in [a, b] {
            match scenario.node(g.get_ref()) {
                Some(n) if n.role == Role::Gateway => {}
                Some(n) => return Err(src.err(g.span(), format!("tunnel end {} is not a gateway", n.name))),
                None => return Err(src.err(g.span(), format!("tunnel names unknown node {:?}", g.get_ref()))),
            }
        }
        let (a_name, b_name) = (a.get_ref(), b.get_ref());
        if a_name == b_name {
            return Err(src.err(b.span(), format!("tunnel joins {a_name} to itself: name two gateways")));
        }
        for side in &t.traffic {
            if side.get_ref().is_empty() {
                return Err(
                    src.err(side.span(), "tunnel traffic needs a selector on each side, like [\"10.1.0.0/16\"]")
                );
            }
        }
        // Connection and child SA names: gateway-a and gateway-s make a-s.
        let short = |g: &str| g.strip_prefix("gateway-").unwrap_or(g).to_string();
        let name = format!("{}-{}", short(a_name), short(b_name));
        if !names.insert(name.clone()) {
            return Err(src.err(a.span(), format!("two tunnels between {a_name} and {b_name}: keep one")));
        }
        let [ts_a, ts_b] = &t.traffic;
        let selectors = |side: &Spanned<Vec<Spanned<Prefix>>>| side.get_ref().iter().map(|p| p.get_ref().0).collect();
        tunnels.push(Tunnel {
            name,
            initiator: a_name.clone(),
            responder: b_name.clone(),
            initiator_ts: selectors(ts_a),
            responder_ts: selectors(ts_b),
        });
    }
    Ok(tunnels)
}

fn check_service(src: &Source, scenario: &Scenario, raw: &RawScenario) -> Result<()> {
    let svc = &raw.service;
    let server = svc.server.get_ref();
    if !scenario.node(server).is_some_and(|n| n.role == Role::Server) {
        let message = format!("service server {server:?} is not a node with role = \"server\"");
        return Err(src.err(svc.server.span(), message));
    }
    if *svc.port.get_ref() == 0 {
        return Err(src.err(svc.port.span(), "service port 0 cannot be listened on: use 1 to 65535"));
    }
    if let Some(via) = &svc.via {
        let gateway = scenario.node(via.get_ref()).filter(|n| n.role == Role::Gateway);
        if gateway.is_none() {
            return Err(src.err(via.span(), format!("service via {:?} is not a gateway", via.get_ref())));
        }
    }
    Ok(())
}
