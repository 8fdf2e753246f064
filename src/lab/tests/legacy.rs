//! The legacy format: `lab init --legacy`, its templates, and lab folders
//! in ipsec.conf and ipsec.secrets.

use std::fs;

use super::*;

fn legacy() -> InitOptions {
    InitOptions { legacy: true, ..Default::default() }
}

#[test]
fn legacy_init_writes_ipsec_conf_and_secrets_that_load_as_legacy() {
    for s in all_scenarios() {
        let (_tmp, dir) = fresh(&s, &legacy());
        let lab = load(&dir, &s).unwrap();
        for g in &lab.gateways {
            let targets: Vec<&str> = g.files.iter().map(|f| f.target.as_str()).collect();
            assert_eq!(targets, [FIREWALL_TARGET, IPSEC_CONF_TARGET, IPSEC_SECRETS_TARGET], "{}", s.name);
            assert!(g.legacy());
            assert!(!dir.join(&g.gateway).join(SWANCTL_CONF).exists());
        }
        let readme = read(&dir.join(README));
        assert!(readme.contains("/etc/ipsec.conf") && !readme.contains(SWANCTL_CONF_TARGET), "{}", s.name);
    }
}

#[test]
fn legacy_templates_state_the_requirements_and_configure_nothing() {
    for s in all_scenarios() {
        let (_tmp, dir) = fresh(&s, &legacy());
        for g in gateways(&s) {
            let conf_text = read(&dir.join(&g.name).join(IPSEC_CONF));
            let secrets_text = read(&dir.join(&g.name).join(IPSEC_SECRETS));
            let conf = flat(&conf_text);
            let ctx = format!("{} {}", s.name, g.name);
            // starter reads a file of comments and an empty `config setup` as no connection.
            assert_eq!(structure(&conf_text), ["config setup"], "{ctx}");
            assert!(structure(&secrets_text).is_empty(), "{ctx}: {secrets_text}");
            assert!(conf.contains(&s.public_addr(g).unwrap().to_string()), "{ctx}");
            assert!(conf.contains(&format!("/etc/ipsec.d/certs/{}.pem", g.name)), "{ctx}");
            assert!(conf.contains(&format!("/etc/ipsec.d/private/{}.key", g.name)), "{ctx}");
            for t in s.tunnels_of(&g.name) {
                assert!(conf.contains(&format!("name its conn \"{}\"", t.name)), "{ctx}: {}", t.name);
                assert!(conf_text.contains(&format!("# TODO: conn {}", t.name)), "{ctx}");
            }
            for p in IKE_PROPOSALS.split(',').chain(ESP_PROPOSALS.split(',')) {
                assert_eq!(conf.contains(p), s.tunnels_of(&g.name).next().is_some(), "{ctx}: {p}");
            }
        }
    }
}

#[test]
fn a_gateway_runs_one_format_with_its_secrets() {
    let s = Scenario::load("site-to-site").unwrap();
    let (_tmp, dir) = fresh(&s, &legacy());
    let a = dir.join("gateway-a");

    fs::write(a.join(SWANCTL_CONF), "connections {}\n").unwrap();
    let err = load(&dir, &s).unwrap_err();
    assert!(matches!(err, LabError::BothFormats { .. }), "{err}");
    assert!(message(err).contains("both swanctl.conf and ipsec.conf"));

    fs::remove_file(a.join(IPSEC_CONF)).unwrap();
    let err = load(&dir, &s).unwrap_err();
    assert!(matches!(&err, LabError::Unexpected { path, .. } if path.ends_with(IPSEC_SECRETS)), "{err}");

    fs::remove_file(a.join(SWANCTL_CONF)).unwrap();
    fs::write(a.join(IPSEC_CONF), "config setup\n").unwrap();
    fs::remove_file(a.join(IPSEC_SECRETS)).unwrap();
    let err = load(&dir, &s).unwrap_err();
    assert!(matches!(&err, LabError::MissingFile { path, .. } if path.ends_with(IPSEC_SECRETS)), "{err}");
}

#[test]
fn own_legacy_credentials_go_to_ipsec_d_and_other_folders_are_refused() {
    let s = Scenario::load("site-to-site").unwrap();
    let (_tmp, dir) = fresh(&s, &legacy());
    let certs = dir.join("gateway-a").join(IPSEC_DIR).join("certs");
    fs::create_dir_all(&certs).unwrap();
    fs::write(certs.join("mine.pem"), "-----BEGIN CERTIFICATE-----\n").unwrap();
    let lab = load(&dir, &s).unwrap();
    assert!(lab.gateway("gateway-a").unwrap().file("/etc/ipsec.d/certs/mine.pem").is_some());

    fs::create_dir_all(dir.join("gateway-a").join(IPSEC_DIR).join("policies")).unwrap();
    let err = load(&dir, &s).unwrap_err();
    assert!(matches!(&err, LabError::Unexpected { path, .. } if path.ends_with("policies")), "{err}");
}

#[test]
fn the_legacy_solution_has_one_conn_per_tunnel_started_by_its_initiator() {
    for s in builtins() {
        let files = crate::nodefiles::solution(&s, true);
        for g in gateways(&s) {
            let conf = &files.iter().find(|(p, _)| *p == Path::new(&g.name).join(IPSEC_CONF)).unwrap().1;
            let secrets = &files.iter().find(|(p, _)| *p == Path::new(&g.name).join(IPSEC_SECRETS)).unwrap().1;
            assert!(secrets.contains(&format!(": PKCS8 {}.key", g.name)), "{secrets}");
            let conns: Vec<&str> = conf.lines().filter_map(|l| l.strip_prefix("conn ")).collect();
            let tunnels: Vec<&str> = s.tunnels_of(&g.name).map(|t| t.name.as_str()).collect();
            assert_eq!(conns, tunnels, "{} {}", s.name, g.name);
            let starts = conf.matches("auto = start").count();
            assert_eq!(starts, s.tunnels_of(&g.name).filter(|t| t.initiator == g.name).count(), "{conf}");
        }
    }
}
