//! Golden files of everything derived from a scenario: each gateway's
//! `firewall.nft` and `swanctl.conf` (with certificates and with a pre-shared
//! key), each node's `net.conf`, and the `compose.yaml` that `imgtool render`
//! writes. A `contains` test passes when a rule or option is added; these
//! fail on any change, so every change to a generated file is reviewed once
//! (`cargo insta review`, or `INSTA_UPDATE=always cargo test --test
//! snapshots` and `git diff tests/snapshots/`).
//!
//! Every input is fixed, so the files are deterministic: the PSK is a
//! constant, the state directory a fixed path, the platform named.

use imgtool::compose;
use imgtool::config::Config;
use imgtool::nodefiles::{self, Auth};
use imgtool::scenario::{Role, Scenario};
use imgtool::testbed::spec::{Driver, Esp, Images, Options};

/// Every built-in scenario: a manifest without snapshots fails
/// `every_manifest_has_snapshots` below.
const SCENARIOS: [&str; 3] = ["site-to-site", "site-to-site-ipv6", "host-to-host"];

/// Stands in for the random key `up --psk` and `render` make: 32 bytes, hex.
fn fixed_psk() -> String {
    "00".repeat(32)
}

/// One snapshot, named `<scenario>__<what>`; the snapshot file holds the
/// generated text verbatim.
fn snap(scenario: &str, what: &str, text: &str) {
    insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(format!("{scenario}__{what}"), text);
    });
}

/// `imgtool render <scenario> [--driver <driver>]` as it would be written
/// with the repository's imgtool.toml, the default testbed name, on
/// linux/amd64, into /testbed (a fixed stand-in for the canonicalised `-o`).
fn compose_yaml(s: &Scenario, driver: Driver) -> String {
    let config = Config::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("imgtool.toml")).unwrap();
    let opts = Options {
        name: imgtool::DEFAULT_TESTBED.parse().unwrap(),
        platform: "linux/amd64".into(),
        native_platform: "linux/amd64".into(),
        driver,
        // What `render` passes: the image decides at start.
        esp: Esp::Auto,
        images: Images::from_config(&config),
        state: "/testbed".into(),
    };
    compose::render(s, &opts)
}

fn snapshot_scenario(name: &str) {
    let s = Scenario::load(name).unwrap();
    let gateways: Vec<_> = s.nodes_with(Role::Gateway).collect();
    // A scenario without gateways would snapshot no firewall at all.
    assert!(gateways.len() >= 2, "{name} has {} gateways", gateways.len());
    for g in gateways {
        snap(name, &format!("{}__firewall.nft", g.name), &nodefiles::firewall(&s, g));
        snap(name, &format!("{}__swanctl-certs.conf", g.name), &nodefiles::swanctl_conf(&s, g, &Auth::Certificates));
        snap(name, &format!("{}__swanctl-psk.conf", g.name), &nodefiles::swanctl_conf(&s, g, &Auth::Psk(fixed_psk())));
    }
    for n in &s.nodes {
        snap(name, &format!("{}__net.conf", n.name), &nodefiles::net_conf(&s, n));
    }
    snap(name, "compose-macvlan.yaml", &compose_yaml(&s, Driver::Macvlan));
    snap(name, "compose-bridge.yaml", &compose_yaml(&s, Driver::Bridge));
}

#[test]
fn site_to_site() {
    snapshot_scenario("site-to-site");
}

#[test]
fn site_to_site_ipv6() {
    snapshot_scenario("site-to-site-ipv6");
}

#[test]
fn host_to_host() {
    snapshot_scenario("host-to-host");
}

/// A new manifest must get a test above: the list here is checked against
/// manifests/, so it cannot silently fall behind.
#[test]
fn every_manifest_has_snapshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed = SCENARIOS.map(String::from).to_vec();
    listed.sort();
    assert_eq!(found, listed, "manifests/ and SCENARIOS differ: add a snapshot test for the new scenario");
}
