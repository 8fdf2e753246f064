//! Where builds keep their OCI layouts between runs: one directory per image
//! and platform under imgtool's cache. BuildKit exports into a layout
//! directory through the client's content store, so a blob the directory
//! already holds is not sent again: a no-op rebuild writes only the small
//! manifest and config. After each build the layout is trimmed back to the
//! one image just built, beside a record of the inputs it was built from
//! (`inputs.rs`), so the next build of the same inputs need not run buildx
//! at all. The build loads and pushes from a private
//! snapshot of it (hard links), so builds running at once never see each
//! other's images.

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::registry::{ManifestJson, blob_path};

/// `$IMGTOOL_CACHE_DIR`, else `$XDG_CACHE_HOME/imgtool`, else
/// `~/.cache/imgtool` (on Windows `%LOCALAPPDATA%\imgtool\cache`).
pub fn cache_root() -> PathBuf {
    crate::dirs::user_dir("IMGTOOL_CACHE_DIR", "XDG_CACHE_HOME", ".cache", Some("cache"))
}

/// One image's layout for one architecture, held for a build: the lock
/// keeps two `imgtool build`s from writing the same directory at once.
#[derive(Debug)]
pub struct Layout {
    pub dir: PathBuf,
    /// `<image>-<arch>.inputs` beside it: the inputs digest (`inputs`) of
    /// the image the layout holds, and that image's digest.
    inputs: PathBuf,
    _lock: File,
}

impl Layout {
    /// Opens (making it if needed) and locks `<cache>/oci/<image>-<arch>`;
    /// waits while another build holds it.
    pub fn open(image: &str, arch: &str) -> Result<Layout> {
        let oci = cache_root().join("oci");
        fs::create_dir_all(&oci).with_context(|| format!("cannot make the build cache {}", oci.display()))?;
        let dir = oci.join(format!("{image}-{arch}"));
        let lock_path = oci.join(format!("{image}-{arch}.lock"));
        let lock = File::create(&lock_path).with_context(|| format!("cannot open {}", lock_path.display()))?;
        lock.lock().with_context(|| format!("cannot lock {}", lock_path.display()))?;
        let inputs = oci.join(format!("{image}-{arch}.inputs"));
        Ok(Layout { dir, inputs, _lock: lock })
    }

    /// The image the layout holds, if it was built from `inputs` and all of
    /// its blobs are still there.
    pub fn built_from(&self, inputs: &str) -> Option<String> {
        let text = fs::read_to_string(&self.inputs).ok()?;
        let (recorded, digest) = text.trim().split_once(' ')?;
        (recorded == inputs && self.holds(digest)).then(|| digest.to_string())
    }

    /// Whether the manifest `digest`, its config and its layers are all here.
    fn holds(&self, digest: &str) -> bool {
        let Ok(blobs) = self.image_blobs(digest) else { return false };
        blobs.iter().all(|d| blob_path(&self.dir, d).is_ok_and(|p| p.is_file()))
    }

    /// The blobs of the image whose manifest is `digest`: its layers, its
    /// config and the manifest itself.
    fn image_blobs(&self, digest: &str) -> Result<Vec<String>> {
        let manifest_path = blob_path(&self.dir, digest)?;
        let bytes = fs::read(&manifest_path).with_context(|| format!("no manifest {digest} in the layout"))?;
        let manifest: ManifestJson = serde_json::from_slice(&bytes)?;
        let mut blobs: Vec<String> = manifest.layers.iter().map(|l| l.digest.clone()).collect();
        blobs.push(manifest.config.digest.clone());
        blobs.push(digest.to_string());
        Ok(blobs)
    }

    /// Forgets what the layout was built from: a build is about to change it.
    pub fn forget_inputs(&self) -> Result<()> {
        match fs::remove_file(&self.inputs) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Records that the image `digest` was built from `inputs`.
    pub fn record_inputs(&self, inputs: &str, digest: &str) -> Result<()> {
        fs::write(&self.inputs, format!("{inputs} {digest}\n"))
            .with_context(|| format!("cannot write {}", self.inputs.display()))
    }

    /// Makes index.json list only `digest` (the manifest just built) and
    /// removes every blob that image does not reference; returns the blobs kept.
    pub fn keep_only(&self, digest: &str) -> Result<Vec<String>> {
        let keep = self.image_blobs(digest)?;
        let index_path = self.dir.join("index.json");
        let mut index: serde_json::Value = serde_json::from_slice(&fs::read(&index_path)?)?;
        if let Some(list) = index["manifests"].as_array_mut() {
            list.retain(|m| m["digest"].as_str() == Some(digest));
        }
        fs::write(&index_path, serde_json::to_vec(&index)?)?;

        let wanted: HashSet<&String> = keep.iter().collect();
        let sha = self.dir.join("blobs").join("sha256");
        for entry in fs::read_dir(&sha)? {
            let entry = entry?;
            let name = format!("sha256:{}", entry.file_name().to_string_lossy());
            if !wanted.contains(&name) && entry.file_type()?.is_file() {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(keep)
    }

    /// A private copy at `dest` of the image `keep_only` left, for this
    /// build's load and push: blobs are hard links where the file system
    /// allows (instant, and a blob file is never rewritten), else copies. A
    /// later build may trim the cache; the copy keeps what this one built.
    pub fn snapshot(&self, blobs: &[String], dest: &std::path::Path) -> Result<()> {
        fs::create_dir_all(dest.join("blobs").join("sha256"))?;
        for name in ["index.json", "oci-layout"] {
            if self.dir.join(name).exists() {
                fs::copy(self.dir.join(name), dest.join(name))?;
            }
        }
        for digest in blobs {
            let (from, to) = (blob_path(&self.dir, digest)?, blob_path(dest, digest)?);
            if !to.exists() && fs::hard_link(&from, &to).is_err() {
                fs::copy(&from, &to).with_context(|| format!("cannot copy {}", from.display()))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::path::Path;

    fn put(dir: &Path, bytes: &[u8]) -> String {
        let hex = hex::encode(Sha256::digest(bytes));
        fs::write(dir.join("blobs/sha256").join(&hex), bytes).unwrap();
        format!("sha256:{hex}")
    }

    #[test]
    fn keep_only_trims_the_layout_to_the_image_just_built() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("client-amd64");
        fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        let layer = put(&dir, b"layer");
        let config = put(&dir, b"{}");
        let stale = put(&dir, b"an older layer");
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},
            "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer}","size":5}}]}}"#
        );
        let digest = put(&dir, manifest.as_bytes());
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"digest":"sha256:{}"}},{{"digest":"{digest}"}}]}}"#,
            "0".repeat(64)
        );
        fs::write(dir.join("index.json"), index).unwrap();
        let lock = File::create(tmp.path().join("lock")).unwrap();
        let layout = Layout { dir: dir.clone(), inputs: tmp.path().join("client-amd64.inputs"), _lock: lock };
        assert_eq!(layout.built_from("sha256:in"), None, "nothing recorded yet");
        layout.record_inputs("sha256:in", &digest).unwrap();
        assert_eq!(layout.built_from("sha256:in").as_deref(), Some(digest.as_str()));
        assert_eq!(layout.built_from("sha256:other"), None, "other inputs matched");

        let kept = layout.keep_only(&digest).unwrap();
        assert_eq!(kept.len(), 3);
        assert!(!blob_path(&dir, &stale).unwrap().exists());
        fs::rename(blob_path(&dir, &layer).unwrap(), tmp.path().join("away")).unwrap();
        assert_eq!(layout.built_from("sha256:in"), None, "an image with a layer missing counted as built");
        fs::rename(tmp.path().join("away"), blob_path(&dir, &layer).unwrap()).unwrap();
        layout.forget_inputs().unwrap();
        assert_eq!(layout.built_from("sha256:in"), None, "forgotten inputs still matched");
        let copy = tmp.path().join("copy");
        layout.snapshot(&kept, &copy).unwrap();
        assert!(kept.iter().all(|d| blob_path(&copy, d).unwrap().exists()));
        assert_eq!(fs::read(copy.join("index.json")).unwrap(), fs::read(dir.join("index.json")).unwrap());
        assert!(blob_path(&dir, &layer).unwrap().exists() && blob_path(&dir, &config).unwrap().exists());
        let index: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
        assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
        assert_eq!(index["manifests"][0]["digest"], digest.as_str());
    }
}
