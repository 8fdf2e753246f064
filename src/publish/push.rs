//! Publishing: validated images by digest, then one OCI index per image
//! under every tag, read back and verified. What may be pushed is fixed by
//! the types: platform manifests come only from a [`Validated`] (this run's
//! gate) or from digests files that a validated run recorded.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::validate::Validated;
use super::{Plan, metadata};
use crate::config::Config;
use crate::progress::Progress;
use crate::registry::{PlatformManifest, Registry};

/// The digests file of `--push-by-digest`, read by `merge`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Digests {
    pub revision: String,
    pub manifests: Vec<PlatformManifest>,
}

/// Platform manifests in the registry that passed validation.
#[derive(Debug)]
pub struct Pushed {
    pub revision: String,
    manifests: Vec<PlatformManifest>,
}

impl Pushed {
    /// The manifests of one repository.
    pub fn of(&self, repository: &str) -> Vec<PlatformManifest> {
        self.manifests.iter().filter(|m| m.repository == repository).cloned().collect()
    }

    /// What validated builds recorded with `--push-by-digest`, all of one commit.
    pub fn from_files(files: &[PathBuf]) -> Result<Pushed> {
        let mut manifests: Vec<PlatformManifest> = Vec::new();
        let mut revision: Option<String> = None;
        for f in files {
            let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
            let d: Digests = serde_json::from_str(&text)
                .with_context(|| format!("{} is not an imgtool digests file", f.display()))?;
            if revision.get_or_insert(d.revision.clone()) != &d.revision {
                bail!(
                    "{} is from commit {}, the others from {}: merge digests of one commit",
                    f.display(),
                    d.revision,
                    revision.unwrap_or_default()
                );
            }
            manifests.extend(d.manifests);
        }
        Ok(Pushed { revision: revision.unwrap_or_else(|| "unknown".into()), manifests })
    }

    /// Writes the digests file that `merge` reads.
    pub fn write(&self, path: &Path) -> Result<()> {
        let digests = Digests { revision: self.revision.clone(), manifests: self.manifests.clone() };
        std::fs::write(path, serde_json::to_string_pretty(&digests)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Pushes each validated image's platform manifest by digest (no tag).
pub fn by_digest(client: &Registry, plan: &Plan, validated: &Validated, progress: &Progress) -> Result<Pushed> {
    let mut manifests = Vec::new();
    for b in validated.images() {
        progress.step(format!("pushing {} {} by digest", b.image, b.platform));
        manifests.push(client.push_layout(&b.layout, &plan.target.repository(&b.image))?);
    }
    Ok(Pushed { revision: plan.revision.clone(), manifests })
}

/// One index per image over its platform manifests, pushed under every tag,
/// then read back and verified.
pub fn indexes(client: &Registry, config: &Config, plan: &Plan, pushed: &Pushed, progress: &Progress) -> Result<()> {
    for image in &plan.images {
        let repo = plan.target.repository(image);
        let mine = pushed.of(&repo);
        if mine.is_empty() {
            continue;
        }
        progress.step(format!("pushing the index of {image} as {}", plan.target.tags.join(", ")));
        let (bytes, digest) = Registry::index_for(&mine, &metadata(config, plan, image))?;
        client.push_index(&repo, &bytes, &plan.target.tags)?;
        for tag in &plan.target.tags {
            client.verify(&repo, tag, &digest, &mine)?;
        }
        println!(
            "{repo}@{digest} {} ({})",
            plan.target.tags.join(","),
            mine.iter().map(|m| m.platform.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}
