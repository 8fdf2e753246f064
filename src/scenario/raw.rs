//! The scenario file as written: the structs TOML deserializes into, with
//! every key and value an error can be about wrapped in [`Spanned`], so that
//! an error names the line of the very occurrence at fault (a text search
//! finds the first of two equal values, not the offending one).

use std::net::IpAddr;
use std::ops::Range;

use indexmap::IndexMap;
use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use super::{NetKind, Role, ScenarioError};

/// Key and value, both with their place in the file.
pub(super) type SpannedMap<V> = IndexMap<Spanned<String>, V>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: String,
    pub networks: Spanned<SpannedMap<RawNetwork>>,
    pub nodes: Spanned<SpannedMap<RawNode>>,
    #[serde(default)]
    pub tunnels: Vec<RawTunnel>,
    pub service: RawService,
    pub grading: Option<RawGrading>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNetwork {
    pub kind: NetKind,
    pub subnets: Spanned<Vec<Spanned<Prefix>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    pub role: Spanned<Role>,
    pub links: Spanned<SpannedMap<Spanned<Vec<Spanned<Addr>>>>>,
    #[serde(default)]
    pub routes: SpannedMap<Spanned<Addr>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTunnel {
    pub gateways: [Spanned<String>; 2],
    pub traffic: [Spanned<Vec<Spanned<Prefix>>>; 2],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    pub server: Spanned<String>,
    pub port: Spanned<u16>,
    pub via: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGrading {
    pub auth: Option<Spanned<String>>,
    /// Any TOML value, so that a negative or fractional weight is refused
    /// with its own message at its own line.
    #[serde(default)]
    pub points: SpannedMap<Spanned<toml::Value>>,
}

/// An address, refused with an example of what is meant (ipnet's own
/// message is only "invalid IP address syntax").
pub(super) struct Addr(pub IpAddr);

/// A prefix such as `10.1.0.0/16`, refused like [`Addr`].
pub(super) struct Prefix(pub IpNet);

impl<'de> Deserialize<'de> for Addr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map(Addr).map_err(|_| {
            serde::de::Error::custom(format!(
                "{text:?} is not an IP address: write one like \"10.1.0.10\" or \"fd00::10\""
            ))
        })
    }
}

impl<'de> Deserialize<'de> for Prefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map(Prefix).map_err(|_| {
            serde::de::Error::custom(format!(
                "{text:?} is not a prefix: write one like \"10.1.0.0/16\" or \"fd00:1::/64\""
            ))
        })
    }
}

/// The text being parsed and the name it goes by, to turn a span into
/// `origin:line: message`.
pub(super) struct Source<'a> {
    pub text: &'a str,
    pub origin: &'a str,
}

impl Source<'_> {
    /// An error at the line where `span` starts.
    pub fn err(&self, span: Range<usize>, message: impl AsRef<str>) -> ScenarioError {
        ScenarioError::Invalid { origin: self.origin.into(), line: self.line(span.start), message: one_line(message) }
    }

    /// The 1-based line of a byte offset (which may be the end of the text).
    fn line(&self, offset: usize) -> usize {
        let before = &self.text.as_bytes()[..offset.min(self.text.len())];
        before.iter().filter(|&&b| b == b'\n').count() + 1
    }

    /// Deserializes the text; toml's errors carry a span, and only their
    /// message is kept (toml's own rendering quotes the line over several).
    pub fn parse(&self) -> Result<RawScenario, ScenarioError> {
        toml::from_str(self.text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = match (e.message().trim(), self.text.get(span.clone())) {
                // toml does not say which key; its span is the second one.
                ("duplicate key", Some(key)) if !key.is_empty() => {
                    format!("duplicate key {key:?}: a key or table may appear only once, remove one")
                }
                (message, _) => message.to_string(),
            };
            self.err(span, message)
        })
    }
}

/// The message on one line: a newline or other control character in it
/// (from a quoted key, say) is written as an escape.
fn one_line(message: impl AsRef<str>) -> String {
    message.as_ref().chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.into() }).collect()
}
