//! Bringing a planned testbed into being: credentials (in-process), then on
//! the daemon's side veth parents and the
//! macvlan probe (a host-network helper), networks, then containers created,
//! given their files with `docker cp` and started side by side (on emulated
//! platforms, the native holders of the gateways' namespaces first); then
//! waiting until every node says it is ready.

use std::time::{Duration, Instant};

use super::spec::{self, ContainerSpec, Driver, DriverChoice, Kind, NetworkSpec, Options};
use super::{TestbedError, files, scripts, state, stop_if_interrupted, subnets};
use crate::engine::Engine;
use crate::nodefiles::Auth;
use crate::progress::Progress;
use crate::scenario::Scenario;

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// The driver `up` ends up with, and why, in words for the user.
pub(super) struct DriverPick {
    pub driver: Driver,
    pub why: String,
}

/// Certificates and (unless bridge is certain) veth parents, side by side;
/// then the driver: macvlan where the probe on the parents worked.
pub(super) fn credentials_and_driver(
    engine: &Engine,
    scenario: &Scenario,
    opts: &Options,
    choice: DriverChoice,
    docker_desktop: bool,
    auth: &Auth,
) -> Result<DriverPick, TestbedError> {
    // In-process, on imgtool's side: no container, and the CA key is never written.
    let pki = || -> Result<(), TestbedError> {
        if !matches!(auth, Auth::Certificates) {
            return Ok(());
        }
        let (ca, gateways) = state::pki_subjects(scenario, &opts.name);
        let files = crate::pki::issue(&ca, &gateways).map_err(|e| TestbedError::Certificates(e.to_string()))?;
        state::write_credentials(&opts.state, &files)
            .map_err(|source| TestbedError::State { path: opts.state.clone(), source })
    };
    let bridge_only = choice == DriverChoice::Bridge || (choice == DriverChoice::Auto && docker_desktop);
    let veths = || -> Result<Option<String>, TestbedError> {
        if bridge_only {
            return Ok(None);
        }
        let macvlan = Options { driver: Driver::Macvlan, ..opts.clone() };
        let nets = spec::networks(scenario, &macvlan);
        let mut args = strings(&["run", "--rm", "--network=host", "--cap-add=NET_ADMIN"]);
        args.extend(strings(&["--platform", &opts.native_platform, "--entrypoint", "sh", &opts.images.native_client]));
        args.extend(strings(&["-c", scripts::VETH, "sh"]));
        args.extend(scripts::veth_args(&nets, &opts.name));
        Ok(Some(engine.run(&args)?))
    };
    let (made, probed) = std::thread::scope(|s| {
        let p = s.spawn(pki);
        let v = veths();
        (p.join().expect("pki thread panicked"), v)
    });
    made?;
    let answer = probed?;
    let pick = pick_driver(choice, answer.as_deref());
    if pick.as_ref().map_or(true, |p| p.driver == Driver::Bridge) && answer.is_some() {
        remove_veths(engine, &opts.images.native_client, &opts.native_platform, &opts.name)?;
    }
    pick
}

/// The driver from the choice and the veth helper's answer (`None`: not
/// asked, bridge was certain).
fn pick_driver(choice: DriverChoice, answer: Option<&str>) -> Result<DriverPick, TestbedError> {
    let pick = |driver, why: &str| Ok(DriverPick { driver, why: why.into() });
    let Some(answer) = answer else {
        return pick(Driver::Bridge, if choice == DriverChoice::Bridge { "as asked" } else { DESKTOP });
    };
    if answer.lines().any(|l| l == "macvlan yes") {
        return pick(
            Driver::Macvlan,
            if choice == DriverChoice::Macvlan { "as asked" } else { "macvlan works on the daemon's side" },
        );
    }
    let why = answer.lines().find_map(|l| l.strip_prefix("macvlan no ")).unwrap_or("no answer").trim();
    match choice {
        DriverChoice::Macvlan => Err(TestbedError::NoMacvlan(why.into())),
        _ => pick(Driver::Bridge, &format!("macvlan does not work on the daemon's side: {why}")),
    }
}

const DESKTOP: &str = "Docker Desktop does not support macvlan";

/// Removes the testbed's veth parents on the daemon's host.
/// [`remove_veths`] with the first of `images` that runs (a pinned image
/// can be gone after a rebuild and `docker image prune`).
pub(super) fn remove_veths_with_any(
    engine: &Engine,
    images: &[String],
    platform: &str,
    testbed: &str,
) -> Result<(), TestbedError> {
    let mut last = None;
    for image in images {
        match remove_veths(engine, image, platform, testbed) {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| TestbedError::NotRunning(testbed.into())))
}

pub(super) fn remove_veths(engine: &Engine, image: &str, platform: &str, testbed: &str) -> Result<(), TestbedError> {
    let args = ["run", "--rm", "--network=host", "--cap-add=NET_ADMIN", "--platform", platform, "--entrypoint", "sh"];
    let mut args = strings(&args);
    args.extend(strings(&[image, "-c", scripts::VETH_CLEANUP, "sh", testbed]));
    engine.run(&args)?;
    Ok(())
}

pub(super) fn create(
    engine: &Engine,
    opts: &Options,
    nets: &[NetworkSpec],
    containers: &[ContainerSpec],
    progress: &Progress,
) -> Result<(), TestbedError> {
    let created = crate::parallel::map(nets, |n| create_network(engine, n));
    created.into_iter().collect::<Result<Vec<_>, _>>()?;

    // Namespace owners first: a node that joins one needs it running.
    for (owners, what) in [(true, "namespace owners"), (false, "nodes")] {
        let batch: Vec<&ContainerSpec> = containers.iter().filter(|c| (c.kind != Kind::Node) == owners).collect();
        if !batch.is_empty() {
            create_and_start(engine, opts, &batch, what, progress)?;
        }
    }
    Ok(())
}

/// Creates one network, on the first free subnet of its candidates.
fn create_network(engine: &Engine, n: &NetworkSpec) -> Result<String, TestbedError> {
    let mut a: Vec<String> = vec!["network".into(), "create".into(), format!("--driver={}", n.driver.name())];
    if n.internal {
        a.push("--internal".into());
    }
    for (k, v) in &n.opts {
        a.push(format!("--opt={k}={v}"));
    }
    for (k, v) in &n.labels {
        a.push(format!("--label={k}={v}"));
    }
    let mut attempt = 0;
    loop {
        let subnet = format!("--subnet={}", subnets::candidate(n.subnet_seed, attempt));
        match engine.run(&[&a[..], &[subnet, n.name.clone()]].concat()) {
            Err(e) if subnets::overlaps(&e.to_string()) && attempt + 1 < subnets::ATTEMPTS => attempt += 1,
            done => return Ok(done?),
        }
    }
}

/// Creates `batch`, copies each its files, then starts them all.
fn create_and_start(
    engine: &Engine,
    opts: &Options,
    batch: &[&ContainerSpec],
    what: &str,
    progress: &Progress,
) -> Result<(), TestbedError> {
    stop_if_interrupted()?;
    progress.step(format!("creating {} {what} and copying in their files", batch.len()));
    let made = crate::parallel::map(batch, |c| -> Result<(), TestbedError> {
        engine.run(&[vec!["create".to_string()], c.create_args()].concat())?;
        let archive =
            files::pack(&c.files).map_err(|source| TestbedError::State { path: opts.state.clone(), source })?;
        engine.run_input(&["cp", "-", &format!("{}:/", c.name)], archive)?;
        Ok(())
    });
    made.into_iter().collect::<Result<Vec<_>, _>>()?;
    stop_if_interrupted()?;
    progress.step(format!("starting {} {what}", batch.len()));
    // One call each, side by side: `docker start a b c` starts them one by one.
    let started = crate::parallel::map(batch, |c| engine.run(&["start", &c.name]));
    started.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(())
}

/// What a node's image says to imgtool in its log: `imgtool: ready` once
/// it is ready (see images/common/node.sh; a gateway, once every tunnel it
/// initiates is up), and before that, e.g., `imgtool: esp-backend NAME`.
const SAID: &str = "imgtool: ";
const READY: &str = "ready";

/// How often the nodes' state is read while waiting: to see a node that
/// stopped, and Docker's health, for images that do not say they are ready.
const STATE_POLL: Duration = Duration::from_millis(300);

/// What each node said before it was ready (`SAID` lines, without the prefix).
pub(super) type Said = std::collections::HashMap<String, Vec<String>>;

/// Waits until every node says it is ready in its log, or is healthy by
/// Docker's health check. The logs are followed, not polled: a node is seen
/// ready at once, not at its next health probe (200 ms apart, or slower on
/// a busy machine; under qemu-user each probe takes most of a second).
pub(super) fn wait_ready(engine: &Engine, containers: &[ContainerSpec], timeout_s: u64) -> Result<Said, TestbedError> {
    let deadline = Instant::now() + Duration::from_secs(timeout_s);
    let names = node_names(containers);
    // A log that cannot be followed leaves that node to its health check.
    let follows: Vec<(usize, crate::engine::Follow)> = names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| engine.follow(&["logs", "--follow", n]).ok().map(|f| (i, f)))
        .collect();
    let (ready, heard) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let listeners: Vec<_> = follows
            .iter()
            .map(|(i, follow)| {
                let (ready, name) = (ready.clone(), names[*i].clone());
                s.spawn(move || {
                    let mut said = Vec::new();
                    follow.each_line(|line| match line.strip_prefix(SAID) {
                        Some(READY) => {
                            let _ = ready.send(*i);
                            false
                        }
                        Some(what) => {
                            said.push(what.to_string());
                            true
                        }
                        None => true,
                    });
                    (name, said)
                })
            })
            .collect();
        drop(ready);
        let waited = wait_for(engine, &names, &heard, Instant::now() + STATE_POLL, deadline, timeout_s);
        for (_, follow) in &follows {
            follow.stop();
        }
        let said = listeners.into_iter().map(|l| l.join().expect("log follower panicked")).collect();
        waited.map(|()| said)
    })
}

/// Waits, after [`wait_ready`] and the checks, until Docker's health
/// agrees (its probes lag the nodes' own word by up to a probe or two), so
/// that `docker ps` and `imgtool status` say healthy once `up` is done.
/// Not an error if it does not: the nodes said they were ready.
pub(super) fn settle_health(engine: &Engine, containers: &[ContainerSpec]) {
    const SETTLE_S: u64 = 10;
    let (_, none) = std::sync::mpsc::channel();
    let deadline = Instant::now() + Duration::from_secs(SETTLE_S);
    let _ = wait_for(engine, &node_names(containers), &none, Instant::now(), deadline, SETTLE_S);
}

/// The scenario's nodes among `containers` (not holders, observer or meter).
fn node_names(containers: &[ContainerSpec]) -> Vec<String> {
    containers.iter().filter(|c| c.kind == Kind::Node).map(|c| c.name.clone()).collect()
}

fn wait_for(
    engine: &Engine,
    names: &[String],
    heard: &std::sync::mpsc::Receiver<usize>,
    first_poll: Instant,
    deadline: Instant,
    timeout_s: u64,
) -> Result<(), TestbedError> {
    let mut ready = vec![false; names.len()];
    let mut next_poll = first_poll;
    loop {
        let wait = next_poll.saturating_duration_since(Instant::now());
        match heard.recv_timeout(wait) {
            Ok(i) => ready[i] = true,
            // Every follower ended: only the state polls are left.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        if ready.iter().all(|r| *r) {
            return Ok(());
        }
        stop_if_interrupted()?;
        if Instant::now() < next_poll {
            continue;
        }
        next_poll = Instant::now() + STATE_POLL;
        let found = super::objects::containers(engine, names)?;
        for (i, name) in names.iter().enumerate() {
            let Some(c) = found.iter().find(|c| c.name() == name.as_str()) else {
                return Err(TestbedError::Unhealthy { node: name.clone(), detail: "removed while starting".into() });
            };
            let status = c.state.status.as_str();
            if status != "running" {
                let logs = engine
                    .output(&["logs", "--tail", "3", name])
                    .map(|r| crate::engine::last_lines(&format!("{}{}", r.stdout, r.stderr), 3))
                    .unwrap_or_default();
                return Err(TestbedError::Unhealthy { node: name.clone(), detail: format!("{status}: {logs}") });
            }
            ready[i] |= c.health() == "healthy";
        }
        if ready.iter().all(|r| *r) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let pending: Vec<&str> = names.iter().zip(&ready).filter(|(_, r)| !**r).map(|(n, _)| n.as_str()).collect();
            return Err(TestbedError::Unhealthy {
                node: pending.join(", "),
                detail: format!(
                    "still starting after {timeout_s} s; see `docker logs {}`, or wait longer with --timeout",
                    pending[0]
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_picks_macvlan_where_it_works_and_bridge_elsewhere() {
        let pick = |choice, answer| pick_driver(choice, answer).map(|p| (p.driver, p.why));
        let auto = DriverChoice::Auto;
        assert_eq!(pick(auto, Some("macvlan yes\n")).unwrap().0, Driver::Macvlan);
        let (driver, why) = pick(auto, Some("macvlan no RTNETLINK answers: Operation not supported\n")).unwrap();
        assert_eq!(driver, Driver::Bridge);
        assert!(why.contains("Operation not supported"), "{why}");
        assert_eq!(pick(auto, None).unwrap(), (Driver::Bridge, DESKTOP.to_string()));
        assert_eq!(pick(DriverChoice::Bridge, None).unwrap(), (Driver::Bridge, "as asked".to_string()));
        let refused = pick(DriverChoice::Macvlan, Some("macvlan no not here")).unwrap_err().to_string();
        assert!(
            refused.starts_with("--driver macvlan: macvlan does not work") && refused.contains("not here"),
            "{refused}"
        );
    }
}
