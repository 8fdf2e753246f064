//! Image references checked before any work: a registry given as
//! `HOST[:PORT]/NAMESPACE`, tags, and every reference imgtool will push or
//! pull. The grammar is oci-client's parser (the distribution reference
//! grammar), so what passes here is what the registry client and Docker
//! accept later. The parser only says "invalid reference format", so each
//! part is checked on its own to say which one is wrong and what a valid one
//! looks like.

use std::fmt;

use oci_client::Reference;

const REGISTRY_EXAMPLE: &str = "e.g. docker.io/vpnlab or 127.0.0.1:5000/vpnlab";
/// What a valid tag is, for messages.
pub const TAG_RULE: &str =
    "up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-', e.g. 1.2.0 or edge";
/// A host that is certainly one, to check other parts on their own.
const PROBE_HOST: &str = "localhost";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("registry '{0}' is not HOST[:PORT]/NAMESPACE: give both, {REGISTRY_EXAMPLE}")]
    Shape(String),
    #[error(
        "registry '{registry}': '{host}' is not a registry host (a name with a dot, an IP address or localhost, with an optional :PORT): give HOST[:PORT]/NAMESPACE, {REGISTRY_EXAMPLE}"
    )]
    Host { registry: String, host: String },
    #[error(
        "registry '{registry}': namespace '{namespace}' is not valid: lowercase letters and digits, separated by '.', '_', '__' or '-', in parts joined by '/', e.g. vpnlab or course/vpnlab"
    )]
    Namespace { registry: String, namespace: String },
    #[error(
        "image name '{0}' is not valid: lowercase letters and digits, separated by '.', '_', '__' or '-', e.g. router"
    )]
    Name(String),
    #[error("tag '{0}' is not valid: {TAG_RULE}")]
    Tag(String),
    #[error("image reference '{reference}' is not valid ({problem}): shorten the namespace or the tag")]
    Reference { reference: String, problem: String },
}

/// Whether `host/path:tag` parses with exactly these parts: the grammar
/// would otherwise read a host without a dot as a Docker Hub namespace, or
/// `ns:5/x` as a host with a port.
fn parses_as(host: &str, path: &str, tag: &str) -> Result<(), String> {
    let text = format!("{host}/{path}:{tag}");
    let parsed: Reference = text.parse().map_err(|e| format!("{e}"))?;
    let same_host = parsed.registry() == host || (host == "index.docker.io" && parsed.registry() == "docker.io");
    if same_host && parsed.repository() == path && parsed.tag() == Some(tag) && parsed.digest().is_none() {
        Ok(())
    } else {
        Err(format!("it reads as {parsed}"))
    }
}

/// Checks one tag.
pub fn check_tag(tag: &str) -> Result<(), ReferenceError> {
    parses_as(PROBE_HOST, "x", tag).map_err(|_| ReferenceError::Tag(tag.into()))
}

/// Checks one image name of the set (the last part of its repository).
pub fn check_name(name: &str) -> Result<(), ReferenceError> {
    let ok = !name.contains('/') && parses_as(PROBE_HOST, name, "latest").is_ok();
    if ok { Ok(()) } else { Err(ReferenceError::Name(name.into())) }
}

/// A registry host and namespace, checked: where images are pushed and
/// pulled. Displayed as `HOST/NAMESPACE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryPath {
    pub host: String,
    pub namespace: String,
}

impl RegistryPath {
    /// `HOST[:PORT]/NAMESPACE`, e.g. `docker.io/vpnlab` or `127.0.0.1:5000/course/vpnlab`.
    pub fn parse(text: &str) -> Result<RegistryPath, ReferenceError> {
        let (host, namespace) = text
            .split_once('/')
            .filter(|(h, n)| !h.is_empty() && !n.is_empty())
            .ok_or_else(|| ReferenceError::Shape(text.into()))?;
        RegistryPath::new(host, namespace)
    }

    /// The two parts as imgtool.toml's `[registry]` gives them.
    pub fn new(host: &str, namespace: &str) -> Result<RegistryPath, ReferenceError> {
        let registry = format!("{host}/{namespace}");
        // The grammar's own rule for a first part that is a host, not a namespace.
        let looks_like_host = host.contains(['.', ':']) || host == "localhost";
        // Two parts: Docker Hub reads a one-part path as `library/NAME`.
        if !looks_like_host || parses_as(host, "x/y", "latest").is_err() {
            return Err(ReferenceError::Host { registry, host: host.into() });
        }
        if parses_as(PROBE_HOST, &format!("{namespace}/x"), "latest").is_err() {
            return Err(ReferenceError::Namespace { registry, namespace: namespace.into() });
        }
        Ok(RegistryPath { host: host.into(), namespace: namespace.into() })
    }

    /// `HOST/NAMESPACE/IMAGE`.
    pub fn repository(&self, image: &str) -> String {
        format!("{self}/{image}")
    }

    /// Checks `HOST/NAMESPACE/IMAGE:TAG` as a whole (each part may be valid
    /// and the whole still too long).
    pub fn check_reference(&self, image: &str, tag: &str) -> Result<(), ReferenceError> {
        check_name(image)?;
        check_tag(tag)?;
        parses_as(&self.host, &format!("{}/{image}", self.namespace), tag).map_err(|problem| {
            ReferenceError::Reference { reference: format!("{}:{tag}", self.repository(image)), problem }
        })
    }
}

impl fmt::Display for RegistryPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_of_every_shape() {
        for good in ["docker.io/vpnlab", "127.0.0.1:5000/vpnlab", "localhost/a/b", "ghcr.io/course-x/vpn_lab"] {
            assert_eq!(RegistryPath::parse(good).unwrap().to_string(), good);
        }
        let host = |t: &str| matches!(RegistryPath::parse(t), Err(ReferenceError::Host { .. }));
        let namespace = |t: &str| matches!(RegistryPath::parse(t), Err(ReferenceError::Namespace { .. }));
        let shape = |t: &str| matches!(RegistryPath::parse(t), Err(ReferenceError::Shape(_)));
        assert!(shape("justahost") && shape("docker.io/") && shape("/vpnlab"));
        // Without a dot, port or localhost the grammar reads a Docker Hub namespace.
        assert!(host("UPPER/Case:bad") && host("vpnlab/x") && host("bad..host.io/x") && host("h.io:port/x"));
        // The distribution grammar has no IPv6 literals.
        assert!(host("[::1]:5000/x"));
        assert!(namespace("docker.io/Vpnlab") && namespace("docker.io/vpn lab") && namespace("docker.io/a:1"));
        assert!(namespace("docker.io/a/") && namespace("docker.io/a//b") && namespace("docker.io/-a"));
    }

    #[test]
    fn the_bad_registry_message_is_one_line_with_an_example() {
        let e = RegistryPath::parse("UPPER/Case:bad").unwrap_err().to_string();
        assert!(e.contains("'UPPER' is not a registry host") && e.contains("e.g. docker.io/vpnlab"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn tags_follow_the_distribution_grammar() {
        for good in ["latest", "1.2.3", "1.3.0-rc.1", "_x.1-2", "Edge", "sha-0123456", &"a".repeat(128)] {
            assert_eq!(check_tag(good), Ok(()), "{good}");
        }
        for bad in ["", ".hidden", "-x", "no spaces", "a/b", "a:b", "a@b", "1.2.3+build", &"a".repeat(129)] {
            assert_eq!(check_tag(bad), Err(ReferenceError::Tag(bad.into())), "{bad}");
        }
    }

    #[test]
    fn whole_references_are_checked_too() {
        let r = RegistryPath::parse("127.0.0.1:5000/vpnlab").unwrap();
        assert_eq!(r.check_reference("router", "1.2.0"), Ok(()));
        assert!(matches!(r.check_reference("Router", "1"), Err(ReferenceError::Name(_))));
        assert!(matches!(r.check_reference("router", "a b"), Err(ReferenceError::Tag(_))));
        let long = RegistryPath::parse(&format!("docker.io/{}", "n".repeat(250))).unwrap();
        let e = long.check_reference("router", "1").unwrap_err().to_string();
        assert!(e.contains("is not valid (repository name must not be more than 255 characters)"), "{e}");
    }
}
