use super::*;

fn scenario(name: &str) -> Scenario {
    Scenario::load(name).unwrap()
}

#[test]
fn net_conf_lists_links_by_mac_then_routes() {
    let s = scenario("site-to-site");
    let conf = net_conf(&s, s.node("gateway-a").unwrap());
    let lines: Vec<&str> = conf.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "link 02:1b:00:00:01:02 isp-a 172.26.26.10/24",
            "link 02:1b:00:00:04:02 intranet-a 10.1.0.1/16",
            "route default 172.26.26.1"
        ]
    );
}

#[test]
fn macs_are_unique_per_network() {
    let s = scenario("host-to-host");
    let mut seen = std::collections::HashSet::new();
    for n in &s.nodes {
        for l in &n.links {
            assert!(seen.insert(mac(&s, &n.name, &l.network)), "duplicate MAC for {} on {}", n.name, l.network);
        }
    }
}

#[test]
fn gateway_firewall_admits_only_ike_and_esp_from_peers() {
    let s = scenario("site-to-site");
    let fw = firewall(&s, s.node("gateway-s").unwrap());
    assert!(fw.contains("iifname != \"isp-s\" accept"), "{fw}");
    assert!(fw.contains("ip saddr { 172.26.26.10, 172.27.27.10 } udp dport { 500, 4500 } accept"), "{fw}");
    assert!(fw.contains("ip saddr { 172.26.26.10, 172.27.27.10 } meta l4proto esp accept"), "{fw}");
    assert!(fw.contains("policy drop"), "{fw}");
    // Tunnel traffic is exempt from NAT; the rest leaving the cloud is NATed.
    assert!(fw.contains("ip saddr 10.3.0.0/16 ip daddr 10.1.0.0/16 accept"), "{fw}");
    assert!(fw.contains("iifname \"cloud-s\" oifname != \"cloud-s\" snat ip to 172.28.28.10"), "{fw}");
    assert!(!fw.contains("dnat"), "{fw}");
}

#[test]
fn host_to_host_gateway_s_forwards_the_service_port() {
    let s = scenario("host-to-host");
    let fw = firewall(&s, s.node("gateway-s").unwrap());
    assert!(
        fw.contains("iifname != { \"cloud-s\" } ip daddr 172.28.28.10 tcp dport 8080 dnat ip to 10.3.0.10:8080"),
        "{fw}"
    );
    assert!(needs_policy_routing(&s, s.node("gateway-a").unwrap()));
    let s2s = scenario("site-to-site");
    assert!(!needs_policy_routing(&s2s, s2s.node("gateway-a").unwrap()));
}

#[test]
fn ipv6_firewall_uses_ip6_matches() {
    let s = scenario("site-to-site-ipv6");
    let fw = firewall(&s, s.node("gateway-a").unwrap());
    assert!(fw.contains("ip6 saddr { fd00:28:28::10 } udp dport { 500, 4500 } accept"), "{fw}");
    assert!(fw.contains("snat ip6 to fd00:26:26::10"), "{fw}");
}

#[test]
fn initiator_starts_and_responder_waits() {
    let s = scenario("site-to-site");
    let a = swanctl_conf(&s, s.node("gateway-a").unwrap(), &Auth::Certificates);
    assert!(a.contains("dpd_action = restart") && a.contains("remote_addrs = 172.28.28.10"), "{a}");
    assert_eq!(initiate(&s, s.node("gateway-a").unwrap()), "a-s\n");
    assert_eq!(initiate(&s, s.node("gateway-s").unwrap()), "");
    assert!(a.contains("local_ts = 10.1.0.0/16") && a.contains("remote_ts = 10.3.0.0/16"), "{a}");
    assert!(a.contains("certs = gateway-a.pem"), "{a}");
    let gw_s = swanctl_conf(&s, s.node("gateway-s").unwrap(), &Auth::Certificates);
    assert_eq!(gw_s.matches("dpd_action = clear").count(), 2, "{gw_s}");
    assert_eq!(children(&s, s.node("gateway-s").unwrap()), "a-s\nb-s\n");
}

#[test]
fn psk_goes_to_secrets_only() {
    let s = scenario("site-to-site");
    let conf = swanctl_conf(&s, s.node("gateway-b").unwrap(), &Auth::Psk("abcd".into()));
    assert!(conf.contains("auth = psk") && !conf.contains("certs ="), "{conf}");
    assert_eq!(conf.matches("0xabcd").count(), 1, "{conf}");
    assert!(conf.contains("ike-b-s {\n    id-1 = gateway-b\n    id-2 = gateway-s"), "{conf}");
}
