//! Reading a student's lab folder for bring-up and reload. Only what a
//! gateway uses is taken, each file checked before it is read and read once:
//! a regular file (no link, no device), a name with no `..`, at most
//! [`MAX_FILE_BYTES`], UTF-8. Hidden entries (`.git`, an editor's `.swp`) and
//! editor backups (`name~`) are left alone: they are never read.

use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use crate::scenario::{Role, Scenario};

use super::{
    FIREWALL_NFT, FIREWALL_TARGET, IPSEC_CONF, IPSEC_CONF_TARGET, IPSEC_DIR, IPSEC_SECRETS, IPSEC_SECRETS_TARGET,
    IPSEC_SUBDIRS, LAB_TOML, LabError, MAX_FILE_BYTES, MAX_FILES_PER_GATEWAY, SWANCTL_CONF, SWANCTL_CONF_TARGET,
    SWANCTL_DIR, SWANCTL_SUBDIRS, gateway_names,
};

/// One file for a gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabFile {
    /// Where it was read, for messages (the lab folder joined with its path).
    pub source: PathBuf,
    /// Where it goes in the gateway: an absolute container path.
    pub target: String,
    pub text: String,
}

/// A gateway's files: always its `firewall.nft` and either its
/// `swanctl.conf` or (legacy) its `ipsec.conf` and `ipsec.secrets`, then any
/// credentials or included files from its `swanctl/` or `ipsec.d/` folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayFiles {
    pub gateway: String,
    /// In container path order.
    pub files: Vec<LabFile>,
}

/// A student's lab folder, checked against a scenario: one entry per
/// gateway, in the scenario's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lab {
    pub dir: PathBuf,
    pub gateways: Vec<GatewayFiles>,
}

impl Lab {
    pub fn gateway(&self, name: &str) -> Option<&GatewayFiles> {
        self.gateways.iter().find(|g| g.gateway == name)
    }
}

impl GatewayFiles {
    pub fn file(&self, target: &str) -> Option<&LabFile> {
        self.files.iter().find(|f| f.target == target)
    }

    /// Written in the legacy format (ipsec.conf, run by starter).
    pub fn legacy(&self) -> bool {
        self.file(IPSEC_CONF_TARGET).is_some()
    }
}

/// Reads the lab folder `dir` for `scenario`: one folder per gateway, named
/// after it, with its `swanctl.conf`, its `firewall.nft` and optionally
/// files in `swanctl/<subfolder>/` (see [`SWANCTL_SUBDIRS`]). Other files at
/// the top (the README, notes) are not read; any other folder is an error,
/// as is a missing gateway folder.
pub fn load(dir: &Path, scenario: &Scenario) -> Result<Lab, LabError> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(LabError::NotADirectory { path: dir.into() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(LabError::NoLab { dir: dir.into() }),
        Err(source) => return Err(LabError::Read { path: dir.into(), source }),
    }
    if let Some(recorded) = recorded_scenario(dir)?
        && recorded != scenario.name
    {
        return Err(LabError::OtherScenario { path: dir.join(LAB_TOML), recorded, given: scenario.name.clone() });
    }
    let gateways: Vec<&str> = scenario.nodes_with(Role::Gateway).map(|g| g.name.as_str()).collect();
    let mut found = Vec::new();
    for entry in entries(dir)? {
        match entry.kind {
            Kind::Dir if gateways.contains(&entry.name.as_str()) => {
                found.push(gateway_folder(dir, &entry.path, &entry.name, &scenario.name)?);
            }
            Kind::Dir => {
                return Err(LabError::ExtraFolder {
                    path: entry.path,
                    name: entry.name,
                    scenario: scenario.name.clone(),
                    expected: gateway_names(scenario),
                });
            }
            Kind::File(_) => {}
        }
    }
    let mut ordered = Vec::new();
    for g in &gateways {
        let Some(at) = found.iter().position(|f: &GatewayFiles| f.gateway == *g) else {
            return Err(LabError::MissingGateway {
                dir: dir.into(),
                gateway: g.to_string(),
                expected: gateway_names(scenario),
                scenario: scenario.name.clone(),
            });
        };
        ordered.push(found.swap_remove(at));
    }
    Ok(Lab { dir: dir.into(), gateways: ordered })
}

/// The scenario a lab folder was made for, from its `lab.toml`; `None`
/// without one (a folder a teacher made by hand).
pub fn recorded_scenario(dir: &Path) -> Result<Option<String>, LabError> {
    #[derive(serde::Deserialize)]
    struct LabToml {
        scenario: String,
    }
    let path = dir.join(LAB_TOML);
    let meta = match fs::symlink_metadata(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(LabError::Read { path, source }),
        Ok(m) if m.file_type().is_symlink() => return Err(LabError::Symlink { path }),
        Ok(m) if !m.is_file() => return Err(LabError::NotRegular { path }),
        Ok(m) => m,
    };
    let text = read(&path, &meta)?;
    let parsed: LabToml = toml::from_str(&text)
        .map_err(|e| LabError::BadLabToml { path: path.clone(), message: one_line(e.message()) })?;
    Ok(Some(parsed.scenario))
}

fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

enum Kind {
    Dir,
    File(fs::Metadata),
}

struct Entry {
    name: String,
    path: PathBuf,
    kind: Kind,
}

/// The entries of a folder in name order, each a real folder or a regular
/// file with an acceptable name; hidden entries and backups left out.
fn entries(dir: &Path) -> Result<Vec<Entry>, LabError> {
    let read_err = |source| LabError::Read { path: dir.into(), source };
    let mut listed: Vec<fs::DirEntry> =
        fs::read_dir(dir).map_err(read_err)?.collect::<Result<_, _>>().map_err(read_err)?;
    listed.sort_by_key(|e| e.file_name());
    let mut entries = Vec::new();
    for e in listed {
        let path = e.path();
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            return Err(LabError::BadName { path });
        };
        if name.contains("..") || name.chars().any(char::is_control) {
            return Err(LabError::BadName { path });
        }
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let meta = fs::symlink_metadata(&path).map_err(|source| LabError::Read { path: path.clone(), source })?;
        let kind = if meta.file_type().is_symlink() {
            return Err(LabError::Symlink { path });
        } else if meta.is_dir() {
            Kind::Dir
        } else if meta.is_file() {
            Kind::File(meta)
        } else {
            return Err(LabError::NotRegular { path });
        };
        entries.push(Entry { name, path, kind });
    }
    Ok(entries)
}

fn gateway_folder(lab: &Path, dir: &Path, gateway: &str, scenario: &str) -> Result<GatewayFiles, LabError> {
    let unexpected = |path: PathBuf| LabError::Unexpected { path, gateway: gateway.into() };
    let mut files = Vec::new();
    let take = |files: &mut Vec<LabFile>, path: PathBuf, meta: &fs::Metadata, target: String| {
        if files.len() == MAX_FILES_PER_GATEWAY {
            return Err(LabError::TooManyFiles { dir: dir.into(), limit: MAX_FILES_PER_GATEWAY });
        }
        let text = read(&path, meta)?;
        files.push(LabFile { source: path, target, text });
        Ok(())
    };
    for entry in entries(dir)? {
        let folder = match entry.name.as_str() {
            SWANCTL_DIR => Some(("/etc/swanctl", SWANCTL_SUBDIRS)),
            IPSEC_DIR => Some(("/etc/ipsec.d", IPSEC_SUBDIRS)),
            _ => None,
        };
        match (entry.name.as_str(), &entry.kind, folder) {
            (SWANCTL_CONF, Kind::File(m), _) => take(&mut files, entry.path, m, SWANCTL_CONF_TARGET.into())?,
            (IPSEC_CONF, Kind::File(m), _) => take(&mut files, entry.path, m, IPSEC_CONF_TARGET.into())?,
            (IPSEC_SECRETS, Kind::File(m), _) => take(&mut files, entry.path, m, IPSEC_SECRETS_TARGET.into())?,
            (FIREWALL_NFT, Kind::File(m), _) => take(&mut files, entry.path, m, FIREWALL_TARGET.into())?,
            (_, Kind::Dir, Some((root, allowed))) => {
                for sub in entries(&entry.path)? {
                    if !matches!(sub.kind, Kind::Dir) || !allowed.contains(&sub.name.as_str()) {
                        return Err(unexpected(sub.path));
                    }
                    for file in entries(&sub.path)? {
                        let Kind::File(m) = &file.kind else {
                            return Err(unexpected(file.path));
                        };
                        let target = format!("{root}/{}/{}", sub.name, file.name);
                        take(&mut files, file.path, m, target)?;
                    }
                }
            }
            _ => return Err(unexpected(entry.path)),
        }
    }
    let has = |target: &str| files.iter().any(|f| f.target == target);
    let missing =
        |name: &str| LabError::MissingFile { path: dir.join(name), dir: lab.into(), scenario: scenario.into() };
    match (has(SWANCTL_CONF_TARGET), has(IPSEC_CONF_TARGET)) {
        (true, true) => return Err(LabError::BothFormats { dir: dir.into() }),
        (false, false) => return Err(missing(SWANCTL_CONF)),
        (true, false) if has(IPSEC_SECRETS_TARGET) => return Err(unexpected(dir.join(IPSEC_SECRETS))),
        (false, true) if !has(IPSEC_SECRETS_TARGET) => return Err(missing(IPSEC_SECRETS)),
        _ => {}
    }
    if !has(FIREWALL_TARGET) {
        return Err(missing(FIREWALL_NFT));
    }
    files.sort_by(|a, b| a.target.cmp(&b.target));
    Ok(GatewayFiles { gateway: gateway.into(), files })
}

/// A regular file's text, whose metadata (taken without following links)
/// is `meta`: refused if over the limit, not UTF-8, or no longer the file
/// that `meta` describes when opened (swapped for a link meanwhile).
fn read(path: &Path, meta: &fs::Metadata) -> Result<String, LabError> {
    let too_large = |size| LabError::TooLarge { path: path.into(), size, limit: MAX_FILE_BYTES };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(meta.len()));
    }
    let read_err = |source| LabError::Read { path: path.into(), source };
    let file = fs::File::open(path).map_err(read_err)?;
    let opened = file.metadata().map_err(read_err)?;
    if !opened.is_file() || !same_file(meta, &opened) {
        return Err(LabError::NotRegular { path: path.into() });
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|_| LabError::NotUtf8 { path: path.into() })
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, _: &fs::Metadata) -> bool {
    true
}
