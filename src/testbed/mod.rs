//! Running a testbed: `up` (images, networks, containers, health, checks),
//! `down`, `status`. Everything made carries the testbed's label, and is
//! found again by label, so an interrupted `up` is cleaned by the next
//! `up` or `down`.

mod bringup;
pub mod course;
mod down;
mod error;
mod files;
pub mod memory;
pub mod name;
pub mod objects;
pub mod ops;
mod preflight;
mod scripts;
pub mod spec;
pub mod state;
mod subnets;

use std::time::Instant;

use crate::build;
use crate::check::{self, CheckResult};
use crate::config::Config;
use crate::daemon::Daemon;
use crate::engine::Engine;
use crate::nodefiles::Auth;
use crate::progress::Progress;
use crate::scenario::Scenario;
pub use down::down;
pub use error::TestbedError;
use memory::Memory;
pub use name::TestbedName;
use spec::{ContainerSpec, Driver, DriverChoice, Esp, Images, LABEL_TESTBED, Options};

/// What `up` was asked for.
#[derive(Debug, Clone)]
pub struct UpRequest {
    pub scenario: String,
    pub name: TestbedName,
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
    /// imgtool's tunnels and firewall, or course mode's bare or lab gateways.
    pub configs: course::Configs,
}

impl UpRequest {
    /// `up SCENARIO --name NAME` with every flag at its default: the
    /// daemon's platform, images pulled or built as needed, certificates.
    pub fn new(scenario: String, name: TestbedName) -> UpRequest {
        UpRequest {
            scenario,
            name,
            platform: None,
            build: false,
            psk: false,
            driver: DriverChoice::Auto,
            esp: Esp::Auto,
            keep: false,
            timeout: None,
            images: None,
            configs: course::Configs::Finished,
        }
    }
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
    /// Where the images came from: the registry `up` used, and the ones it tried first.
    pub images_from: String,
    /// Course mode: what the gateways said of the student's files, one line each.
    pub lab_problems: Vec<String>,
}

/// A running testbed, as found by label and its state directory.
pub struct Running {
    pub scenario: Scenario,
    pub opts: Options,
    /// What `up` recorded (registry, tag, auth, ESP backend, pinned images).
    pub record: state::Record,
}

/// Finds a testbed by its label and reloads what `up` recorded of it.
pub fn find(engine: &Engine, name: &TestbedName) -> Result<Running, TestbedError> {
    let rows = objects::testbed_containers(engine, name)?;
    let dir = state::dir(name);
    let (Some(_), Ok(text), Ok(record)) =
        (rows.first(), std::fs::read_to_string(dir.join(state::SCENARIO_FILE)), state::read_record(&dir))
    else {
        return Err(TestbedError::NotRunning(name.into()));
    };
    if record.testbed != *name {
        return Err(TestbedError::NotRunning(name.into()));
    }
    let scenario = Scenario::parse(&text, &dir.join(state::SCENARIO_FILE).display().to_string())?;
    let opts = Options {
        name: name.clone(),
        platform: record.platform.clone(),
        native_platform: record.native_platform.clone(),
        driver: record.driver,
        esp: record.esp,
        images: record.images.clone(),
        state: dir,
    };
    Ok(Running { scenario, opts, record })
}

pub fn up(engine: &Engine, config: &Config, req: &UpRequest, progress: &Progress) -> Result<UpSummary, TestbedError> {
    let started = Instant::now();
    progress.mark("reading the scenario, probing the daemon, choosing the images");
    let (scenario, text) = Scenario::load_with_text(&req.scenario)?;
    if let Some(p) = &req.platform {
        config.check_platform(p)?;
    }
    let daemon = Daemon::probe(engine)?;
    let native = daemon.platform.clone();
    let platform = req.platform.clone().unwrap_or_else(|| native.clone());
    let course = req.configs.mode();
    let probes = platform != native || req.esp == Esp::Kernel;
    let (config, images_from) = &match (&req.images, req.build) {
        (Some(_), _) => (config.clone(), "given".to_string()),
        (None, true) => (config.clone(), "built here (--build)".to_string()),
        (None, false) => build::choose(engine, config, &platform, &native, probes, progress)?,
    };
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
    let existing = objects::testbed_containers(engine, &req.name)?;
    if !existing.is_empty() {
        let all_running = existing.len() == containers.len() && existing.iter().all(objects::Container::running);
        let running_scenario = existing[0].label(spec::LABEL_SCENARIO).unwrap_or("").to_string();
        let same = existing.iter().all(|c| {
            c.label(spec::LABEL_SCENARIO) == Some(scenario.name.as_str())
                && c.label(spec::LABEL_PLATFORM) == Some(platform.as_str())
        });
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
                images_from: images_from.clone(),
                lab_problems: Vec::new(),
            });
        }
        if all_running {
            let flag = if req.name.as_str() == crate::DEFAULT_TESTBED {
                String::new()
            } else {
                format!(" --name {}", req.name)
            };
            return Err(TestbedError::OtherScenario { testbed: req.name.to_string(), running: running_scenario, flag });
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
    if req.images.is_none() && probes && !req.build {
        // The native helpers first: the pre-flight probes run in them.
        let helpers = [("client", native.clone()), ("gateway", native.clone())];
        build::ensure(engine, config, &helpers, &native, false, progress)?;
        preflight::check(engine, &scenario, &opts, progress)?;
        build::ensure(engine, config, &needs, &native, false, progress)?;
    } else {
        if req.images.is_none() {
            build::ensure(engine, config, &needs, &native, req.build, progress)?;
        }
        if probes {
            preflight::check(engine, &scenario, &opts, progress)?;
        }
    }
    stop_if_interrupted()?;

    opts.images = pin_images(engine, &opts.images)?;

    // Course mode: certificates for the student to use, whatever --psk says.
    let auth = if req.psk && course == course::Mode::Finished {
        Auth::Psk(random_psk(&opts.state)?)
    } else {
        Auth::Certificates
    };
    let state_dir = opts.state.clone();
    let state_error = |source| TestbedError::State { path: state_dir.clone(), source };
    state::claim(&opts.state, &req.name).map_err(state_error)?;
    state::write(&opts.state, &scenario, &text, &auth, &req.configs).map_err(state_error)?;
    // After the state is written: what a container is given depends on the
    // files there (course mode's rulesets and a lab's own credentials).
    let containers = spec::containers(&scenario, &opts);
    let mut record = state::Record {
        testbed: req.name.clone(),
        scenario: scenario.name.clone(),
        platform: opts.platform.clone(),
        native_platform: opts.native_platform.clone(),
        driver: opts.driver,
        esp: opts.esp,
        esp_backend: None,
        auth: state::AuthKind::from(&auth),
        registry: format!("{}/{}", config.registry.host, config.registry.namespace),
        tag: config.registry.tag.clone(),
        images: opts.images.clone(),
        course,
    };
    state::write_record(&opts.state, &record).map_err(state_error)?;

    progress.step("creating credentials, veth parents and networks");
    let mut meter = None;
    let result = (|| -> Result<(String, bringup::Said), TestbedError> {
        let pick =
            bringup::credentials_and_driver(engine, &scenario, &opts, req.driver, daemon.is_docker_desktop(), &auth)?;
        progress.note(format!("network driver: {} ({})", pick.driver.name(), pick.why));
        opts.driver = pick.driver;
        record.driver = pick.driver;
        state::write_record(&opts.state, &record).map_err(state_error)?;
        let nets = spec::networks(&scenario, &opts);
        bringup::create(engine, &opts, &nets, &containers, progress)?;
        meter = Some(memory::Meter::start(engine, meter_spec(&scenario, &opts)));
        progress.step("waiting for every node to be ready");
        let timeout = req.timeout.unwrap_or(if platform == native { 60 } else { 240 });
        let said = bringup::wait_ready(engine, &containers, timeout)?;
        Ok((format!("{} ({})", pick.driver.name(), pick.why), said))
    })();
    let (driver, said) = match result {
        Ok(done) => done,
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
    let running = Running { scenario, opts, record: record.clone() };
    let (checks, backend, lab_problems) = std::thread::scope(|s| {
        let b = s.spawn(|| esp_backend(engine, &running.scenario, &running.opts, &said));
        let lab_problems = if course == course::Mode::Finished {
            Vec::new()
        } else {
            progress.step("waiting for the student's tunnels");
            course::settle(engine, &running)
        };
        // A bare testbed has nothing to check yet: no tunnel, no firewall.
        let checks = if course == course::Mode::Bare { Ok(Vec::new()) } else { check::run(engine, &running, progress) };
        let backend = b.join().expect("esp thread panicked");
        // A failed check can leave a node that Docker never calls healthy:
        // report it now, not after the settle's bound.
        if checks.as_ref().is_ok_and(|c| c.iter().all(|r| r.passed)) {
            bringup::settle_health(engine, &containers);
        }
        (checks, backend, lab_problems)
    });
    let seconds = started.elapsed().as_secs_f64();
    record.esp_backend = backend;
    state::write_record(&running.opts.state, &record).map_err(state_error)?;
    let checks = checks?;
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
        images_from: images_from.clone(),
        lab_problems,
    })
}

/// Every image reference pinned to what the store holds now.
fn pin_images(engine: &Engine, images: &Images) -> Result<Images, TestbedError> {
    let all = [&images.router, &images.client, &images.gateway, &images.native_client, &images.native_gateway];
    let mut refs: Vec<String> = all.iter().map(|r| r.to_string()).collect();
    refs.sort();
    refs.dedup();
    let pins = objects::pin(engine, &refs)?;
    let get = |r: &String| pins.get(r).cloned().unwrap_or_else(|| r.clone());
    Ok(Images {
        router: get(&images.router),
        client: get(&images.client),
        gateway: get(&images.gateway),
        native_client: get(&images.native_client),
        native_gateway: get(&images.native_gateway),
    })
}

/// What the gateways' image chose (kernel-netlink or kernel-libipsec), as
/// each said in its log at start, or else wrote to a file; `None` if they
/// disagree or cannot say.
fn esp_backend(engine: &Engine, scenario: &Scenario, opts: &Options, said: &bringup::Said) -> Option<String> {
    let gateways: Vec<String> =
        scenario.nodes.iter().filter(|n| crate::nodefiles::is_gateway(n)).map(|n| opts.container(&n.name)).collect();
    let each = crate::parallel::map(&gateways, |g| {
        let in_log = said.get(g).and_then(|lines| lines.iter().find_map(|l| l.strip_prefix("esp-backend ")));
        in_log.map(String::from).or_else(|| {
            engine.output(&["exec", g, "cat", "/run/imgtool/esp-backend"]).ok().filter(|r| r.ok()).map(|r| r.stdout)
        })
    });
    let mut backends: Vec<String> = each.into_iter().map(|s| s.map(|t| t.trim().to_string())).collect::<Option<_>>()?;
    backends.dedup();
    (backends.len() == 1).then(|| backends.remove(0))
}

/// The memory meter of the scenario's nodes (not the observer).
fn meter_spec(scenario: &Scenario, opts: &Options) -> memory::MeterSpec {
    memory::MeterSpec {
        containers: scenario.nodes.iter().map(|n| opts.container(&n.name)).collect(),
        name: opts.container("meter"),
        labels: vec![(LABEL_TESTBED.into(), opts.name.to_string()), (spec::LABEL_NODE.into(), "meter".into())],
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
    let names: Vec<String> = containers.iter().map(|c| c.name.clone()).collect();
    if let Some(c) = objects::containers(engine, &names)?.iter().find(|c| c.label(LABEL_TESTBED) != Some(testbed)) {
        return Err(TestbedError::NameTaken { kind: "container", name: c.name().into(), testbed: testbed.into() });
    }
    let names: Vec<String> = nets.iter().map(|n| n.name.clone()).collect();
    if let Some(n) = objects::networks(engine, &names)?.iter().find(|n| n.label(LABEL_TESTBED) != Some(testbed)) {
        return Err(TestbedError::NameTaken { kind: "network", name: n.name.clone(), testbed: testbed.into() });
    }
    Ok(())
}
