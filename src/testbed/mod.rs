//! Running a testbed: `up` (images, networks, containers, health, checks),
//! `down`, `status`. Everything made carries the testbed's label, and is
//! found again by label, so an interrupted `up` is cleaned by the next
//! `up` or `down`.

mod bringup;
pub mod memory;
pub mod ops;
pub mod spec;
pub mod state;

use std::path::PathBuf;
use std::time::Instant;

use crate::build::{self, BuildError};
use crate::check::{self, CheckResult};
use crate::config::Config;
use crate::engine::{Engine, EngineError};
use crate::nodefiles::Auth;
use crate::progress::Progress;
use crate::scenario::{Scenario, ScenarioError};
use memory::Memory;
use spec::{ContainerSpec, Driver, Images, LABEL_TESTBED, Options};

#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("cannot write the testbed state in {path}: {source}")]
    State { path: PathBuf, source: std::io::Error },
    #[error("{kind} {name} already exists and is not part of testbed {testbed}: remove it or pick another --name")]
    NameTaken { kind: &'static str, name: String, testbed: String },
    #[error(
        "testbed {testbed} already runs scenario {running}: run `imgtool down{flag}` first, or pick another --name"
    )]
    OtherScenario { testbed: String, running: String, flag: String },
    #[error("no testbed named {0} is running: start one with `imgtool up`")]
    NotRunning(String),
    #[error("node {node} did not become healthy: {detail}")]
    Unhealthy { node: String, detail: String },
    #[error("interrupted: removed what this up had made")]
    Interrupted,
    #[error("no node {node} in testbed {testbed} (nodes: {known})")]
    UnknownNode { node: String, testbed: String, known: String },
}

/// What `up` was asked for.
#[derive(Debug, Clone)]
pub struct UpRequest {
    pub scenario: String,
    pub name: String,
    pub platform: Option<String>,
    pub build: bool,
    pub psk: bool,
    pub driver: Driver,
    /// Leave a testbed that failed to come up in place, for inspection.
    pub keep: bool,
    /// Exactly these images (e.g. just built, by digest) instead of imgtool.toml's.
    pub images: Option<Images>,
}

#[derive(Debug)]
pub struct UpSummary {
    pub scenario: String,
    pub platform: String,
    pub nodes: usize,
    pub tunnels: usize,
    pub seconds: f64,
    pub memory: Option<Memory>,
    pub already_up: bool,
    pub checks: Vec<CheckResult>,
}

/// A running testbed, as found by label and its state directory.
pub struct Running {
    pub scenario: Scenario,
    pub opts: Options,
}

fn list(engine: &Engine, what: &str, testbed: &str, format: &str) -> Result<Vec<String>, EngineError> {
    let filter = format!("label={LABEL_TESTBED}={testbed}");
    let args: Vec<&str> = match what {
        "container" => vec!["ps", "-a", "--filter", &filter, "--format", format],
        _ => vec!["network", "ls", "--filter", &filter, "--format", format],
    };
    Ok(engine.run(&args)?.lines().filter(|l| !l.is_empty()).map(String::from).collect())
}

/// Finds a testbed by its label and reloads the scenario it runs.
pub fn find(engine: &Engine, config: &Config, name: &str) -> Result<Running, TestbedError> {
    let rows = list(engine, "container", name, "{{.Label \"io.imgtool.platform\"}}")?;
    let dir = state::dir(name);
    let text = std::fs::read_to_string(dir.join(state::SCENARIO_FILE));
    let (Some(platform), Ok(text)) = (rows.first(), text) else {
        return Err(TestbedError::NotRunning(name.into()));
    };
    let scenario = Scenario::parse(&text, &dir.join(state::SCENARIO_FILE).display().to_string())?;
    let opts = Options {
        name: name.into(),
        platform: platform.clone(),
        native_platform: engine.native_platform()?,
        driver: Driver::Macvlan,
        images: Images::from_config(config),
        state: dir,
    };
    Ok(Running { scenario, opts })
}

pub fn up(engine: &Engine, config: &Config, req: &UpRequest, progress: &Progress) -> Result<UpSummary, TestbedError> {
    let started = Instant::now();
    let (scenario, text) = Scenario::load_with_text(&req.scenario)?;
    let native = engine.native_platform()?;
    let platform = req.platform.clone().unwrap_or_else(|| native.clone());
    let opts = Options {
        name: req.name.clone(),
        platform: platform.clone(),
        native_platform: native.clone(),
        driver: req.driver,
        images: req.images.clone().unwrap_or_else(|| Images::from_config(config)),
        state: state::dir(&req.name),
    };
    let nets = spec::networks(&scenario, &opts);
    let containers = spec::containers(&scenario, &opts);

    // A running testbed of the same scenario and platform is left alone.
    let existing = list(
        engine,
        "container",
        &req.name,
        "{{.Names}}|{{.State}}|{{.Label \"io.imgtool.scenario\"}}|{{.Label \"io.imgtool.platform\"}}",
    )?;
    if !existing.is_empty() {
        let all_running =
            existing.len() == containers.len() && existing.iter().all(|r| r.split('|').nth(1) == Some("running"));
        let running_scenario = existing[0].split('|').nth(2).unwrap_or("").to_string();
        let same = existing.iter().all(|r| r.ends_with(&format!("|{}|{platform}", scenario.name)));
        if all_running && same {
            return Ok(UpSummary {
                scenario: scenario.name.clone(),
                platform,
                nodes: scenario.nodes.len(),
                tunnels: scenario.tunnels.len(),
                seconds: 0.0,
                memory: None,
                already_up: true,
                checks: Vec::new(),
            });
        }
        if all_running {
            let flag = if req.name == crate::DEFAULT_TESTBED { String::new() } else { format!(" --name {}", req.name) };
            return Err(TestbedError::OtherScenario { testbed: req.name.clone(), running: running_scenario, flag });
        }
        progress.note(format!("testbed {} is half made (an interrupted up?): removing it first", req.name));
        down(engine, &req.name, progress)?;
    }
    refuse_foreign_names(engine, &req.name, &containers, &nets)?;

    let mut needs: Vec<(&str, String)> =
        vec![("router", platform.clone()), ("client", platform.clone()), ("gateway", platform.clone())];
    if platform != native {
        // Native helpers: the observer (client) and firewall loaders (gateway).
        needs.extend([("client", native.clone()), ("gateway", native.clone())]);
    }
    if req.images.is_none() {
        build::ensure(engine, config, &needs, &native, req.build, progress)?;
    }
    stop_if_interrupted()?;

    let auth = if req.psk { Auth::Psk(random_psk(&opts.state)?) } else { Auth::Certificates };
    state::write(&opts.state, &scenario, &text, &auth)
        .map_err(|source| TestbedError::State { path: opts.state.clone(), source })?;

    progress.step("creating credentials and networks");
    let mut sampler = None;
    let result = bringup::create(engine, &scenario, &opts, &nets, &containers, &auth, progress).and_then(|()| {
        sampler = Some(memory::Sampler::start(memory::node_files(engine, &scenario, &opts)?));
        progress.step("waiting for every node to be healthy");
        // The observer joins the router's namespace while the nodes settle.
        let observer = containers.iter().filter(|c| c.namespace_of.is_some());
        let run_observer = || {
            observer
                .map(|c| engine.run(&[vec!["run".to_string()], c.run_args()].concat()))
                .collect::<Result<Vec<_>, _>>()
        };
        let (observed, healthy) = std::thread::scope(|s| {
            let o = s.spawn(run_observer);
            let h = bringup::wait_healthy(engine, &containers, if platform == native { 60 } else { 240 });
            (o.join().expect("observer thread panicked"), h)
        });
        observed?;
        healthy
    });
    if let Err(e) = result {
        if req.keep {
            progress.note(format!(
                "bring-up failed: left in place (--keep); `imgtool down --name {}` removes it",
                req.name
            ));
            return Err(e);
        }
        sampler.map(memory::Sampler::stop);
        progress.note("bring-up failed: removing what was made");
        let _ = down(engine, &req.name, &Progress::hidden());
        return Err(e);
    }
    if let Err(e) = stop_if_interrupted() {
        let _ = down(engine, &req.name, &Progress::hidden());
        return Err(e);
    }
    progress.step("checking tunnels, reachability, capture and firewall");
    let running = Running { scenario, opts };
    let checks = check::run(engine, &running, progress)?;
    let seconds = started.elapsed().as_secs_f64();
    let memory = sampler.map(|s| {
        let current =
            memory::node_files(engine, &running.scenario, &running.opts).map(|f| memory::sum(&f)).unwrap_or(0);
        Memory { current, peak: s.stop().max(current) }
    });
    Ok(UpSummary {
        scenario: running.scenario.name.clone(),
        platform,
        nodes: running.scenario.nodes.len(),
        tunnels: running.scenario.tunnels.len(),
        seconds,
        memory,
        already_up: false,
        checks,
    })
}

fn random_psk(dir: &std::path::Path) -> Result<String, TestbedError> {
    state::random_psk().map_err(|source| TestbedError::State { path: dir.into(), source })
}

fn stop_if_interrupted() -> Result<(), TestbedError> {
    if crate::interrupt::interrupted() { Err(TestbedError::Interrupted) } else { Ok(()) }
}

fn refuse_foreign_names(
    engine: &Engine,
    testbed: &str,
    containers: &[ContainerSpec],
    nets: &[spec::NetworkSpec],
) -> Result<(), TestbedError> {
    let theirs = |rows: Vec<String>, name: &str| rows.iter().any(|r| r.split('|').next() == Some(name));
    let cont_rows = engine.run(&["ps", "-a", "--format", "{{.Names}}|{{.Label \"io.imgtool.testbed\"}}"])?;
    let net_rows = engine.run(&["network", "ls", "--format", "{{.Name}}|{{.Label \"io.imgtool.testbed\"}}"])?;
    let foreign = |rows: &str| -> Vec<String> {
        rows.lines().filter(|r| !r.ends_with(&format!("|{testbed}"))).map(String::from).collect()
    };
    for c in containers {
        if theirs(foreign(&cont_rows), &c.name) {
            return Err(TestbedError::NameTaken { kind: "container", name: c.name.clone(), testbed: testbed.into() });
        }
    }
    for n in nets {
        if theirs(foreign(&net_rows), &n.name) {
            return Err(TestbedError::NameTaken { kind: "network", name: n.name.clone(), testbed: testbed.into() });
        }
    }
    Ok(())
}

/// Removes every container, network, veth parent and state file of the testbed.
pub fn down(engine: &Engine, name: &str, progress: &Progress) -> Result<(usize, usize), TestbedError> {
    let rows = list(engine, "container", name, "{{.ID}}|{{.Label \"io.imgtool.node\"}}|{{.Image}}")?;
    let ids: Vec<String> = rows.iter().filter_map(|r| r.split('|').next()).map(String::from).collect();
    // The observer runs a native image with `ip`: the veth remover uses it.
    let helper = rows.iter().find_map(|r| {
        let f: Vec<&str> = r.split('|').collect();
        (f.get(1) == Some(&spec::OBSERVER)).then(|| f.get(2).unwrap_or(&"").to_string())
    });
    if !ids.is_empty() {
        progress.step(format!("removing {} containers", ids.len()));
        let mut a = vec!["rm".to_string(), "--force".into(), "--volumes".into()];
        a.extend(ids.iter().cloned());
        engine.run(&a)?;
    }
    let nets = list(engine, "network", name, "{{.ID}}")?;
    if !nets.is_empty() {
        progress.step(format!("removing {} networks", nets.len()));
        let mut a = vec!["network".to_string(), "rm".into()];
        a.extend(nets.iter().cloned());
        engine.run(&a)?;
    }
    if has_veths(name) {
        progress.step("removing veth parents");
        let image = helper
            .or_else(|| crate::config::Config::discover(None).ok().map(|c| c.reference("client")))
            .unwrap_or_default();
        engine.run(&[
            "run",
            "--rm",
            "--network=host",
            "--cap-add=NET_ADMIN",
            "--entrypoint",
            "sh",
            &image,
            "-c",
            &spec::veth_cleanup_script(name),
        ])?;
    }
    let dir = state::dir(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|source| TestbedError::State { path: dir, source })?;
    }
    Ok((ids.len(), nets.len()))
}

/// Whether the host has veth parents of this testbed. Where the host's /sys
/// is not the daemon's (Docker Desktop), assume it may.
fn has_veths(testbed: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else {
        return true;
    };
    let tag = format!("imgtool/{testbed}/");
    entries.flatten().any(|e| std::fs::read_to_string(e.path().join("ifalias")).is_ok_and(|a| a.starts_with(&tag)))
}
