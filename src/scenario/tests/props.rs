//! Property tests of the parser: whatever the text, it answers with a
//! scenario or one line `t.toml:<line>: ...`, never a panic; and what it
//! accepts keeps the promises the rest of imgtool relies on.

use std::collections::HashSet;
use std::fmt::Write as _;

use proptest::prelude::*;

use super::*;
use crate::scenario::names::{self, Kind};

/// 256 cases keep `cargo test --lib` fast; `PROPTEST_CASES=100000` for a
/// long hunt.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// Parses `text`; on error, checks that the error is one line naming the
/// origin and a line of the text.
fn parse_checked(text: &str) -> Result<Option<Scenario>, TestCaseError> {
    match Scenario::parse(text, "t.toml") {
        Ok(s) => Ok(Some(s)),
        Err(e) => {
            let e = e.to_string();
            prop_assert!(!e.contains('\n') && !e.contains('\r'), "error on several lines: {e:?}");
            let rest = e.strip_prefix("t.toml:").ok_or_else(|| TestCaseError::fail(format!("no origin: {e:?}")))?;
            let (line, message) =
                rest.split_once(": ").ok_or_else(|| TestCaseError::fail(format!("no line: {e:?}")))?;
            let line: usize = line.parse().map_err(|_| TestCaseError::fail(format!("bad line: {e:?}")))?;
            prop_assert!((1..=text.matches('\n').count() + 1).contains(&line), "line {line} outside the text: {e:?}");
            prop_assert!(!message.trim().is_empty(), "empty message: {e:?}");
            Ok(None)
        }
    }
}

/// What every resolved scenario guarantees to its users.
fn assert_invariants(s: &Scenario) -> Result<(), TestCaseError> {
    prop_assert!(names::check(Kind::Scenario, &s.name).is_ok(), "{}", s.name);
    let mut seen = HashSet::new();
    for n in &s.networks {
        prop_assert!(names::check(Kind::Network, &n.name).is_ok(), "{}", n.name);
        prop_assert!(seen.insert(&n.name), "network {} twice", n.name);
        prop_assert!(!n.subnets.is_empty() && n.subnets.iter().all(|x| x.trunc() == *x));
    }
    let mut seen = HashSet::new();
    let mut taken = HashSet::new();
    for node in &s.nodes {
        prop_assert!(names::check(Kind::Node, &node.name).is_ok(), "{}", node.name);
        prop_assert!(seen.insert(&node.name), "node {} twice", node.name);
        prop_assert!(!node.links.is_empty());
        for link in &node.links {
            let net = s.network(&link.network).ok_or_else(|| TestCaseError::fail("link to no network"))?;
            prop_assert!(!link.addrs.is_empty());
            for a in &link.addrs {
                // The address with its subnet's prefix is one of the network's subnets.
                prop_assert!(net.subnets.contains(&a.trunc()), "{a} not in {}", net.name);
                prop_assert!(a.addr() != a.network(), "{a} is a network address");
                prop_assert!(taken.insert((&link.network, a.addr())), "{a} twice on {}", link.network);
            }
        }
        for r in &node.routes {
            let on_link = node.links.iter().flat_map(|l| &l.addrs).any(|a| a.contains(&r.via) && a.addr() != r.via);
            prop_assert!(on_link, "{} routes via {}", node.name, r.via);
        }
        if node.role == Role::Gateway {
            prop_assert!(s.public_addr(node).is_some(), "gateway {} has no public address", node.name);
        }
    }
    prop_assert_eq!(s.nodes_with(Role::Router).count(), 1);
    for t in &s.tunnels {
        prop_assert!(t.initiator != t.responder);
        for end in [&t.initiator, &t.responder] {
            prop_assert!(s.node(end).is_some_and(|n| n.role == Role::Gateway), "tunnel end {end}");
        }
        prop_assert!(!t.initiator_ts.is_empty() && !t.responder_ts.is_empty());
    }
    prop_assert!(s.node(&s.service.server).is_some_and(|n| n.role == Role::Server));
    let _ = (s.router(), s.service_addr());
    Ok(())
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize),
    Duplicate(usize),
    Replace(usize, char),
}

/// Characters that mean something to TOML or to the scenario, and any other.
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            '"', '\'', '[', ']', '=', '{', '}', ',', '.', '#', '\n', '0', '1', 'a', '-', ' ', ':', '/'
        ]),
        any::<char>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    // A duplicated line is nearly always a duplicate key, which toml itself
    // refuses: weighted so that most cases get past toml to resolution.
    prop_oneof![
        2 => any::<usize>().prop_map(Edit::Delete),
        1 => any::<usize>().prop_map(Edit::Duplicate),
        6 => (any::<usize>(), interesting_char()).prop_map(|(i, c)| Edit::Replace(i, c)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for e in edits {
        if lines.is_empty() {
            break;
        }
        match *e {
            Edit::Delete(i) => {
                lines.remove(i % lines.len());
            }
            Edit::Duplicate(i) => {
                let i = i % lines.len();
                lines.insert(i, lines[i].clone());
            }
            Edit::Replace(i, c) => {
                let line = i % lines.len();
                let chars: Vec<char> = lines[line].chars().collect();
                if !chars.is_empty() {
                    let at = (i / lines.len()) % chars.len();
                    lines[line] = chars.iter().enumerate().map(|(k, &x)| if k == at { c } else { x }).collect();
                }
            }
        }
    }
    lines.join("\n") + "\n"
}

/// A valid name of `kind`, of any length it allows.
fn name(kind: Kind) -> impl Strategy<Value = String> {
    let inner = kind.max_len() - 2;
    proptest::string::string_regex(&format!("[a-z0-9]([a-z0-9-]{{0,{inner}}}[a-z0-9])?"))
        .expect("valid regex")
        .prop_filter("not reserved", move |n| names::check(kind, n).is_ok())
}

/// A star of sites: each gateway on its own ISP network with the router and
/// on its site's network with its clients; site 0 also holds the server,
/// and every other site has a tunnel to site 0.
#[derive(Debug, Clone)]
struct Model {
    name: String,
    v6: bool,
    clients: Vec<usize>,
    networks: Vec<String>,
    nodes: Vec<String>,
    port: u16,
}

fn model() -> impl Strategy<Value = Model> {
    (1..=3usize, any::<bool>())
        .prop_flat_map(|(sites, v6)| {
            let clients = prop::collection::vec(0..=2usize, sites);
            (Just(v6), clients)
        })
        .prop_flat_map(|(v6, clients)| {
            let sites = clients.len();
            // router, gateways, clients, server
            let node_count = 1 + sites + clients.iter().sum::<usize>() + 1;
            (
                name(Kind::Scenario),
                Just(v6),
                Just(clients),
                prop::collection::hash_set(name(Kind::Network), 2 * sites),
                prop::collection::hash_set(name(Kind::Node), node_count),
                1..=u16::MAX,
            )
        })
        .prop_map(|(name, v6, clients, networks, nodes, port)| Model {
            name,
            v6,
            clients,
            networks: networks.into_iter().collect(),
            nodes: nodes.into_iter().collect(),
            port,
        })
}

/// A node as the model lays it out: name, role, (network, address) links,
/// and the default route's gateway.
type Planned<'a> = (&'a str, Role, Vec<(String, String)>, Option<String>);

impl Model {
    fn isp(&self, site: usize) -> (String, String) {
        let net = if self.v6 { format!("fd00:ffff:{site}::") } else { format!("172.16.{site}.") };
        (self.networks[2 * site].clone(), net)
    }
    fn lan(&self, site: usize) -> (String, String) {
        let net = if self.v6 { format!("fd00:{site}::") } else { format!("10.{site}.0.") };
        (self.networks[2 * site + 1].clone(), net)
    }
    fn prefix(&self, base: &str, v4_len: u8) -> String {
        if self.v6 { format!("{base}/64") } else { format!("{base}0/{v4_len}") }
    }
    fn gateway(&self, site: usize) -> &str {
        &self.nodes[1 + site]
    }
    fn server(&self) -> &str {
        self.nodes.last().expect("a server")
    }

    /// Nodes in file order.
    fn layout(&self) -> Vec<Planned<'_>> {
        let sites = self.clients.len();
        let router = (0..sites).map(|i| self.isp(i)).map(|(n, b)| (n, format!("{b}1"))).collect();
        let mut out = vec![(self.nodes[0].as_str(), Role::Router, router, None)];
        let mut next = 1 + sites;
        for site in 0..sites {
            let ((isp, ib), (lan, lb)) = (self.isp(site), self.lan(site));
            let links = vec![(isp, format!("{ib}10")), (lan.clone(), format!("{lb}1"))];
            out.push((self.gateway(site), Role::Gateway, links, Some(format!("{ib}1"))));
            for c in 0..self.clients[site] {
                let links = vec![(lan.clone(), format!("{lb}{}", 10 + c))];
                out.push((self.nodes[next].as_str(), Role::Client, links, Some(format!("{lb}1"))));
                next += 1;
            }
        }
        let (lan, lb) = self.lan(0);
        out.push((self.server(), Role::Server, vec![(lan, format!("{lb}100"))], Some(format!("{lb}1"))));
        out
    }

    fn render(&self) -> String {
        let mut t = format!("name = \"{}\"\n\n[networks]\n", self.name);
        for site in 0..self.clients.len() {
            let ((isp, ib), (lan, lb)) = (self.isp(site), self.lan(site));
            let _ = writeln!(t, "{isp} = {{ kind = \"isp\", subnets = [\"{}\"] }}", self.prefix(&ib, 24));
            let _ = writeln!(t, "{lan} = {{ kind = \"site\", subnets = [\"{}\"] }}", self.prefix(&lb, 16));
        }
        for (node, role, links, via) in self.layout() {
            let role = format!("{role:?}").to_lowercase();
            let links: Vec<_> = links.iter().map(|(n, a)| format!("{n} = [\"{a}\"]")).collect();
            let _ = write!(t, "\n[nodes.{node}]\nrole = \"{role}\"\nlinks = {{ {} }}\n", links.join(", "));
            if let Some(via) = via {
                let _ = writeln!(t, "routes = {{ default = \"{via}\" }}");
            }
        }
        for site in 1..self.clients.len() {
            let (lan, hub) = (self.prefix(&self.lan(site).1, 16), self.prefix(&self.lan(0).1, 16));
            let (a, b) = (self.gateway(site), self.gateway(0));
            let _ = write!(t, "\n[[tunnels]]\ngateways = [\"{a}\", \"{b}\"]\ntraffic = [[\"{lan}\"], [\"{hub}\"]]\n");
        }
        let _ = write!(t, "\n[service]\nserver = \"{}\"\nport = {}\n", self.server(), self.port);
        t
    }
}

fn ip(text: &str) -> std::net::IpAddr {
    text.parse().expect("the model writes addresses")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_is_answered_in_one_line(text in any::<String>()) {
        if let Some(s) = parse_checked(&text)? {
            assert_invariants(&s)?;
        }
    }

    #[test]
    fn toml_like_text_is_answered_in_one_line(text in "([a-z\\-]{1,8} = (\"[a-z0-9.:/]{0,12}\"|[0-9]{1,6}|\\[\\]|\\{ *\\})\n|\\[{1,2}[a-z.\\-]{1,12}\\]{1,2}\n|#[^\n]{0,5}\n){0,12}") {
        if let Some(s) = parse_checked(&text)? {
            assert_invariants(&s)?;
        }
    }

    #[test]
    fn mutated_builtins_are_answered_in_one_line(
        base in prop::sample::select(BUILTIN.iter().map(|(_, text)| *text).collect::<Vec<_>>()),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let text = apply(base, &edits);
        if let Some(s) = parse_checked(&text)? {
            assert_invariants(&s)?;
        }
    }

    #[test]
    fn generated_scenarios_resolve_as_written(m in model()) {
        let text = m.render();
        let s = Scenario::parse(&text, "t.toml").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        assert_invariants(&s)?;
        prop_assert_eq!(&s.name, &m.name);
        let layout = m.layout();
        prop_assert_eq!(s.nodes.len(), layout.len());
        for (node, (name, role, links, via)) in s.nodes.iter().zip(&layout) {
            prop_assert_eq!(&node.name, name);
            prop_assert_eq!(node.role, *role);
            let got: Vec<_> = node.links.iter().map(|l| (l.network.as_str(), l.addrs[0].addr())).collect();
            let want: Vec<_> = links.iter().map(|(n, a)| (n.as_str(), ip(a))).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(node.routes.first().map(|r| r.via), via.as_deref().map(ip));
        }
        prop_assert_eq!(s.tunnels.len(), m.clients.len() - 1);
        prop_assert_eq!(s.service.port, m.port);
        prop_assert_eq!(s.service_addr(), ip(&layout.last().expect("server").2[0].1));
    }
}
