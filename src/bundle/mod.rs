//! `imgtool bundle`: the image set in one file, for machines that cannot
//! pull (a classroom behind a rate limit, no network at all). `save` takes
//! the set from the Docker daemon (`docker save`, streamed) and writes one
//! OCI image layout tar: one index per image, named for `docker load`, the
//! chosen platforms' manifests, configs and layers, each blob once.
//! `verify` hashes every blob against the indexes and manifests; `load`
//! verifies first, then streams to `docker load` only what the daemon lacks.

mod archive;
mod layout;
mod load;
mod save;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};
use crate::daemon::DaemonError;
use crate::engine::EngineError;
use crate::progress::Progress;
pub use load::{LoadReport, load, up_images};
pub use save::{SaveReport, SaveRequest, save};

use layout::{ImageBlobs, Need, WalkError};

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle {path} does not exist: give the file `imgtool bundle save` wrote (copy it here first)")]
    Missing { path: PathBuf },
    #[error("cannot read bundle {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("bundle {path} is truncated ({detail}): copy it again, or save a new one with `imgtool bundle save`")]
    Truncated { path: PathBuf, detail: String },
    #[error("bundle {path} is damaged ({detail}): copy it again, or save a new one with `imgtool bundle save`")]
    Damaged { path: PathBuf, detail: String },
    #[error("{path} is not an imgtool bundle ({detail}): give a file written by `imgtool bundle save`")]
    NotBundle { path: PathBuf, detail: String },
    #[error(
        "bundle {path} holds another image set ({theirs}); this imgtool.toml's is {ours}: save a bundle with this project's imgtool.toml, or run with the --config it was saved with"
    )]
    OtherSet { path: PathBuf, theirs: String, ours: String },
    #[error(
        "bundle {path} has no {platform} images (it has {has}): save one with `imgtool bundle save --platform {platform}`, or pick a platform it has"
    )]
    NoPlatform { path: PathBuf, platform: String, has: String },
    #[error(
        "image {reference} is not in the Docker daemon: build the set first (`imgtool build`) or pull it, then save again"
    )]
    NoImage { reference: String },
    #[error(
        "image {reference} is not complete in the Docker daemon ({detail}): build it for every platform saved (`imgtool build --platform P`), then save again"
    )]
    Incomplete { reference: String, detail: String },
    #[error("cannot write bundle {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error(
        "docker load left {reference} at {actual}, not at the bundle's {digest}: run `imgtool bundle load` again; if it persists, `docker rmi {reference}` first"
    )]
    LoadMismatch { reference: String, digest: String, actual: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Daemon(#[from] DaemonError),
}

/// What the library is asked to do with a bundle (the CLI maps its flags here).
#[derive(Debug, Clone)]
pub enum BundleRequest {
    Save(SaveRequest),
    Load(PathBuf),
    Verify(PathBuf),
}

/// One image of a verified bundle.
#[derive(Debug, Clone)]
pub struct BundleImage {
    /// imgtool.toml's name, e.g. `router`.
    pub name: String,
    pub blobs: ImageBlobs,
}

/// A bundle whose every blob was checked.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub path: PathBuf,
    pub images: Vec<BundleImage>,
    /// Platforms every image has.
    pub platforms: Vec<String>,
    pub blobs: u64,
    pub bytes: u64,
    pub per_platform: BTreeMap<String, u64>,
}

impl Bundle {
    pub fn image(&self, name: &str) -> Option<&BundleImage> {
        self.images.iter().find(|i| i.name == name)
    }
}

impl fmt::Display for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "bundle {}: every digest and size checked", self.path.display())?;
        for i in &self.images {
            let short = &i.blobs.digest[..i.blobs.digest.len().min(19)];
            writeln!(f, "  {:<10} {} {} ({})", i.name, i.blobs.reference, short, i.blobs.platforms.join(", "))?;
        }
        write!(f, "{}", sizes(self.blobs, self.bytes, &self.per_platform))
    }
}

/// The `blobs` / `bytes` lines every report ends with.
fn sizes(blobs: u64, bytes: u64, per_platform: &BTreeMap<String, u64>) -> String {
    let mut out = format!("  blobs      {blobs} ({} bytes)\n", bytes);
    for (p, b) in per_platform {
        out += &format!("  {p:<12} {b} bytes ({:.1} MB) of unique blobs\n", *b as f64 / 1e6);
    }
    out
}

/// An error from elsewhere (a tar parser may quote the bytes it read) as
/// at most 120 printable characters.
fn one_line(e: &dyn fmt::Display) -> String {
    let text: String = e.to_string().chars().map(|c| if c.is_control() { ' ' } else { c }).take(120).collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(19)]
}

/// Every blob an image needs is in `blobs`, size for size.
fn check_needs(
    images: &[ImageBlobs],
    blobs: &std::collections::HashMap<String, u64>,
) -> Result<(), (Need, Option<u64>)> {
    for n in images.iter().flat_map(|i| &i.needs) {
        match blobs.get(&n.digest) {
            Some(size) if *size == n.size => {}
            found => return Err((n.clone(), found.copied())),
        }
    }
    Ok(())
}

/// Reads and checks a bundle: every blob hashed, everything its indexes and
/// manifests name present with its size, and its set imgtool.toml's.
pub fn verify(config: &Config, path: &Path, progress: &Progress) -> Result<Bundle, BundleError> {
    let p = || path.to_path_buf();
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BundleError::Missing { path: p() },
        _ => BundleError::Read { path: p(), reason: e.to_string() },
    })?;
    progress.step(format!("checking every blob of {}", path.display()));
    let scanned = archive::scan(std::io::BufReader::new(file)).map_err(|e| match e {
        archive::ScanError::Read(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            BundleError::Truncated { path: p(), detail: "it ends inside a blob".into() }
        }
        archive::ScanError::Read(e) => {
            BundleError::NotBundle { path: p(), detail: format!("not a tar: {}", one_line(&e)) }
        }
        archive::ScanError::Damaged { digest, actual } => {
            BundleError::Damaged { path: p(), detail: format!("blob {} hashes to {}", short(&digest), short(&actual)) }
        }
    })?;
    let not_bundle = |detail: &str| BundleError::NotBundle { path: p(), detail: detail.into() };
    let (Some(index), true) = (&scanned.index, scanned.oci_layout) else {
        return Err(not_bundle("no oci-layout and index.json"));
    };
    let top: layout::TopIndex =
        serde_json::from_slice(index).map_err(|e| not_bundle(&format!("index.json is not valid: {e}")))?;
    let (Some(source), Some(names)) =
        (top.annotations.get(layout::SET_SOURCE), top.annotations.get(layout::SET_IMAGES))
    else {
        return Err(not_bundle("its index.json names no imgtool image set"));
    };
    let ours: Vec<&str> = config.images.iter().map(|i| i.name.as_str()).collect();
    if *source != config.source || names.split(',').collect::<Vec<_>>() != ours {
        let (theirs, ours) = (format!("{names} of {source}"), format!("{} of {}", ours.join(","), config.source));
        return Err(BundleError::OtherSet { path: p(), theirs, ours });
    }
    let json = |d: &str| scanned.small.get(d).cloned();
    let mut images = Vec::new();
    for d in &top.manifests {
        let (Some(name), Some(reference)) =
            (d.annotations.get(layout::SET_IMAGE), d.annotations.get(layout::IMAGE_NAME))
        else {
            return Err(not_bundle("an image in index.json has no name"));
        };
        let (blobs, _) = layout::walk(reference, d, &json, None).map_err(|e| walk_error(path, e))?;
        images.push(BundleImage { name: name.clone(), blobs });
    }
    let listed: Vec<&str> = images.iter().map(|i| i.name.as_str()).collect();
    if listed != ours {
        return Err(not_bundle(&format!("index.json lists {}, its set names {names}", listed.join(","))));
    }
    let all: Vec<ImageBlobs> = images.iter().map(|i| i.blobs.clone()).collect();
    check_needs(&all, &scanned.blobs).map_err(|(n, found)| match found {
        None => BundleError::Truncated { path: p(), detail: format!("the {} {} is missing", n.what, short(&n.digest)) },
        Some(size) => BundleError::Damaged {
            path: p(),
            detail: format!("the {} {} has {size} bytes, not {}", n.what, short(&n.digest), n.size),
        },
    })?;
    Ok(summary(path, images, &scanned))
}

fn summary(path: &Path, images: Vec<BundleImage>, scanned: &archive::Scanned) -> Bundle {
    let all: Vec<ImageBlobs> = images.iter().map(|i| i.blobs.clone()).collect();
    let mut platforms: Vec<String> = all.first().map(|i| i.platforms.clone()).unwrap_or_default();
    platforms.retain(|p| all.iter().all(|i| i.platforms.contains(p)));
    Bundle {
        path: path.to_path_buf(),
        images,
        platforms,
        blobs: scanned.blobs.len() as u64,
        bytes: scanned.bytes,
        per_platform: layout::bytes_per_platform(&all),
    }
}

fn walk_error(path: &Path, e: WalkError) -> BundleError {
    let path = path.to_path_buf();
    match e {
        WalkError::Missing(n) => {
            BundleError::Truncated { path, detail: format!("the {} {} is missing", n.what, short(&n.digest)) }
        }
        WalkError::Invalid(n, why) => {
            BundleError::Damaged { path, detail: format!("the {} {}: {why}", n.what, short(&n.digest)) }
        }
        WalkError::NoPlatform { platform, has } => BundleError::NoPlatform { path, platform, has },
    }
}
