//! The student's README: what the lab is, which files are theirs and where
//! they go, the commands, and the topology (drawing, nodes, networks,
//! tunnels), all from the scenario.

use std::fmt::Write as _;
use std::path::Path;

use crate::scenario::{NetKind, Role, Scenario};

use super::{
    Credentials, FIREWALL_NFT, FIREWALL_TARGET, IPSEC_CONF, IPSEC_DIR, IPSEC_SECRETS, IPSEC_SUBDIRS, InitOptions,
    MAX_FILE_BYTES, SWANCTL_CONF, SWANCTL_CONF_TARGET, SWANCTL_DIR, SWANCTL_SUBDIRS, drawing, shown,
};

fn role(r: Role) -> &'static str {
    match r {
        Role::Router => "router (the Internet)",
        Role::Gateway => "gateway",
        Role::Client => "client",
        Role::Server => "server",
    }
}

fn kind(k: NetKind) -> &'static str {
    match k {
        NetKind::Isp => "isp (Internet side)",
        NetKind::Site => "site",
    }
}

fn join<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
}

/// The commands a student runs, their comments aligned.
fn commands(scenario: &str, dir: &str, gateway: &str) -> String {
    let lines = [
        (format!("imgtool up {scenario} --lab {dir}"), "start the testbed with your files".to_string()),
        (format!("imgtool lab reload {dir}"), "load your edited files into the running gateways".into()),
        (format!("imgtool exec {gateway}"), format!("a shell in {gateway}: swanctl --list-sas, nft list ruleset")),
        (format!("imgtool check --lab {dir}"), "your score, with a hint for each check that fails".into()),
    ];
    let width = lines.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    lines.iter().map(|(c, what)| format!("{c:width$}  # {what}\n")).collect()
}

pub(super) fn readme(s: &Scenario, dir: &Path, opts: &InitOptions) -> String {
    let creds = opts.credentials;
    let dir = shown(dir);
    let (ike, folder, subdirs) = if opts.legacy {
        ("strongSwan's legacy `ipsec.conf` and `ipsec.secrets`", IPSEC_DIR, IPSEC_SUBDIRS)
    } else {
        ("strongSwan's `swanctl.conf`", SWANCTL_DIR, SWANCTL_SUBDIRS)
    };
    let gateways: Vec<&str> = s.nodes_with(Role::Gateway).map(|g| g.name.as_str()).collect();
    let mut r = format!(
        "# VPN lab: {name}

{description}

In this lab you build the IPsec VPN of the network below: the IKE
configuration of each gateway ({ike}) and its
firewall (an nftables ruleset, `firewall.nft`). The addresses, the routes,
and the router that stands for the Internet are set up for you.

## Your files

| file | copied into | at |
|---|---|---|
",
        name = s.name,
        description = s.description.trim(),
    );
    for g in &gateways {
        if opts.legacy {
            let _ = writeln!(r, "| `{g}/{IPSEC_CONF}` | {g} | `/etc/{IPSEC_CONF}` |");
            let _ = writeln!(r, "| `{g}/{IPSEC_SECRETS}` | {g} | `/etc/{IPSEC_SECRETS}` |");
        } else {
            let _ = writeln!(r, "| `{g}/{SWANCTL_CONF}` | {g} | `{SWANCTL_CONF_TARGET}` |");
        }
        let _ = writeln!(r, "| `{g}/{FIREWALL_NFT}` | {g} | `{FIREWALL_TARGET}` |");
    }
    let _ = write!(
        r,
        "
Each template lists what the assignment requires of its gateway, with
TODOs where your configuration goes. Certificates and keys of your own go
under `<gateway>/{folder}/<sub>/`, as PEM ({folders}):
imgtool copies them to `/etc/{folder}/<sub>/` in that gateway. Every
file must be UTF-8 text of at most {size}, and no link. Other files at
the top of this folder, like this README, stay here.

## Commands

```sh
{commands}```

## Topology

```text
{drawing}```

### Nodes

| node | role | network | addresses |
|---|---|---|---|
",
        folders = join(subdirs.iter().map(|d| format!("`{d}`"))),
        size = super::size(MAX_FILE_BYTES),
        commands = commands(&s.name, &dir, gateways.first().copied().unwrap_or("NODE")),
        drawing = drawing::drawing(s),
    );
    for n in &s.nodes {
        for (i, l) in n.links.iter().enumerate() {
            let (name, role) = if i == 0 { (n.name.as_str(), role(n.role)) } else { ("", "") };
            let _ = writeln!(r, "| {name} | {role} | {} | {} |", l.network, join(l.addrs.iter()));
        }
    }
    r += "\n### Networks\n\n| network | kind | subnets | nodes |\n|---|---|---|---|\n";
    for net in &s.networks {
        let on = s.nodes.iter().filter(|n| n.link(&net.name).is_some()).map(|n| n.name.as_str());
        let _ = writeln!(r, "| {} | {} | {} | {} |", net.name, kind(net.kind), join(&net.subnets), join(on));
    }
    r += "\n### Tunnels to build\n\n";
    if s.tunnels.is_empty() {
        r += "None.\n";
    } else {
        r += "| tunnel | initiator | responder | traffic on the initiator's side | traffic on the responder's side |\n";
        r += "|---|---|---|---|---|\n";
        for t in &s.tunnels {
            let public = |g: &str| s.node(g).and_then(|n| s.public_addr(n)).map(|a| a.to_string()).unwrap_or_default();
            let _ = writeln!(
                r,
                "| {} | {} ({}) | {} ({}) | {} | {} |",
                t.name,
                t.initiator,
                public(&t.initiator),
                t.responder,
                public(&t.responder),
                join(&t.initiator_ts),
                join(&t.responder_ts)
            );
        }
    }
    let via = s.service.via.as_ref().map_or_else(String::new, |g| format!(", which {g} forwards to it"));
    let _ = write!(
        r,
        "\n### Service\n\nThe clients call {server} on TCP port {port} at {addr}{via}.\n",
        server = s.service.server,
        port = s.service.port,
        addr = s.service_addr(),
    );
    r += "\n## Credentials\n\n";
    r += match creds {
        Credentials::Certificates => {
            "The gateways authenticate each other with certificates. At `imgtool up`,
imgtool makes a certificate authority for the testbed and puts into each
gateway the CA's certificate (`/etc/swanctl/x509ca/ca.pem`), the gateway's
certificate (`/etc/swanctl/x509/<gateway>.pem`, for the identity
`<gateway>`) and its key (`/etc/swanctl/pkcs8/<gateway>.key`). You may
make your own with `pki` inside a gateway instead, and save them here.
"
        }
        Credentials::Psk => {
            "The gateways authenticate each other with a pre-shared key: choose one
per tunnel, long and random, the same on both of its gateways.
"
        }
    };
    r
}
