//! The student's starting files for one gateway. Each states, from the
//! scenario, what the assignment requires of that gateway (its addresses,
//! its peers, the tunnels it is in and which side starts them, the subnets
//! each carries, identities, certificate files, proposals) and leaves the
//! configuration itself to the student: `swanctl.conf` is comments and empty
//! sections, `firewall.nft` comments only. Both load as they are, and
//! configure no tunnel and no filter.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::nodefiles::{ESP_PROPOSALS, IKE_PROPOSALS};
use crate::scenario::{NetKind, Node, Scenario, Tunnel};

use super::{Credentials, FIREWALL_TARGET, SWANCTL_CONF_TARGET, SWANCTL_DIR};

/// Comment lines wrap before this column.
const WIDTH: usize = 78;

/// A comment block being written: `# ` lines, wrapped at word boundaries.
#[derive(Default)]
pub(super) struct Doc(pub(super) String);

impl Doc {
    /// `text` wrapped, its first line after `first`, the others after `rest`.
    pub(super) fn wrapped(&mut self, first: &str, rest: &str, text: &str) {
        let mut line = format!("# {first}");
        let mut fresh = true;
        for word in text.split_whitespace() {
            if !fresh && line.chars().count() + 1 + word.chars().count() > WIDTH {
                self.0 += line.trim_end();
                self.0.push('\n');
                line = format!("# {rest}");
                fresh = true;
            }
            if !fresh {
                line.push(' ');
            }
            line += word;
            fresh = false;
        }
        self.0 += line.trim_end();
        self.0.push('\n');
    }
    pub(super) fn para(&mut self, text: &str) {
        self.wrapped("", "", text);
    }
    /// A bullet under a paragraph.
    pub(super) fn item(&mut self, text: &str) {
        self.wrapped("  - ", "    ", text);
    }
    /// A bullet under a numbered point (`1. ...`).
    pub(super) fn point(&mut self, text: &str) {
        self.wrapped("   - ", "     ", text);
    }
    /// A line as it is (a table row, a code shape).
    pub(super) fn verbatim(&mut self, text: &str) {
        self.0 += format!("# {text}").trim_end();
        self.0.push('\n');
    }
    pub(super) fn blank(&mut self) {
        self.0 += "#\n";
    }
    pub(super) fn title(&mut self, text: &str) {
        let rule = format!("# {}\n", "-".repeat(WIDTH - 2));
        self.blank();
        self.0 += &rule;
        self.verbatim(text);
        self.0 += &rule;
    }
}

pub(super) fn list<T: ToString>(items: &[T]) -> String {
    items.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
}

/// The public address of a node by name, as text.
pub(super) fn public(s: &Scenario, name: &str) -> String {
    s.node(name).and_then(|n| s.public_addr(n)).map_or_else(|| "(no public address)".into(), |a| a.to_string())
}

/// The gateway's site networks: (name, subnets).
fn sites<'a>(s: &'a Scenario, gw: &'a Node) -> Vec<(&'a str, &'a [IpNet])> {
    gw.links
        .iter()
        .filter_map(|l| s.network(&l.network))
        .filter(|n| n.kind == NetKind::Site)
        .map(|n| (n.name.as_str(), n.subnets.as_slice()))
        .collect()
}

/// The swanctl.conf template of gateway `gw`.
pub(super) fn swanctl_conf(s: &Scenario, gw: &Node, creds: Credentials) -> String {
    let me = &gw.name;
    let mut d = Doc::default();
    d.para(&format!("swanctl.conf of {me} (scenario {}): your IKE configuration.", s.name));
    d.blank();
    d.para(&format!(
        "imgtool copies this file to {SWANCTL_CONF_TARGET} in {me}, where strongSwan loads it with \
         `swanctl --load-all`; after an edit, `imgtool lab reload` loads it again. As it is, it is valid \
         and configures no tunnel. Lines that start with # are comments."
    ));
    d.para("Every section and setting: https://docs.strongswan.org/docs/latest/swanctl/swanctlConf.html");
    requirements(&mut d, s, gw, false);
    credentials(&mut d, me, creds, false);
    d.blank();
    d.para("TODO: write one connection per tunnel above in the connections section.");
    let tunnels: Vec<&Tunnel> = s.tunnels_of(me).collect();
    let mut c = d.0;
    c += "\nconnections {\n";
    for t in &tunnels {
        c += &format!("  # TODO: tunnel {}\n", t.name);
    }
    c += "}\n";
    if creds == Credentials::Psk {
        c += "\nsecrets {\n";
        for t in &tunnels {
            c += &format!("  # TODO: the pre-shared key of tunnel {}\n", t.name);
        }
        c += "}\n";
    }
    c
}

/// What the assignment requires of gateway `gw`'s IKE configuration, in
/// either format (`legacy`: ipsec.conf, where a conn and its child SA
/// share one name).
pub(super) fn requirements(d: &mut Doc, s: &Scenario, gw: &Node, legacy: bool) {
    let me = &gw.name;
    d.title(&format!("What the assignment requires of {me}"));
    let isp = s.isp_link(gw).map_or("", |l| l.network.as_str());
    d.para(&format!("{me}'s public address (on {isp}, the Internet side): {}", public(s, me)));
    for (net, subnets) in sites(s, gw) {
        d.para(&format!("{me}'s site network {net}: {}", list(subnets)));
    }
    let tunnels: Vec<&Tunnel> = s.tunnels_of(me).collect();
    if tunnels.is_empty() {
        d.blank();
        d.para(&format!("{me} is in no tunnel of this scenario: configure no connection."));
    }
    for t in &tunnels {
        let (_, peer, local_ts, remote_ts) = t.sides(me);
        let name = &t.name;
        d.blank();
        d.para(&format!("Tunnel {name}, between {me} and {peer}:"));
        d.item(&if legacy {
            format!("TODO: name its conn \"{name}\" (`imgtool check` looks for it by that name)")
        } else {
            format!(
                "TODO: name both the connection and its child SA \"{name}\" (`imgtool check` looks for them by that name)"
            )
        });
        d.item(&format!("IKE version 2, between {} ({me}) and {} ({peer})", public(s, me), public(s, peer)));
        d.item(&if t.initiator == *me {
            format!("{me} initiates {name}; {peer} only responds")
        } else {
            format!("{peer} initiates {name}; {me} only responds (it waits for {peer})")
        });
        d.item("the child SA carries, in tunnel mode:");
        d.verbatim(&format!("      {} (on {me}'s side) <-> {} (on {peer}'s side)", list(local_ts), list(remote_ts)));
        d.item(&format!("IKE proposals, in this order: {}", IKE_PROPOSALS.replace(',', ", ")));
        d.item(&format!("ESP proposals, in this order: {}", ESP_PROPOSALS.replace(',', ", ")));
        d.item(&format!("{me} proves that it is \"{me}\"; {peer} must prove that it is \"{peer}\""));
    }
}

/// How gateway `me` authenticates: the files imgtool makes for it, or the
/// pre-shared key the student chooses, in either format.
pub(super) fn credentials(d: &mut Doc, me: &str, creds: Credentials, legacy: bool) {
    match creds {
        Credentials::Certificates => {
            d.title("Credentials: certificates");
            d.para(&format!(
                "At `imgtool up`, imgtool makes a certificate authority (CA) for the testbed and puts these \
                 files into {me}:"
            ));
            let (ca, cert, key) = if legacy {
                ("/etc/ipsec.d/cacerts", "/etc/ipsec.d/certs", "/etc/ipsec.d/private")
            } else {
                ("/etc/swanctl/x509ca", "/etc/swanctl/x509", "/etc/swanctl/pkcs8")
            };
            let files = [
                (format!("{ca}/ca.pem"), "the CA's certificate: trust what it signed".to_string()),
                (format!("{cert}/{me}.pem"), format!("{me}'s certificate")),
                (format!("{key}/{me}.key"), format!("{me}'s private key (Ed25519, PKCS#8)")),
            ];
            let width = files.iter().map(|(f, _)| f.len()).max().unwrap_or(0);
            for (file, what) in &files {
                d.verbatim(&format!("  {file:width$}  {what}"));
            }
            d.para(&format!(
                "{me}'s certificate has the subject CN={me} and the subject alternative name {me}, its \
                 identity. The peers have theirs, signed by the same CA."
            ));
            d.para(if legacy {
                "charon trusts every CA certificate in cacerts by itself. A conn names its own certificate \
                 by file name (leftcert), and ipsec.secrets names the private key (a PKCS8 entry)."
            } else {
                "swanctl loads every file in those folders by itself; a connection names its own \
                 certificate by file name."
            });
            d.blank();
            let (folder, subs) = if legacy {
                ("ipsec.d", ["cacerts", "certs", "private"])
            } else {
                (SWANCTL_DIR, ["x509ca", "x509", "pkcs8"])
            };
            d.para(&format!(
                "Or make your own with `pki` inside the gateway (`imgtool exec {me}`) and save them, as PEM, \
                 in this folder under {folder}/{}/, {folder}/{}/ and {folder}/{}/: imgtool copies them to the \
                 same folders under /etc/{folder}/.",
                subs[0], subs[1], subs[2]
            ));
        }
        Credentials::Psk => {
            d.title("Credentials: a pre-shared key");
            d.para(&format!(
                "The two gateways of a tunnel authenticate each other with a key that you choose: long and \
                 random, and the same on both gateways. It goes in {}, for the identities of the two gateways.",
                if legacy { "ipsec.secrets" } else { "the secrets section below" }
            ));
        }
    }
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

/// The firewall.nft template of gateway `gw`: comments only.
pub(super) fn firewall_nft(s: &Scenario, gw: &Node) -> String {
    let me = &gw.name;
    let isp = s.isp_link(gw);
    let isp_if = isp.map_or("(none)", |l| l.network.as_str());
    let my_addr = public(s, me);
    let mut d = Doc::default();
    d.para(&format!("firewall.nft of {me} (scenario {}): your nftables ruleset.", s.name));
    d.blank();
    d.para(&format!(
        "imgtool copies this file to {FIREWALL_TARGET} in {me} and loads it with `nft -f`; after an edit, \
         `imgtool lab reload` loads it again. As it is (comments only) it loads and filters nothing: {me} \
         is wide open. Begin your ruleset with `flush ruleset`, so that loading the file again replaces \
         your rules instead of adding a second copy."
    ));
    d.para("Syntax: https://wiki.nftables.org/wiki-nftables/index.php/Quick_reference-nftables_in_10_minutes");
    d.blank();
    d.para("The shape of a ruleset (replace each <...>):");
    for line in [
        "  table inet <table name> {",
        "    chain <chain name> {",
        "      type <filter or nat> hook <hook> priority <priority>; policy <accept or drop>;",
        "      <one rule per line>",
        "    }",
        "  }",
    ] {
        d.verbatim(line);
    }
    d.para("Hooks: input (to the gateway itself), forward (through it), prerouting and postrouting (for NAT).");
    d.title(&format!("{me}'s interfaces (each is named after its network)"));
    let width = gw.links.iter().map(|l| l.network.len()).max().unwrap_or(0);
    let addr_width = gw.links.iter().map(|l| list(&l.addrs).len()).max().unwrap_or(0);
    for l in &gw.links {
        let kind = match s.network(&l.network).map(|n| n.kind) {
            Some(NetKind::Isp) => "the Internet side, towards the router",
            _ => "a site network",
        };
        d.verbatim(&format!("  {:width$}  {:addr_width$}  {kind}", l.network, list(&l.addrs)));
    }

    d.title(&format!("What the assignment requires of {me}"));
    let peers: BTreeSet<String> =
        s.tunnels_of(me).map(|t| t.sides(me).1).map(|p| format!("{} ({p})", public(s, p))).collect();
    let peers: Vec<String> = peers.into_iter().collect();
    d.para(&format!("1. From the Internet side ({isp_if}), {me} itself accepts only"));
    if peers.is_empty() {
        d.point(&format!("no IKE nor ESP at all: {me} is in no tunnel"));
    } else {
        d.point(&format!("IKE (UDP, ports 500 and 4500) from its peers: {}", peers.join(", ")));
        d.point("ESP (protocol 50) from the same peers");
    }
    d.point(&format!("replies to what {me} sent itself"));
    d.point(&format!(
        "packets that came through a tunnel: kernel ESP hands decrypted packets in on {isp_if} again, \
             marked as having been through IPsec; userspace ESP hands them in on the interface ipsec0"
    ));
    if isp.is_some_and(|l| l.addrs.iter().any(|a| a.addr().is_ipv6())) {
        d.point("IPv6 neighbour discovery (ICMPv6 types 133 to 136): without it IPv6 stops on the link");
    }
    d.wrapped(
        "   ",
        "   ",
        &format!("and drops everything else: the router must not reach {my_addr}, not even with ping."),
    );
    let site_nets: Vec<IpNet> = sites(s, gw).iter().flat_map(|(_, subs)| subs.iter().copied()).collect();
    let behind = s
        .nodes
        .iter()
        .filter(|n| n.name != *me && sites(s, gw).iter().any(|(net, _)| n.link(net).is_some()))
        .find_map(|n| n.addrs().next().map(|a| format!(" ({} {a})", n.name)))
        .unwrap_or_default();
    d.wrapped(
        "",
        "   ",
        &format!(
            "2. Forwarding: hosts on {me}'s site networks may open connections to anywhere; from {isp_if}, a \
             packet reaches them only through a tunnel or as a reply. The router must not reach a host \
             behind {me}{behind}, not even with a route via {my_addr}."
        ),
    );
    // The NAT is imgtool's (nodefiles::nat_table, loaded after this file):
    // the student is told what it does, so as not to undo it.
    let forward = match (s.service.via.as_deref() == Some(me.as_str()), s.node(&s.service.server)) {
        (true, Some(server)) => {
            let family = s.public_addr(gw);
            let to = server.addrs().find(|a| family.is_some_and(|f| same_family(*a, f)));
            format!(
                ", and forwards TCP port {port} of {my_addr} to {} {} (destination NAT)",
                server.name,
                to.map_or_else(|| "(no address)".into(), |a| a.to_string()),
                port = s.service.port
            )
        }
        _ => String::new(),
    };
    d.wrapped(
        "",
        "   ",
        &format!(
            "3. NAT is imgtool's, not yours: its table inet imgtool_nat, loaded after this file (and again \
             after `imgtool lab reload`), gives what leaves a site network for the Internet {me}'s address \
             {my_addr} (source NAT){forward}. Your own rules must not NAT what a tunnel carries:"
        ),
    );
    for t in s.tunnels_of(me) {
        let (_, _, local_ts, remote_ts) = t.sides(me);
        let carries_sites = site_nets.iter().any(|n| local_ts.iter().any(|ts| ts.contains(n)));
        d.point(&if carries_sites || site_nets.is_empty() {
            format!(
                "{} -> {} (tunnel {}) keeps its addresses: NATed, it would no longer match the tunnel \
                     and would leave in the clear",
                list(local_ts),
                list(remote_ts),
                t.name
            )
        } else {
            format!(
                "tunnel {} carries {me}'s own address only: traffic from its site networks enters it \
                     once NATed to {my_addr}",
                t.name
            )
        });
    }
    let n = 4;
    d.wrapped(
        "",
        "   ",
        &format!("{n}. What {me}'s site networks send to {me} itself, and what {me} sends, is not restricted."),
    );
    d.blank();
    d.para("TODO: write your ruleset below.");
    d.0
}
