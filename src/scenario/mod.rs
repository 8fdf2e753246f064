//! The declared topology. A scenario file (`manifests/*.toml`) is parsed into
//! raw structs that keep where each value is (`raw`), then resolved and
//! checked (`resolve`), before any container exists: every name is safe to
//! derive container and interface names from (`names`), every address fits
//! its network, no address is taken twice on a network, every route leaves
//! through a link the node has, every tunnel joins two gateways, every
//! grading weight is a known kind's (`grading`). Everything else (node
//! files, compose output, checks, grades) reads the resolved [`Scenario`].

mod grading;
mod names;
mod raw;
mod resolve;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

pub use grading::{AuthRequirement, CheckKind, Grading, MAX_POINTS};

/// The scenarios shipped with imgtool, embedded so that an installed binary
/// needs no checkout. `manifests/` stays the single source.
pub const BUILTIN: &[(&str, &str)] = &[
    ("site-to-site", include_str!("../../manifests/site-to-site.toml")),
    ("site-to-site-ipv6", include_str!("../../manifests/site-to-site-ipv6.toml")),
    ("host-to-host", include_str!("../../manifests/host-to-host.toml")),
];

pub const DEFAULT: &str = "site-to-site";

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("unknown scenario '{name}': use one of {known} or a path to a .toml file")]
    Unknown { name: String, known: String },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// One line: the file, the line of the key or value at fault, and what
    /// is wrong with it.
    #[error("{origin}:{line}: {message}")]
    Invalid { origin: String, line: usize, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetKind {
    /// A link between a gateway and the router: the "Internet" side.
    Isp,
    /// A site's or the cloud's own network.
    Site,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Router,
    Gateway,
    Client,
    Server,
}

impl Role {
    /// The image (as named in imgtool.toml) a node of this role runs.
    pub fn image(self) -> &'static str {
        match self {
            Role::Router => "router",
            Role::Gateway => "gateway",
            Role::Client | Role::Server => "client",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Network {
    pub name: String,
    pub kind: NetKind,
    pub subnets: Vec<IpNet>,
}

#[derive(Debug, Clone)]
pub struct Link {
    pub network: String,
    /// Addresses with the prefix length of the subnet they belong to.
    pub addrs: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `None` is the default route of the gateway's address family.
    pub dst: Option<IpNet>,
    pub via: IpAddr,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub role: Role,
    pub links: Vec<Link>,
    pub routes: Vec<Route>,
}

impl Node {
    pub fn link(&self, network: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.network == network)
    }
    /// All addresses of the node, without prefix.
    pub fn addrs(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.links.iter().flat_map(|l| l.addrs.iter().map(|a| a.addr()))
    }
}

#[derive(Debug, Clone)]
pub struct Tunnel {
    /// Connection and child SA name, e.g. `a-s`.
    pub name: String,
    pub initiator: String,
    pub responder: String,
    pub initiator_ts: Vec<IpNet>,
    pub responder_ts: Vec<IpNet>,
}

impl Tunnel {
    pub fn involves(&self, node: &str) -> bool {
        self.initiator == node || self.responder == node
    }
    /// (local, remote, local traffic, remote traffic) as seen from `node`.
    pub fn sides(&self, node: &str) -> (&str, &str, &[IpNet], &[IpNet]) {
        if self.initiator == node {
            (&self.initiator, &self.responder, &self.initiator_ts, &self.responder_ts)
        } else {
            (&self.responder, &self.initiator, &self.responder_ts, &self.initiator_ts)
        }
    }
}

#[derive(Debug, Clone)]
pub struct Service {
    pub server: String,
    pub port: u16,
    /// A gateway whose public address clients call; it forwards to the server.
    pub via: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub networks: Vec<Network>,
    pub nodes: Vec<Node>,
    pub tunnels: Vec<Tunnel>,
    pub service: Service,
    /// Points per check and the required authentication (`[grading]`).
    pub grading: Grading,
}

impl Scenario {
    /// A built-in scenario by name, or a scenario file by path.
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        Scenario::load_with_text(name_or_path).map(|(scenario, _)| scenario)
    }

    /// [`Scenario::load`], and the text it was read from (a testbed keeps it,
    /// so later commands run exactly what `up` started).
    pub fn load_with_text(name_or_path: &str) -> Result<(Scenario, String), ScenarioError> {
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Ok((Scenario::parse(text, &format!("manifests/{name_or_path}.toml"))?, text.to_string()));
        }
        let path = Path::new(name_or_path);
        if name_or_path.ends_with(".toml") || path.exists() {
            let text =
                std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.into(), source })?;
            return Ok((Scenario::parse(&text, name_or_path)?, text));
        }
        Err(ScenarioError::Unknown {
            name: name_or_path.into(),
            known: BUILTIN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        })
    }

    /// Parses and resolves scenario text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        resolve::resolve(text, origin)
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.name == name)
    }
    pub fn nodes_with(&self, role: Role) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(move |n| n.role == role)
    }
    pub fn router(&self) -> &Node {
        // resolve() guarantees exactly one router.
        self.nodes_with(Role::Router).next().expect("resolved scenario has a router")
    }
    pub fn tunnels_of<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Tunnel> + 'a {
        self.tunnels.iter().filter(move |t| t.involves(node))
    }
    /// Whether the scenario runs IPv6 only (every subnet is IPv6).
    pub fn ipv6_only(&self) -> bool {
        self.networks.iter().flat_map(|n| &n.subnets).all(|s| matches!(s, IpNet::V6(_)))
    }
    /// A gateway's link on its ISP network.
    pub fn isp_link<'a>(&self, node: &'a Node) -> Option<&'a Link> {
        node.links.iter().find(|l| self.network(&l.network).is_some_and(|n| n.kind == NetKind::Isp))
    }
    /// The gateway's public address: its first ISP address.
    pub fn public_addr(&self, node: &Node) -> Option<IpAddr> {
        self.isp_link(node).and_then(|l| l.addrs.first()).map(|a| a.addr())
    }
    /// The address clients call for the service: the server's own, or the
    /// public address of the gateway that forwards to it.
    pub fn service_addr(&self) -> IpAddr {
        let node = match &self.service.via {
            Some(gw) => self.node(gw).and_then(|n| self.public_addr(n)),
            None => self.node(&self.service.server).and_then(|n| n.addrs().next()),
        };
        node.expect("resolved scenario has a service address")
    }
    /// Node name to the index used in MAC addresses and such.
    pub fn node_index(&self) -> BTreeMap<&str, usize> {
        self.nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect()
    }
}

#[cfg(test)]
mod tests;
