//! Reading back: `verify` proves a tag holds exactly the index that was
//! pushed (and each platform's config says that platform), `inspect` shows
//! what a reference holds for `imgtool inspect`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use oci_client::{Reference, RegistryOperation};
use serde::Serialize;

use super::index::{self, ImageIndex, Platform};
use super::layout::{ConfigJson, Descriptor, ManifestJson};
use super::{PlatformManifest, Registry, RegistryError, Repo};

const ANY: [&str; 4] = [index::OCI_INDEX, index::DOCKER_LIST, index::OCI_MANIFEST, index::DOCKER_MANIFEST];
const MANIFESTS: [&str; 2] = [index::OCI_MANIFEST, index::DOCKER_MANIFEST];

/// What `imgtool inspect REF` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub reference: String,
    pub digest: String,
    pub media_type: String,
    pub manifests: Vec<InspectedManifest>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InspectedManifest {
    pub platform: String,
    pub digest: String,
    pub size: u64,
    pub labels: BTreeMap<String, String>,
}

impl Inspection {
    /// A human table: the reference, then one row per platform with its labels under it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n  digest      {}\n  media type  {}", self.reference, self.digest, self.media_type);
        let width = self.manifests.iter().map(|m| m.platform.len()).max().unwrap_or(0).max("PLATFORM".len());
        let _ = writeln!(out, "\n{:width$}  {:71}  SIZE", "PLATFORM", "DIGEST");
        for m in &self.manifests {
            let _ = writeln!(out, "{:width$}  {:71}  {}", m.platform, m.digest, m.size);
            for (k, v) in &m.labels {
                let _ = writeln!(out, "{:width$}    {k}={v}", "");
            }
        }
        out
    }
}

impl Registry {
    /// A manifest by digest: its bytes and parsed form.
    fn manifest(&self, repo: &Repo, digest: &str) -> Result<(usize, ManifestJson), RegistryError> {
        let action = format!("reading manifest {} of {}", super::push::short(digest), repo.name());
        let at = repo.at_digest(digest);
        let pull = repo.host.client.pull_manifest_raw(&at, &repo.host.auth, &MANIFESTS);
        let (bytes, _) = self.call(repo, action.clone(), false, pull)?;
        let parsed = serde_json::from_slice(&bytes).map_err(|e| RegistryError::Protocol {
            host: repo.registry().into(),
            action,
            detail: format!("not an image manifest: {e}"),
        })?;
        Ok((bytes.len(), parsed))
    }

    /// An image config blob (checked against its digest by oci-client).
    fn config(&self, repo: &Repo, d: &Descriptor) -> Result<ConfigJson, RegistryError> {
        let action = format!("reading config {} of {}", super::push::short(&d.digest), repo.name());
        let mut bytes: Vec<u8> = Vec::new();
        let at = repo.at_digest(&d.digest);
        let pull = repo.host.client.pull_blob(&at, d.digest.as_str(), &mut bytes);
        self.call(repo, action.clone(), false, pull)?;
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::Protocol {
            host: repo.registry().into(),
            action,
            detail: format!("not an image config: {e}"),
        })
    }

    /// Reads repository:tag back: must be an OCI index with exactly the expected digest, and each expected
    /// manifest present with the same digest, size and platform; each manifest's config must name its platform.
    pub fn verify(
        &self,
        repository: &str,
        tag: &str,
        expected_index_digest: &str,
        expected: &[PlatformManifest],
    ) -> Result<(), RegistryError> {
        let repo = self.repo(repository, RegistryOperation::Pull)?;
        let reference = format!("{repository}:{tag}");
        let fail = |problem: String| RegistryError::Verify { reference: reference.clone(), problem };
        let action = format!("reading {}:{tag}", repo.name());
        let at = repo.at_tag(tag);
        let pull = repo.host.client.pull_manifest_raw(&at, &repo.host.auth, &ANY);
        let (bytes, _) = self.call(&repo, action, false, pull)?;
        let digest = index::sha256(&bytes);
        if digest != expected_index_digest {
            return Err(fail(format!("the tag points at {digest}, not at the index {expected_index_digest}")));
        }
        let index: ImageIndex =
            serde_json::from_slice(&bytes).map_err(|e| fail(format!("it is not an image index: {e}")))?;
        if index.media_type != index::OCI_INDEX {
            return Err(fail(format!("its media type is `{}`, not an OCI image index", index.media_type)));
        }
        if index.manifests.len() != expected.len() {
            return Err(fail(format!("it lists {} manifests, {} expected", index.manifests.len(), expected.len())));
        }
        for m in expected {
            let entry = (index.manifests.iter().find(|e| e.digest == m.digest))
                .ok_or_else(|| fail(format!("the {} manifest {} is not in it", m.platform, m.digest)))?;
            let platform = entry.platform.as_ref().map(Platform::to_string).unwrap_or_default();
            if entry.size != m.size || platform != m.platform {
                return Err(fail(format!(
                    "{} is listed as {platform}, {} bytes; expected {}, {} bytes",
                    m.digest, entry.size, m.platform, m.size
                )));
            }
            let (size, manifest) = self.manifest(&repo, &m.digest)?;
            if size as u64 != m.size {
                return Err(fail(format!("manifest {} has {size} bytes, not {}", m.digest, m.size)));
            }
            let config = self.config(&repo, &manifest.config)?;
            let said = Platform { os: config.os, architecture: config.architecture, variant: config.variant };
            let wanted = Platform::parse(&m.platform).map_err(fail)?;
            if !wanted.same_os_arch(&said) {
                return Err(fail(format!("the config of the {} manifest {} says {said}", m.platform, m.digest)));
            }
        }
        Ok(())
    }

    /// For `imgtool inspect REF`: the index (or single manifest), its platforms, digests, sizes and labels.
    pub fn inspect(&self, reference: &str) -> Result<Inspection, RegistryError> {
        let parsed: Reference = reference.parse().map_err(|e| RegistryError::Reference {
            reference: reference.into(),
            what: "image reference",
            problem: format!("{e}; use HOST/NAMESPACE/NAME[:TAG], e.g. 127.0.0.1:5000/vpnlab/router:1.2.0"),
        })?;
        let whole = parsed.whole();
        let repo = self.repo_of(parsed, RegistryOperation::Pull)?;
        let action = format!("reading {}", whole.strip_prefix(&format!("{}/", repo.registry())).unwrap_or(&whole));
        let pull = repo.host.client.pull_manifest_raw(&repo.reference, &repo.host.auth, &ANY);
        let (bytes, digest) = self.call(&repo, action.clone(), false, pull)?;
        let protocol =
            |detail: String| RegistryError::Protocol { host: repo.registry().into(), action: action.clone(), detail };
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| protocol(e.to_string()))?;
        let media_type = match value["mediaType"].as_str() {
            Some(t) => t.to_string(),
            None if value.get("manifests").is_some() => index::OCI_INDEX.to_string(),
            None => index::OCI_MANIFEST.to_string(),
        };
        let mut manifests = Vec::new();
        if index::is_index(&media_type) {
            let idx: ImageIndex = serde_json::from_value(value).map_err(|e| protocol(e.to_string()))?;
            for e in idx.manifests {
                let mut platform = e.platform.as_ref().map(Platform::to_string);
                let mut labels = BTreeMap::new();
                if index::is_manifest(&e.media_type) {
                    let (_, manifest) = self.manifest(&repo, &e.digest)?;
                    let config = self.config(&repo, &manifest.config)?;
                    platform = platform.or_else(|| Some(format!("{}/{}", config.os, config.architecture)));
                    labels = config.config.and_then(|c| c.labels).unwrap_or_default();
                }
                let platform = platform.unwrap_or_else(|| "-".into());
                manifests.push(InspectedManifest { platform, digest: e.digest, size: e.size, labels });
            }
        } else {
            let manifest: ManifestJson = serde_json::from_value(value).map_err(|e| protocol(e.to_string()))?;
            let config = self.config(&repo, &manifest.config)?;
            let platform = Platform { os: config.os, architecture: config.architecture, variant: config.variant };
            let labels = config.config.and_then(|c| c.labels).unwrap_or_default();
            manifests.push(InspectedManifest {
                platform: platform.to_string(),
                digest: digest.clone(),
                size: bytes.len() as u64,
                labels,
            });
        }
        Ok(Inspection { reference: whole, digest, media_type, manifests })
    }
}
