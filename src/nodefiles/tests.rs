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

/// A parsed nftables ruleset as [`firewall`] writes it: each chain's hook
/// line and its rules, in order. Tests compare whole chains, so a rule added
/// anywhere (another `accept` most of all) fails them; a `contains` test
/// would still pass.
#[derive(Debug, PartialEq)]
struct Chain<'a> {
    hook: &'a str,
    rules: Vec<&'a str>,
}

/// The chains of `fw` by name. Panics on anything but one `inet imgtool`
/// table of flat chains, so a rule or table outside them fails too.
fn chains(fw: &str) -> std::collections::BTreeMap<&str, Chain<'_>> {
    let mut out = std::collections::BTreeMap::new();
    let mut outside = Vec::new();
    let mut current: Option<(&str, Chain)> = None;
    for line in fw.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        match (&mut current, line) {
            (None, l) if l.starts_with("chain ") => {
                let name = l.strip_prefix("chain ").and_then(|n| n.strip_suffix(" {")).expect("chain NAME {");
                current = Some((name, Chain { hook: "", rules: Vec::new() }));
            }
            (None, l) => outside.push(l),
            (Some((name, chain)), "}") => {
                let name = *name;
                let chain = std::mem::replace(chain, Chain { hook: "", rules: Vec::new() });
                assert!(out.insert(name, chain).is_none(), "chain {name} twice:\n{fw}");
                current = None;
            }
            (Some((_, chain)), l) if l.starts_with("type ") && chain.hook.is_empty() && chain.rules.is_empty() => {
                chain.hook = l;
            }
            (Some((_, chain)), l) => chain.rules.push(l),
        }
    }
    assert!(current.is_none(), "unclosed chain:\n{fw}");
    assert_eq!(outside, ["flush ruleset", "table inet imgtool {", "}"], "{fw}");
    out
}

const INPUT: &str = "type filter hook input priority filter; policy drop;";
const FORWARD: &str = "type filter hook forward priority filter; policy drop;";
const PREROUTING: &str = "type nat hook prerouting priority dstnat; policy accept;";
const POSTROUTING: &str = "type nat hook postrouting priority srcnat; policy accept;";
const ND: &str = "icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept";

/// The whole ruleset, chain by chain: `input` and `forward` in full, then
/// the NAT chains.
fn assert_ruleset(fw: &str, input: &[&str], forward: &[&str], prerouting: &[&str], postrouting: &[&str]) {
    let got = chains(fw);
    let want: std::collections::BTreeMap<&str, Chain> = [
        ("input", Chain { hook: INPUT, rules: input.to_vec() }),
        ("forward", Chain { hook: FORWARD, rules: forward.to_vec() }),
        ("prerouting", Chain { hook: PREROUTING, rules: prerouting.to_vec() }),
        ("postrouting", Chain { hook: POSTROUTING, rules: postrouting.to_vec() }),
    ]
    .into();
    assert_eq!(got, want, "{fw}");
}

#[test]
fn gateway_firewall_admits_only_ike_and_esp_from_peers() {
    let s = scenario("site-to-site");
    check_site_to_site_gateway_s(&firewall(&s, s.node("gateway-s").unwrap()));
}

/// gateway-s's input chain in both IPv4 scenarios: IKE and ESP from the
/// two peers, nothing else from its ISP link.
const GATEWAY_S_INPUT: [&str; 8] = [
    "iif lo accept",
    "ct state established,related accept",
    "ct state invalid drop",
    "iifname != \"isp-s\" accept",
    "meta ipsec exists accept",
    "ip saddr { 172.26.26.10, 172.27.27.10 } udp dport { 500, 4500 } accept",
    "ip saddr { 172.26.26.10, 172.27.27.10 } meta l4proto esp accept",
    ND,
];

const GATEWAY_S_FORWARD: [&str; 4] = [
    "ct state established,related accept",
    "iifname \"cloud-s\" accept",
    "iifname \"ipsec0\" accept",
    "meta ipsec exists accept",
];

/// The complete ruleset of site-to-site's gateway-s.
fn check_site_to_site_gateway_s(fw: &str) {
    assert_ruleset(
        fw,
        &GATEWAY_S_INPUT,
        &GATEWAY_S_FORWARD,
        // No service port is forwarded in site-to-site.
        &[],
        // Tunnel traffic is exempt from NAT; the rest leaving the cloud is NATed.
        &[
            "ip saddr 10.3.0.0/16 ip daddr 10.1.0.0/16 accept",
            "ip saddr 10.3.0.0/16 ip daddr 10.2.0.0/16 accept",
            "iifname \"cloud-s\" oifname != \"cloud-s\" snat ip to 172.28.28.10",
        ],
    );
}

/// The exact check itself must fail on a ruleset with one more rule, or an
/// opened firewall would still pass it: each mutation here adds one line to
/// the real site-to-site ruleset of gateway-s.
#[test]
fn one_added_rule_fails_the_exact_check() {
    let s = scenario("site-to-site");
    let fw = firewall(&s, s.node("gateway-s").unwrap());
    let input_end = "nd-neighbor-advert } accept\n";
    let mutations = [
        // Any TCP from the ISP side, e.g. a debugging shortcut left in.
        fw.replacen(input_end, &format!("{input_end}    tcp dport 22 accept\n"), 1),
        fw.replacen(
            "    meta ipsec exists accept\n  }",
            "    meta ipsec exists accept\n    iifname \"isp-s\" accept\n  }",
            1,
        ),
        fw.replacen(
            "  chain prerouting {",
            "  chain extra {\n    type filter hook input priority -1; policy accept;\n  }\n  chain prerouting {",
            1,
        ),
        format!("{fw}table ip other {{\n}}\n"),
    ];
    for m in mutations {
        assert_ne!(m, fw, "a mutation did not apply");
        let exact = std::panic::catch_unwind(|| check_site_to_site_gateway_s(&m));
        assert!(exact.is_err(), "the exact check passed a ruleset with an added rule:\n{m}");
    }
    // And the unmutated ruleset passes, so the failures above are the rule's.
    check_site_to_site_gateway_s(&fw);
}

#[test]
fn host_to_host_gateway_s_forwards_the_service_port() {
    let s = scenario("host-to-host");
    let fw = firewall(&s, s.node("gateway-s").unwrap());
    assert_ruleset(
        &fw,
        &GATEWAY_S_INPUT,
        &GATEWAY_S_FORWARD,
        &["iifname != { \"cloud-s\" } ip daddr 172.28.28.10 tcp dport 8080 dnat ip to 10.3.0.10:8080"],
        &[
            "ip saddr 172.28.28.10/32 ip daddr 172.26.26.10/32 accept",
            "ip saddr 172.28.28.10/32 ip daddr 172.27.27.10/32 accept",
            "iifname \"cloud-s\" oifname != \"cloud-s\" snat ip to 172.28.28.10",
        ],
    );
    assert!(needs_policy_routing(&s, s.node("gateway-a").unwrap()));
    let s2s = scenario("site-to-site");
    assert!(!needs_policy_routing(&s2s, s2s.node("gateway-a").unwrap()));
}

#[test]
fn ipv6_firewall_uses_ip6_matches() {
    let s = scenario("site-to-site-ipv6");
    let fw = firewall(&s, s.node("gateway-a").unwrap());
    assert_ruleset(
        &fw,
        &[
            "iif lo accept",
            "ct state established,related accept",
            "ct state invalid drop",
            "iifname != \"isp-a\" accept",
            "meta ipsec exists accept",
            "ip6 saddr { fd00:28:28::10 } udp dport { 500, 4500 } accept",
            "ip6 saddr { fd00:28:28::10 } meta l4proto esp accept",
            ND,
        ],
        &[
            "ct state established,related accept",
            "iifname \"intranet-a\" accept",
            "iifname \"ipsec0\" accept",
            "meta ipsec exists accept",
        ],
        &[],
        &[
            "ip6 saddr fd00:10:1::/64 ip6 daddr fd00:10:3::/64 accept",
            "iifname \"intranet-a\" oifname != \"intranet-a\" snat ip6 to fd00:26:26::10",
        ],
    );
}

/// Every gateway of every built-in scenario, including ones added later:
/// from the ISP side the input chain accepts exactly IKE and ESP from the
/// tunnel peers' public addresses, decrypted tunnel traffic and neighbour
/// discovery, and nothing else; the forward chain only the sites and the
/// tunnel. Expected from the scenario's own data, not from [`firewall`].
#[test]
fn every_gateway_accepts_exactly_its_peers() {
    let mut gateways = 0;
    for (name, _) in crate::scenario::BUILTIN {
        let s = scenario(name);
        for g in s.nodes_with(Role::Gateway) {
            gateways += 1;
            let isp = s.isp_link(g).unwrap();
            let public = isp.addrs[0].addr();
            let fam = if public.is_ipv4() { "ip" } else { "ip6" };
            let peers: Vec<String> = s
                .tunnels
                .iter()
                .filter_map(|t| match g.name.as_str() {
                    n if n == t.initiator => Some(&t.responder),
                    n if n == t.responder => Some(&t.initiator),
                    _ => None,
                })
                .map(|p| s.public_addr(s.node(p).unwrap()).unwrap().to_string())
                .collect();
            assert!(!peers.is_empty(), "{name}: {} is in no tunnel", g.name);
            let peers = peers.join(", ");
            let isp_rule = format!("iifname != \"{}\" accept", isp.network);
            let ike = format!("{fam} saddr {{ {peers} }} udp dport {{ 500, 4500 }} accept");
            let esp = format!("{fam} saddr {{ {peers} }} meta l4proto esp accept");
            let fw = firewall(&s, g);
            let got = chains(&fw);
            let accepts = |chain: &str| -> Vec<String> {
                let c = got.get(chain).unwrap_or_else(|| panic!("{name} {}: no chain {chain}:\n{fw}", g.name));
                c.rules.iter().filter(|r| r.ends_with(" accept")).map(|r| r.to_string()).collect()
            };
            let want_input = [
                "iif lo accept",
                "ct state established,related accept",
                &isp_rule,
                "meta ipsec exists accept",
                &ike,
                &esp,
                ND,
            ];
            assert_eq!(accepts("input"), want_input, "{name} {}:\n{fw}", g.name);
            let sites = g
                .links
                .iter()
                .filter(|l| l.network != isp.network)
                .map(|l| format!("iifname \"{}\" accept", l.network));
            let want_forward: Vec<String> = std::iter::once("ct state established,related accept".to_string())
                .chain(sites)
                .chain(["iifname \"ipsec0\" accept".to_string(), "meta ipsec exists accept".to_string()])
                .collect();
            assert_eq!(accepts("forward"), want_forward, "{name} {}:\n{fw}", g.name);
            // Whatever is not accepted is dropped: the filter chains' policy.
            assert_eq!([got["input"].hook, got["forward"].hook], [INPUT, FORWARD], "{fw}");
        }
    }
    assert!(gateways >= 9, "only {gateways} gateways in the built-in scenarios");
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
    // Only the initiator detects a dead peer and brings the tunnel back:
    // the responder keeps its SAs through a pause of the initiator.
    assert_eq!(gw_s.matches("dpd_delay = 0s").count(), 2, "{gw_s}");
    assert!(a.contains("dpd_delay = 5s") && a.contains("keyingtries = 0"), "{a}");
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
