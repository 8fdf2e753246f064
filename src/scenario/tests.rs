//! Resolution and its errors; `grading`, `names` and `props` (property tests) below.

use super::*;

mod grading;
mod names;
mod props;

fn builtin(name: &str) -> Scenario {
    Scenario::load(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The scenario text with one line replaced, for error cases.
fn edited(from: &str, to: &str) -> String {
    let text = BUILTIN[0].1;
    assert!(text.contains(from), "fixture text lacks {from:?}");
    text.replacen(from, to, 1)
}

/// The `n`th (from 1) occurrence of `from` replaced, and the line it is on:
/// errors must name that line, not the first one where the text occurs.
fn edited_nth(from: &str, to: &str, n: usize) -> (String, usize) {
    let text = BUILTIN[0].1;
    let (at, _) = text.match_indices(from).nth(n - 1).unwrap_or_else(|| panic!("fixture lacks {n} of {from:?}"));
    let line = text[..at].matches('\n').count() + 1;
    (format!("{}{to}{}", &text[..at], &text[at + from.len()..]), line)
}

fn error_of(text: &str) -> String {
    Scenario::parse(text, "t.toml").expect_err("scenario should be rejected").to_string()
}

/// Rejected at `line` with a message containing `what`.
fn assert_error_at(text: &str, line: usize, what: &str) {
    let e = error_of(text);
    assert!(e.starts_with(&format!("t.toml:{line}: ")) && e.contains(what), "want line {line}, {what:?}: {e}");
    assert!(!e.contains('\n'), "{e}");
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
    assert!(e.contains("unknown network \"intranet-z\": use one of isp-a,"), "{e}");
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

#[test]
fn toml_error_is_one_line_at_its_span() {
    let e = error_of("name = \"x\"\n\n[nodes.a]\nrole = \"router\"\nrole = \"router\"\n");
    assert!(e.starts_with("t.toml:5: ") && !e.contains('\n'), "{e}");
}

#[test]
fn duplicate_key_names_the_key_and_its_second_line() {
    let (text, line) = edited_nth("[nodes.client-a2]", "[nodes.client-a1]", 1);
    assert_error_at(&text, line, "duplicate key \"client-a1\": a key or table may appear only once");
}

#[test]
fn a_newline_in_a_quoted_key_stays_escaped() {
    let (text, line) = edited_nth("role = \"router\"", "role = \"router\"\n\"col\\nour\" = 1", 1);
    assert_error_at(&text, line + 1, "unknown field `col\\nour`");
}

#[test]
fn toml_error_at_the_start_of_a_line_names_that_line() {
    // The span starts just after a newline: the line is the next one.
    let e = error_of("name = \"x\"\n[nodes]\n[nodes]\n");
    assert!(e.starts_with("t.toml:3: "), "{e}");
}

#[test]
fn bad_address_names_the_line_of_its_occurrence() {
    // "10.1.0.1" is gateway-a's address, then client-a1's and client-a2's route.
    let (text, line) = edited_nth("default = \"10.1.0.1\"", "default = \"10.1.0.300\"", 2);
    assert_error_at(&text, line, "\"10.1.0.300\" is not an IP address: write one like");
}

#[test]
fn duplicate_address_names_the_second_holder() {
    let (text, line) = edited_nth("[\"10.1.0.11\"]", "[\"10.1.0.10\"]", 1);
    assert_error_at(&text, line, "10.1.0.10 on intranet-a is given to both client-a1 and client-a2");
}

#[test]
fn route_via_a_value_used_before_names_the_route() {
    // 10.1.0.1 is on gateway-a's links and client-a*'s routes first.
    let (text, line) = edited_nth("default = \"10.2.0.1\"", "default = \"10.1.0.1\"", 1);
    assert_error_at(&text, line, "node client-b1: route via 10.1.0.1 is not on any of its links");
}

#[test]
fn second_router_names_its_role() {
    let (text, line) = edited_nth("role = \"gateway\"", "role = \"router\"", 2);
    assert_error_at(&text, line, "gateway-b is a second router (after router)");
}

#[test]
fn no_router_names_the_nodes() {
    let (text, _) = edited_nth("role = \"router\"", "role = \"client\"", 1);
    assert_error_at(&text, 15, "needs a node with role = \"router\"");
}

#[test]
fn repeated_tunnel_names_the_second() {
    let (text, line) =
        edited_nth("gateways = [\"gateway-b\", \"gateway-s\"]", "gateways = [\"gateway-a\", \"gateway-s\"]", 1);
    assert_error_at(&text, line, "two tunnels between gateway-a and gateway-s");
}

#[test]
fn service_on_a_client_names_the_service_line() {
    // "client-a1" appears first as a node's table header.
    let (text, line) = edited_nth("server = \"server-s1\"", "server = \"client-a1\"", 1);
    assert_error_at(&text, line, "service server \"client-a1\" is not a node with role = \"server\"");
}

#[test]
fn host_bits_name_the_subnet() {
    let (text, line) = edited_nth("[\"10.2.0.0/16\"]", "[\"10.2.0.1/16\"]", 1);
    assert_error_at(&text, line, "subnet 10.2.0.1/16 has host bits set: write 10.2.0.0/16");
}

#[test]
fn gateway_without_isp_link_names_its_links() {
    let (text, line) = edited_nth("links = { isp-b = [\"172.27.27.10\"], ", "links = { ", 1);
    let text = text.replace("default = \"172.27.27.1\"", "\"10.9.0.0/16\" = \"10.2.0.10\"");
    assert_error_at(&text, line, "gateway gateway-b has no link on an isp network");
}

#[test]
fn port_zero_is_rejected() {
    let (text, line) = edited_nth("port = 8080", "port = 0", 1);
    assert_error_at(&text, line, "service port 0");
}

#[test]
fn too_many_networks_are_refused_at_the_first_extra() {
    let mut text = String::from("name = \"big\"\n[networks]\n");
    for i in 0..=255 {
        text += &format!("n{i} = {{ kind = \"site\", subnets = [\"10.{i}.0.0/16\"] }}\n");
    }
    text += "[nodes]\n[service]\nserver = \"x\"\nport = 1\n";
    // Line 1 is the name, 2 the table header, 3 to 257 the 255 allowed networks.
    assert_error_at(&text, 258, "a scenario has at most 255 networks");
}
