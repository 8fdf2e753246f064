//! Everything that can stop a testbed command, each as one line that says
//! what to do next.

use std::path::PathBuf;

use crate::build::BuildError;
use crate::daemon::DaemonError;
use crate::engine::EngineError;
use crate::scenario::ScenarioError;

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
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
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
    #[error("cannot make the testbed's certificates: {0}; run with --psk to use a pre-shared key instead")]
    Certificates(String),
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
    #[error(
        "testbed {0} runs imgtool's own configuration: start it with `imgtool up --lab DIR` (or --bare) to load a student's files"
    )]
    NotCourse(String),
    #[error("node {node} did not become healthy: {detail}")]
    Unhealthy { node: String, detail: String },
    #[error("interrupted: removed what this up had made")]
    Interrupted,
    #[error("no node {node} in testbed {testbed} (nodes: {known})")]
    UnknownNode { node: String, testbed: String, known: String },
}
