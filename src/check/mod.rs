//! `imgtool check`: proves the VPN protects the traffic. Tunnels are up with
//! the declared traffic selectors; every client reaches the server; while
//! that traffic flows, the router's links carry only IKE and ESP and never
//! the clients' payload; the gateways' firewalls drop what the router sends.
//! Captures and probes run in the observer, a native-platform container that
//! shares the router's network namespace, so emulated platforms are judged
//! by native tools.

pub mod pcap;
pub mod swanctl;

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::engine::Engine;
use crate::progress::Progress;
use crate::scenario::{Role, Scenario};
use crate::testbed::spec::OBSERVER;
use crate::testbed::{Running, TestbedError};

#[derive(Debug, Clone)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl CheckResult {
    fn new(name: impl Into<String>, passed: bool, detail: impl Into<String>) -> CheckResult {
        CheckResult { name: name.into(), passed, detail: detail.into() }
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

fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    std::thread::scope(|s| {
        let hs: Vec<_> = items.iter().map(|i| s.spawn(|| f(i))).collect();
        hs.into_iter().map(|h| h.join().expect("check thread panicked")).collect()
    })
}

/// 8 random bytes: sent by every client, to be looked for on the wire.
fn secret_pattern() -> [u8; 8] {
    let key = crate::testbed::state::random_psk().unwrap_or_default();
    let mut p = [0u8; 8];
    for (i, b) in p.iter_mut().enumerate() {
        *b = u8::from_str_radix(key.get(2 * i..2 * i + 2).unwrap_or("5a"), 16).unwrap_or(0x5a);
    }
    p
}

pub fn run(engine: &Engine, tb: &Running, progress: &Progress) -> Result<Vec<CheckResult>, TestbedError> {
    let s = &tb.scenario;
    let mut results = tunnels(engine, tb)?;

    progress.step("capturing on the router while clients call the server");
    let observer = tb.opts.container(OBSERVER);
    engine.run(&[
        "exec", &observer, "sh", "-c",
        "rm -f /tmp/cap.pcap /tmp/cap.err; tcpdump -i any -n -U --immediate-mode -w /tmp/cap.pcap 2>/tmp/cap.err & echo $! >/tmp/cap.pid; \
         i=0; until grep -q listening /tmp/cap.err; do i=$((i+1)); [ $i -lt 500 ] || exit 1; sleep 0.01; done",
    ])?;
    let pattern = secret_pattern();
    let hex: String = pattern.iter().map(|b| format!("{b:02x}")).collect();
    let clients: Vec<_> = s.nodes_with(Role::Client).collect();
    let target = s.service_addr();
    let url_host = match target {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    let reach = parallel(&clients, |c| {
        let id = format!("{hex}-{}", c.name);
        let script = format!(
            "ping -c 2 -i 0.2 -W 2 -p {hex} {target} >/dev/null 2>&1 || {{ echo ping-failed; exit 1; }}; \
             curl -sS --max-time 5 'http://{url_host}:{port}/ping?id={id}'",
            port = s.service.port
        );
        let out = engine.output(&["exec", &tb.opts.container(&c.name), "sh", "-c", &script]);
        let want = format!("pong {id} {}", s.service.server);
        match out {
            Ok(r) if r.stdout.trim() == want => CheckResult::new(
                format!("reach {}", c.name),
                true,
                format!("ping {target} answered; GET /ping answered by {}", s.service.server),
            ),
            Ok(r) if r.stdout.contains("ping-failed") => {
                CheckResult::new(format!("reach {}", c.name), false, format!("no ping reply from {target}"))
            }
            Ok(r) => CheckResult::new(
                format!("reach {}", c.name),
                false,
                format!("expected '{want}', got '{}{}'", r.stdout.trim(), r.stderr.trim()),
            ),
            Err(e) => CheckResult::new(format!("reach {}", c.name), false, e.to_string()),
        }
    });
    results.extend(reach);

    let pcap = engine.run_bytes(&[
        "exec", &observer, "sh", "-c",
        "pid=$(cat /tmp/cap.pid); kill -INT $pid; \
         while [ -e /proc/$pid ] && ! grep -q '^State:.*Z' /proc/$pid/status 2>/dev/null; do sleep 0.01; done; cat /tmp/cap.pcap",
    ])?;
    results.extend(judge_capture(&pcap, &pattern, &hex));

    progress.step("probing the gateways' firewalls from the router");
    results.extend(firewall(engine, tb)?);
    Ok(results)
}

/// IKE SA ESTABLISHED and child INSTALLED with the declared selectors, on both ends.
fn tunnels(engine: &Engine, tb: &Running) -> Result<Vec<CheckResult>, TestbedError> {
    let s = &tb.scenario;
    let gateways: Vec<_> = s.nodes_with(Role::Gateway).collect();
    let listed =
        parallel(&gateways, |g| engine.run(&["exec", &tb.opts.container(&g.name), "swanctl", "--list-sas", "--raw"]));
    let mut sas = std::collections::HashMap::new();
    for (g, out) in gateways.iter().zip(listed) {
        sas.insert(g.name.as_str(), swanctl::parse(&out?));
    }
    let mut results = Vec::new();
    for t in &s.tunnels {
        let mut problems = Vec::new();
        for end in [&t.initiator, &t.responder] {
            let (_, _, lts, rts) = t.sides(end);
            let want_l: Vec<String> = lts.iter().map(|x| x.to_string()).collect();
            let want_r: Vec<String> = rts.iter().map(|x| x.to_string()).collect();
            let ike =
                sas.get(end.as_str()).into_iter().flatten().find(|sa| sa.name == t.name && sa.state == "ESTABLISHED");
            match ike {
                None => problems.push(format!("{end}: no ESTABLISHED IKE SA {}", t.name)),
                Some(sa) => {
                    let ok = sa.children.iter().any(|c| {
                        c.name == t.name && c.state == "INSTALLED" && c.local_ts == want_l && c.remote_ts == want_r
                    });
                    if !ok {
                        problems.push(format!(
                            "{end}: no INSTALLED child {} with {} === {}",
                            t.name,
                            want_l.join(","),
                            want_r.join(",")
                        ));
                    }
                }
            }
        }
        let (_, _, lts, rts) = t.sides(&t.initiator);
        let detail = if problems.is_empty() {
            format!(
                "IKE ESTABLISHED, child INSTALLED {} === {} on {} and {}",
                join(lts),
                join(rts),
                t.initiator,
                t.responder
            )
        } else {
            problems.join("; ")
        };
        results.push(CheckResult::new(format!("tunnel {}", t.name), problems.is_empty(), detail));
    }
    Ok(results)
}

fn join<T: ToString>(items: &[T]) -> String {
    items.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
}

/// The router saw ESP and IKE, nothing in the clear, and never the pattern.
pub fn judge_capture(pcap: &[u8], pattern: &[u8], pattern_text: &str) -> Vec<CheckResult> {
    let cap = match pcap::parse(pcap) {
        Ok(c) => c,
        Err(e) => {
            return vec![CheckResult::new("router capture", false, format!("unreadable capture: {e}"))];
        }
    };
    let count = |f: fn(&pcap::Class) -> bool| cap.packets.iter().filter(|p| f(&p.class)).count();
    let esp = count(|c| matches!(c, pcap::Class::Esp | pcap::Class::EspInUdp));
    let ike = count(|c| matches!(c, pcap::Class::Ike));
    let clear: Vec<String> = cap.cleartext().take(3).map(|p| p.to_string()).collect();
    let n_clear = cap.cleartext().count();
    let capture = if esp == 0 {
        CheckResult::new(
            "router capture",
            false,
            format!("{} packets but no ESP: client traffic did not cross the router encrypted", cap.packets.len()),
        )
    } else if n_clear > 0 {
        CheckResult::new("router capture", false, format!("{n_clear} packets in the clear, e.g. {}", clear.join("; ")))
    } else {
        CheckResult::new(
            "router capture",
            true,
            format!("{} packets, only IKE ({ike}) and ESP ({esp}), none in the clear", cap.packets.len()),
        )
    };
    let secret = cap.contains(pattern) || cap.contains(pattern_text.as_bytes());
    vec![
        capture,
        CheckResult::new(
            "payload secrecy",
            !secret,
            if secret {
                "the clients' payload pattern appears on the router's links"
            } else {
                "the clients' payload pattern never appears on the router's links"
            },
        ),
    ]
}

/// One firewall probe from the router: `addr` must not answer; `via` adds a
/// temporary route through a gateway for a host behind it.
struct Probe {
    gateway: String,
    what: String,
    addr: IpAddr,
    via: Option<IpAddr>,
}

/// The probe script: rounds of parallel pings with a short timeout; probes
/// of one address (overlapping sites) go in separate rounds, since each
/// needs its own temporary route. Prints `<index> reached|blocked`.
fn probe_script(probes: &[Probe]) -> String {
    let mut script = String::from(
        "probe() { if ping -c 1 -W 0.5 \"$2\" >/dev/null 2>&1; then echo \"$1 reached\"; else echo \"$1 blocked\"; fi; }\n",
    );
    let mut round_of = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        round_of.push(probes[..i].iter().filter(|q| q.addr == p.addr).count());
    }
    for round in 0..=round_of.iter().copied().max().unwrap_or(0) {
        let members: Vec<usize> = (0..probes.len()).filter(|&i| round_of[i] == round).collect();
        let host = |a: IpAddr| {
            if a.is_ipv4() { format!("{a}/32") } else { format!("{a}/128") }
        };
        for &i in &members {
            if let Some(via) = probes[i].via {
                let _ = writeln!(script, "ip route replace {} via {via}", host(probes[i].addr));
            }
        }
        for &i in &members {
            let _ = writeln!(script, "probe {i} {} &", probes[i].addr);
        }
        script += "wait\n";
        for &i in &members {
            if probes[i].via.is_some() {
                let _ = writeln!(script, "ip route del {} 2>/dev/null || true", host(probes[i].addr));
            }
        }
    }
    script
}

/// From the router: a gateway's public address and a host behind it must
/// both be unreachable (the host through a temporary route via the gateway).
fn firewall(engine: &Engine, tb: &Running) -> Result<Vec<CheckResult>, TestbedError> {
    let s = &tb.scenario;
    let mut probes = Vec::new();
    for g in s.nodes_with(Role::Gateway) {
        let Some(public) = s.public_addr(g) else {
            continue;
        };
        probes.push(Probe { gateway: g.name.clone(), what: format!("{} ({public})", g.name), addr: public, via: None });
        if let Some((host, addr)) = site_host(s, g) {
            probes.push(Probe {
                gateway: g.name.clone(),
                what: format!("{host} ({addr}) through it"),
                addr,
                via: Some(public),
            });
        }
    }
    let out = engine.run(&["exec", &tb.opts.container(OBSERVER), "sh", "-c", &probe_script(&probes)])?;
    let blocked = |i: usize| out.lines().any(|l| l == format!("{i} blocked"));
    let mut results = Vec::new();
    for g in s.nodes_with(Role::Gateway) {
        let mine: Vec<(usize, &Probe)> = probes.iter().enumerate().filter(|(_, p)| p.gateway == g.name).collect();
        if mine.is_empty() {
            continue;
        }
        let reached: Vec<String> =
            mine.iter().filter(|(i, _)| !blocked(*i)).map(|(_, p)| format!("router reached {}", p.what)).collect();
        let detail = if reached.is_empty() {
            format!(
                "router cannot reach {}",
                mine.iter().map(|(_, p)| p.what.as_str()).collect::<Vec<_>>().join(" nor ")
            )
        } else {
            reached.join("; ")
        };
        results.push(CheckResult::new(format!("firewall {}", g.name), reached.is_empty(), detail));
    }
    Ok(results)
}

/// A client or server on one of the gateway's site networks.
fn site_host(s: &Scenario, gw: &crate::scenario::Node) -> Option<(String, IpAddr)> {
    let isp = s.isp_link(gw)?.network.clone();
    let site_nets: Vec<&str> = gw.links.iter().filter(|l| l.network != isp).map(|l| l.network.as_str()).collect();
    s.nodes.iter().filter(|n| matches!(n.role, Role::Client | Role::Server)).find_map(|n| {
        n.links.iter().find(|l| site_nets.contains(&l.network.as_str())).map(|l| (n.name.clone(), l.addrs[0].addr()))
    })
}
