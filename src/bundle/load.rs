//! `bundle load` and `up --bundle`: the bundle verified first (nothing is
//! sent from a bad one), then only the images the daemon lacks streamed to
//! `docker load` on its stdin (the daemon may be remote: no shared path, no
//! bind mount), then each image checked to hold the bundle's digest.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde_json::json;

use super::{Bundle, BundleError, BundleImage, archive, layout, short};
use crate::config::Config;
use crate::engine::Engine;
use crate::progress::Progress;
use crate::testbed::spec::Images;

#[derive(Debug)]
pub struct LoadReport {
    pub bundle: Bundle,
    /// References sent to `docker load`.
    pub loaded: Vec<String>,
    /// References the daemon already held at the bundle's digest, every platform.
    pub already: Vec<String>,
    pub blobs_sent: u64,
    pub bytes_sent: u64,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "bundle {}: {} images loaded, {} already there; {} blobs sent ({} bytes)",
            self.bundle.path.display(),
            self.loaded.len(),
            self.already.len(),
            self.blobs_sent,
            self.bytes_sent
        )?;
        for i in &self.bundle.images {
            let r = &i.blobs.reference;
            let how = if self.loaded.contains(r) { "loaded" } else { "already there" };
            writeln!(f, "  {r} {} ({}): {how}", short(&i.blobs.digest), i.blobs.platforms.join(", "))?;
        }
        Ok(())
    }
}

/// The image ID the daemon has for `reference` (its index digest in the
/// containerd store), if any.
fn image_id(engine: &Engine, reference: &str) -> Result<Option<String>, BundleError> {
    let run = engine.output(&["image", "inspect", "--format", "{{.Id}}", reference])?;
    Ok(run.ok().then(|| run.stdout.trim().to_string()))
}

/// Whether the daemon holds the image at the bundle's digest, on every
/// platform of the bundle.
fn loaded_already(engine: &Engine, image: &BundleImage, native: &str) -> Result<bool, BundleError> {
    if image_id(engine, &image.blobs.reference)?.as_deref() != Some(image.blobs.digest.as_str()) {
        return Ok(false);
    }
    let present = crate::parallel::map(&image.blobs.platforms, |p| {
        crate::build::present(engine, &image.blobs.reference, p, native)
    });
    for p in present {
        if !p? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Verifies `path`, then loads what the daemon lacks.
pub fn load(engine: &Engine, config: &Config, path: &Path, progress: &Progress) -> Result<LoadReport, BundleError> {
    let bundle = super::verify(config, path, progress)?;
    let native = crate::daemon::Daemon::probe(engine)?.platform;
    load_verified(engine, bundle, &native, progress)
}

fn load_verified(
    engine: &Engine,
    bundle: Bundle,
    native: &str,
    progress: &Progress,
) -> Result<LoadReport, BundleError> {
    let path = bundle.path.as_path();
    progress.step("comparing the bundle with the daemon's images");
    let here = crate::parallel::map(&bundle.images, |i| loaded_already(engine, i, native));
    let mut missing: Vec<&BundleImage> = Vec::new();
    let mut already = Vec::new();
    for (image, here) in bundle.images.iter().zip(here) {
        if here? { already.push(image.blobs.reference.clone()) } else { missing.push(image) }
    }
    let mut report = LoadReport { loaded: vec![], already, blobs_sent: 0, bytes_sent: 0, bundle: bundle.clone() };
    if missing.is_empty() {
        return Ok(report);
    }
    let wanted: BTreeSet<(String, u64)> =
        missing.iter().flat_map(|i| i.blobs.needs.iter().map(|n| (n.digest.clone(), n.size))).collect();
    report.blobs_sent = wanted.len() as u64;
    report.bytes_sent = wanted.iter().map(|(_, s)| s).sum();
    let names: Vec<&str> = missing.iter().map(|i| i.blobs.reference.as_str()).collect();
    progress.step(format!("docker load {}", names.join(" ")));
    let run = if missing.len() == bundle.images.len() {
        engine.run_input_file(&["load"], path)?
    } else {
        // Only the missing images: a smaller archive of them, streamed the same way.
        let entries: Vec<serde_json::Value> = missing.iter().map(|i| layout::entry(&i.blobs, &i.name)).collect();
        let index = json!({"schemaVersion": 2, "mediaType": layout::OCI_INDEX, "manifests": entries});
        let index = serde_json::to_vec(&index).map_err(|e| read_error(path, e))?;
        let part = tempfile::Builder::new()
            .prefix("imgtool-load-")
            .suffix(".tar")
            .tempfile()
            .map_err(|e| read_error(path, e))?;
        let digests: BTreeSet<String> = wanted.iter().map(|(d, _)| d.clone()).collect();
        archive::copy(path, std::io::BufWriter::new(part.as_file()), &index, &[], &digests)
            .map_err(|e| read_error(path, e))?;
        engine.run_input_file(&["load"], part.path())?
    };
    progress.note(run.trim().replace('\n', "; "));
    for image in &missing {
        let actual = image_id(engine, &image.blobs.reference)?.unwrap_or_else(|| "nothing".into());
        if actual != image.blobs.digest {
            let (reference, digest) = (image.blobs.reference.clone(), image.blobs.digest.clone());
            return Err(BundleError::LoadMismatch { reference, digest, actual });
        }
        report.loaded.push(image.blobs.reference.clone());
    }
    Ok(report)
}

fn read_error(path: &Path, e: impl fmt::Display) -> BundleError {
    BundleError::Read { path: path.to_path_buf(), reason: e.to_string() }
}

/// For `up --bundle`: loads the bundle, then the images `up` runs, by the
/// bundle's references, once the bundle is known to hold `platform` (and
/// the daemon's native platform for the helpers when it differs).
pub fn up_images(
    engine: &Engine,
    config: &Config,
    path: &Path,
    platform: Option<&str>,
    progress: &Progress,
) -> Result<(Images, LoadReport), BundleError> {
    let bundle = super::verify(config, path, progress)?;
    let native = crate::daemon::Daemon::probe(engine)?.platform;
    let platform = platform.unwrap_or(&native);
    // Before anything is sent: a bundle without the platform is no use here.
    for p in [platform, native.as_str()] {
        if !bundle.platforms.iter().any(|b| b == p) {
            let (path, platform, has) = (path.to_path_buf(), p.to_string(), bundle.platforms.join(", "));
            return Err(BundleError::NoPlatform { path, platform, has });
        }
    }
    let report = load_verified(engine, bundle, &native, progress)?;
    let reference = |name: &str| {
        report.bundle.image(name).map(|i| i.blobs.reference.clone()).ok_or_else(|| BundleError::NotBundle {
            path: path.to_path_buf(),
            detail: format!("it has no {name} image, which up runs"),
        })
    };
    let images = Images::same_for_all(reference("router")?, reference("client")?, reference("gateway")?);
    Ok((images, report))
}
