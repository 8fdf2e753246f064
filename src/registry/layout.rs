//! Reading the OCI image layout that `docker buildx build --output type=oci`
//! writes (extracted): the one platform manifest its index.json lists, and
//! every blob that manifest needs, each checked against its digest before
//! anything is sent.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::Digest as _;

use super::RegistryError;
use super::index::{self, Platform};

/// A descriptor as the OCI image spec writes it (the fields we use).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct IndexJson {
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
pub struct ManifestJson {
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// The platform fields of an image config.
#[derive(Debug, Deserialize)]
pub struct ConfigJson {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: Option<ConfigBody>,
}

#[derive(Debug, Deserialize)]
pub struct ConfigBody {
    #[serde(default, rename = "Labels")]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

/// A blob of the layout, already checked against its digest.
#[derive(Debug, Clone)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
    pub path: PathBuf,
}

#[derive(Debug)]
pub struct Layout {
    pub manifest: Descriptor,
    pub manifest_bytes: Vec<u8>,
    pub platform: Platform,
    /// The config first, then the layers, each once.
    pub blobs: Vec<Blob>,
}

fn bad(dir: &Path, problem: impl Into<String>) -> RegistryError {
    RegistryError::Layout { path: dir.to_path_buf(), problem: problem.into() }
}

fn read_file(path: &Path) -> Result<Vec<u8>, RegistryError> {
    std::fs::read(path).map_err(|e| RegistryError::Read { path: path.to_path_buf(), reason: e.to_string() })
}

/// The sha256 digest and size of a file, read in 1 MiB pieces.
pub fn sha256_file(path: &Path) -> Result<(String, u64), RegistryError> {
    let read_err = |e: std::io::Error| RegistryError::Read { path: path.to_path_buf(), reason: e.to_string() };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), size))
}

/// Where a blob of the layout lives, for a well-formed sha256 digest.
pub fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf, RegistryError> {
    index::check_digest(digest).map_err(|p| bad(dir, p))?;
    Ok(dir.join("blobs/sha256").join(&digest["sha256:".len()..]))
}

/// Checks a blob file's size and sha256 against its descriptor.
fn checked(dir: &Path, d: &Descriptor) -> Result<Blob, RegistryError> {
    let path = blob_path(dir, &d.digest)?;
    if !path.is_file() {
        return Err(bad(dir, format!("blob {} is missing", d.digest)));
    }
    let (actual, size) = sha256_file(&path)?;
    if actual != d.digest {
        return Err(RegistryError::BlobMismatch { path, expected: d.digest.clone(), actual });
    }
    if size != d.size {
        return Err(bad(dir, format!("blob {} has {size} bytes, its descriptor says {}", d.digest, d.size)));
    }
    Ok(Blob { digest: d.digest.clone(), size, path })
}

/// Reads a JSON blob after checking it against its descriptor.
fn json_blob<T: for<'de> Deserialize<'de>>(
    dir: &Path,
    d: &Descriptor,
    what: &str,
) -> Result<(Vec<u8>, T), RegistryError> {
    let blob = checked(dir, d)?;
    let bytes = read_file(&blob.path)?;
    let value =
        serde_json::from_slice(&bytes).map_err(|e| bad(dir, format!("{what} {} is not valid: {e}", d.digest)))?;
    Ok((bytes, value))
}

/// The one platform manifest of the layout: image manifests that are not
/// attestations (`unknown/unknown`), looking once into a nested index.
fn pick_manifest(dir: &Path, index: &IndexJson) -> Result<Descriptor, RegistryError> {
    let images: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| index::is_manifest(&d.media_type))
        .filter(|d| d.platform.as_ref().is_none_or(|p| p.os != "unknown"))
        .collect();
    match (images.as_slice(), index.manifests.as_slice()) {
        ([one], _) => Ok((*one).clone()),
        ([], [nested]) if index::is_index(&nested.media_type) => {
            let (_, inner): (_, IndexJson) = json_blob(dir, nested, "nested index")?;
            let found = pick_manifest(dir, &inner)?;
            Ok(Descriptor { platform: found.platform.clone().or(nested.platform.clone()), ..found })
        }
        ([], _) => Err(bad(dir, "index.json lists no image manifest")),
        (many, _) => {
            Err(bad(dir, format!("index.json lists {} image manifests; push one platform per layout", many.len())))
        }
    }
}

/// Reads and checks a layout directory.
pub fn read(dir: &Path) -> Result<Layout, RegistryError> {
    if !dir.join("oci-layout").is_file() {
        return Err(bad(dir, "no oci-layout file (extract the tar that buildx wrote into this directory)"));
    }
    let index_bytes = read_file(&dir.join("index.json"))?;
    let index: IndexJson =
        serde_json::from_slice(&index_bytes).map_err(|e| bad(dir, format!("index.json is not valid: {e}")))?;
    let manifest = pick_manifest(dir, &index)?;
    let (manifest_bytes, parsed): (_, ManifestJson) = json_blob(dir, &manifest, "manifest")?;
    let (_, config): (_, ConfigJson) = json_blob(dir, &parsed.config, "config")?;
    let from_config = Platform { os: config.os, architecture: config.architecture, variant: config.variant };
    let platform = match &manifest.platform {
        Some(p) if !p.same_os_arch(&from_config) => {
            return Err(bad(dir, format!("index.json says {p} but the image config says {from_config}")));
        }
        Some(p) => p.clone(),
        None => from_config,
    };
    if platform.os.is_empty() || platform.architecture.is_empty() {
        return Err(bad(dir, "the image config names no os/architecture"));
    }
    let mut blobs = Vec::new();
    for d in std::iter::once(&parsed.config).chain(&parsed.layers) {
        if !blobs.iter().any(|b: &Blob| b.digest == d.digest) {
            blobs.push(checked(dir, d)?);
        }
    }
    Ok(Layout { manifest, manifest_bytes, platform, blobs })
}
