//! Bringing a planned testbed into being, all on the daemon's side:
//! credentials (a pki container whose stdout is a tar), veth parents and the
//! macvlan probe (a host-network helper), networks, then containers created,
//! given their files with `docker cp` and started in one call (and, on
//! emulated platforms, what qemu-user cannot do inside them done from native
//! helpers); then waiting until every node reports healthy.

use std::time::{Duration, Instant};

use super::spec::{self, ContainerSpec, Driver, DriverChoice, NetworkSpec, Options};
use super::{TestbedError, files, state, stop_if_interrupted};
use crate::engine::Engine;
use crate::nodefiles::Auth;
use crate::progress::Progress;
use crate::scenario::Scenario;

/// What qemu-user cannot do inside an emulated gateway, done natively in its
/// namespace: load the firewall (given on stdin) and, for host-to-host
/// tunnels, the routing rules (see images/strongswan/strongswan.sh); then
/// mark the firewall loaded.
fn emulated_gateway_script(gateway: &ContainerSpec) -> String {
    let mut s = String::from("set -e\nnft -f /dev/stdin\n");
    if gateway.env.iter().any(|(k, v)| k == "IMGTOOL_ROUTING" && v == "policy") {
        for family in ["-4", "-6"] {
            for port in [500, 4500] {
                s += &format!("ip {family} rule add pref 210 ipproto 17 sport {port} lookup main\n");
            }
            s += &format!("ip {family} rule add pref 220 lookup 220\n");
        }
    }
    s + "ip link set dev lo alias imgtool-firewall\n"
}

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
    let pki = || -> Result<(), TestbedError> {
        if !matches!(auth, Auth::Certificates) {
            return Ok(());
        }
        let mut args = strings(&["run", "--rm", "--network=none", "--platform", &opts.native_platform]);
        args.extend(strings(&["--entrypoint", "sh", &opts.images.native_gateway, "-c", state::PKI_SCRIPT, "sh"]));
        args.extend(state::pki_args(scenario, &opts.name));
        let archive = engine.run_bytes(&args)?;
        files::unpack_private(&archive, &opts.state)
            .map_err(|source| TestbedError::State { path: opts.state.clone(), source })?;
        Ok(())
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
        args.extend(strings(&["-c", spec::VETH_SCRIPT, "sh"]));
        args.extend(spec::veth_args(&nets, &opts.name));
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
pub(super) fn remove_veths(engine: &Engine, image: &str, platform: &str, testbed: &str) -> Result<(), TestbedError> {
    let args = ["run", "--rm", "--network=host", "--cap-add=NET_ADMIN", "--platform", platform, "--entrypoint", "sh"];
    let mut args = strings(&args);
    args.extend(strings(&[image, "-c", spec::VETH_CLEANUP_SCRIPT, "sh", testbed]));
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
    let created = crate::parallel::map(nets, |n| {
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
        a.push(n.name.clone());
        engine.run(&a)
    });
    created.into_iter().collect::<Result<Vec<_>, _>>()?;

    stop_if_interrupted()?;
    let nodes: Vec<&ContainerSpec> = containers.iter().filter(|c| c.namespace_of.is_none()).collect();
    progress.step(format!("creating {} containers and copying in their files", nodes.len()));
    let made = crate::parallel::map(&nodes, |c| -> Result<(), TestbedError> {
        engine.run(&[vec!["create".to_string()], c.create_args()].concat())?;
        let archive =
            files::pack(&c.files).map_err(|source| TestbedError::State { path: opts.state.clone(), source })?;
        engine.run_input(&["cp", "-", &format!("{}:/", c.name)], archive)?;
        Ok(())
    });
    made.into_iter().collect::<Result<Vec<_>, _>>()?;
    stop_if_interrupted()?;
    progress.step(format!("starting {} containers", nodes.len()));
    // One call each, side by side: `docker start a b c` starts them one by one.
    let started = crate::parallel::map(&nodes, |c| engine.run(&["start", &c.name]));
    started.into_iter().collect::<Result<Vec<_>, _>>()?;

    if opts.platform != opts.native_platform {
        progress.step("loading the gateways' firewalls from native helpers");
        let gateways: Vec<&ContainerSpec> =
            nodes.iter().copied().filter(|c| c.devices.contains(&"/dev/net/tun")).collect();
        let loaded = crate::parallel::map(&gateways, |c| -> Result<(), TestbedError> {
            let firewall = opts.node_dir(&c.node).join("firewall.nft");
            let ruleset =
                std::fs::read(&firewall).map_err(|source| TestbedError::State { path: firewall.clone(), source })?;
            let mut args = strings(&["run", "--rm", "-i", &format!("--network=container:{}", c.name)]);
            args.extend(strings(&["--cap-add=NET_ADMIN", "--platform", &opts.native_platform, "--entrypoint", "sh"]));
            args.extend([opts.images.native_gateway.clone(), "-c".into(), emulated_gateway_script(c)]);
            engine.run_input(&args, ruleset)?;
            Ok(())
        });
        loaded.into_iter().collect::<Result<Vec<_>, _>>()?;
    }
    Ok(())
}

pub(super) fn wait_healthy(engine: &Engine, containers: &[ContainerSpec], timeout_s: u64) -> Result<(), TestbedError> {
    let deadline = Instant::now() + Duration::from_secs(timeout_s);
    let names: Vec<&str> = containers.iter().filter(|c| c.namespace_of.is_none()).map(|c| c.name.as_str()).collect();
    loop {
        let mut args = vec![
            "inspect",
            "--format",
            "{{.Name}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}",
        ];
        args.extend(&names);
        let out = engine.run(&args)?;
        let mut pending = Vec::new();
        for line in out.lines() {
            let f: Vec<&str> = line.trim_start_matches('/').split('|').collect();
            let (name, status, health) = (f[0], f.get(1).copied().unwrap_or(""), f.get(2).copied().unwrap_or(""));
            if status != "running" {
                let logs = engine
                    .output(&["logs", "--tail", "3", name])
                    .map(|r| crate::engine::last_lines(&format!("{}{}", r.stdout, r.stderr), 3))
                    .unwrap_or_default();
                return Err(TestbedError::Unhealthy { node: name.into(), detail: format!("{status}: {logs}") });
            }
            if health != "healthy" {
                pending.push(name.to_string());
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        stop_if_interrupted()?;
        if Instant::now() > deadline {
            return Err(TestbedError::Unhealthy {
                node: pending.join(", "),
                detail: format!(
                    "still starting after {timeout_s} s; see `docker logs {}`, or wait longer with --timeout",
                    pending[0]
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
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
