//! Bringing a planned testbed into being: credentials, veth parents,
//! networks, containers (and, on emulated platforms, what qemu-user cannot
//! do inside them), then waiting until every node reports healthy.

use std::time::{Duration, Instant};

use super::spec::{self, ContainerSpec, Driver, Options};
use super::{TestbedError, state, stop_if_interrupted};
use crate::engine::Engine;
use crate::nodefiles::Auth;
use crate::progress::Progress;
use crate::scenario::Scenario;

/// What qemu-user cannot do inside an emulated gateway, done natively in its
/// namespace: load the firewall and, for host-to-host tunnels, the routing
/// rules (see images/strongswan/strongswan.sh); then mark the firewall loaded.
fn emulated_gateway_script(gateway: &ContainerSpec) -> String {
    let mut s = String::from("set -e\nnft -f /etc/imgtool/firewall.nft\n");
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

pub(super) fn create(
    engine: &Engine,
    scenario: &Scenario,
    opts: &Options,
    nets: &[spec::NetworkSpec],
    containers: &[ContainerSpec],
    auth: &Auth,
    progress: &Progress,
) -> Result<(), TestbedError> {
    let helper = |args: Vec<String>| engine.run(&args).map(|_| ());
    let state = opts.state.display().to_string();
    let mut jobs: Vec<Vec<String>> = Vec::new();
    if matches!(auth, Auth::Certificates) {
        let user = format!("{}:{}", current_uid(), current_gid());
        jobs.push(
            vec![
                "run",
                "--rm",
                "--network=none",
                "--user",
                &user,
                "--platform",
                &opts.platform,
                "--volume",
                &format!("{state}:/state"),
                "--entrypoint",
                "sh",
                &opts.images.gateway,
                "-c",
                &state::pki_script(scenario, &opts.name),
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        );
    }
    if opts.driver == Driver::Macvlan {
        jobs.push(
            vec![
                "run",
                "--rm",
                "--network=host",
                "--cap-add=NET_ADMIN",
                "--platform",
                &opts.native_platform,
                "--entrypoint",
                "sh",
                &opts.images.native_client,
                "-c",
                &spec::veth_script(nets, &opts.name),
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        );
    }
    crate::parallel::map(&jobs, |a| helper(a.clone())).into_iter().collect::<Result<(), _>>()?;

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
    progress.step(format!("starting {} containers", containers.len()));
    let nodes: Vec<&ContainerSpec> = containers.iter().filter(|c| c.namespace_of.is_none()).collect();
    let started = crate::parallel::map(&nodes, |c| engine.run(&[vec!["run".to_string()], c.run_args()].concat()));
    started.into_iter().collect::<Result<Vec<_>, _>>()?;
    if opts.platform != opts.native_platform {
        progress.step("loading the gateways' firewalls from native helpers");
        let gateways: Vec<&ContainerSpec> =
            nodes.iter().copied().filter(|c| c.devices.contains(&"/dev/net/tun")).collect();
        let loaded = crate::parallel::map(&gateways, |c| {
            engine.run(&[
                "run",
                "--rm",
                &format!("--network=container:{}", c.name),
                "--cap-add=NET_ADMIN",
                "--platform",
                &opts.native_platform,
                "--volume",
                &format!("{}:/etc/imgtool:ro", opts.node_dir(&c.node).display()),
                "--entrypoint",
                "sh",
                &opts.images.native_gateway,
                "-c",
                &emulated_gateway_script(c),
            ])
        });
        loaded.into_iter().collect::<Result<Vec<_>, _>>()?;
    }
    Ok(())
}

// The pki helper writes into the user's state directory as the user.
fn current_uid() -> u32 {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap_or(0)
}
fn current_gid() -> u32 {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::gid(&m)).unwrap_or(0)
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
                detail: format!("still starting after {timeout_s} s; see `docker logs {}`", pending[0]),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
