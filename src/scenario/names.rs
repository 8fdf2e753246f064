//! Which names a scenario may give its nodes, networks and itself. Every
//! name ends up somewhere stricter than TOML: container and network names
//! (`<testbed>-<node>`), Linux interface names (each link is renamed to its
//! network's name, at most 15 bytes), labels, file names, and unquoted words
//! in shell scripts and nftables rules. So a name is refused here, before
//! anything is derived from it, unless it is lower-case letters, digits and
//! '-', neither first nor last, and short enough for where it goes.

/// What a name names, with the limits that follow from where it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The scenario's `name`: labels and file names.
    Scenario,
    /// A network: inside each node its interface has this name (IFNAMSIZ).
    Network,
    /// A node: its container is `<testbed>-<node>`, its hostname and its
    /// strongSwan identity are the node's name.
    Node,
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Kind::Scenario => "scenario name",
            Kind::Network => "network name",
            Kind::Node => "node name",
        }
    }

    pub(super) fn max_len(self) -> usize {
        match self {
            Kind::Scenario => 40,
            // Linux interface names are at most 15 bytes (IFNAMSIZ - 1).
            Kind::Network => 15,
            // Leaves room for the testbed name in `<testbed>-<node>`.
            Kind::Node => 20,
        }
    }
}

/// Helper containers imgtool runs next to the nodes, as `<testbed>-<name>`
/// (`testbed::spec::OBSERVER`, the memory meter): a node of that name would
/// take the helper's container name.
const RESERVED_NODES: &[&str] = &["observer", "meter"];

/// Interfaces a node already has before its links are renamed: loopback, the
/// userspace ESP device (`nodefiles::LIBIPSEC_IFACE`), and Docker's `ethN`.
fn reserved_interface(name: &str) -> bool {
    name == "lo"
        || name == "ipsec0"
        || name.strip_prefix("eth").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `[a-z0-9]([a-z0-9-]*[a-z0-9])?`, the one shape every kind of name has.
pub(super) fn well_formed(name: &str) -> bool {
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => ok(first) && ok(last) && bytes.iter().all(|&b| ok(b) || b == b'-'),
        _ => false,
    }
}

/// Whether `name` may be used as a `kind`; the error is one line saying what
/// is allowed instead. The name is quoted with escapes, so that a newline or
/// a quote in it cannot break the line.
pub(super) fn check(kind: Kind, name: &str) -> Result<(), String> {
    let (what, max) = (kind.what(), kind.max_len());
    if !well_formed(name) {
        return Err(format!(
            "{what} {name:?} is not allowed: use 1 to {max} lower-case letters, digits and '-', \
             starting and ending with a letter or digit"
        ));
    }
    if name.len() > max {
        return Err(format!("{what} {name:?} has {} characters: use at most {max}", name.len()));
    }
    match kind {
        Kind::Node if RESERVED_NODES.contains(&name) => {
            Err(format!("{what} {name:?} is reserved for a helper container of imgtool: choose another name"))
        }
        Kind::Network if reserved_interface(name) => {
            Err(format!("{what} {name:?} is the name of an interface every node already has: choose another name"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_is_lower_case_words_joined_by_dashes() {
        for good in ["a", "0", "isp-a", "client-a1", "a--b", "9lives"] {
            assert!(well_formed(good), "{good}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "a b", "a;b", "é", "a\n"] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }

    #[test]
    fn limits_follow_where_the_name_goes() {
        assert!(check(Kind::Network, &"n".repeat(15)).is_ok());
        assert!(check(Kind::Network, &"n".repeat(16)).unwrap_err().contains("use at most 15"));
        assert!(check(Kind::Node, &"n".repeat(20)).is_ok());
        assert!(check(Kind::Node, &"n".repeat(21)).unwrap_err().contains("use at most 20"));
        assert!(check(Kind::Scenario, &"n".repeat(40)).is_ok());
        assert!(check(Kind::Scenario, &"n".repeat(41)).unwrap_err().contains("use at most 40"));
    }

    #[test]
    fn helper_and_interface_names_are_reserved() {
        assert!(check(Kind::Node, "observer").unwrap_err().contains("reserved"));
        assert!(check(Kind::Node, "meter").unwrap_err().contains("reserved"));
        for net in ["lo", "eth0", "eth12", "ipsec0"] {
            assert!(check(Kind::Network, net).unwrap_err().contains("interface"), "{net}");
        }
        // Only where they would clash: a network may be called "meter", a
        // node "eth0" (its container is `<testbed>-eth0`).
        assert!(check(Kind::Network, "meter").is_ok());
        assert!(check(Kind::Node, "eth0").is_ok());
        assert!(check(Kind::Network, "eth").is_ok());
    }

    #[test]
    fn the_refusal_is_one_line_even_for_a_newline() {
        let e = check(Kind::Node, "a\nb").unwrap_err();
        assert!(!e.contains('\n') && e.contains(r#""a\nb""#), "{e}");
    }
}
