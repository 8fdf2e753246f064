//! Course mode: the student's lab folder. `lab init` ([`init`]) writes a
//! starting point derived from the scenario: per gateway, a `swanctl.conf`
//! and a `firewall.nft` that state what the assignment requires of that
//! gateway (addresses, peers, tunnels, selectors, proposals, identities)
//! with TODOs and no answer, plus a README with the topology. [`load`] reads
//! a student's folder back for bring-up, refusing anything it should not
//! copy into a gateway (links, special files, oversized or non-UTF-8 files,
//! names with `..`, folders that are no gateway), and returns the files as
//! data, so they travel into containers as a tar and are never read twice.

mod drawing;
mod legacy;
mod load;
mod readme;
mod templates;

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::scenario::{Role, Scenario};

pub use load::{GatewayFiles, Lab, LabFile, load, recorded_scenario};

/// The student's IKE configuration in a gateway folder.
pub const SWANCTL_CONF: &str = "swanctl.conf";
/// The student's nftables ruleset in a gateway folder.
pub const FIREWALL_NFT: &str = "firewall.nft";
/// Where a gateway folder's `swanctl.conf` goes in the gateway.
pub const SWANCTL_CONF_TARGET: &str = "/etc/swanctl/swanctl.conf";
/// Where a gateway folder's `firewall.nft` goes in the gateway (the image
/// loads it from there with `nft -f`).
pub const FIREWALL_TARGET: &str = "/etc/imgtool/firewall.nft";
/// The folder, in a gateway folder, of the student's own credentials and
/// included files; its subfolders go to `/etc/swanctl/<subfolder>/`.
pub const SWANCTL_DIR: &str = "swanctl";
/// The subfolders of `swanctl/` a student may fill: swanctl's credential
/// folders that hold PEM text, and `conf.d` for `include`d files. (pkcs12
/// and bliss hold binary files, refused as not UTF-8 anyway.)
pub const SWANCTL_SUBDIRS: &[&str] = &[
    "x509ca", "x509", "x509aa", "x509ac", "x509crl", "x509ocsp", "pkcs8", "private", "rsa", "ecdsa", "pubkey", "conf.d",
];
/// The legacy format (starter and stroke), in place of `swanctl.conf`: the
/// student's connections, and the secrets file beside it. They are copied
/// to /etc/imgtool, where the image's /etc/ipsec.conf and /etc/ipsec.secrets
/// link (a tar into /etc itself would change the folder's mode).
pub const IPSEC_CONF: &str = "ipsec.conf";
pub const IPSEC_CONF_TARGET: &str = "/etc/imgtool/ipsec.conf";
pub const IPSEC_SECRETS: &str = "ipsec.secrets";
pub const IPSEC_SECRETS_TARGET: &str = "/etc/imgtool/ipsec.secrets";
/// The legacy format's credentials folder; its subfolders go to
/// `/etc/ipsec.d/<subfolder>/`.
pub const IPSEC_DIR: &str = "ipsec.d";
pub const IPSEC_SUBDIRS: &[&str] = &["cacerts", "certs", "private", "crls"];
/// The README for the student, at the top of the lab folder.
pub const README: &str = "README.md";
/// Which scenario the lab folder was made for (`scenario = "NAME"`).
pub const LAB_TOML: &str = "lab.toml";
/// The largest file a lab folder may give a gateway.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// The most files one gateway folder may hold.
pub const MAX_FILES_PER_GATEWAY: usize = 64;

/// How the gateways of the assignment authenticate each other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Credentials {
    /// Certificates from the testbed's CA (or the student's own, made with `pki`).
    #[default]
    Certificates,
    /// A pre-shared key the student chooses.
    Psk,
}

/// What `lab init` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Write into a directory that exists and is not empty. Files already
    /// there are kept as they are (see [`Written::kept`]): nothing is ever
    /// overwritten nor deleted.
    pub force: bool,
    pub credentials: Credentials,
    /// ipsec.conf and ipsec.secrets (starter and stroke) in place of swanctl.conf.
    pub legacy: bool,
}

/// What [`init`] did, with paths relative to the lab folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    pub written: Vec<PathBuf>,
    /// Files that existed already (with `force`) and were left untouched.
    pub kept: Vec<PathBuf>,
}

/// Every error is one line that names the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(
        "{} exists and is not empty: give a new directory, or add --force to write the templates beside its files (files already there are kept)",
        shown(.dir)
    )]
    NotEmpty { dir: PathBuf },
    #[error("{} is not a directory: give a directory for the lab folder", shown(.path))]
    NotADirectory { path: PathBuf },
    #[error("no lab folder at {}: make one with `imgtool lab init {}`", shown(.dir), shown(.dir))]
    NoLab { dir: PathBuf },
    #[error("cannot write {}: {source}", shown(.path))]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot read {}: {source}", shown(.path))]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "{} has no folder for gateway {gateway}: a lab folder has one per gateway ({expected}); `imgtool lab init {} {scenario} --force` adds the missing ones and keeps your files",
        shown(.dir),
        shown(.dir)
    )]
    MissingGateway { dir: PathBuf, gateway: String, expected: String, scenario: String },
    #[error(
        "{} is a folder, but scenario {scenario} has no gateway {name}: the gateways are {expected}; rename it to one of them or move it out of the lab folder",
        shown(.path),
        name = shown(.name)
    )]
    ExtraFolder { path: PathBuf, name: String, scenario: String, expected: String },
    #[error(
        "{} is missing: each gateway folder needs {FIREWALL_NFT} and {SWANCTL_CONF} (or, in the legacy format, {IPSEC_CONF} and {IPSEC_SECRETS}); `imgtool lab init {} {scenario} --force` writes a fresh template and keeps your files",
        shown(.path),
        shown(.dir)
    )]
    MissingFile { path: PathBuf, dir: PathBuf, scenario: String },
    #[error(
        "{} holds both {SWANCTL_CONF} and {IPSEC_CONF}: a gateway runs one format; move the other out of the folder",
        shown(.dir)
    )]
    BothFormats { dir: PathBuf },
    #[error(
        "{} is not UTF-8 text: save it as UTF-8 (certificates and keys as PEM: `pki ... --outform pem`)",
        shown(.path)
    )]
    NotUtf8 { path: PathBuf },
    #[error(
        "{} is {size} bytes, over the limit of {} ({limit} bytes) for a file in a lab folder: make it smaller or move it out",
        shown(.path),
        self::size(*.limit)
    )]
    TooLarge { path: PathBuf, size: u64, limit: u64 },
    #[error(
        "{} is a symbolic link: a lab folder may not hold links (they can point outside it); put the file itself there",
        shown(.path)
    )]
    Symlink { path: PathBuf },
    #[error("{} is not a regular file nor a folder: remove it from the lab folder", shown(.path))]
    NotRegular { path: PathBuf },
    #[error("{} has a name imgtool refuses (non-UTF-8, '..' or a control character): rename it", shown(.path))]
    BadName { path: PathBuf },
    #[error(
        "{} is not something imgtool copies into {gateway}: a gateway folder holds {FIREWALL_NFT}, {SWANCTL_CONF} or {IPSEC_CONF} and {IPSEC_SECRETS}, and files in {SWANCTL_DIR}/{{{}}}/ or {IPSEC_DIR}/{{{}}}/; move it out of the lab folder",
        shown(.path),
        SWANCTL_SUBDIRS.join(","),
        IPSEC_SUBDIRS.join(",")
    )]
    Unexpected { path: PathBuf, gateway: String },
    #[error("{} holds more than {limit} files: keep only those the gateway needs", shown(.dir))]
    TooManyFiles { dir: PathBuf, limit: usize },
    #[error(
        "{} says this lab folder is for scenario {recorded}, not {given}: use scenario {recorded}, or make a lab folder for {given} with `imgtool lab init`",
        shown(.path)
    )]
    OtherScenario { path: PathBuf, recorded: String, given: String },
    #[error("{}: {message}; it should read `scenario = \"NAME\"`", shown(.path))]
    BadLabToml { path: PathBuf, message: String },
}

/// A path for a one-line message: control characters (a newline in a file
/// name) escaped.
fn shown(path: &(impl AsRef<Path> + ?Sized)) -> String {
    path.as_ref()
        .display()
        .to_string()
        .chars()
        .flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] })
        .collect()
}

/// A size for people: `1 MiB`.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// Writes a starting point for the student into `dir` (made if missing):
/// `README.md`, `lab.toml`, and per gateway `<gateway>/swanctl.conf` and
/// `<gateway>/firewall.nft`. A `dir` that exists and is not empty is refused
/// unless `opts.force`; even then no file is overwritten.
pub fn init(dir: &Path, scenario: &Scenario, opts: &InitOptions) -> Result<Written, LabError> {
    prepare(dir, scenario, opts.force)?;
    write_new(dir, contents(dir, scenario, opts))
}

/// Writes the reference solution of `scenario` into `dir`, as a lab folder
/// that `up --lab` takes: `lab.toml` and, per gateway, the files imgtool's
/// own configuration would have (`nodefiles::solution`). For teachers; the
/// CLI refuses it in a student build. `dir` must be new or empty.
pub fn solution(dir: &Path, scenario: &Scenario, legacy: bool) -> Result<Written, LabError> {
    prepare(dir, scenario, false)?;
    let mut files = vec![(PathBuf::from(LAB_TOML), lab_toml(scenario))];
    files.extend(crate::nodefiles::solution(scenario, legacy));
    write_new(dir, files)
}

/// Makes `dir`, or checks that it is empty (or, with `force`, a lab folder
/// of this scenario, to be completed).
fn prepare(dir: &Path, scenario: &Scenario, force: bool) -> Result<(), LabError> {
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => return Err(LabError::NotADirectory { path: dir.into() }),
        Ok(_) => {
            let mut entries = fs::read_dir(dir).map_err(|source| LabError::Read { path: dir.into(), source })?;
            if entries.next().is_some() && !force {
                return Err(LabError::NotEmpty { dir: dir.into() });
            }
            // Templates for one scenario beside a lab.toml naming another
            // would make a folder that fits neither.
            if let Some(recorded) = recorded_scenario(dir)?
                && recorded != scenario.name
            {
                return Err(LabError::OtherScenario {
                    path: dir.join(LAB_TOML),
                    recorded,
                    given: scenario.name.clone(),
                });
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|source| LabError::Write { path: dir.into(), source })?;
        }
        Err(source) => return Err(LabError::Read { path: dir.into(), source }),
    }
    Ok(())
}

/// Writes each (relative path, text) under `dir`, keeping any file that is
/// already there.
fn write_new(dir: &Path, files: Vec<(PathBuf, String)>) -> Result<Written, LabError> {
    let mut done = Written::default();
    for (rel, text) in files {
        let path = dir.join(&rel);
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            folder(&dir.join(parent))?;
        }
        match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            // create_new never follows a link that is already there.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => done.kept.push(rel),
            Err(source) => return Err(LabError::Write { path, source }),
            Ok(mut file) => {
                file.write_all(text.as_bytes()).map_err(|source| LabError::Write { path: path.clone(), source })?;
                done.written.push(rel);
            }
        }
    }
    Ok(done)
}

fn lab_toml(scenario: &Scenario) -> String {
    format!("# Written by `imgtool lab init`: the scenario this lab folder is for.\nscenario = \"{}\"\n", scenario.name)
}

/// A gateway folder: made, or already a real folder (not a link to one).
fn folder(path: &Path) -> Result<(), LabError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(LabError::Symlink { path: path.into() }),
        Ok(m) if !m.is_dir() => Err(LabError::NotADirectory { path: path.into() }),
        Ok(_) => Ok(()),
        Err(_) => fs::create_dir(path).map_err(|source| LabError::Write { path: path.into(), source }),
    }
}

/// The files of a fresh lab folder (relative path, text), all derived from
/// the scenario.
fn contents(dir: &Path, scenario: &Scenario, opts: &InitOptions) -> Vec<(PathBuf, String)> {
    let mut files = vec![
        (PathBuf::from(README), readme::readme(scenario, dir, opts)),
        (PathBuf::from(LAB_TOML), lab_toml(scenario)),
    ];
    for gw in scenario.nodes_with(Role::Gateway) {
        let at = PathBuf::from(&gw.name);
        if opts.legacy {
            files.push((at.join(IPSEC_CONF), legacy::ipsec_conf(scenario, gw, opts.credentials)));
            files.push((at.join(IPSEC_SECRETS), legacy::ipsec_secrets(scenario, gw, opts.credentials)));
        } else {
            files.push((at.join(SWANCTL_CONF), templates::swanctl_conf(scenario, gw, opts.credentials)));
        }
        files.push((at.join(FIREWALL_NFT), templates::firewall_nft(scenario, gw)));
    }
    files
}

/// The names of the scenario's gateways, for messages.
fn gateway_names(scenario: &Scenario) -> String {
    scenario.nodes_with(Role::Gateway).map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
