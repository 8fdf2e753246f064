use std::path::{Path, PathBuf};

use super::*;
use crate::nodefiles::{ESP_PROPOSALS, IKE_PROPOSALS};
use crate::scenario::{BUILTIN, Node};

mod legacy;
mod load;

fn builtins() -> Vec<Scenario> {
    BUILTIN.iter().map(|(name, _)| Scenario::load(name).unwrap()).collect()
}

/// The built-in scenarios and [`wide`].
fn all_scenarios() -> Vec<Scenario> {
    let mut all = builtins();
    all.push(wide());
    all
}

fn gateways(s: &Scenario) -> Vec<&Node> {
    s.nodes_with(Role::Gateway).collect()
}

/// A fresh lab folder for `s` in a temporary directory (kept alive by the
/// returned guard).
fn fresh(s: &Scenario, opts: &InitOptions) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    init(&dir, s, opts).unwrap();
    (tmp, dir)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The error's message, which must be one line.
fn message(err: LabError) -> String {
    let text = err.to_string();
    assert!(!text.contains('\n'), "not one line: {text}");
    text
}

/// A template's comment text as one line of words, so that a phrase is
/// found wherever the lines wrap.
fn flat(text: &str) -> String {
    text.lines().map(|l| l.trim_start_matches('#')).flat_map(str::split_whitespace).collect::<Vec<_>>().join(" ")
}

/// A template's lines with comments removed, blank ones left out.
fn structure(text: &str) -> Vec<&str> {
    text.lines().map(|l| l.split('#').next().unwrap().trim()).filter(|l| !l.is_empty()).collect()
}

#[test]
fn init_then_load_round_trips_every_scenario() {
    for s in all_scenarios() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("lab");
        let written = init(&dir, &s, &InitOptions::default()).unwrap();
        let mut expected = vec![PathBuf::from(README), PathBuf::from(LAB_TOML)];
        for g in gateways(&s) {
            expected.push(Path::new(&g.name).join(SWANCTL_CONF));
            expected.push(Path::new(&g.name).join(FIREWALL_NFT));
        }
        assert_eq!(written, Written { written: expected, kept: vec![] }, "{}", s.name);

        let lab = load(&dir, &s).unwrap();
        let names: Vec<&str> = lab.gateways.iter().map(|g| g.gateway.as_str()).collect();
        assert_eq!(names, gateways(&s).iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), "{}", s.name);
        for g in &lab.gateways {
            let targets: Vec<&str> = g.files.iter().map(|f| f.target.as_str()).collect();
            assert_eq!(targets, [FIREWALL_TARGET, SWANCTL_CONF_TARGET], "{}: {}", s.name, g.gateway);
            for (name, target) in [(SWANCTL_CONF, SWANCTL_CONF_TARGET), (FIREWALL_NFT, FIREWALL_TARGET)] {
                let f = g.file(target).unwrap();
                assert_eq!(f.source, dir.join(&g.gateway).join(name));
                assert_eq!(f.text, read(&f.source));
            }
        }
        assert_eq!(recorded_scenario(&dir).unwrap().as_deref(), Some(s.name.as_str()));
    }
}

#[test]
fn templates_state_what_each_gateway_needs() {
    for s in all_scenarios() {
        let (_tmp, dir) = fresh(&s, &InitOptions::default());
        for g in gateways(&s) {
            let conf = flat(&read(&dir.join(&g.name).join(SWANCTL_CONF)));
            let nft = flat(&read(&dir.join(&g.name).join(FIREWALL_NFT)));
            let me = s.public_addr(g).unwrap().to_string();
            let ctx = format!("{} {}", s.name, g.name);
            assert!(conf.contains(&me) && nft.contains(&me), "{ctx}: public address {me}");
            for link in &g.links {
                assert!(nft.contains(&link.network), "{ctx}: interface {}", link.network);
                for a in &link.addrs {
                    assert!(nft.contains(&a.to_string()), "{ctx}: {a} on {}", link.network);
                }
            }
            let in_tunnels = s.tunnels_of(&g.name).next().is_some();
            for p in IKE_PROPOSALS.split(',').chain(ESP_PROPOSALS.split(',')) {
                assert_eq!(conf.contains(p), in_tunnels, "{ctx}: proposal {p}");
            }
            assert!(conf.contains(&format!("/etc/swanctl/x509/{}.pem", g.name)), "{ctx}");
            assert!(conf.contains(&format!("/etc/swanctl/pkcs8/{}.key", g.name)), "{ctx}");
            for t in s.tunnels_of(&g.name) {
                let (_, peer, local_ts, remote_ts) = t.sides(&g.name);
                let peer_addr = s.public_addr(s.node(peer).unwrap()).unwrap().to_string();
                assert!(conf.contains(&format!("Tunnel {}, between {} and {peer}", t.name, g.name)), "{ctx}");
                assert!(conf.contains(&format!("\"{peer}\"")), "{ctx}: identity of {peer}");
                assert!(conf.contains(&peer_addr) && nft.contains(&peer_addr), "{ctx}: peer {peer_addr}");
                let initiates = format!("{} initiates {}", t.initiator, t.name);
                assert!(conf.contains(&initiates), "{ctx}: {initiates}");
                let carries = format!(
                    "{} (on {}'s side) <-> {} (on {peer}'s side)",
                    local_ts.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "),
                    g.name,
                    remote_ts.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
                );
                assert!(conf.contains(&carries), "{ctx}: {carries}\n{conf}");
            }
        }
    }
}

#[test]
fn nat_requirements_follow_the_scenario() {
    let s = Scenario::load("host-to-host").unwrap();
    let (_tmp, dir) = fresh(&s, &InitOptions::default());
    let a = flat(&read(&dir.join("gateway-a").join(FIREWALL_NFT)));
    assert!(a.contains("tunnel a-s carries gateway-a's own address only"), "{a}");
    assert!(!a.contains("destination NAT"), "only the service's gateway forwards a port:\n{a}");
    let gs = flat(&read(&dir.join("gateway-s").join(FIREWALL_NFT)));
    assert!(gs.contains("NAT is imgtool's, not yours: its table inet imgtool_nat"), "{gs}");
    assert!(gs.contains("forwards TCP port 8080 of 172.28.28.10 to server-s1 10.3.0.10 (destination NAT)"), "{gs}");

    let s = Scenario::load("site-to-site").unwrap();
    let (_tmp, dir) = fresh(&s, &InitOptions::default());
    let a = flat(&read(&dir.join("gateway-a").join(FIREWALL_NFT)));
    assert!(a.contains("10.1.0.0/16 -> 10.3.0.0/16 (tunnel a-s) keeps its addresses"), "{a}");
    assert!(!a.contains("own address only"), "{a}");
    let v6 = Scenario::load("site-to-site-ipv6").unwrap();
    let (_tmp, dir) = fresh(&v6, &InitOptions::default());
    assert!(read(&dir.join("gateway-a").join(FIREWALL_NFT)).contains("neighbour discovery"));
    assert!(!a.contains("neighbour discovery"), "IPv4 only:\n{a}");
}

#[test]
fn swanctl_template_is_comments_and_empty_sections() {
    for s in all_scenarios() {
        for creds in [Credentials::Certificates, Credentials::Psk] {
            let (_tmp, dir) = fresh(&s, &InitOptions { credentials: creds, ..Default::default() });
            for g in gateways(&s) {
                let conf = read(&dir.join(&g.name).join(SWANCTL_CONF));
                let want: &[&str] = match creds {
                    Credentials::Certificates => &["connections {", "}"],
                    Credentials::Psk => &["connections {", "}", "secrets {", "}"],
                };
                assert_eq!(structure(&conf), want, "{} {}:\n{conf}", s.name, g.name);
                let mut depth = 0i32;
                for c in conf.lines().flat_map(|l| l.split('#').next().unwrap().chars()) {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    assert!(depth >= 0, "{} {}: a '}}' closes nothing", s.name, g.name);
                }
                assert_eq!(depth, 0, "{} {}: unbalanced braces", s.name, g.name);
                let psk = conf.contains("pre-shared key");
                assert_eq!(psk, creds == Credentials::Psk, "{} {}", s.name, g.name);
            }
        }
    }
}

#[test]
fn firewall_template_is_comments_only_and_holds_no_rule() {
    // Pieces of the answer's nftables syntax (nodefiles::firewall).
    let answer =
        ["l4proto", "dport", "policy drop", "esp accept", "snat", "dnat", "masquerade", "ipsec exists", "saddr"];
    for s in all_scenarios() {
        let (_tmp, dir) = fresh(&s, &InitOptions::default());
        for g in gateways(&s) {
            let nft = read(&dir.join(&g.name).join(FIREWALL_NFT));
            assert_eq!(structure(&nft), Vec::<&str>::new(), "{} {}: not comments only", s.name, g.name);
            for line in nft.lines() {
                assert!(!answer.iter().any(|a| line.contains(a)), "{} {}: {line}", s.name, g.name);
            }
            let conf = read(&dir.join(&g.name).join(SWANCTL_CONF));
            for key in ["local_ts", "remote_ts", "remote_addrs", "esp_proposals", "auth ="] {
                assert!(!conf.contains(key), "{} {}: swanctl.conf names {key}", s.name, g.name);
            }
        }
    }
}

#[test]
fn readme_has_every_node_network_and_tunnel_in_tables() {
    let s = Scenario::load("site-to-site").unwrap();
    let (_tmp, dir) = fresh(&s, &InitOptions::default());
    let readme = read(&dir.join(README));
    for row in [
        "| gateway-a | gateway | isp-a | 172.26.26.10/24 |",
        "|  |  | intranet-a | 10.1.0.1/16 |",
        "| router | router (the Internet) | isp-a | 172.26.26.1/24 |",
        "| cloud-s | site | 10.3.0.0/16 | gateway-s, server-s1 |",
        "| isp-b | isp (Internet side) | 172.27.27.0/24 | router, gateway-b |",
        "| a-s | gateway-a (172.26.26.10) | gateway-s (172.28.28.10) | 10.1.0.0/16 | 10.3.0.0/16 |",
        "| `gateway-b/firewall.nft` | gateway-b | `/etc/imgtool/firewall.nft` |",
    ] {
        assert!(readme.contains(row), "no row {row}:\n{readme}");
    }
    assert!(readme.contains(&drawing::drawing(&s)), "the drawing is in the README");
    for s in builtins() {
        let (_tmp, dir) = fresh(&s, &InitOptions::default());
        let readme = read(&dir.join(README));
        for n in &s.nodes {
            assert!(readme.contains(&format!("| {} | ", n.name)), "{}: {}", s.name, n.name);
        }
        for n in &s.networks {
            assert!(readme.contains(&format!("| {} | ", n.name)), "{}: {}", s.name, n.name);
        }
    }
}

/// A scenario unlike the built-in ones: seven gateways (more than fit in a
/// row), two of them on one ISP network, a client on two networks, a network
/// the router cannot reach and one that no node is on.
fn wide() -> Scenario {
    let mut t = String::from("name = \"wide\"\ndescription = \"seven sites\"\n[networks]\n");
    for i in 1..=7 {
        t += &format!("isp-{i} = {{ kind = \"isp\", subnets = [\"172.16.{i}.0/24\"] }}\n");
        t += &format!("site-{i} = {{ kind = \"site\", subnets = [\"10.{i}.0.0/16\"] }}\n");
    }
    t += "dmz = { kind = \"site\", subnets = [\"192.168.8.0/24\"] }\n";
    t += "lonely = { kind = \"site\", subnets = [\"192.168.9.0/24\"] }\n";
    let isps: Vec<String> = (1..=6).map(|i| format!("isp-{i} = [\"172.16.{i}.1\"]")).collect();
    t += &format!("[nodes.router]\nrole = \"router\"\nlinks = {{ {} }}\n", isps.join(", "));
    for i in 1..=7 {
        let isp =
            if i == 7 { "isp-1 = [\"172.16.1.20\"]".to_string() } else { format!("isp-{i} = [\"172.16.{i}.10\"]") };
        t += &format!("[nodes.gw-{i}]\nrole = \"gateway\"\nlinks = {{ {isp}, site-{i} = [\"10.{i}.0.1\"] }}\n");
        t += &format!("[nodes.host-{i}]\nrole = \"client\"\nlinks = {{ site-{i} = [\"10.{i}.0.10\"] }}\n");
    }
    t += "[nodes.multi]\nrole = \"client\"\nlinks = { site-1 = [\"10.1.0.20\"], dmz = [\"192.168.8.20\"] }\n";
    t += "[nodes.hermit]\nrole = \"server\"\nlinks = { lonely = [\"192.168.9.10\"] }\n";
    t += "[[tunnels]]\ngateways = [\"gw-1\", \"gw-6\"]\ntraffic = [[\"10.1.0.0/16\"], [\"10.6.0.0/16\"]]\n";
    t += "[service]\nserver = \"hermit\"\nport = 80\n";
    Scenario::parse(&t, "wide.toml").unwrap()
}

#[test]
fn the_drawing_names_every_node_and_network_and_fits_the_width() {
    for s in &all_scenarios() {
        let d = drawing::drawing(s);
        for n in &s.nodes {
            assert!(d.contains(&n.name), "{}: no node {}\n{d}", s.name, n.name);
        }
        for n in &s.networks {
            assert!(d.contains(&format!("{}: ", n.name)), "{}: no network {}\n{d}", s.name, n.name);
        }
        for t in &s.tunnels {
            assert!(d.contains(&format!("{} {}", t.initiator, s.public_addr(s.node(&t.initiator).unwrap()).unwrap())));
        }
        for line in d.lines() {
            assert!(line.chars().count() <= drawing::MAX_WIDTH, "{}: too wide: {line}", s.name);
        }
    }
    let d = drawing::drawing(&wide());
    assert!(d.matches("[router]").count() >= 2, "six columns take two rows:\n{d}");
    assert!(d.contains("isp-1: 172.16.1.0/24 (continued)"), "two gateways on isp-1:\n{d}");
    let (_, rest) = d.split_once("Networks the router is not on:\n").unwrap_or_else(|| panic!("{d}"));
    assert!(rest.contains("isp-7: 172.16.7.0/24\n") && rest.contains("lonely: 192.168.9.0/24\n  +- hermit"), "{d}");
    assert!(d.contains("[multi]") && d.contains("dmz: 192.168.8.0/24"), "{d}");
}

#[test]
fn the_site_to_site_drawing_shows_each_gateway_under_the_router() {
    let d = drawing::drawing(&Scenario::load("site-to-site").unwrap());
    let lines: Vec<&str> = d.lines().collect();
    assert!(lines[0].trim() == "[router]", "{d}");
    let row = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}\n{d}"));
    // The three ISP networks side by side, each gateway below its own, each
    // site below its gateway, the clients below their site.
    assert_eq!(row("isp-a: 172.26.26.0/24"), row("isp-s: 172.28.28.0/24"), "{d}");
    assert!(row("isp-a:") < row("[gateway-a]") && row("[gateway-a]") < row("intranet-a: 10.1.0.0/16"), "{d}");
    assert!(row("intranet-a:") < row("+- client-a1 10.1.0.10"), "{d}");
    assert!(d.contains("a-s  gateway-a 172.26.26.10 <=====> gateway-s 172.28.28.10"), "{d}");
}

#[test]
fn init_refuses_a_non_empty_dir_and_force_keeps_every_file() {
    let s = Scenario::load("site-to-site").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let err = message(init(&dir, &s, &InitOptions::default()).unwrap_err());
    assert!(err.contains(&dir.display().to_string()) && err.contains("--force"), "{err}");
    assert!(!dir.join(README).exists());

    let force = InitOptions { force: true, ..Default::default() };
    let first = init(&dir, &s, &force).unwrap();
    assert_eq!(first.written.len(), 2 + 2 * gateways(&s).len());
    assert_eq!(read(&dir.join("notes.txt")), "mine");

    let conf = dir.join("gateway-a").join(SWANCTL_CONF);
    std::fs::write(&conf, "connections { }\n").unwrap();
    std::fs::remove_file(dir.join("gateway-b").join(FIREWALL_NFT)).unwrap();
    let again = init(&dir, &s, &force).unwrap();
    assert_eq!(again.written, [Path::new("gateway-b").join(FIREWALL_NFT)], "only the missing file is written");
    assert!(again.kept.contains(&Path::new("gateway-a").join(SWANCTL_CONF)));
    assert_eq!(read(&conf), "connections { }\n", "the student's file is kept");
}

#[test]
fn init_with_force_refuses_a_folder_for_another_scenario() {
    let (_tmp, dir) = fresh(&Scenario::load("host-to-host").unwrap(), &InitOptions::default());
    let before = read(&dir.join("gateway-a").join(FIREWALL_NFT));
    let force = InitOptions { force: true, ..Default::default() };
    let err = init(&dir, &Scenario::load("site-to-site").unwrap(), &force).unwrap_err();
    assert!(matches!(err, LabError::OtherScenario { .. }), "{err}");
    assert!(message(err).contains("for scenario host-to-host, not site-to-site"));
    assert_eq!(read(&dir.join("gateway-a").join(FIREWALL_NFT)), before);
}

#[test]
fn init_refuses_a_file_as_the_lab_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("lab");
    std::fs::write(&file, "x").unwrap();
    let err = init(&file, &Scenario::load("site-to-site").unwrap(), &InitOptions::default()).unwrap_err();
    assert!(matches!(err, LabError::NotADirectory { .. }), "{err}");
    assert!(message(err).contains("is not a directory"));
}

#[cfg(unix)]
#[test]
fn init_with_force_writes_nothing_through_a_link() {
    let s = Scenario::load("site-to-site").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (dir, outside) = (tmp.path().join("lab"), tmp.path().join("outside"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("gateway-a")).unwrap();
    std::os::unix::fs::symlink(outside.join("readme"), dir.join(README)).unwrap();
    let err = init(&dir, &s, &InitOptions { force: true, ..Default::default() }).unwrap_err();
    assert!(matches!(err, LabError::Symlink { .. }), "{err}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing written outside the lab folder");
}
