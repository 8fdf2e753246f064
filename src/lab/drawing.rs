//! An ASCII drawing of a scenario's topology, made from the resolved
//! scenario alone, so every scenario gets one. The router is on top; under
//! it, one column per network it is on; down each column, the nodes on that
//! network and, under each node, its other networks with their hosts. A
//! connector `|  ADDR` shows the address of the node next to it on the
//! network next to it. Columns that would make a row wider than
//! [`MAX_WIDTH`] start a new row; networks out of the router's reach follow
//! the rows; the tunnels come last.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::scenario::{Link, Node, Scenario};

/// Where, in a column, the connectors run.
const PIPE: usize = 4;
const GAP: usize = 4;
pub(super) const MAX_WIDTH: usize = 100;

fn addrs(link: &Link) -> String {
    link.addrs.iter().map(|a| a.addr().to_string()).collect::<Vec<_>>().join(", ")
}

fn connector(addr: &str) -> String {
    format!("{:PIPE$}|  {addr}", "")
}

/// What is drawn already: node -> where (for a reference to it), and the
/// networks drawn.
struct Drawn<'a> {
    nodes: BTreeMap<&'a str, String>,
    nets: Vec<&'a str>,
}

/// A node on one network only is a one-line leaf; any other is drawn in
/// full, with its other networks under it.
fn is_leaf(node: &Node) -> bool {
    node.links.len() == 1
}

/// The lines of network `net`, entered from node `parent`.
fn network<'a>(s: &'a Scenario, net: &'a str, parent: &str, drawn: &mut Drawn<'a>, out: &mut Vec<String>) {
    drawn.nets.push(net);
    let subnets = s.network(net).map(|n| n.subnets.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "));
    let label = format!("{net}: {}", subnets.unwrap_or_default());
    out.push(label.clone());
    let members: Vec<(&'a Node, &'a Link)> =
        s.nodes.iter().filter(|n| n.name != parent).filter_map(|n| n.link(net).map(|l| (n, l))).collect();
    let mut full = Vec::new();
    for (node, link) in &members {
        if let Some(under) = drawn.nodes.get(node.name.as_str()) {
            out.push(format!("  +- {} {} ({under})", node.name, addrs(link)));
        } else if is_leaf(node) {
            drawn.nodes.insert(&node.name, format!("drawn under {net}"));
            out.push(format!("  +- {} {}", node.name, addrs(link)));
        } else {
            drawn.nodes.insert(&node.name, format!("drawn under {net}"));
            full.push((*node, *link));
        }
    }
    for (i, (node, link)) in full.into_iter().enumerate() {
        if i > 0 {
            // A second node drawn in full hangs from the network again, not
            // from the last network of the node before it.
            out.push(format!("{label} (continued)"));
        }
        out.push(connector(&addrs(link)));
        let others: Vec<&'a Link> = node.links.iter().filter(|l| l.network != net).collect();
        let seen: Vec<&str> = others.iter().map(|l| l.network.as_str()).filter(|n| drawn.nets.contains(n)).collect();
        let also = if seen.is_empty() { String::new() } else { format!(" (also on {})", seen.join(", ")) };
        out.push(format!("[{}]{also}", node.name));
        for l in others {
            if !drawn.nets.contains(&l.network.as_str()) {
                out.push(connector(&addrs(l)));
                network(s, &l.network, &node.name, drawn, out);
            }
        }
    }
}

/// Columns side by side, under the router's box when `router` is given.
fn row(columns: &[Vec<String>], router: Option<&str>) -> String {
    let widths: Vec<usize> = columns.iter().map(|c| c.iter().map(|l| l.chars().count()).max().unwrap_or(0)).collect();
    let starts: Vec<usize> = widths.iter().scan(0, |x, w| Some(std::mem::replace(x, *x + w + GAP))).collect();
    let mut out = String::new();
    if let Some(router) = router {
        let (first, last) = (starts[0] + PIPE, starts[starts.len() - 1] + PIPE);
        let mid = (first + last) / 2;
        let boxed = format!("[{router}]");
        let _ = writeln!(out, "{:w$}{boxed}", "", w = mid.saturating_sub(boxed.len() / 2));
        let _ = writeln!(out, "{:mid$}|", "");
        let mut bus: Vec<char> = vec![' '; last + 1];
        for (x, c) in bus.iter_mut().enumerate().skip(first) {
            *c = if x == mid || starts.iter().any(|s| s + PIPE == x) { '+' } else { '-' };
        }
        let _ = writeln!(out, "{}", bus.into_iter().collect::<String>());
    }
    let height = columns.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..height {
        let mut line = String::new();
        for (c, col) in columns.iter().enumerate() {
            let cell = col.get(i).map_or("", String::as_str);
            let pad = starts[c].saturating_sub(line.chars().count());
            let _ = write!(line, "{:pad$}{cell}", "");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// Groups columns into rows no wider than [`MAX_WIDTH`] (a column wider
/// than that gets a row of its own).
fn rows(columns: Vec<Vec<String>>) -> Vec<Vec<Vec<String>>> {
    let mut rows: Vec<Vec<Vec<String>>> = Vec::new();
    let mut width = 0;
    for col in columns {
        let w = col.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        match rows.last_mut() {
            Some(r) if width + GAP + w <= MAX_WIDTH => {
                width += GAP + w;
                r.push(col);
            }
            _ => {
                width = w;
                rows.push(vec![col]);
            }
        }
    }
    rows
}

/// The drawing, ending with a newline.
pub(super) fn drawing(s: &Scenario) -> String {
    let router = s.router();
    let mut drawn = Drawn { nodes: BTreeMap::new(), nets: Vec::new() };
    drawn.nodes.insert(&router.name, "drawn at the top".into());
    let mut columns = Vec::new();
    for net in s.networks.iter().filter(|n| router.link(&n.name).is_some()) {
        let mut col = vec![connector(&router.link(&net.name).map(addrs).unwrap_or_default())];
        network(s, &net.name, &router.name, &mut drawn, &mut col);
        columns.push(col);
    }
    let mut out = String::new();
    for (i, r) in rows(columns).iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out += &row(r, Some(&router.name));
    }
    let rest: Vec<&str> = s.networks.iter().map(|n| n.name.as_str()).filter(|n| !drawn.nets.contains(n)).collect();
    if !rest.is_empty() {
        let _ = writeln!(out, "\nNetworks the router is not on:");
        for net in rest {
            if !drawn.nets.contains(&net) {
                let mut col = Vec::new();
                network(s, net, &router.name, &mut drawn, &mut col);
                out += &row(&[col], None);
            }
        }
    }
    if !s.tunnels.is_empty() {
        let _ = writeln!(out, "\nIPsec tunnels to build (through the router, between the gateways' public addresses):");
        let width = s.tunnels.iter().map(|t| t.name.len()).max().unwrap_or(0);
        for t in &s.tunnels {
            let public = |g: &str| s.node(g).and_then(|n| s.public_addr(n)).map(|a| a.to_string()).unwrap_or_default();
            let ts = |x: &[ipnet::IpNet]| x.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
            let _ = writeln!(
                out,
                "  {:width$}  {} {} <=====> {} {}\n  {:width$}  carries {} <-> {}",
                t.name,
                t.initiator,
                public(&t.initiator),
                t.responder,
                public(&t.responder),
                "",
                ts(&t.initiator_ts),
                ts(&t.responder_ts)
            );
        }
    }
    out
}
