//! Every kind of name a scenario gives is refused, at its line, unless it is
//! safe wherever imgtool puts it (containers, interfaces, shell, nftables).

use super::*;

/// `s` as a TOML basic string, so that any name can be written as a key.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

/// Names that must never reach a container name, an interface, a shell
/// script or an nft rule.
const UNSAFE: &[&str] = &[
    "a;b",
    "a$b",
    "a b",
    "a\"b",
    "a'b",
    "a`b",
    "a\nb",
    "a{b",
    "a}b",
    "Client-a1",
    "-a",
    "a-",
    "",
    "a_b",
    "a.b",
    "a/b",
];

#[test]
fn unsafe_node_names_are_refused_at_their_table() {
    for bad in UNSAFE {
        let (text, line) = edited_nth("[nodes.client-a1]", &format!("[nodes.{}]", quoted(bad)), 1);
        let message = format!("node name {bad:?} is not allowed: use 1 to 20 lower-case letters, digits and '-'");
        assert_error_at(&text, line, &message);
    }
}

#[test]
fn unsafe_network_names_are_refused_at_their_key() {
    for bad in UNSAFE {
        let (text, line) = edited_nth("intranet-a = {", &format!("{} = {{", quoted(bad)), 1);
        let message = format!("network name {bad:?} is not allowed: use 1 to 15 lower-case letters, digits and '-'");
        assert_error_at(&text, line, &message);
    }
}

#[test]
fn unsafe_scenario_names_are_refused_at_their_value() {
    for bad in UNSAFE {
        let (text, line) = edited_nth("name = \"site-to-site\"", &format!("name = {}", quoted(bad)), 1);
        let message = format!("scenario name {bad:?} is not allowed: use 1 to 40 lower-case letters, digits and '-'");
        assert_error_at(&text, line, &message);
    }
}

#[test]
fn long_names_are_refused_with_the_limit() {
    let node = "n".repeat(21);
    let (text, line) = edited_nth("[nodes.client-a1]", &format!("[nodes.{node}]"), 1);
    assert_error_at(&text, line, &format!("node name \"{node}\" has 21 characters: use at most 20"));

    // An interface name is at most 15 bytes.
    let net = "n".repeat(16);
    let (text, line) = edited_nth("intranet-a = {", &format!("{net} = {{"), 1);
    assert_error_at(&text, line, &format!("network name \"{net}\" has 16 characters: use at most 15"));

    let name = "n".repeat(41);
    let (text, line) = edited_nth("name = \"site-to-site\"", &format!("name = \"{name}\""), 1);
    assert_error_at(&text, line, &format!("scenario name \"{name}\" has 41 characters: use at most 40"));
}

#[test]
fn helper_names_are_reserved_for_nodes() {
    for reserved in ["observer", "meter"] {
        let (text, line) = edited_nth("[nodes.client-a1]", &format!("[nodes.{reserved}]"), 1);
        assert_error_at(&text, line, &format!("node name \"{reserved}\" is reserved for a helper container"));
    }
}

#[test]
fn existing_interface_names_are_reserved_for_networks() {
    for reserved in ["lo", "eth0", "ipsec0"] {
        let (text, line) = edited_nth("intranet-a = {", &format!("{reserved} = {{"), 1);
        assert_error_at(&text, line, &format!("network name \"{reserved}\" is the name of an interface"));
    }
}
