//! imgtool: builds, validates and publishes the images of a VPN teaching
//! testbed, and runs that testbed on any laptop.
//!
//! Layout: `scenario` (the declared topology) feeds `nodefiles` (what each
//! node is given) and `testbed::spec` (containers and networks), which
//! `testbed` runs through `engine` (the only module that spawns docker) and
//! `compose` renders; `check` proves a running testbed and `grade` scores
//! it; `build` gets images; `lab` writes a student's lab folder from the
//! scenario and reads it back.

pub mod build;
pub mod builders;
pub mod bundle;
pub mod check;
pub mod cli;
pub mod compose;
pub mod config;
pub mod daemon;
pub mod dirs;
pub mod doctor;
pub mod engine;
pub mod grade;
pub mod interrupt;
pub mod lab;
pub mod mirror;
pub mod nodefiles;
pub mod parallel;
pub mod pki;
pub mod progress;
pub mod publish;
pub mod reference;
pub mod registry;
pub mod scenario;
pub mod testbed;

/// The testbed name when `--name` is not given.
pub const DEFAULT_TESTBED: &str = "vpnlab";
