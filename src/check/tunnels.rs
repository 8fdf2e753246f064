//! The tunnel and auth checks, from the gateways' own strongSwan state.
//! "tunnel <name>": on both ends an ESTABLISHED IKE SA of the tunnel's name
//! with an INSTALLED child of that name and exactly the declared selectors.
//! "auth <name>" (when the scenario requires a method): that very IKE SA
//! authenticated the peer with that method, on both ends, as charon logged
//! it when the SA was set up (`charon_log`); only where the log does not
//! show the SA, the connection that established it (an IKE SA is named
//! after its connection) as loaded now. Other loaded connections never
//! count. Failures say what was observed, not what to write.

use std::collections::HashMap;

use super::charon_log::{self, PeerAuth};
use super::swanctl::{self, Conn, IkeSa};
use super::{CheckKind, CheckResult};
use crate::engine::Engine;
use crate::scenario::{AuthRequirement, Role, Tunnel};
use crate::testbed::{Running, TestbedError};

/// What each gateway listed, by gateway name.
pub type Listed<'a, T> = HashMap<&'a str, Vec<T>>;

/// Each gateway's log, read: its IKE SAs' peer proofs by (name, uniqueid).
pub type Proofs<'a> = HashMap<&'a str, HashMap<(String, String), Option<PeerAuth>>>;

/// The tunnel checks, then the auth checks if the scenario asks for them.
pub(super) fn run(engine: &Engine, tb: &Running) -> Result<Vec<CheckResult>, TestbedError> {
    let s = &tb.scenario;
    // The requirement is the assignment's: it binds a student's files (course
    // mode), not imgtool's own configuration, whose method `up --psk` picks.
    let required = match tb.record.course {
        crate::testbed::course::Mode::Finished => AuthRequirement::Any,
        _ => s.grading.auth,
    };
    let gateways: Vec<_> = s.nodes_with(Role::Gateway).collect();
    // One exec per gateway; with conns, both lists come from one moment.
    let script = match required {
        AuthRequirement::Any => "swanctl --list-sas --raw",
        _ => "swanctl --list-sas --raw && swanctl --list-conns --raw",
    };
    let listed = crate::parallel::map(&gateways, |g| {
        let container = tb.opts.container(&g.name);
        let listed = engine.run(&["exec", &container, "sh", "-c", script])?;
        // Read after the lists, so it covers every SA they show. A daemon
        // whose log driver cannot be read leaves the connections to judge by.
        let log = match required {
            AuthRequirement::Any => None,
            _ => engine.output(&["logs", &container]).ok().filter(|r| r.ok()).map(|r| r.stdout + &r.stderr),
        };
        Ok::<_, TestbedError>((listed, log))
    });
    let (mut sas, mut conns, mut proofs) = (Listed::new(), Listed::new(), Proofs::new());
    for (g, out) in gateways.iter().zip(listed) {
        let (out, log) = out?;
        sas.insert(g.name.as_str(), swanctl::parse(&out));
        conns.insert(g.name.as_str(), swanctl::parse_conns(&out));
        if let Some(log) = log {
            proofs.insert(g.name.as_str(), charon_log::peer_auths(&log));
        }
    }
    let mut results: Vec<CheckResult> = s.tunnels.iter().map(|t| judge_tunnel(t, &sas)).collect();
    results.extend(s.tunnels.iter().filter_map(|t| judge_auth(t, required, &sas, &conns, &proofs)));
    Ok(results)
}

fn join<T: ToString>(items: &[T]) -> String {
    items.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
}

/// The IKE SA a tunnel's checks judge on one end: the first ESTABLISHED one
/// named after the tunnel.
fn established<'a>(t: &Tunnel, sas: &'a [IkeSa]) -> Option<&'a IkeSa> {
    sas.iter().find(|sa| sa.name == t.name && sa.state == "ESTABLISHED")
}

/// IKE SA ESTABLISHED and child INSTALLED with the declared selectors, on both ends.
pub fn judge_tunnel(t: &Tunnel, sas: &Listed<IkeSa>) -> CheckResult {
    let problems: Vec<String> = [&t.initiator, &t.responder]
        .into_iter()
        .filter_map(|end| end_problem(t, end, sas.get(end.as_str()).map_or(&[], Vec::as_slice)))
        .collect();
    let name = format!("tunnel {}", t.name);
    if !problems.is_empty() {
        return CheckResult::new(CheckKind::Tunnel, name, false, problems.join("; "));
    }
    let (_, _, lts, rts) = t.sides(&t.initiator);
    let detail = format!(
        "IKE ESTABLISHED, child INSTALLED {} === {} on {} and {}",
        join(lts),
        join(rts),
        t.initiator,
        t.responder
    );
    CheckResult::new(CheckKind::Tunnel, name, true, detail)
}

/// What is wrong with the tunnel on `end`, as observed there; None if right.
pub fn end_problem(t: &Tunnel, end: &str, sas: &[IkeSa]) -> Option<String> {
    let (_, peer, lts, rts) = t.sides(end);
    let want_l: Vec<String> = lts.iter().map(|x| x.to_string()).collect();
    let want_r: Vec<String> = rts.iter().map(|x| x.to_string()).collect();
    let want = format!("{} === {}", want_l.join(","), want_r.join(","));
    let named: Vec<&IkeSa> = sas.iter().filter(|sa| sa.name == t.name).collect();
    if named.is_empty() {
        if sas.is_empty() {
            return Some(format!("{end}: no IKE SA at all"));
        }
        let others: Vec<String> = sas.iter().map(|sa| format!("{} ({})", sa.name, sa.state)).collect();
        return Some(format!("{end}: no IKE SA named {}, only {}", t.name, others.join(", ")));
    }
    let Some(sa) = established(t, sas) else {
        let states: Vec<&str> = named.iter().map(|sa| sa.state.as_str()).collect();
        return Some(format!("{end}: IKE SA {end}↔{peer} is {}, not ESTABLISHED", states.join(", ")));
    };
    let right = |c: &&swanctl::ChildSa| c.local_ts == want_l && c.remote_ts == want_r;
    let mine: Vec<&swanctl::ChildSa> = sa.children.iter().filter(|c| c.name == t.name).collect();
    if mine.iter().any(|c| c.state == "INSTALLED" && right(c)) {
        return None;
    }
    let ts = |c: &swanctl::ChildSa| format!("{} === {}", c.local_ts.join(","), c.remote_ts.join(","));
    let ike = format!("IKE SA {end}↔{peer} ESTABLISHED");
    if let Some(c) = mine.iter().find(|c| c.state == "INSTALLED") {
        return Some(format!("{end}: CHILD_SA {} installed with {} instead of {want}", t.name, ts(c)));
    }
    if let Some(c) = mine.first() {
        return Some(format!("{end}: {ike}, CHILD_SA {} {} ({}), not INSTALLED", t.name, c.state, ts(c)));
    }
    if sa.children.is_empty() {
        return Some(format!("{end}: {ike} but no CHILD_SA for {want}"));
    }
    let others: Vec<String> = sa.children.iter().map(|c| format!("{} {} {}", c.name, c.state, ts(c))).collect();
    Some(format!("{end}: {ike} but no CHILD_SA named {}, only {}", t.name, others.join(", ")))
}

/// strongSwan's auth class for a required method.
fn class_of(required: AuthRequirement) -> Option<&'static str> {
    match required {
        AuthRequirement::Certificates => Some("public key"),
        AuthRequirement::Psk => Some("pre-shared key"),
        AuthRequirement::Any => None,
    }
}

/// How one end saw its peer authenticate in the tunnel's IKE SA.
enum Seen<'a> {
    /// charon's log of that SA: the proof it verified.
    Logged { sa: &'a IkeSa, proof: PeerAuth },
    /// The connection of the SA's name as loaded now: the classes it demands.
    Loaded { sa: &'a IkeSa, conn: &'a Conn },
}

impl Seen<'_> {
    fn meets(&self, required: AuthRequirement, class: &str) -> bool {
        match self {
            Seen::Logged { proof, .. } => match required {
                AuthRequirement::Certificates => proof.is_public_key(),
                AuthRequirement::Psk => proof.is_psk(),
                AuthRequirement::Any => true,
            },
            Seen::Loaded { conn, .. } => !conn.remote.is_empty() && conn.remote.iter().all(|r| r.class == class),
        }
    }

    /// "gateway-a saw gateway-s authenticate with ED25519", and with `source`
    /// where that was read.
    fn describe(&self, end: &str, peer: &str, source: bool) -> String {
        match self {
            Seen::Logged { sa, proof } => {
                let from =
                    if source { format!(" (charon's log of IKE SA {}[{}])", sa.name, sa.uniqueid) } else { "".into() };
                format!("{end} saw {peer} authenticate with {}{from}", proof.method)
            }
            Seen::Loaded { sa, conn } => {
                let classes: Vec<&str> = conn
                    .remote
                    .iter()
                    .map(|r| if r.class.is_empty() { "no class" } else { r.class.as_str() })
                    .collect();
                let classes = if classes.is_empty() { "no authentication".to_string() } else { classes.join(" then ") };
                let from = if source {
                    format!(
                        " (connection {} as loaded now: charon's log does not show IKE SA {}[{}])",
                        conn.name, sa.name, sa.uniqueid
                    )
                } else {
                    "".into()
                };
                format!("{end} requires {classes} of {peer}{from}")
            }
        }
    }
}

/// Whether the tunnel's established IKE SA authenticated each end to the
/// other with the required method: on each end, how it verified its peer
/// (charon enforces what the connection demands). None when the scenario
/// requires no method.
pub fn judge_auth(
    t: &Tunnel,
    required: AuthRequirement,
    sas: &Listed<IkeSa>,
    conns: &Listed<Conn>,
    proofs: &Proofs,
) -> Option<CheckResult> {
    let class = class_of(required)?;
    let (mut problems, mut seen_ok) = (Vec::new(), Vec::new());
    for end in [&t.initiator, &t.responder] {
        let (_, peer, _, _) = t.sides(end);
        let Some(sa) = established(t, sas.get(end.as_str()).map_or(&[], Vec::as_slice)) else {
            problems.push(format!("{end}: no ESTABLISHED IKE SA {} whose authentication could be read", t.name));
            continue;
        };
        let logged = proofs.get(end.as_str()).and_then(|p| p.get(&(sa.name.clone(), sa.uniqueid.clone())));
        let seen = match logged.cloned().flatten() {
            Some(proof) => Seen::Logged { sa, proof },
            None => match conns.get(end.as_str()).and_then(|cs| cs.iter().find(|c| c.name == sa.name)) {
                Some(conn) => Seen::Loaded { sa, conn },
                None => {
                    problems.push(format!(
                        "{end}: IKE SA {}[{}] is ESTABLISHED, but neither charon's log nor a loaded connection {} \
                         shows how it authenticated",
                        sa.name, sa.uniqueid, sa.name
                    ));
                    continue;
                }
            },
        };
        if seen.meets(required, class) {
            seen_ok.push(seen.describe(end, peer, false));
        } else {
            problems.push(seen.describe(end, peer, true));
        }
    }
    let name = format!("auth {}", t.name);
    Some(if problems.is_empty() {
        CheckResult::new(
            CheckKind::Auth,
            name,
            true,
            format!("{} both ways: {}", describe(required), seen_ok.join(", ")),
        )
    } else {
        let detail = format!("{}; required: {}", problems.join("; "), describe(required));
        CheckResult::new(CheckKind::Auth, name, false, detail)
    })
}

fn describe(required: AuthRequirement) -> &'static str {
    match required {
        AuthRequirement::Certificates => "public keys (certificates)",
        AuthRequirement::Psk => "a pre-shared key",
        AuthRequirement::Any => "any method",
    }
}

#[cfg(test)]
mod tests;
