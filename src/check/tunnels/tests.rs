//! The tunnel and auth judgements on real `swanctl --raw` output, captured
//! from a site-to-site testbed (strongSwan 5.9.8): up with certificates, up
//! with `--psk`, and broken by hand. SPIs and counters are as they were.

use super::*;
use crate::scenario::Scenario;

/// gateway-a after `imgtool up` (certificates).
const CERT_A_SAS: &str = "list-sa event {a-s {uniqueid=2 version=2 state=ESTABLISHED local-host=172.26.26.10 local-port=4500 \
    local-id=gateway-a remote-host=172.28.28.10 remote-port=4500 remote-id=gateway-s initiator=yes \
    initiator-spi=0950d53c956572d3 responder-spi=5885f3a27fcca409 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=6 \
    rekey-time=13386 child-sas {a-s-1 {name=a-s uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=b14ec0ca spi-out=37c36025 encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=1124 packets-in=14 use-in=4 bytes-out=1010 packets-out=14 use-out=4 rekey-time=3556 \
    life-time=3954 install-time=6 local-ts=[10.1.0.0/16] remote-ts=[10.3.0.0/16]}}}}\n\
    list-sas reply {}\n";

const CERT_A_CONNS: &str = "list-conn event {a-s {local_addrs=[172.26.26.10] remote_addrs=[172.28.28.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO dpd_delay=5 local-1 {id=gateway-a class=public key \
    groups=[] cert_policy=[] certs=[CN=gateway-a] cacerts=[]} remote-1 {id=gateway-s class=public key \
    groups=[] cert_policy=[] certs=[] cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 \
    rekey_bytes=0 rekey_packets=0 dpd_action=start close_action=none local-ts=[10.1.0.0/16] \
    remote-ts=[10.3.0.0/16]}}}}\n\
    list-conns reply {}\n";

const CERT_S_SAS: &str = "list-sa event {a-s {uniqueid=3 version=2 state=ESTABLISHED local-host=172.28.28.10 local-port=4500 \
    local-id=gateway-s remote-host=172.26.26.10 remote-port=4500 remote-id=gateway-a \
    initiator-spi=0950d53c956572d3 responder-spi=5885f3a27fcca409 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=6 \
    rekey-time=13140 child-sas {a-s-2 {name=a-s uniqueid=2 reqid=2 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=37c36025 spi-out=b14ec0ca encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=1010 packets-in=14 use-in=4 bytes-out=1124 packets-out=14 use-out=4 rekey-time=3470 \
    life-time=3954 install-time=6 local-ts=[10.3.0.0/16] remote-ts=[10.1.0.0/16]}}}}\n\
    list-sa event {b-s {uniqueid=2 version=2 state=ESTABLISHED local-host=172.28.28.10 local-port=4500 \
    local-id=gateway-s remote-host=172.27.27.10 remote-port=4500 remote-id=gateway-b \
    initiator-spi=574190cd9bfdd4fb responder-spi=d7bcaa1ef0c35cbb nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=6 \
    rekey-time=14372 child-sas {b-s-1 {name=b-s uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=9d56b99a spi-out=543da4e5 encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=1010 packets-in=14 use-in=4 bytes-out=1124 packets-out=14 use-out=4 rekey-time=3278 \
    life-time=3954 install-time=6 local-ts=[10.3.0.0/16] remote-ts=[10.2.0.0/16]}}}}\n\
    list-sas reply {}\n";

const CERT_S_CONNS: &str = "list-conn event {a-s {local_addrs=[172.28.28.10] remote_addrs=[172.26.26.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO local-1 {id=gateway-s class=public key groups=[] \
    cert_policy=[] certs=[CN=gateway-s] cacerts=[]} remote-1 {id=gateway-a class=public key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 rekey_bytes=0 \
    rekey_packets=0 dpd_action=none close_action=none local-ts=[10.3.0.0/16] remote-ts=[10.1.0.0/16]}}}}\n\
    list-conn event {b-s {local_addrs=[172.28.28.10] remote_addrs=[172.27.27.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO local-1 {id=gateway-s class=public key groups=[] \
    cert_policy=[] certs=[CN=gateway-s] cacerts=[]} remote-1 {id=gateway-b class=public key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} children {b-s {mode=TUNNEL rekey_time=3600 rekey_bytes=0 \
    rekey_packets=0 dpd_action=none close_action=none local-ts=[10.3.0.0/16] remote-ts=[10.2.0.0/16]}}}}\n\
    list-conns reply {}\n";

/// gateway-a after `imgtool up --psk`.
const PSK_A_SAS: &str = "list-sa event {a-s {uniqueid=1 version=2 state=ESTABLISHED local-host=172.26.26.10 local-port=4500 \
    local-id=gateway-a remote-host=172.28.28.10 remote-port=4500 remote-id=gateway-s initiator=yes \
    initiator-spi=33d823bca309cb3c responder-spi=30b0e737f94adcf2 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=3 \
    rekey-time=13614 child-sas {a-s-1 {name=a-s uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=c3ac8c66 spi-out=538fc061 encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=1124 packets-in=14 use-in=2 bytes-out=1010 packets-out=14 use-out=2 rekey-time=3501 \
    life-time=3957 install-time=3 local-ts=[10.1.0.0/16] remote-ts=[10.3.0.0/16]}}}}\n\
    list-sas reply {}\n";

const PSK_A_CONNS: &str = "list-conn event {a-s {local_addrs=[172.26.26.10] remote_addrs=[172.28.28.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO dpd_delay=5 local-1 {id=gateway-a class=pre-shared \
    key groups=[] cert_policy=[] certs=[] cacerts=[]} remote-1 {id=gateway-s class=pre-shared key \
    groups=[] cert_policy=[] certs=[] cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 \
    rekey_bytes=0 rekey_packets=0 dpd_action=start close_action=none local-ts=[10.1.0.0/16] \
    remote-ts=[10.3.0.0/16]}}}}\n\
    list-conns reply {}\n";

const PSK_S_SAS: &str = "list-sa event {b-s {uniqueid=2 version=2 state=ESTABLISHED local-host=172.28.28.10 local-port=4500 \
    local-id=gateway-s remote-host=172.27.27.10 remote-port=4500 remote-id=gateway-b \
    initiator-spi=75467344077fba4c responder-spi=59cd1d2f038e855b nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=3 \
    rekey-time=13180 child-sas {b-s-1 {name=b-s uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=54fb0f17 spi-out=bdb4774b encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=1010 packets-in=14 use-in=2 bytes-out=1124 packets-out=14 use-out=2 rekey-time=3351 \
    life-time=3957 install-time=3 local-ts=[10.3.0.0/16] remote-ts=[10.2.0.0/16]}}}}\n\
    list-sa event {a-s {uniqueid=1 version=2 state=ESTABLISHED local-host=172.28.28.10 local-port=4500 \
    local-id=gateway-s remote-host=172.26.26.10 remote-port=4500 remote-id=gateway-a \
    initiator-spi=33d823bca309cb3c responder-spi=30b0e737f94adcf2 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=3 \
    rekey-time=13433 child-sas {a-s-2 {name=a-s uniqueid=2 reqid=2 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=538fc061 spi-out=c3ac8c66 encr-alg=AES_GCM_16 encr-keysize=256 \
    bytes-in=1010 packets-in=14 use-in=2 bytes-out=1124 packets-out=14 use-out=2 rekey-time=3263 \
    life-time=3957 install-time=3 local-ts=[10.3.0.0/16] remote-ts=[10.1.0.0/16]}}}}\n\
    list-sas reply {}\n";

const PSK_S_CONNS: &str = "list-conn event {a-s {local_addrs=[172.28.28.10] remote_addrs=[172.26.26.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO local-1 {id=gateway-s class=pre-shared key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} remote-1 {id=gateway-a class=pre-shared key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 rekey_bytes=0 \
    rekey_packets=0 dpd_action=none close_action=none local-ts=[10.3.0.0/16] remote-ts=[10.1.0.0/16]}}}}\n\
    list-conn event {b-s {local_addrs=[172.28.28.10] remote_addrs=[172.27.27.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO local-1 {id=gateway-s class=pre-shared key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} remote-1 {id=gateway-b class=pre-shared key groups=[] \
    cert_policy=[] certs=[] cacerts=[]} children {b-s {mode=TUNNEL rekey_time=3600 rekey_bytes=0 \
    rekey_packets=0 dpd_action=none close_action=none local-ts=[10.3.0.0/16] remote-ts=[10.2.0.0/16]}}}}\n\
    list-conns reply {}\n";

/// gateway-a of the --psk testbed with a second connection, `decoy`, loaded:
/// public keys, a child named a-s too, but it established nothing.
const DECOY_A_CONNS: &str = "list-conn event {a-s {local_addrs=[172.26.26.10] remote_addrs=[172.28.28.10] version=IKEv2 \
    reauth_time=0 rekey_time=14400 unique=UNIQUE_NO dpd_delay=5 local-1 {id=gateway-a class=pre-shared \
    key groups=[] cert_policy=[] certs=[] cacerts=[]} remote-1 {id=gateway-s class=pre-shared key \
    groups=[] cert_policy=[] certs=[] cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 \
    rekey_bytes=0 rekey_packets=0 dpd_action=start close_action=none local-ts=[10.1.0.0/16] \
    remote-ts=[10.3.0.0/16]}}}}\n\
    list-conn event {decoy {local_addrs=[%any] remote_addrs=[172.28.28.10] version=IKEv1/2 reauth_time=0 \
    rekey_time=14400 unique=UNIQUE_NO local-1 {id=gateway-a class=public key groups=[] cert_policy=[] \
    certs=[] cacerts=[]} remote-1 {id=gateway-s class=public key groups=[] cert_policy=[] certs=[] \
    cacerts=[]} children {a-s {mode=TUNNEL rekey_time=3600 rekey_bytes=0 rekey_packets=0 dpd_action=none \
    close_action=none local-ts=[10.1.0.0/16] remote-ts=[10.3.0.0/16]}}}}\n\
    list-conns reply {}\n";

/// gateway-a after `swanctl --terminate --child a-s`: the IKE SA stays.
const NOCHILD_A_SAS: &str = "list-sa event {a-s {uniqueid=2 version=2 state=ESTABLISHED local-host=172.26.26.10 local-port=4500 \
    local-id=gateway-a remote-host=172.28.28.10 remote-port=4500 remote-id=gateway-s initiator=yes \
    initiator-spi=0950d53c956572d3 responder-spi=5885f3a27fcca409 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=16 \
    rekey-time=13376 child-sas {}}}\n\
    list-sas reply {}\n";

/// gateway-a initiating with local_ts = 10.1.0.0/24; gateway-s narrowed to it.
const NARROW_A_SAS: &str = "list-sa event {a-s {uniqueid=2 version=2 state=ESTABLISHED local-host=172.26.26.10 local-port=4500 \
    local-id=gateway-a remote-host=172.28.28.10 remote-port=4500 remote-id=gateway-s initiator=yes \
    initiator-spi=0950d53c956572d3 responder-spi=5885f3a27fcca409 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=24 \
    rekey-time=13368 child-sas {a-s-2 {name=a-s uniqueid=2 reqid=1 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=e96adf7c spi-out=b9788883 encr-alg=AES_GCM_16 encr-keysize=256 \
    dh-group=CURVE_25519 bytes-in=0 packets-in=0 bytes-out=0 packets-out=0 rekey-time=3408 \
    life-time=3960 install-time=0 local-ts=[10.1.0.0/24] remote-ts=[10.3.0.0/16]}}}}\n\
    list-sas reply {}\n";

const NARROW_S_SAS: &str = "list-sa event {a-s {uniqueid=3 version=2 state=ESTABLISHED local-host=172.28.28.10 local-port=4500 \
    local-id=gateway-s remote-host=172.26.26.10 remote-port=4500 remote-id=gateway-a \
    initiator-spi=0950d53c956572d3 responder-spi=5885f3a27fcca409 nat-remote=yes nat-any=yes \
    encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=24 \
    rekey-time=13122 child-sas {a-s-3 {name=a-s uniqueid=3 reqid=2 state=INSTALLED mode=TUNNEL \
    protocol=ESP encap=yes spi-in=b9788883 spi-out=e96adf7c encr-alg=AES_GCM_16 encr-keysize=256 \
    dh-group=CURVE_25519 bytes-in=0 packets-in=0 bytes-out=0 packets-out=0 rekey-time=3302 \
    life-time=3960 install-time=0 local-ts=[10.3.0.0/16] remote-ts=[10.1.0.0/24]}}}}\n\
    list-sas reply {}\n";
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

#[test]
fn a_working_tunnel_passes_with_its_selectors() {
    let r = judge_tunnel(&a_s(), &sas(CERT_A_SAS, CERT_S_SAS));
    assert!(r.passed && r.kind == CheckKind::Tunnel && r.name == "tunnel a-s", "{r:?}");
    assert_eq!(r.detail, "IKE ESTABLISHED, child INSTALLED 10.1.0.0/16 === 10.3.0.0/16 on gateway-a and gateway-s");
    assert!(judge_tunnel(&a_s(), &sas(PSK_A_SAS, PSK_S_SAS)).passed);
}

#[test]
fn certificates_pass_the_certificate_requirement_and_fail_the_psk_one() {
    let (t, sas, conns) = (a_s(), sas(CERT_A_SAS, CERT_S_SAS), conns(CERT_A_CONNS, CERT_S_CONNS));
    let r = judge_auth(&t, AuthRequirement::Certificates, &sas, &conns).unwrap();
    assert!(r.passed && r.kind == CheckKind::Auth && r.name == "auth a-s", "{r:?}");
    assert_eq!(r.detail, "public keys (certificates) on both ends: gateway-a and gateway-s");
    let r = judge_auth(&t, AuthRequirement::Psk, &sas, &conns).unwrap();
    assert!(!r.passed, "{r:?}");
    assert_eq!(
        r.detail,
        "gateway-a: connection a-s (which established IKE SA a-s) authenticates gateway-a by public key and \
         gateway-s by public key; gateway-s: connection a-s (which established IKE SA a-s) authenticates \
         gateway-s by public key and gateway-a by public key (the scenario requires a pre-shared key)"
    );
}

#[test]
fn no_requirement_means_no_auth_check() {
    let (sas, conns) = (sas(PSK_A_SAS, PSK_S_SAS), conns(PSK_A_CONNS, PSK_S_CONNS));
    assert!(judge_auth(&a_s(), AuthRequirement::Any, &sas, &conns).is_none());
}

#[test]
fn a_psk_fails_where_certificates_are_required() {
    let (t, sas, conns) = (a_s(), sas(PSK_A_SAS, PSK_S_SAS), conns(PSK_A_CONNS, PSK_S_CONNS));
    let r = judge_auth(&t, AuthRequirement::Certificates, &sas, &conns).unwrap();
    assert!(!r.passed, "{r:?}");
    assert!(
        r.detail.starts_with(
            "gateway-a: connection a-s (which established IKE SA a-s) authenticates gateway-a by pre-shared key \
             and gateway-s by pre-shared key; gateway-s: "
        ) && r.detail.ends_with("(the scenario requires public keys (certificates))"),
        "{r:?}"
    );
    assert!(judge_auth(&t, AuthRequirement::Psk, &sas, &conns).unwrap().passed);
}

#[test]
fn a_loaded_certificate_connection_that_established_nothing_does_not_count() {
    // gateway-a has `decoy` (public keys, child a-s) beside the PSK connection a-s.
    let decoy = swanctl::parse_conns(DECOY_A_CONNS);
    assert!(decoy.iter().any(|c| c.name == "decoy" && c.local[0].class == "public key"), "{decoy:?}");
    let (t, sas, conns) = (a_s(), sas(PSK_A_SAS, PSK_S_SAS), conns(DECOY_A_CONNS, PSK_S_CONNS));
    let r = judge_auth(&t, AuthRequirement::Certificates, &sas, &conns).unwrap();
    assert!(!r.passed && r.detail.contains("gateway-a by pre-shared key"), "{r:?}");
    // Were the SA decoy's own, it would count, but then it is no tunnel a-s.
    let renamed = PSK_A_SAS.replace("list-sa event {a-s {", "list-sa event {decoy {");
    let sas = self::sas(&renamed, PSK_S_SAS);
    let r = judge_auth(&t, AuthRequirement::Certificates, &sas, &conns).unwrap();
    assert!(!r.passed && r.detail.starts_with("gateway-a: no ESTABLISHED IKE SA a-s whose"), "{r:?}");
    let tunnel = judge_tunnel(&t, &sas);
    assert!(!tunnel.passed, "{tunnel:?}");
    assert_eq!(tunnel.detail, "gateway-a: no IKE SA named a-s, only decoy (ESTABLISHED)");
}

#[test]
fn an_unloaded_connection_leaves_the_method_unknown() {
    let (t, sas) = (a_s(), sas(CERT_A_SAS, CERT_S_SAS));
    let r = judge_auth(&t, AuthRequirement::Certificates, &sas, &conns("list-conns reply {}\n", CERT_S_CONNS)).unwrap();
    assert!(!r.passed, "{r:?}");
    assert!(r.detail.starts_with("gateway-a: IKE SA a-s is ESTABLISHED but its connection a-s is no longer loaded"));
    assert!(!r.detail.contains("gateway-s:"), "{r:?}");
}

#[test]
fn no_sa_at_all_fails_tunnel_and_auth() {
    let empty = "list-sas reply {}\n";
    let (t, sas) = (a_s(), sas(empty, empty));
    let r = judge_tunnel(&t, &sas);
    assert!(!r.passed);
    assert_eq!(r.detail, "gateway-a: no IKE SA at all; gateway-s: no IKE SA at all");
    let r = judge_auth(&t, AuthRequirement::Psk, &sas, &conns(PSK_A_CONNS, PSK_S_CONNS)).unwrap();
    assert!(!r.passed && r.detail.contains("gateway-s: no ESTABLISHED IKE SA a-s"), "{r:?}");
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
    let created = CERT_S_SAS.replacen("state=INSTALLED", "state=CREATED", 1);
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
