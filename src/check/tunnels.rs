//! The tunnel and auth checks, from the gateways' own strongSwan state.
//! "tunnel <name>": on both ends an ESTABLISHED IKE SA of the tunnel's name
//! with an INSTALLED child of that name and exactly the declared selectors.
//! "auth <name>" (when the scenario requires a method): the connection that
//! established that very IKE SA (an IKE SA is named after its connection)
//! authenticated both ends with that method; other loaded connections do
//! not count. Failures say what was observed, not what to write.

use std::collections::HashMap;

use super::swanctl::{self, Conn, IkeSa};
use super::{CheckKind, CheckResult};
use crate::engine::Engine;
use crate::scenario::{AuthRequirement, Role, Tunnel};
use crate::testbed::{Running, TestbedError};

/// What each gateway listed, by gateway name.
pub type Listed<'a, T> = HashMap<&'a str, Vec<T>>;

/// The tunnel checks, then the auth checks if the scenario asks for them.
pub(super) fn run(engine: &Engine, tb: &Running) -> Result<Vec<CheckResult>, TestbedError> {
    let s = &tb.scenario;
    let required = s.grading.auth;
    let gateways: Vec<_> = s.nodes_with(Role::Gateway).collect();
    // One exec per gateway; with conns, both lists come from one moment.
    let script = match required {
        AuthRequirement::Any => "swanctl --list-sas --raw",
        _ => "swanctl --list-sas --raw && swanctl --list-conns --raw",
    };
    let listed =
        crate::parallel::map(&gateways, |g| engine.run(&["exec", &tb.opts.container(&g.name), "sh", "-c", script]));
    let (mut sas, mut conns) = (Listed::new(), Listed::new());
    for (g, out) in gateways.iter().zip(listed) {
        let out = out?;
        sas.insert(g.name.as_str(), swanctl::parse(&out));
        conns.insert(g.name.as_str(), swanctl::parse_conns(&out));
    }
    let mut results: Vec<CheckResult> = s.tunnels.iter().map(|t| judge_tunnel(t, &sas)).collect();
    results.extend(s.tunnels.iter().filter_map(|t| judge_auth(t, required, &sas, &conns)));
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

/// Whether the tunnel's established IKE SA authenticated both ends with the
/// required method, read from the connection that established it on each
/// end (its local rounds: how the end proved itself; its remote rounds:
/// what it demanded of the peer, which charon enforces). None when the
/// scenario requires no method.
pub fn judge_auth(
    t: &Tunnel,
    required: AuthRequirement,
    sas: &Listed<IkeSa>,
    conns: &Listed<Conn>,
) -> Option<CheckResult> {
    let want = class_of(required)?;
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for end in [&t.initiator, &t.responder] {
        let (_, peer, _, _) = t.sides(end);
        let Some(sa) = established(t, sas.get(end.as_str()).map_or(&[], Vec::as_slice)) else {
            problems.push(format!("{end}: no ESTABLISHED IKE SA {} whose authentication could be read", t.name));
            continue;
        };
        let conn = conns.get(end.as_str()).and_then(|cs| cs.iter().find(|c| c.name == sa.name));
        let Some(conn) = conn else {
            problems.push(format!(
                "{end}: IKE SA {} is ESTABLISHED but its connection {} is no longer loaded: \
                 how it authenticated cannot be read",
                t.name, sa.name
            ));
            continue;
        };
        let classes = |rounds: &[swanctl::AuthRound]| {
            if rounds.is_empty() {
                return "no authentication round".to_string();
            }
            let names: Vec<&str> =
                rounds.iter().map(|r| if r.class.is_empty() { "no class" } else { r.class.as_str() }).collect();
            names.join(" then ")
        };
        let ok = |rounds: &[swanctl::AuthRound]| !rounds.is_empty() && rounds.iter().all(|r| r.class == want);
        if ok(&conn.local) && ok(&conn.remote) {
            seen.push(end.as_str());
        } else {
            problems.push(format!(
                "{end}: connection {} (which established IKE SA {}) authenticates {end} by {} and {peer} by {}",
                conn.name,
                sa.name,
                classes(&conn.local),
                classes(&conn.remote)
            ));
        }
    }
    let name = format!("auth {}", t.name);
    Some(if problems.is_empty() {
        CheckResult::new(
            CheckKind::Auth,
            name,
            true,
            format!("{} on both ends: {}", describe(required), seen.join(" and ")),
        )
    } else {
        let detail = format!("{} (the scenario requires {})", problems.join("; "), describe(required));
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
