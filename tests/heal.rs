//! The testbed heals by itself. After each fault (a node restarted, charon
//! killed, a gateway paused past dead-peer detection) it returns to all
//! checks green with no `up`: the test only runs `imgtool check` until it
//! passes. The seconds each recovery took are printed for
//! docs/benchmarks.md; the bound asserted is a generous ceiling, not a target.

mod common;
use common::*;

use std::time::{Duration, Instant};

/// Runs `imgtool check` until it passes; the seconds from `since`.
fn green_again(name: &str, since: Instant, ceiling: Duration, what: &str) -> f64 {
    let mut last = None;
    while since.elapsed() < ceiling {
        let r = imgtool(&["check", "-q", "--name", name]);
        if r.code == 0 {
            let secs = since.elapsed().as_secs_f64();
            println!("recovered from {what} in {secs:.1} s");
            return secs;
        }
        last = Some(r);
        std::thread::sleep(Duration::from_millis(200));
    }
    let gateways = gateway_diagnostics(name);
    imgtool(&["down", "--name", name]);
    panic!(
        "no recovery from {what} within {ceiling:?}:\n{}\n{gateways}",
        last.map(|r| r.describe()).unwrap_or_default()
    );
}

/// Each gateway's SAs and the end of its log: what charon did, for a
/// failure seen only in CI.
fn gateway_diagnostics(name: &str) -> String {
    sh(&format!(
        "for c in $(docker ps -a --format '{{{{.Names}}}}' --filter name=^{name}-gateway- | grep -v '\\.netns$'); do \
           echo \"== $c\"; docker exec $c swanctl --list-sas; docker logs --tail 60 $c 2>&1; done"
    ))
    .stdout
}

/// The IKE SAs a gateway has, by name and SPIs: `a-s f58a…_i* 2d38…_r`.
fn ike_sas(container: &str) -> Vec<String> {
    let r = sh(&format!("docker exec {container} swanctl --list-sas")).success();
    r.stdout
        .lines()
        .filter(|l| !l.starts_with(' ') && l.contains(", ESTABLISHED, "))
        .map(|l| {
            let name = l.split(':').next().unwrap_or_default();
            let spis: Vec<&str> = l.split(", ").skip(3).collect();
            format!("{name} {}", spis.join(" "))
        })
        .collect()
}

/// The PID of charon in a container (none: 0).
fn charon_pid(container: &str) -> u32 {
    let r = sh(&format!(
        "docker exec {container} sh -c 'for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = charon ] && echo ${{p#/proc/}}; done'"
    ));
    r.stdout.trim().parse().unwrap_or(0)
}

fn kill_charon(name: &str, node: &str, ceiling: Duration) -> f64 {
    let container = format!("{name}-{node}");
    let before = charon_pid(&container);
    assert_ne!(before, 0, "no charon in {container}");
    let t = Instant::now();
    sh(&format!("docker exec {container} sh -c 'kill -9 {before}'")).success();
    let secs = green_again(name, t, ceiling, &format!("kill -9 of charon in {node}"));
    let after = charon_pid(&container);
    assert!(after != 0 && after != before, "charon was not started again in {container} ({before} -> {after})");
    secs
}

fn restart(name: &str, node: &str, ceiling: Duration) -> f64 {
    let t = Instant::now();
    sh(&format!("docker restart {name}-{node}")).success();
    green_again(name, t, ceiling, &format!("docker restart of {node}"))
}

/// Dead-peer detection gives up on a silent peer after 5 s of quiet and
/// about 13.5 s of retransmissions (src/nodefiles.rs,
/// images/strongswan/strongswan.sh): a 25 s pause is past it. Each gateway
/// in `rebuilt` runs dead-peer detection against the paused one, so its
/// IKE SAs must be new ones afterwards: the peer was found dead and the
/// tunnel made again, not merely resumed (which is all a DPD that never
/// fires would give).
fn pause_past_dead_peer_detection(name: &str, node: &str, rebuilt: &[&str], ceiling: Duration) -> f64 {
    let before: Vec<Vec<String>> = rebuilt.iter().map(|g| ike_sas(&format!("{name}-{g}"))).collect();
    sh(&format!("docker pause {name}-{node}")).success();
    std::thread::sleep(Duration::from_secs(25));
    let t = Instant::now();
    sh(&format!("docker unpause {name}-{node}")).success();
    let secs = green_again(name, t, ceiling, &format!("docker pause of {node} for 25 s"));
    for (g, before) in rebuilt.iter().zip(before) {
        let after = ike_sas(&format!("{name}-{g}"));
        assert!(
            !before.is_empty() && after.iter().all(|sa| !before.contains(sa)),
            "{g} kept an IKE SA across a 25 s pause of {node}: dead-peer detection did not fire\n\
             before: {before:?}\nafter: {after:?}\n{}",
            gateway_diagnostics(name)
        );
    }
    secs
}

#[test]
fn native_site_to_site_heals_from_restarts_kills_and_pauses() {
    let _g = docker_lock();
    let name = "t-heal";
    let native = native_platform();
    let mut args = vec!["up", "site-to-site", "-q", "--name", name, "--platform", &native];
    args.extend(build_flag(&native));
    imgtool(&args).success();
    let ceiling = Duration::from_secs(60);
    let nodes = [
        "router",
        "gateway-a",
        "gateway-b",
        "gateway-s",
        "client-a1",
        "client-a2",
        "client-b1",
        "client-b2",
        "server-s1",
    ];
    let mut worst: f64 = 0.0;
    for node in nodes {
        worst = worst.max(restart(name, node, ceiling));
    }
    for node in ["gateway-a", "gateway-s"] {
        worst = worst.max(kill_charon(name, node, ceiling));
    }
    // The responder first (both initiators must find it dead), then an
    // initiator (its responder runs no dead-peer detection).
    worst = worst.max(pause_past_dead_peer_detection(name, "gateway-s", &["gateway-a", "gateway-b"], ceiling));
    worst = worst.max(pause_past_dead_peer_detection(name, "gateway-a", &[], ceiling));
    imgtool(&["down", "--name", name]).success();
    println!("slowest native recovery: {worst:.1} s");
}

#[test]
fn emulated_site_to_site_heals_and_keeps_its_firewall_across_a_restart() {
    let _g = docker_lock();
    let name = "t-heal-arm";
    let mut args = vec!["up", "site-to-site", "-q", "--name", name, "--platform", "linux/arm64"];
    args.extend(build_flag("linux/arm64"));
    imgtool(&args).success();
    let ceiling = Duration::from_secs(120);
    // The firewall lives in the namespace that the native holder owns.
    let mode = sh(&format!("docker inspect -f '{{{{.HostConfig.NetworkMode}}}}' {name}-gateway-a")).success();
    let holder = sh(&format!("docker inspect -f '{{{{.Id}}}}' {name}-gateway-a.netns")).success();
    assert_eq!(mode.stdout.trim(), format!("container:{}", holder.stdout.trim()));
    let mut worst: f64 = 0.0;
    for node in ["gateway-a", "gateway-s", "router"] {
        worst = worst.max(restart(name, node, ceiling));
    }
    worst = worst.max(kill_charon(name, "gateway-b", ceiling));
    worst = worst.max(pause_past_dead_peer_detection(name, "gateway-s", &["gateway-a", "gateway-b"], ceiling));
    imgtool(&["down", "--name", name]).success();
    println!("slowest emulated recovery: {worst:.1} s");
}
