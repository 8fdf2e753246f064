//! The multi-platform OCI image index, assembled here rather than by buildx
//! so its bytes (and so its digest) depend only on the platform manifests
//! and the annotations: the same inputs always give the same index.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::{PlatformManifest, RegistryError};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

pub fn is_manifest(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
}

pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// `sha256:` and 64 lowercase hex digits.
pub fn check_digest(digest: &str) -> Result<(), String> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) => Ok(()),
        _ => Err(format!("`{digest}` is not a sha256 digest")),
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// An OCI platform; written `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: parts.get(2).filter(|v| !v.is_empty()).map(|v| v.to_string()),
            }),
            _ => Err(format!("`{text}` is not a platform like linux/arm64 or linux/arm64/v8")),
        }
    }

    /// Same os and architecture, and the same variant where both name one.
    pub fn same_os_arch(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && match (&self.variant, &other.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(v) => write!(f, "/{v}"),
            None => Ok(()),
        }
    }
}

/// A descriptor in an index, as written and as read back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexEntry {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// An image index; field order fixed so the bytes are deterministic.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: String,
    #[serde(default)]
    pub manifests: Vec<IndexEntry>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// See [`super::Registry::index_for`].
pub fn index_for(
    manifests: &[PlatformManifest],
    annotations: &BTreeMap<String, String>,
) -> Result<(Vec<u8>, String), RegistryError> {
    let err = |m: String| RegistryError::Index(m);
    let first = manifests.first().ok_or_else(|| err("no platform manifests given".into()))?;
    let mut entries = Vec::with_capacity(manifests.len());
    for m in manifests {
        if m.repository != first.repository {
            return Err(err(format!(
                "the manifests belong to {} and {}: one index holds manifests of one repository",
                first.repository, m.repository
            )));
        }
        check_digest(&m.digest).map_err(err)?;
        if !is_manifest(&m.media_type) {
            return Err(err(format!("{} has media type `{}`, not an image manifest", m.digest, m.media_type)));
        }
        let platform = Platform::parse(&m.platform).map_err(err)?;
        entries.push(IndexEntry {
            media_type: m.media_type.clone(),
            digest: m.digest.clone(),
            size: m.size,
            platform: Some(platform),
        });
    }
    entries.sort_by_key(|e| e.platform.as_ref().map(Platform::to_string));
    for pair in entries.windows(2) {
        let same = matches!((&pair[0].platform, &pair[1].platform), (Some(a), Some(b)) if a.same_os_arch(b));
        if same {
            let p = pair[0].platform.as_ref().map(Platform::to_string).unwrap_or_default();
            return Err(err(format!(
                "two manifests for {p} ({} and {}): give one per platform",
                pair[0].digest, pair[1].digest
            )));
        }
    }
    let index = ImageIndex {
        schema_version: 2,
        media_type: OCI_INDEX.into(),
        manifests: entries,
        annotations: annotations.clone(),
    };
    let bytes = serde_json::to_vec(&index).map_err(|e| err(e.to_string()))?;
    let digest = sha256(&bytes);
    Ok((bytes, digest))
}
