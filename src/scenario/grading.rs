//! How a scenario is graded (`[grading]`): the points each kind of check is
//! worth, per check (every tunnel's check is worth `tunnel` points), and how
//! the tunnels must authenticate. A teacher changes them in a copy of the
//! scenario file; a file without the table gets [`Grading::default`].

use std::fmt;

use toml::Spanned;

use super::ScenarioError;
use super::raw::{RawGrading, Source};

/// What a check proves. Every check has one kind, and its points are its
/// kind's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// Every node's container runs.
    Nodes,
    /// A tunnel's IKE and child SAs, with the declared selectors, on both ends.
    Tunnel,
    /// A client reaches the server (ping and HTTP).
    Reach,
    /// The router saw only IKE and ESP.
    Capture,
    /// The clients' payload never appears on the router's links.
    Secrecy,
    /// The router cannot reach a gateway nor the hosts behind it.
    Firewall,
    /// A tunnel authenticated as the scenario requires.
    Auth,
}

impl CheckKind {
    pub const ALL: [CheckKind; 7] = [
        CheckKind::Nodes,
        CheckKind::Tunnel,
        CheckKind::Reach,
        CheckKind::Capture,
        CheckKind::Secrecy,
        CheckKind::Firewall,
        CheckKind::Auth,
    ];

    /// The name used in `[grading.points]` and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Nodes => "nodes",
            CheckKind::Tunnel => "tunnel",
            CheckKind::Reach => "reach",
            CheckKind::Capture => "capture",
            CheckKind::Secrecy => "secrecy",
            CheckKind::Firewall => "firewall",
            CheckKind::Auth => "auth",
        }
    }

    pub fn from_name(name: &str) -> Option<CheckKind> {
        CheckKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the tunnels' IKE SAs must have authenticated, on both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRequirement {
    /// Public keys (certificates): an "auth <tunnel>" check per tunnel.
    Certificates,
    /// A pre-shared key: an "auth <tunnel>" check per tunnel.
    Psk,
    /// Whatever established the tunnel: no auth check.
    Any,
}

impl AuthRequirement {
    const NAMES: [(&'static str, AuthRequirement); 3] =
        [("certificates", AuthRequirement::Certificates), ("psk", AuthRequirement::Psk), ("any", AuthRequirement::Any)];

    pub fn as_str(self) -> &'static str {
        AuthRequirement::NAMES.iter().find(|(_, a)| *a == self).map(|(n, _)| *n).unwrap_or("any")
    }
}

/// The most points one check may be worth: sums stay far from overflow.
pub const MAX_POINTS: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grading {
    pub auth: AuthRequirement,
    /// Points per check, indexed like [`CheckKind::ALL`].
    points: [u32; 7],
}

impl Default for Grading {
    /// The weights the built-in scenarios write out: the tunnels and the
    /// capture (is the traffic really protected?) weigh most; nodes count
    /// nothing but must still run for full marks. With the built-in
    /// topology (2 tunnels, 4 clients, 3 gateways) the maximum is 100, plus
    /// 20 for the auth checks of course mode: certificates, as the study's
    /// testbed uses.
    fn default() -> Grading {
        Grading { auth: AuthRequirement::Certificates, points: [0, 20, 5, 15, 10, 5, 10] }
    }
}

impl Grading {
    /// What one check of `kind` is worth.
    pub fn points(&self, kind: CheckKind) -> u32 {
        self.points[kind as usize]
    }
}

/// `[grading]` as written, checked: known kinds, whole points from 0 to
/// [`MAX_POINTS`], a known auth requirement. Kinds not given keep their default.
pub(super) fn resolve(src: &Source, raw: Option<&RawGrading>) -> Result<Grading, ScenarioError> {
    let mut grading = Grading::default();
    let Some(raw) = raw else {
        return Ok(grading);
    };
    if let Some(auth) = &raw.auth {
        let found = AuthRequirement::NAMES.iter().find(|(n, _)| n == auth.get_ref());
        grading.auth = match found {
            Some((_, a)) => *a,
            None => {
                let message =
                    format!("[grading] auth = {:?} is not one of \"certificates\", \"psk\", \"any\"", auth.get_ref());
                return Err(src.err(auth.span(), message));
            }
        };
    }
    for (key, value) in &raw.points {
        let Some(kind) = CheckKind::from_name(key.get_ref()) else {
            let known = CheckKind::ALL.map(CheckKind::as_str).join(", ");
            let message = format!("unknown check kind {:?} in [grading.points]: the kinds are {known}", key.get_ref());
            return Err(src.err(key.span(), message));
        };
        grading.points[kind as usize] = points(src, kind, value)?;
    }
    Ok(grading)
}

fn points(src: &Source, kind: CheckKind, value: &Spanned<toml::Value>) -> Result<u32, ScenarioError> {
    let given = match value.get_ref() {
        toml::Value::Integer(n) => match u32::try_from(*n) {
            Ok(n) if n <= MAX_POINTS => return Ok(n),
            _ => n.to_string(),
        },
        toml::Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    let message = format!("points for {kind} must be a whole number from 0 to {MAX_POINTS}, not {given}");
    Err(src.err(value.span(), message))
}
