//! Working with a running testbed: `status`, `exec`, `capture`.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;

use super::spec::OBSERVER;
use super::{Running, TestbedError};
use crate::engine::Engine;

/// One line per node: role, state, health, addresses.
pub fn status(engine: &Engine, tb: &Running) -> Result<String, TestbedError> {
    let found = super::objects::testbed_containers(engine, &tb.opts.name)?;
    let state = |node: &str| {
        found.iter().find(|c| c.node() == Some(node)).map(|c| format!("{} {}", c.state.status, c.health()))
    };
    let s = &tb.scenario;
    let r = &tb.record;
    let mut out = format!(
        "testbed {}: scenario {} on {}, {} networks, {} authentication, ESP {}\n  images from {} (tag {}), pinned: {}\n",
        tb.opts.name,
        s.name,
        tb.opts.platform,
        r.driver.name(),
        match r.auth {
            super::state::AuthKind::Certificates => "certificate",
            super::state::AuthKind::Psk => "pre-shared key",
        },
        r.esp_backend.as_deref().unwrap_or(r.esp.name()),
        r.registry,
        r.tag,
        r.images.gateway
    );
    for n in &s.nodes {
        let addrs: Vec<String> = n
            .links
            .iter()
            .map(|l| format!("{} {}", l.network, l.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" ")))
            .collect();
        let st = state(&n.name).unwrap_or_else(|| "missing".into());
        let _ = writeln!(
            out,
            "  {:10} {:8} {:18} {}",
            n.name,
            format!("{:?}", n.role).to_lowercase(),
            st.trim(),
            addrs.join(", ")
        );
    }
    let tunnels: Vec<String> =
        s.tunnels.iter().map(|t| format!("{} ({} <-> {})", t.name, t.initiator, t.responder)).collect();
    let _ = writeln!(out, "  tunnels: {}", tunnels.join(", "));
    Ok(out)
}

fn node_container(tb: &Running, node: &str) -> Result<String, TestbedError> {
    if tb.scenario.node(node).is_none() && node != OBSERVER {
        let known = tb.scenario.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ");
        return Err(TestbedError::UnknownNode { node: node.into(), testbed: tb.opts.name.to_string(), known });
    }
    Ok(tb.opts.container(node))
}

/// Runs `cmd` (a shell when empty) in a node, attached to this terminal.
pub fn exec(engine: &Engine, tb: &Running, node: &str, cmd: &[String]) -> Result<i32, TestbedError> {
    let container = node_container(tb, node)?;
    let mut args =
        vec!["exec".to_string(), if std::io::stdin().is_terminal() { "-it".into() } else { "-i".into() }, container];
    if cmd.is_empty() {
        args.extend(["sh".into(), "-c".into(), "command -v bash >/dev/null && exec bash || exec sh".into()]);
    } else {
        args.extend(cmd.iter().cloned());
    }
    Ok(engine.interactive(&args, None)?)
}

/// tcpdump from a native helper in the node's namespace, written to `file`.
pub fn capture(
    engine: &Engine,
    tb: &Running,
    node: &str,
    iface: &str,
    file: &Path,
    count: Option<u32>,
    duration: Option<u32>,
) -> Result<i32, TestbedError> {
    let mut container = node_container(tb, node)?;
    // The router's namespace belongs to the observer, an emulated gateway's
    // to its native holder: join the owner.
    if let Some(owner) = super::spec::containers(&tb.scenario, &tb.opts)
        .into_iter()
        .find(|c| c.name == container)
        .and_then(|c| c.namespace_of)
    {
        container = owner;
    }
    let mut args: Vec<String> = vec![
        "run".into(),
        "--rm".into(),
        format!("--network=container:{container}"),
        "--cap-add=NET_ADMIN".into(),
        "--cap-add=NET_RAW".into(),
        format!("--platform={}", tb.opts.native_platform),
        "--entrypoint".into(),
    ];
    match duration {
        Some(secs) => args.extend([
            "timeout".into(),
            tb.opts.images.native_client.clone(),
            "-s".into(),
            "INT".into(),
            secs.to_string(),
            "tcpdump".into(),
        ]),
        None => args.extend(["tcpdump".into(), tb.opts.images.native_client.clone()]),
    }
    args.extend([
        "-i".into(),
        iface.into(),
        "-n".into(),
        "-U".into(),
        "--immediate-mode".into(),
        "-w".into(),
        "-".into(),
    ]);
    if let Some(c) = count {
        args.extend(["-c".into(), c.to_string()]);
    }
    let code = engine.interactive(&args, Some(file))?;
    // timeout(1) exits 124 when it stopped tcpdump as asked.
    Ok(if duration.is_some() && code == 124 { 0 } else { code })
}
