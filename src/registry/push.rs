//! Pushing: a layout's blobs and manifest by digest, then the index under
//! its tags. Blobs the registry already has are not sent again, so a push
//! that failed half-way is finished by simply running it again.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use oci_client::RegistryOperation;

use super::{PlatformManifest, Registry, RegistryError, index, layout};

/// `sha256:0123456789ab`, enough to name a blob in a message.
pub(super) fn short(digest: &str) -> &str {
    &digest[..digest.len().min("sha256:".len() + 12)]
}

/// The digest at the end of a manifest URL the registry answered with.
fn location_digest(url: &str) -> Option<&str> {
    let tail = url.rsplit_once("/manifests/")?.1;
    let tail = tail.split(['?', '#']).next().unwrap_or(tail);
    tail.starts_with("sha256:").then_some(tail)
}

/// A file as a stream of 1 MiB pieces, for an upload that never holds a whole layer in memory.
struct Chunks(std::fs::File);

impl Iterator for Chunks {
    type Item = oci_client::errors::Result<bytes::Bytes>;
    fn next(&mut self) -> Option<Self::Item> {
        let mut buf = vec![0u8; 1 << 20];
        match self.0.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some(Ok(bytes::Bytes::from(buf)))
            }
            Err(e) => Some(Err(e.into())),
        }
    }
}

impl Registry {
    /// Pushes the layout's blobs (config and layers; HEAD first, skip the ones the registry already has) and then
    /// its manifest BY DIGEST (no tag). Checks every blob's sha256 against its digest before uploading anything.
    pub fn push_layout(&self, layout_dir: &Path, repository: &str) -> Result<PlatformManifest, RegistryError> {
        let layout = layout::read(layout_dir)?;
        let repo = self.repo(repository, RegistryOperation::Push)?;
        let client = &repo.host.client;
        for blob in &layout.blobs {
            let at = repo.at_digest(&blob.digest);
            let checking = format!("checking blob {} in {}", short(&blob.digest), repo.name());
            if self.call(&repo, checking, true, client.blob_exists(&at, &blob.digest))? {
                self.count(|s| s.blobs_skipped += 1);
                continue;
            }
            let file = std::fs::File::open(&blob.path)
                .map_err(|e| RegistryError::Read { path: blob.path.clone(), reason: e.to_string() })?;
            let stream = futures_util::stream::iter(Chunks(file));
            let uploading = format!("uploading blob {} to {}", short(&blob.digest), repo.name());
            self.call(&repo, uploading, true, client.push_blob_stream(&at, stream, &blob.digest, Some(blob.size)))?;
            self.count(|s| {
                s.blobs_uploaded += 1;
                s.blob_bytes_uploaded += blob.size;
            });
        }
        let m = &layout.manifest;
        let content_type = m.media_type.parse().map_err(|_| RegistryError::Layout {
            path: layout_dir.into(),
            problem: format!("media type `{}` is not a valid header", m.media_type),
        })?;
        let pushing = format!("pushing manifest {} to {}", short(&m.digest), repo.name());
        let at = repo.at_digest(&m.digest);
        let put = client.push_manifest_raw(&at, layout.manifest_bytes.clone(), content_type);
        let url = self.call(&repo, pushing, true, put)?;
        if let Some(stored) = location_digest(&url).filter(|d| *d != m.digest) {
            return Err(RegistryError::DigestChanged {
                host: repo.registry().into(),
                reference: format!("{}@{}", repo.name(), m.digest),
                expected: m.digest.clone(),
                actual: stored.into(),
            });
        }
        self.count(|s| s.manifests_pushed += 1);
        Ok(PlatformManifest {
            repository: repository.to_string(),
            digest: m.digest.clone(),
            size: m.size,
            media_type: m.media_type.clone(),
            platform: layout.platform.to_string(),
        })
    }

    /// The OCI image index for these manifests (all of one repository), sorted by platform, with `annotations`
    /// on the index; returns its bytes and digest. Errors if two manifests share a platform or repositories differ.
    pub fn index_for(
        manifests: &[PlatformManifest],
        annotations: &BTreeMap<String, String>,
    ) -> Result<(Vec<u8>, String), RegistryError> {
        index::index_for(manifests, annotations)
    }

    /// Pushes those exact index bytes by digest, under no tag: with every
    /// registry holding them, moving the tags is all that is left to do.
    pub fn push_index_by_digest(&self, repository: &str, index: &[u8]) -> Result<String, RegistryError> {
        let (digest, media_type) = index_media_type(index)?;
        let repo = self.repo(repository, RegistryOperation::Push)?;
        let content_type = media_type.parse().expect("index media types are valid header values");
        let pushing = format!("pushing the index {} to {}", short(&digest), repo.name());
        let at = repo.at_digest(&digest);
        let put = repo.host.client.push_manifest_raw(&at, index.to_vec(), content_type);
        self.call(&repo, pushing, true, put)?;
        self.count(|s| s.manifests_pushed += 1);
        Ok(digest)
    }

    /// Pushes those exact index bytes under each tag; the registry must store them under their digest, which
    /// is returned.
    pub fn push_index(&self, repository: &str, index: &[u8], tags: &[String]) -> Result<String, RegistryError> {
        let (digest, media_type) = index_media_type(index)?;
        let media_type = media_type.as_str();
        if tags.is_empty() {
            return Err(RegistryError::Index(format!("no tag to push {digest} under: give at least one")));
        }
        for tag in tags {
            if crate::reference::check_tag(tag).is_err() {
                let problem = crate::reference::TAG_RULE.into();
                return Err(RegistryError::Reference { reference: tag.clone(), what: "tag", problem });
            }
        }
        let repo = self.repo(repository, RegistryOperation::Push)?;
        let client = &repo.host.client;
        for tag in tags {
            let at = repo.at_tag(tag);
            let content_type = media_type.parse().expect("index media types are valid header values");
            let pushing = format!("pushing the index to {}:{tag}", repo.name());
            let url = self.call(&repo, pushing, true, client.push_manifest_raw(&at, index.to_vec(), content_type))?;
            let stored = match location_digest(&url) {
                Some(d) => d.to_string(),
                None => {
                    let reading = format!("reading the digest of {}:{tag}", repo.name());
                    self.call(&repo, reading, true, client.fetch_manifest_digest(&at, &repo.host.auth))?
                }
            };
            if stored != digest {
                return Err(RegistryError::DigestChanged {
                    host: repo.registry().into(),
                    reference: format!("{}:{tag}", repo.name()),
                    expected: digest,
                    actual: stored,
                });
            }
            self.count(|s| s.manifests_pushed += 1);
        }
        Ok(digest)
    }
}

/// The digest and media type of index bytes about to be pushed, refusing anything but an image index.
fn index_media_type(index: &[u8]) -> Result<(String, String), RegistryError> {
    let digest = index::sha256(index);
    let parsed: index::ImageIndex = serde_json::from_slice(index)
        .map_err(|e| RegistryError::Index(format!("the bytes to push are not an image index: {e}")))?;
    let media_type = if parsed.media_type.is_empty() { index::OCI_INDEX.to_string() } else { parsed.media_type };
    if !index::is_index(&media_type) {
        return Err(RegistryError::Index(format!("media type `{media_type}` is not an image index")));
    }
    Ok((digest, media_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_from_location() {
        let d = "sha256:0123456789012345678901234567890123456789012345678901234567890123";
        assert_eq!(location_digest(&format!("http://h:5000/v2/a/b/manifests/{d}")), Some(d));
        assert_eq!(location_digest("http://h:5000/v2/a/b/manifests/latest"), None);
    }
}
