//! `imgtool check`: proves the VPN protects the traffic. Tunnels are up with
//! the declared traffic selectors (`tunnels`), authenticated as the scenario
//! requires; every client reaches the server; while that traffic flows, the
//! router's links carry only IKE and ESP and never the clients' payload
//! (`capture`); the gateways' firewalls drop what the router sends
//! (`firewall`). Each result has a kind, which `grade` turns into points, and
//! a detail that says what was observed. Captures and probes run in the
//! observer, a native-platform container that shares the router's network
//! namespace, so emulated platforms are judged by native tools.

pub mod capture;
pub mod charon_log;
mod firewall;
pub mod pcap;
pub mod swanctl;
pub mod tunnels;

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::engine::Engine;
use crate::progress::Progress;
use crate::scenario::Role;
use crate::testbed::{Running, TestbedError};

pub use crate::scenario::CheckKind;
pub use capture::judge_capture;

#[derive(Debug, Clone)]
pub struct CheckResult {
    /// What the check proves; its points are its kind's (`grade`).
    pub kind: CheckKind,
    /// "tunnel a-s", "reach client-a1"…: unique within one run.
    pub name: String,
    pub passed: bool,
    /// What was observed: on failure, the hint.
    pub detail: String,
}

impl CheckResult {
    pub fn new(kind: CheckKind, name: impl Into<String>, passed: bool, detail: impl Into<String>) -> CheckResult {
        CheckResult { kind, name: name.into(), passed, detail: detail.into() }
    }
}

pub fn render(results: &[CheckResult]) -> String {
    let width = results.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in results {
        let _ = writeln!(out, "{}  {:width$}  {}", if r.passed { "PASS" } else { "FAIL" }, r.name, r.detail);
    }
    out
}

pub fn all_passed(results: &[CheckResult]) -> bool {
    !results.is_empty() && results.iter().all(|r| r.passed)
}

/// Every node's container runs. Without this, a stopped router whose
/// namespace lives on in the observer would still forward, and pass.
fn nodes_running(engine: &Engine, tb: &Running) -> Result<CheckResult, TestbedError> {
    let names: Vec<String> = tb.scenario.nodes.iter().map(|n| tb.opts.container(&n.name)).collect();
    let found = crate::testbed::objects::containers(engine, &names)?;
    let down: Vec<String> = tb
        .scenario
        .nodes
        .iter()
        .filter(|n| !found.iter().any(|c| c.name() == tb.opts.container(&n.name) && c.running()))
        .map(|n| n.name.clone())
        .collect();
    Ok(if down.is_empty() {
        CheckResult::new(CheckKind::Nodes, "nodes", true, format!("all {} containers run", names.len()))
    } else {
        CheckResult::new(
            CheckKind::Nodes,
            "nodes",
            false,
            format!("not running: {}; `docker start` them or run `imgtool up` again", down.join(", ")),
        )
    })
}

pub fn run(engine: &Engine, tb: &Running, progress: &Progress) -> Result<Vec<CheckResult>, TestbedError> {
    // All at once: the firewall probes are the router's own packets, which
    // the capture sets aside by address; the clients' calls cross it.
    progress.step("checking nodes and tunnels, probing the firewalls, capturing while clients call the server");
    let (nodes, tunnel_results, firewall_results, captured) = std::thread::scope(|sc| {
        let n = sc.spawn(|| nodes_running(engine, tb));
        let f = sc.spawn(|| firewall::run(engine, tb));
        let t = sc.spawn(|| tunnels::run(engine, tb));
        let c = capture_while_clients_call(engine, tb);
        let join = "check thread panicked";
        (n.join().expect(join), t.join().expect(join), f.join().expect(join), c)
    });
    let mut results = vec![nodes?];
    results.extend(tunnel_results?);
    results.extend(captured?);
    results.extend(firewall_results?);
    Ok(results)
}

/// Captures on the router while every client calls the server; the
/// clients' results, then the capture's.
fn capture_while_clients_call(engine: &Engine, tb: &Running) -> Result<Vec<CheckResult>, TestbedError> {
    let s = &tb.scenario;
    let observer = tb.opts.router_namespace(s);
    engine.run(&[
        "exec", &observer, "sh", "-c",
        "rm -f /tmp/cap.pcap /tmp/cap.err; tcpdump -i any -n -U --immediate-mode -w /tmp/cap.pcap </dev/null >/dev/null 2>/tmp/cap.err & echo $! >/tmp/cap.pid; \
         i=0; until grep -q listening /tmp/cap.err; do i=$((i+1)); [ $i -lt 500 ] || exit 1; sleep 0.01; done",
    ])?;
    // Sent by every client (ping payload, HTTP id); must never be on the wire.
    let pattern: [u8; 8] = crate::testbed::state::random_bytes()
        .map_err(|source| TestbedError::State { path: "/dev/urandom".into(), source })?;
    let hex: String = pattern.iter().map(|b| format!("{b:02x}")).collect();
    let clients: Vec<_> = s.nodes_with(Role::Client).collect();
    let target = s.service_addr();
    let url_host = match target {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    let mut results = crate::parallel::map(&clients, |c| {
        let id = format!("{hex}-{}", c.name);
        let script = format!(
            "ping -c 2 -i 0.05 -W 2 -p {hex} {target} >/dev/null 2>&1 || {{ echo ping-failed; exit 1; }}; \
             printf 'GET /ping?id={id} HTTP/1.0\\r\\nHost: {url_host}\\r\\n\\r\\n' | nc -w 5 {target} {port} | tail -n 1",
            port = s.service.port
        );
        let out = engine.output(&["exec", &tb.opts.container(&c.name), "sh", "-c", &script]);
        let name = format!("reach {}", c.name);
        match out {
            Ok(r) => judge_reach(name, target, s.service.port, &s.service.server, &id, &r.stdout, &r.stderr),
            Err(e) => CheckResult::new(CheckKind::Reach, name, false, e.to_string()),
        }
    });
    let pcap = engine.run_bytes(&[
        "exec", &observer, "sh", "-c",
        "pid=$(cat /tmp/cap.pid); kill -INT $pid; \
         while [ -e /proc/$pid ] && ! grep -q '^State:.*Z' /proc/$pid/status 2>/dev/null; do sleep 0.01; done; cat /tmp/cap.pcap",
    ])?;
    let router_addrs: Vec<IpAddr> = s.router().addrs().collect();
    results.extend(judge_capture(&pcap, &pattern, &hex, &router_addrs));
    Ok(results)
}

/// A client's calls, judged from the probe script's output: `ping-failed`
/// when the ping got no reply, else the last line of the HTTP answer, which
/// must be `pong <id> <server>`.
pub fn judge_reach(
    name: String,
    target: IpAddr,
    port: u16,
    server: &str,
    id: &str,
    stdout: &str,
    stderr: &str,
) -> CheckResult {
    let want = format!("pong {id} {server}");
    let got = format!("{}{}", stdout.trim(), stderr.trim());
    let (passed, detail) = if stdout.trim() == want {
        (true, format!("ping {target} answered; GET /ping answered by {server}"))
    } else if stdout.contains("ping-failed") {
        (false, format!("no ping reply from {target}"))
    } else if got.is_empty() {
        (false, format!("ping {target} answered, but GET /ping on port {port} got no answer within 5 s"))
    } else {
        (false, format!("ping {target} answered, but GET /ping got '{got}', not '{want}'"))
    };
    CheckResult::new(CheckKind::Reach, name, passed, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_aligns_and_all_passed_needs_results() {
        let r = [
            CheckResult::new(CheckKind::Nodes, "a", true, "x"),
            CheckResult::new(CheckKind::Tunnel, "long name", false, "y"),
        ];
        assert_eq!(render(&r), "PASS  a          x\nFAIL  long name  y\n");
        assert!(!all_passed(&r) && !all_passed(&[]) && all_passed(&r[..1]));
    }

    #[test]
    fn reach_says_which_call_got_no_answer() {
        let target: IpAddr = "10.3.0.10".parse().unwrap();
        let judge = |out: &str, err: &str| judge_reach("reach c".into(), target, 8080, "server-s1", "ab-c", out, err);
        let ok = judge("pong ab-c server-s1\n", "");
        assert!(ok.passed && ok.kind == CheckKind::Reach, "{ok:?}");
        assert_eq!(ok.detail, "ping 10.3.0.10 answered; GET /ping answered by server-s1");
        assert_eq!(judge("ping-failed\n", "").detail, "no ping reply from 10.3.0.10");
        let silent = judge("", "");
        assert!(!silent.passed);
        assert_eq!(silent.detail, "ping 10.3.0.10 answered, but GET /ping on port 8080 got no answer within 5 s");
        let other = judge("pong ab-c server-x\n", "");
        assert!(!other.passed);
        assert_eq!(
            other.detail,
            "ping 10.3.0.10 answered, but GET /ping got 'pong ab-c server-x', not 'pong ab-c server-s1'"
        );
    }
}
