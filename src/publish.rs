//! `imgtool build`, `merge` and `inspect`: multi-platform builds, the
//! validation gate and publishing as OCI image indexes.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::cli::{BuildArgs, PublishArgs};
use crate::config::Config;
use crate::engine::Engine;

pub fn build(_engine: &Engine, _config: &Config, _args: &BuildArgs, _quiet: bool) -> Result<u8> {
    bail!("imgtool build: work in progress (issue #3)")
}

pub fn merge(_config: &Config, _files: &[PathBuf], _publish: &PublishArgs, _push: bool) -> Result<u8> {
    bail!("imgtool merge: work in progress (issue #3)")
}

pub fn inspect(_reference: &str, _ca_cert: Option<&Path>, _json: bool) -> Result<u8> {
    bail!("imgtool inspect: work in progress (issue #3)")
}
