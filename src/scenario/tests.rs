use super::*;

fn builtin(name: &str) -> Scenario {
    Scenario::load(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The scenario text with one line replaced, for error cases.
fn edited(from: &str, to: &str) -> String {
    let text = BUILTIN[0].1;
    assert!(text.contains(from), "fixture text lacks {from:?}");
    text.replacen(from, to, 1)
}

fn error_of(text: &str) -> String {
    Scenario::parse(text, "t.toml").expect_err("scenario should be rejected").to_string()
}

#[test]
fn builtins_resolve_with_the_study_topology() {
    for (name, _) in BUILTIN {
        let s = builtin(name);
        assert_eq!(s.name, *name);
        let nodes: Vec<_> = s.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            nodes,
            [
                "router",
                "gateway-a",
                "client-a1",
                "client-a2",
                "gateway-b",
                "client-b1",
                "client-b2",
                "gateway-s",
                "server-s1"
            ]
        );
        assert_eq!(s.networks.len(), 6);
        assert_eq!(s.tunnels.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["a-s", "b-s"]);
    }
}

#[test]
fn dot_one_addresses_and_overlapping_sites_are_allowed() {
    let s = builtin("host-to-host");
    let a = s.node("gateway-a").unwrap().link("intranet-a").unwrap().addrs[0];
    let b = s.node("gateway-b").unwrap().link("intranet-b").unwrap().addrs[0];
    assert_eq!(a.to_string(), "10.1.0.1/16");
    assert_eq!(a, b);
    assert_eq!(s.service_addr().to_string(), "172.28.28.10");
}

#[test]
fn ipv6_scenario_is_ipv6_only() {
    assert!(builtin("site-to-site-ipv6").ipv6_only());
    assert!(!builtin("site-to-site").ipv6_only());
    assert_eq!(builtin("site-to-site-ipv6").service_addr().to_string(), "fd00:10:3::10");
}

#[test]
fn unknown_scenario_lists_the_known_ones() {
    let e = Scenario::load("moon-base").unwrap_err().to_string();
    assert!(e.contains("unknown scenario 'moon-base'") && e.contains("site-to-site-ipv6"), "{e}");
}

#[test]
fn malformed_toml_names_file_and_line() {
    let text = edited("role = \"router\"", "role = router");
    let e = error_of(&text);
    let line = text.lines().position(|l| l == "role = router").unwrap() + 1;
    assert!(e.starts_with(&format!("t.toml:{line}:")), "{e}");
}

#[test]
fn unknown_key_is_rejected() {
    let e = error_of(&edited("role = \"router\"", "role = \"router\"\ncolour = \"red\""));
    assert!(e.contains("colour"), "{e}");
}

#[test]
fn duplicate_address_on_a_network_is_rejected() {
    let e = error_of(&edited("links = { intranet-a = [\"10.1.0.11\"] }", "links = { intranet-a = [\"10.1.0.10\"] }"));
    assert!(e.contains("10.1.0.10 on intranet-a is given to both client-a1 and client-a2"), "{e}");
    assert!(e.starts_with("t.toml:"), "{e}");
}

#[test]
fn address_outside_its_network_is_rejected() {
    let e = error_of(&edited("[\"10.1.0.10\"]", "[\"10.9.0.10\"]"));
    assert!(e.contains("10.9.0.10 is not within intranet-a (10.1.0.0/16)"), "{e}");
}

#[test]
fn route_through_a_foreign_network_is_rejected() {
    let e = error_of(&edited("routes = { default = \"10.1.0.1\" }", "routes = { default = \"10.2.0.1\" }"));
    assert!(e.contains("route via 10.2.0.1 is not on any of its links"), "{e}");
}

#[test]
fn link_to_unknown_network_is_rejected() {
    let e = error_of(&edited("links = { intranet-a = [\"10.1.0.10\"] }", "links = { intranet-z = [\"10.1.0.10\"] }"));
    assert!(e.contains("unknown network 'intranet-z'"), "{e}");
}

#[test]
fn tunnel_to_a_client_is_rejected() {
    let e = error_of(&edited("gateways = [\"gateway-a\", \"gateway-s\"]", "gateways = [\"client-a1\", \"gateway-s\"]"));
    assert!(e.contains("tunnel end client-a1 is not a gateway"), "{e}");
}

#[test]
fn network_address_is_rejected() {
    let e = error_of(&edited("[\"10.1.0.10\"]", "[\"10.1.0.0\"]"));
    assert!(e.contains("network or broadcast"), "{e}");
}
