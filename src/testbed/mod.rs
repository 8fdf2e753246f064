//! Running a testbed: `up` (images, networks, containers, health, checks),
//! `down`, `status`. Everything made carries the testbed's label, and is
//! found again by label, so an interrupted `up` is cleaned by the next
//! `up` or `down`.

mod bringup;
mod files;
pub mod memory;
pub mod ops;
mod preflight;
pub mod spec;
pub mod state;

use std::path::PathBuf;
use std::time::Instant;

use crate::build::{self, BuildError};
use crate::check::{self, CheckResult};
use crate::config::Config;
use crate::daemon::{Daemon, DaemonError};
use crate::engine::{Engine, EngineError};
use crate::nodefiles::Auth;
use crate::progress::Progress;
use crate::scenario::{Scenario, ScenarioError};
use memory::Memory;
use spec::{ContainerSpec, Driver, DriverChoice, Esp, Images, LABEL_TESTBED, Options};

#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    #[error(
        "the Docker daemon's machine ({native}) can neither run {platform} natively nor emulate it ({why}): register QEMU with binfmt_misc there (Debian: apt-get install qemu-user-static qemu-user-binfmt; Docker Desktop: enable it in the settings), or drop --platform"
    )]
    CannotEmulate { platform: String, native: String, why: String },
    #[error(
        "--esp kernel: the daemon's kernel has no ESP for {family} ({why}), which this scenario's tunnels use: run with --esp auto or --esp libipsec"
    )]
    NoKernelEsp { family: &'static str, why: String },
    #[error(
        "--esp kernel needs the daemon's native platform ({native}): under emulation qemu-user cannot drive the kernel's IPsec; run with --esp auto"
    )]
    EspEmulated { native: String },
    #[error(
        "--driver macvlan: macvlan does not work on the daemon's side ({0}): run with --driver auto or --driver bridge"
    )]
    NoMacvlan(String),
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
    pub driver: DriverChoice,
    pub esp: Esp,
    /// Leave a testbed that failed to come up in place, for inspection.
    pub keep: bool,
    /// Seconds to wait for health (slow machines, VMs without acceleration).
    pub timeout: Option<u64>,
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
    /// The network driver and why it was picked.
    pub driver: String,
    /// Memory of the nodes, or why it is unknown.
    pub memory: Result<Memory, String>,
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

/// Finds a testbed by its label and reloads what `up` recorded of it.
pub fn find(engine: &Engine, name: &str) -> Result<Running, TestbedError> {
    let rows = list(engine, "container", name, "{{.ID}}")?;
    let dir = state::dir(name);
    let (Some(_), Ok(text), Ok(record)) =
        (rows.first(), std::fs::read_to_string(dir.join(state::SCENARIO_FILE)), state::read_record(&dir))
    else {
        return Err(TestbedError::NotRunning(name.into()));
    };
    let scenario = Scenario::parse(&text, &dir.join(state::SCENARIO_FILE).display().to_string())?;
    let opts = Options {
        name: name.into(),
        platform: record.platform,
        native_platform: record.native_platform,
        driver: record.driver,
        esp: record.esp,
        images: record.images,
        state: dir,
    };
    Ok(Running { scenario, opts })
}

pub fn up(engine: &Engine, config: &Config, req: &UpRequest, progress: &Progress) -> Result<UpSummary, TestbedError> {
    let started = Instant::now();
    let (scenario, text) = Scenario::load_with_text(&req.scenario)?;
    let daemon = Daemon::probe(engine)?;
    let native = daemon.platform.clone();
    let platform = req.platform.clone().unwrap_or_else(|| native.clone());
    let mut opts = Options {
        name: req.name.clone(),
        platform: platform.clone(),
        native_platform: native.clone(),
        // Until the daemon's side is probed (see bringup::credentials_and_driver).
        driver: if req.driver == DriverChoice::Bridge { Driver::Bridge } else { Driver::Macvlan },
        esp: req.esp,
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
                driver: String::new(),
                memory: Err("not measured".into()),
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

    let mut needs: Vec<(&str, String)> = ["router", "client", "gateway"].map(|i| (i, platform.clone())).to_vec();
    if platform != native {
        // Native helpers: the observer, the probes and the firewall loaders.
        needs.extend([("client", native.clone()), ("gateway", native.clone())]);
    }
    let probing = platform != native || req.esp == Esp::Kernel;
    if req.images.is_none() && probing && !req.build {
        // The native helpers first: the pre-flight probes run in them.
        let helpers = [("client", native.clone()), ("gateway", native.clone())];
        build::ensure(engine, config, &helpers, &native, false, progress)?;
        preflight::check(engine, &scenario, &opts, progress)?;
        build::ensure(engine, config, &needs, &native, false, progress)?;
    } else {
        if req.images.is_none() {
            build::ensure(engine, config, &needs, &native, req.build, progress)?;
        }
        if probing {
            preflight::check(engine, &scenario, &opts, progress)?;
        }
    }
    stop_if_interrupted()?;

    let auth = if req.psk { Auth::Psk(random_psk(&opts.state)?) } else { Auth::Certificates };
    let state_dir = opts.state.clone();
    let state_error = |source| TestbedError::State { path: state_dir.clone(), source };
    state::write(&opts.state, &scenario, &text, &auth).map_err(state_error)?;
    state::write_record(&opts.state, &record(&scenario, &opts)).map_err(state_error)?;

    progress.step("creating credentials, veth parents and networks");
    let mut meter = None;
    let result = (|| -> Result<String, TestbedError> {
        let pick =
            bringup::credentials_and_driver(engine, &scenario, &opts, req.driver, daemon.is_docker_desktop(), &auth)?;
        progress.note(format!("network driver: {} ({})", pick.driver.name(), pick.why));
        opts.driver = pick.driver;
        state::write_record(&opts.state, &record(&scenario, &opts)).map_err(state_error)?;
        let nets = spec::networks(&scenario, &opts);
        bringup::create(engine, &opts, &nets, &containers, progress)?;
        meter = Some(memory::Meter::start(engine, meter_spec(&scenario, &opts)));
        progress.step("waiting for every node to be healthy");
        // The observer joins the router's namespace while the nodes settle.
        let observer = containers.iter().filter(|c| c.namespace_of.is_some());
        let run_observer = || {
            observer
                .map(|c| engine.run(&[vec!["run".to_string(), "-d".into()], c.create_args()].concat()))
                .collect::<Result<Vec<_>, _>>()
        };
        let (observed, healthy) = std::thread::scope(|s| {
            let o = s.spawn(run_observer);
            let timeout = req.timeout.unwrap_or(if platform == native { 60 } else { 240 });
            let h = bringup::wait_healthy(engine, &containers, timeout);
            (o.join().expect("observer thread panicked"), h)
        });
        observed?;
        healthy?;
        Ok(format!("{} ({})", pick.driver.name(), pick.why))
    })();
    let driver = match result {
        Ok(driver) => driver,
        Err(e) => {
            // Stopping the meter removes its reader container, kept or not.
            if let Some(m) = meter {
                let _ = m.stop();
            }
            if req.keep {
                progress.note(format!(
                    "bring-up failed: left in place (--keep); `imgtool down --name {}` removes it",
                    req.name
                ));
                return Err(e);
            }
            progress.note("bring-up failed: removing what was made");
            let _ = down(engine, &req.name, &Progress::hidden());
            return Err(e);
        }
    };
    if let Err(e) = stop_if_interrupted() {
        if let Some(m) = meter {
            let _ = m.stop();
        }
        let _ = down(engine, &req.name, &Progress::hidden());
        return Err(e);
    }
    progress.step("checking tunnels, reachability, capture and firewall");
    let running = Running { scenario, opts };
    let checks = check::run(engine, &running, progress)?;
    let seconds = started.elapsed().as_secs_f64();
    let memory = meter.map_or_else(|| Err("not measured".into()), memory::Meter::stop);
    Ok(UpSummary {
        scenario: running.scenario.name.clone(),
        platform,
        nodes: running.scenario.nodes.len(),
        tunnels: running.scenario.tunnels.len(),
        seconds,
        driver,
        memory,
        already_up: false,
        checks,
    })
}

fn record(scenario: &Scenario, opts: &Options) -> state::Record {
    state::Record {
        scenario: scenario.name.clone(),
        platform: opts.platform.clone(),
        native_platform: opts.native_platform.clone(),
        driver: opts.driver,
        esp: opts.esp,
        images: opts.images.clone(),
    }
}

/// The memory meter of the scenario's nodes (not the observer).
fn meter_spec(scenario: &Scenario, opts: &Options) -> memory::MeterSpec {
    memory::MeterSpec {
        containers: scenario.nodes.iter().map(|n| opts.container(&n.name)).collect(),
        name: opts.container("meter"),
        labels: vec![(LABEL_TESTBED.into(), opts.name.clone()), (spec::LABEL_NODE.into(), "meter".into())],
        image: opts.images.native_client.clone(),
        platform: opts.native_platform.clone(),
    }
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

/// Removes every container, network, veth parent and state file of the
/// testbed. Veth parents live on the daemon's host: a helper there removes
/// them when the record (or a macvlan network left behind) says there may be some.
pub fn down(engine: &Engine, name: &str, progress: &Progress) -> Result<(usize, usize), TestbedError> {
    let dir = state::dir(name);
    let recorded = state::read_record(&dir).ok();
    let rows = list(engine, "container", name, "{{.ID}}|{{.Label \"io.imgtool.node\"}}|{{.Image}}")?;
    let ids: Vec<String> = rows.iter().filter_map(|r| r.split('|').next()).map(String::from).collect();
    // The observer runs a native image with `ip`: the veth remover can use it.
    let observer_image = rows.iter().find_map(|r| {
        let f: Vec<&str> = r.split('|').collect();
        (f.get(1) == Some(&spec::OBSERVER)).then(|| f.get(2).unwrap_or(&"").to_string())
    });
    if !ids.is_empty() {
        progress.step(format!("removing {} containers", ids.len()));
        let mut a = vec!["rm".to_string(), "--force".into(), "--volumes".into()];
        a.extend(ids.iter().cloned());
        engine.run(&a)?;
    }
    let nets = list(engine, "network", name, "{{.ID}}|{{.Driver}}")?;
    let macvlan_left = nets.iter().any(|n| n.ends_with("|macvlan"));
    if !nets.is_empty() {
        progress.step(format!("removing {} networks", nets.len()));
        let mut a = vec!["network".to_string(), "rm".into()];
        a.extend(nets.iter().filter_map(|n| n.split('|').next()).map(String::from));
        engine.run(&a)?;
    }
    if macvlan_left || recorded.as_ref().is_some_and(|r| r.driver == Driver::Macvlan) {
        progress.step("removing veth parents on the daemon's host");
        let (image, platform) = match &recorded {
            Some(r) => (r.images.native_client.clone(), r.native_platform.clone()),
            None => (
                observer_image
                    .or_else(|| Config::discover(None).ok().map(|c| c.reference("client")))
                    .unwrap_or_default(),
                Daemon::probe(engine)?.platform,
            ),
        };
        bringup::remove_veths(engine, &image, &platform, name)?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|source| TestbedError::State { path: dir, source })?;
    }
    Ok((ids.len(), nets.len()))
}
