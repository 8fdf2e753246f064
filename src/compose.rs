//! `imgtool render`: the same containers and networks `up` makes, as a
//! compose project, so `docker compose` alone can run a scenario. Gateways
//! authenticate with a random pre-shared key written beside it (making
//! certificates needs the strongSwan image, which `up` runs). A macvlan
//! project leaves the parent to Docker, which needs dummy-interface support
//! in the kernel; `--driver bridge` works everywhere.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::Config;
use crate::daemon::Daemon;
use crate::engine::Engine;
use crate::nodefiles::Auth;
use crate::scenario::Scenario;
use crate::testbed::spec::{self, Driver, Esp, Images, Options};
use crate::testbed::{TestbedName, state};

/// A YAML scalar: JSON's double-quoted strings are valid YAML.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

pub fn render(scenario: &Scenario, opts: &Options) -> String {
    let nets = spec::networks(scenario, opts);
    let containers = spec::containers(scenario, opts);
    let mut y = format!(
        "# Made by `imgtool render {}`: scenario {}.\n# {}\nname: {}\nservices:\n",
        scenario.name,
        scenario.name,
        scenario.description,
        q(opts.name.as_str())
    );
    // A compose project has no observer (captures are `imgtool`'s) and runs
    // natively (no holders): a node whose namespace a helper would own
    // takes that helper's networks and sysctls back, and a restart policy.
    let owners: Vec<&spec::ContainerSpec> = containers.iter().filter(|c| c.kind != spec::Kind::Node).collect();
    let nodes = containers.iter().filter(|c| c.kind == spec::Kind::Node).map(|c| {
        let mut c = c.clone();
        if let Some(owner) = owners.iter().find(|o| c.namespace_of.as_ref() == Some(&o.name)) {
            c.networks = owner.networks.clone();
            c.sysctls = owner.sysctls.clone();
            c.namespace_of = None;
        }
        c
    });
    for c in nodes {
        let _ = writeln!(y, "  {}:", c.node);
        let _ = writeln!(
            y,
            "    image: {}\n    platform: {}\n    container_name: {}\n    hostname: {}",
            q(&c.image),
            q(&c.platform),
            q(&c.name),
            q(&c.node)
        );
        let _ = writeln!(y, "    restart: on-failure");
        let list = |y: &mut String, key: &str, items: Vec<String>| {
            if !items.is_empty() {
                let _ = writeln!(y, "    {key}:");
                for i in items {
                    let _ = writeln!(y, "      - {i}");
                }
            }
        };
        list(&mut y, "cap_add", c.cap_add.iter().map(|x| q(x)).collect());
        list(&mut y, "devices", c.devices.iter().map(|d| q(&format!("{d}:{d}"))).collect());
        list(&mut y, "volumes", c.files.iter().map(|(h, t)| q(&format!("{}:{t}:ro", h.display()))).collect());
        list(&mut y, "command", c.command.iter().map(|x| q(x)).collect());
        let map = |y: &mut String, key: &str, items: &[(String, String)]| {
            if !items.is_empty() {
                let _ = writeln!(y, "    {key}:");
                for (k, v) in items {
                    let _ = writeln!(y, "      {}: {}", q(k), q(v));
                }
            }
        };
        map(&mut y, "sysctls", &c.sysctls);
        map(&mut y, "environment", &c.env);
        map(&mut y, "labels", &c.labels);
        let _ = writeln!(y, "    networks:");
        for (net, mac) in &c.networks {
            let key = net.strip_prefix(&format!("{}-", opts.name)).unwrap_or(net);
            let _ = writeln!(y, "      {key}:\n        mac_address: {}", q(mac));
        }
    }
    let _ = writeln!(y, "networks:");
    for n in &nets {
        let kind = n.driver.name();
        let _ = writeln!(
            y,
            "  {}:\n    name: {}\n    driver: {kind}\n    internal: {}",
            n.scenario_net,
            q(&n.name),
            n.internal
        );
        // A macvlan parent is host-specific: compose leaves it to Docker.
        if n.veth.is_none() && !n.opts.is_empty() {
            let _ = writeln!(y, "    driver_opts:");
            for (k, v) in &n.opts {
                let _ = writeln!(y, "      {}: {}", q(k), q(v));
            }
        }
        let _ = writeln!(y, "    labels:");
        for (k, v) in &n.labels {
            let _ = writeln!(y, "      {}: {}", q(k), q(v));
        }
    }
    y
}

/// Writes `output/compose.yaml` and every node's files under `output/nodes/`.
/// The platform is `platform`, else the Docker daemon's (not this client's).
pub fn write(
    engine: &Engine,
    config: &Config,
    scenario_arg: &str,
    name: &TestbedName,
    driver: Driver,
    platform: Option<String>,
    output: &Path,
) -> Result<PathBuf> {
    let (scenario, text) = Scenario::load_with_text(scenario_arg)?;
    if let Some(p) = &platform {
        config.check_platform(p)?;
    }
    // Rendering again replaces an earlier render of the same testbed, and
    // never a directory that imgtool did not make for it.
    state::check_claim(output, name)?;
    crate::daemon::require_plugin(engine, "compose")?;
    state::claim(output, name)?;
    let abs = output.canonicalize().with_context(|| format!("resolving {}", output.display()))?;
    let auth = Auth::Psk(state::random_psk()?);
    state::write(&abs, &scenario, &text, &auth, &Default::default())?;
    let platform = match platform {
        Some(p) => p,
        None => {
            Daemon::probe(engine).context("asking the Docker daemon for its platform (or pass --platform)")?.platform
        }
    };
    let opts = Options {
        name: name.clone(),
        platform: platform.clone(),
        native_platform: platform,
        driver,
        esp: Esp::Auto,
        images: Images::from_config(config),
        state: abs.clone(),
    };
    let file = abs.join("compose.yaml");
    std::fs::write(&file, render(&scenario, &opts))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_has_every_node_with_its_macs_and_no_privileged() {
        let s = Scenario::load("site-to-site").unwrap();
        let opts = Options {
            name: "lab".parse().unwrap(),
            platform: "linux/amd64".into(),
            native_platform: "linux/amd64".into(),
            driver: Driver::Macvlan,
            esp: Esp::Auto,
            images: Images::same_for_all("r".into(), "c".into(), "g".into()),
            state: "/s".into(),
        };
        let y = render(&s, &opts);
        for n in &s.nodes {
            assert!(y.contains(&format!("\n  {}:\n    image:", n.name)), "{y}");
        }
        assert!(y.contains("      isp-a:\n        mac_address: \"02:1b:00:00:01:02\""), "{y}");
        assert!(y.contains("\"/s/nodes/gateway-a/swanctl:/etc/swanctl:ro\""), "{y}");
        assert!(y.contains("\"/dev/net/tun:/dev/net/tun\""), "{y}");
        assert!(!y.contains("privileged"));
        assert!(!y.contains("observer"));
    }
}
