//! The tunnel and auth judgements on real `swanctl --raw` output and charon
//! logs (`samples`), captured from site-to-site testbeds: up with
//! certificates, up with `--psk`, and broken by hand.

mod samples;

use super::*;
use crate::scenario::Scenario;
use samples::*;

/// Tunnel a-s of the built-in site-to-site scenario (gateway-a initiates).
fn a_s() -> Tunnel {
    let s = Scenario::load("site-to-site").unwrap();
    s.tunnels.into_iter().find(|t| t.name == "a-s").unwrap()
}

fn sas<'a>(a: &str, s: &str) -> Listed<'a, IkeSa> {
    HashMap::from([("gateway-a", swanctl::parse(a)), ("gateway-s", swanctl::parse(s))])
}

fn conns<'a>(a: &str, s: &str) -> Listed<'a, Conn> {
    HashMap::from([("gateway-a", swanctl::parse_conns(a)), ("gateway-s", swanctl::parse_conns(s))])
}

fn proofs<'a>(a: &str, s: &str) -> Proofs<'a> {
    HashMap::from([("gateway-a", charon_log::peer_auths(a)), ("gateway-s", charon_log::peer_auths(s))])
}

#[test]
fn a_working_tunnel_passes_with_its_selectors() {
    let r = judge_tunnel(&a_s(), &sas(CERT_A_SAS, CERT_S_SAS));
    assert!(r.passed && r.kind == CheckKind::Tunnel && r.name == "tunnel a-s", "{r:?}");
    assert_eq!(r.detail, "IKE ESTABLISHED, child INSTALLED 10.1.0.0/16 === 10.3.0.0/16 on gateway-a and gateway-s");
    assert!(judge_tunnel(&a_s(), &sas(PSK_A_SAS, PSK_S_SAS)).passed);
}

#[test]
fn an_ike_sa_without_its_child_names_the_missing_selectors() {
    let r = judge_tunnel(&a_s(), &sas(NOCHILD_A_SAS, CERT_S_SAS));
    assert!(!r.passed);
    assert_eq!(
        r.detail,
        "gateway-a: IKE SA gateway-a↔gateway-s ESTABLISHED but no CHILD_SA for 10.1.0.0/16 === 10.3.0.0/16"
    );
}

#[test]
fn narrowed_selectors_are_shown_beside_the_declared_ones() {
    let r = judge_tunnel(&a_s(), &sas(NARROW_A_SAS, NARROW_S_SAS));
    assert!(!r.passed);
    assert_eq!(
        r.detail,
        "gateway-a: CHILD_SA a-s installed with 10.1.0.0/24 === 10.3.0.0/16 instead of 10.1.0.0/16 === 10.3.0.0/16; \
         gateway-s: CHILD_SA a-s installed with 10.3.0.0/16 === 10.1.0.0/24 instead of 10.3.0.0/16 === 10.1.0.0/16"
    );
}

#[test]
fn an_ike_sa_not_yet_established_names_its_state() {
    let connecting = CERT_A_SAS.replace("state=ESTABLISHED", "state=CONNECTING");
    let r = judge_tunnel(&a_s(), &sas(&connecting, CERT_S_SAS));
    assert!(!r.passed);
    assert_eq!(r.detail, "gateway-a: IKE SA gateway-a↔gateway-s is CONNECTING, not ESTABLISHED");
}

#[test]
fn a_child_not_installed_or_otherwise_named_is_described() {
    // gateway-s lists b-s first: only a-s's child changes.
    let at = CERT_S_SAS.find("name=a-s").unwrap();
    let created = format!("{}{}", &CERT_S_SAS[..at], CERT_S_SAS[at..].replacen("state=INSTALLED", "state=CREATED", 1));
    let r = judge_tunnel(&a_s(), &sas(CERT_A_SAS, &created));
    assert_eq!(
        r.detail,
        "gateway-s: IKE SA gateway-s↔gateway-a ESTABLISHED, CHILD_SA a-s CREATED (10.3.0.0/16 === 10.1.0.0/16), not INSTALLED"
    );
    let other = CERT_A_SAS.replace("name=a-s", "name=site-a");
    let r = judge_tunnel(&a_s(), &sas(&other, CERT_S_SAS));
    assert_eq!(
        r.detail,
        "gateway-a: IKE SA gateway-a↔gateway-s ESTABLISHED but no CHILD_SA named a-s, only site-a INSTALLED \
         10.1.0.0/16 === 10.3.0.0/16"
    );
}

#[test]
fn certificates_in_the_log_pass_the_certificate_requirement_and_fail_the_psk_one() {
    let (t, sas, conns) = (a_s(), sas(CERT_A_SAS, CERT_S_SAS), conns(CERT_A_CONNS, CERT_S_CONNS));
    let proofs = proofs(CERT_A_LOG, CERT_S_LOG);
    let r = judge_auth(&t, AuthRequirement::Certificates, &sas, &conns, &proofs).unwrap();
    assert!(r.passed && r.kind == CheckKind::Auth && r.name == "auth a-s", "{r:?}");
    assert_eq!(
        r.detail,
        "public keys (certificates) both ways: gateway-a saw gateway-s authenticate with ED25519, \
         gateway-s saw gateway-a authenticate with ED25519"
    );
    let r = judge_auth(&t, AuthRequirement::Psk, &sas, &conns, &proofs).unwrap();
    assert!(!r.passed, "{r:?}");
    assert_eq!(
        r.detail,
        "gateway-a saw gateway-s authenticate with ED25519 (charon's log of IKE SA a-s[1]); \
         gateway-s saw gateway-a authenticate with ED25519 (charon's log of IKE SA a-s[1]); required: a pre-shared key"
    );
}

#[test]
fn no_requirement_means_no_auth_check() {
    let (sas, conns) = (sas(PSK_A_SAS, PSK_S_SAS), conns(PSK_A_CONNS, PSK_S_CONNS));
    assert!(judge_auth(&a_s(), AuthRequirement::Any, &sas, &conns, &Proofs::new()).is_none());
}

#[test]
fn connections_replaced_after_the_sa_was_established_do_not_count() {
    // The PSK testbed, its connections then replaced by public-key ones.
    let (t, sas, conns) = (a_s(), sas(REPLACED_A_SAS, REPLACED_S_SAS), conns(REPLACED_A_CONNS, REPLACED_S_CONNS));
    assert!(conns["gateway-a"][0].remote.iter().all(|r| r.class == "public key"), "{conns:?}");
    let r = judge_auth(&t, AuthRequirement::Certificates, &sas, &conns, &proofs(REPLACED_A_LOG, REPLACED_S_LOG));
    let r = r.unwrap();
    assert!(!r.passed, "{r:?}");
    assert_eq!(
        r.detail,
        "gateway-a saw gateway-s authenticate with pre-shared key (charon's log of IKE SA a-s[1]); \
         gateway-s saw gateway-a authenticate with pre-shared key (charon's log of IKE SA a-s[2]); \
         required: public keys (certificates)"
    );
    let r = judge_auth(&t, AuthRequirement::Psk, &sas, &conns, &proofs(REPLACED_A_LOG, REPLACED_S_LOG)).unwrap();
    assert!(r.passed, "{r:?}");
}

#[test]
fn without_the_log_the_connection_that_established_the_sa_is_read() {
    let (t, sas, conns) = (a_s(), sas(PSK_A_SAS, PSK_S_SAS), conns(PSK_A_CONNS, PSK_S_CONNS));
    let r = judge_auth(&t, AuthRequirement::Certificates, &sas, &conns, &Proofs::new()).unwrap();
    assert!(!r.passed, "{r:?}");
    assert_eq!(
        r.detail,
        "gateway-a requires pre-shared key of gateway-s (connection a-s as loaded now: charon's log does not show \
         IKE SA a-s[1]); gateway-s requires pre-shared key of gateway-a (connection a-s as loaded now: charon's log \
         does not show IKE SA a-s[1]); required: public keys (certificates)"
    );
    assert!(judge_auth(&t, AuthRequirement::Psk, &sas, &conns, &Proofs::new()).unwrap().passed);
    // A log that shows other SAs only (another charon run) changes nothing.
    let other_run = proofs(CERT_A_LOG.replace("a-s[1] established", "a-s[9] established").as_str(), "");
    let r = judge_auth(&t, AuthRequirement::Certificates, &sas, &conns, &other_run).unwrap();
    assert!(!r.passed && r.detail.starts_with("gateway-a requires pre-shared key of gateway-s (connection"), "{r:?}");
}

#[test]
fn a_loaded_certificate_connection_that_established_nothing_does_not_count() {
    // gateway-a has `decoy` (public keys, child a-s) beside the PSK connection a-s.
    let decoy = swanctl::parse_conns(DECOY_A_CONNS);
    assert!(decoy.iter().any(|c| c.name == "decoy" && c.remote[0].class == "public key"), "{decoy:?}");
    let (t, sas, conns) = (a_s(), sas(PSK_A_SAS, PSK_S_SAS), conns(DECOY_A_CONNS, PSK_S_CONNS));
    let r = judge_auth(&t, AuthRequirement::Certificates, &sas, &conns, &Proofs::new()).unwrap();
    assert!(!r.passed && r.detail.starts_with("gateway-a requires pre-shared key of gateway-s"), "{r:?}");
    // Were the SA decoy's own, it would be no tunnel a-s: both checks fail.
    let renamed = PSK_A_SAS.replace("list-sa event {a-s {", "list-sa event {decoy {");
    let sas = self::sas(&renamed, PSK_S_SAS);
    let r = judge_auth(&t, AuthRequirement::Certificates, &sas, &conns, &Proofs::new()).unwrap();
    assert!(!r.passed && r.detail.starts_with("gateway-a: no ESTABLISHED IKE SA a-s whose"), "{r:?}");
    let tunnel = judge_tunnel(&t, &sas);
    assert!(!tunnel.passed, "{tunnel:?}");
    assert_eq!(tunnel.detail, "gateway-a: no IKE SA named a-s, only decoy (ESTABLISHED)");
}

#[test]
fn an_sa_shown_neither_in_the_log_nor_by_a_connection_fails() {
    let (t, sas) = (a_s(), sas(CERT_A_SAS, CERT_S_SAS));
    let unloaded = conns("list-conns reply {}\n", CERT_S_CONNS);
    let r = judge_auth(&t, AuthRequirement::Certificates, &sas, &unloaded, &Proofs::new()).unwrap();
    assert!(!r.passed, "{r:?}");
    assert!(
        r.detail.starts_with(
            "gateway-a: IKE SA a-s[1] is ESTABLISHED, but neither charon's log nor a loaded connection a-s shows"
        ),
        "{r:?}"
    );
    assert!(!r.detail.contains("gateway-s"), "only gateway-a is in doubt: {r:?}");
    // The log alone suffices.
    let r = judge_auth(&t, AuthRequirement::Certificates, &sas, &unloaded, &proofs(CERT_A_LOG, CERT_S_LOG));
    assert!(r.unwrap().passed);
}

#[test]
fn no_sa_at_all_fails_tunnel_and_auth() {
    let empty = "list-sas reply {}\n";
    let (t, sas) = (a_s(), sas(empty, empty));
    let r = judge_tunnel(&t, &sas);
    assert!(!r.passed);
    assert_eq!(r.detail, "gateway-a: no IKE SA at all; gateway-s: no IKE SA at all");
    let r = judge_auth(&t, AuthRequirement::Psk, &sas, &conns(PSK_A_CONNS, PSK_S_CONNS), &Proofs::new()).unwrap();
    assert!(!r.passed && r.detail.contains("gateway-s: no ESTABLISHED IKE SA a-s"), "{r:?}");
}
