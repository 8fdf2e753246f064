//! `bundle save`: `docker save` of the set's references, streamed into a
//! spool file next to the bundle (every blob hashed on the way), then the
//! bundle written from it with only the chosen platforms, and renamed into
//! place: an interrupted save never leaves a half bundle under FILE.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::archive::{self, Tee};
use super::layout::{self, ImageBlobs, WalkError};
use super::{BundleError, check_needs, short, sizes};
use crate::config::Config;
use crate::engine::Engine;
use crate::progress::Progress;

#[derive(Debug, Clone)]
pub struct SaveRequest {
    pub file: PathBuf,
    /// Empty: every platform of imgtool.toml.
    pub platforms: Vec<String>,
    /// `HOST[:PORT]/NAMESPACE` and tag of the images, instead of imgtool.toml's.
    pub registry: Option<String>,
    pub tag: Option<String>,
}

#[derive(Debug)]
pub struct SaveReport {
    pub path: PathBuf,
    pub images: Vec<ImageBlobs>,
    pub blobs: u64,
    pub bytes: u64,
    pub per_platform: BTreeMap<String, u64>,
}

impl fmt::Display for SaveReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "wrote {}: {} images, each blob once", self.path.display(), self.images.len())?;
        for i in &self.images {
            writeln!(f, "  {} {} ({})", i.reference, short(&i.digest), i.platforms.join(", "))?;
        }
        write!(f, "{}", sizes(self.blobs, self.bytes, &self.per_platform))
    }
}

fn write_error(path: &Path, e: impl fmt::Display) -> BundleError {
    BundleError::Write { path: path.to_path_buf(), reason: e.to_string() }
}

pub fn save(
    engine: &Engine,
    config: &Config,
    req: &SaveRequest,
    progress: &Progress,
) -> Result<SaveReport, BundleError> {
    let config = config.clone().with_registry(req.registry.as_deref(), req.tag.as_deref())?;
    let mut platforms = if req.platforms.is_empty() { config.platforms.clone() } else { req.platforms.clone() };
    for p in &platforms {
        config.check_platform(p)?;
    }
    platforms.dedup();
    let refs: Vec<String> = config.images.iter().map(|i| config.reference(&i.name)).collect();
    let here = crate::parallel::map(&refs, |r| engine.output(&["image", "inspect", "--format", "{{.Id}}", r]));
    for (r, run) in refs.iter().zip(here) {
        if !run?.ok() {
            return Err(BundleError::NoImage { reference: r.clone() });
        }
    }
    let dir = req.file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let spool = tempfile::Builder::new().prefix(".imgtool-save-").tempfile_in(dir).map_err(|e| write_error(dir, e))?;
    progress.step(format!("docker save {}", refs.join(" ")));
    let mut args = vec!["save".to_string()];
    args.extend(refs.iter().cloned());
    let scanned = engine.read_stdout(&args, |out| {
        let mut tee = Tee { inner: out, copy: BufWriter::new(spool.as_file()) };
        let found = archive::scan(&mut tee).map_err(|e| match e {
            archive::ScanError::Read(e) => write_error(spool.path(), e),
            archive::ScanError::Damaged { digest, actual } => BundleError::Incomplete {
                reference: refs.join(" "),
                detail: format!("docker save sent blob {} with digest {}", short(&digest), short(&actual)),
            },
        })?;
        tee.copy.flush().map_err(|e| write_error(spool.path(), e))?;
        Ok::<_, BundleError>(found)
    })?;
    let incomplete = |reference: &str, detail: String| BundleError::Incomplete { reference: reference.into(), detail };
    let index =
        scanned.index.as_deref().ok_or_else(|| incomplete(&refs[0], "docker save wrote no index.json".into()))?;
    let top: layout::TopIndex =
        serde_json::from_slice(index).map_err(|e| incomplete(&refs[0], format!("docker save's index.json: {e}")))?;
    let json = |d: &str| scanned.small.get(d).cloned();
    let (mut images, mut extra, mut entries) = (Vec::new(), Vec::new(), Vec::new());
    for (image, reference) in config.images.iter().zip(&refs) {
        let d = (top.manifests.iter().find(|d| d.annotations.get(layout::IMAGE_NAME) == Some(reference)))
            .ok_or_else(|| incomplete(reference, "docker save did not name it".into()))?;
        let (mut blobs, kept) = layout::walk(reference, d, &json, Some(&platforms)).map_err(|e| match e {
            WalkError::Missing(n) => {
                incomplete(reference, format!("the daemon has no {} {}", n.what, short(&n.digest)))
            }
            WalkError::Invalid(n, why) => incomplete(reference, format!("its {}: {why}", n.what)),
            WalkError::NoPlatform { platform, has } => incomplete(reference, format!("no {platform}, only {has}")),
        })?;
        if let Some(kept) = kept {
            // Fewer platforms than the daemon holds: a new index of those.
            let mut value: Value = serde_json::from_slice(&json(&d.digest).unwrap_or_default())
                .map_err(|e| incomplete(reference, e.to_string()))?;
            value["manifests"] = Value::Array(kept);
            let bytes = serde_json::to_vec(&value).map_err(|e| incomplete(reference, e.to_string()))?;
            blobs.digest = layout::sha256(&bytes);
            blobs.needs[0].digest = blobs.digest.clone();
            blobs.needs[0].size = bytes.len() as u64;
            extra.push((blobs.digest.clone(), bytes));
            blobs.media_type = layout::OCI_INDEX.into();
        }
        entries.push(layout::entry(&blobs, &image.name));
        images.push(blobs);
    }
    let mut have = scanned.blobs.clone();
    have.extend(extra.iter().map(|(d, b)| (d.clone(), b.len() as u64)));
    check_needs(&images, &have).map_err(|(n, _)| {
        incomplete(
            &n.what,
            format!("the daemon's store lacks blob {} (an image only partly pulled?)", short(&n.digest)),
        )
    })?;
    let names: Vec<&str> = config.images.iter().map(|i| i.name.as_str()).collect();
    let top = json!({
        "schemaVersion": 2,
        "mediaType": layout::OCI_INDEX,
        "manifests": entries,
        "annotations": {layout::SET_SOURCE: config.source, layout::SET_IMAGES: names.join(",")},
    });
    let top = serde_json::to_vec_pretty(&top).map_err(|e| write_error(&req.file, e))?;
    let wanted: BTreeSet<String> = images.iter().flat_map(|i| i.needs.iter().map(|n| n.digest.clone())).collect();
    progress.step(format!("writing {}", req.file.display()));
    let out = tempfile::Builder::new().prefix(".imgtool-bundle-").tempfile_in(dir).map_err(|e| write_error(dir, e))?;
    let written = archive::copy(spool.path(), BufWriter::new(out.as_file()), &top, &extra, &wanted)
        .map_err(|e| write_error(&req.file, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = out.as_file().set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    out.persist(&req.file).map_err(|e| write_error(&req.file, e.error))?;
    Ok(SaveReport {
        path: req.file.clone(),
        per_platform: layout::bytes_per_platform(&images),
        images,
        blobs: written.blobs,
        bytes: written.bytes,
    })
}
