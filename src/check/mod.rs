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
        CheckResult::new("nodes", true, format!("all {} containers run", names.len()))
    } else {
        CheckResult::new(
            "nodes",
            false,
            format!("not running: {}; `docker start` them or run `imgtool up` again", down.join(", ")),
        )
    })
}

pub fn run(engine: &Engine, tb: &Running, progress: &Progress) -> Result<Vec<CheckResult>, TestbedError> {
    let s = &tb.scenario;
    let (nodes, tunnel_results) = std::thread::scope(|sc| {
        let n = sc.spawn(|| nodes_running(engine, tb));
        (n.join().expect("node thread panicked"), tunnels(engine, tb))
    });
    let mut results = vec![nodes?];
    results.extend(tunnel_results?);

    progress.step("capturing on the router while clients call the server");
    let observer = tb.opts.container(OBSERVER);
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
    let reach = crate::parallel::map(&clients, |c| {
        let id = format!("{hex}-{}", c.name);
        let script = format!(
            "ping -c 2 -i 0.05 -W 2 -p {hex} {target} >/dev/null 2>&1 || {{ echo ping-failed; exit 1; }}; \
             printf 'GET /ping?id={id} HTTP/1.0\\r\\nHost: {url_host}\\r\\n\\r\\n' | nc -w 5 {target} {port} | tail -n 1",
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
    let listed = crate::parallel::map(&gateways, |g| {
        engine.run(&["exec", &tb.opts.container(&g.name), "swanctl", "--list-sas", "--raw"])
    });
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
        "probe() { if ping -c 1 -W 0.25 \"$2\" >/dev/null 2>&1; then echo \"$1 reached\"; else echo \"$1 blocked\"; fi; }\n",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(gw: &str, addr: &str, via: Option<&str>) -> Probe {
        Probe {
            gateway: gw.into(),
            what: addr.into(),
            addr: addr.parse().unwrap(),
            via: via.map(|v| v.parse().unwrap()),
        }
    }

    #[test]
    fn probes_of_one_address_go_in_separate_rounds() {
        let probes = [
            probe("gateway-a", "172.26.26.10", None),
            probe("gateway-a", "10.1.0.10", Some("172.26.26.10")),
            probe("gateway-b", "10.1.0.10", Some("172.27.27.10")),
        ];
        let script = probe_script(&probes);
        let rounds: Vec<&str> = script.split("wait\n").collect();
        assert_eq!(rounds.len(), 3, "{script}");
        assert!(rounds[0].contains("probe 0 172.26.26.10 &") && rounds[0].contains("probe 1 10.1.0.10 &"), "{script}");
        assert!(
            rounds[1].contains("ip route replace 10.1.0.10/32 via 172.27.27.10") && rounds[1].contains("probe 2"),
            "{script}"
        );
    }

    #[test]
    fn capture_with_cleartext_or_pattern_fails() {
        // A pcap with one IPv4 ICMP packet carrying the pattern, LINKTYPE_RAW.
        let mut ip = vec![0x45, 0, 0, 36, 0, 0, 0, 0, 64, 1, 0, 0, 10, 1, 0, 10, 10, 3, 0, 10];
        ip.extend([8, 0, 0, 0, 0, 0, 0, 0]);
        ip.extend(*b"SECRET!!");
        let mut pcap = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101, 0, 0, 0];
        pcap.extend([0u8; 8]);
        pcap.extend((ip.len() as u32).to_le_bytes());
        pcap.extend((ip.len() as u32).to_le_bytes());
        pcap.extend(&ip);
        let results = judge_capture(&pcap, b"SECRET!!", "5345435245542121");
        assert!(results.iter().all(|r| !r.passed), "{results:?}");
        let clean = judge_capture(&pcap, b"other...", "6f74686572");
        assert!(!clean[0].passed && clean[1].passed, "{clean:?}");
    }

    #[test]
    fn render_aligns_and_all_passed_needs_results() {
        let r = [CheckResult::new("a", true, "x"), CheckResult::new("long name", false, "y")];
        assert_eq!(render(&r), "PASS  a          x\nFAIL  long name  y\n");
        assert!(!all_passed(&r) && !all_passed(&[]) && all_passed(&r[..1]));
    }
}
