//! Publishing: validated images by digest, then one OCI index per image
//! under every tag, read back and verified. What may be pushed is fixed by
//! the types: platform manifests come only from a [`Validated`] (this run's
//! gate) or from digests files that a validated run recorded.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use super::validate::Validated;
use super::{Plan, metadata};
use crate::config::Config;
use crate::progress::Progress;
use crate::reference::RegistryPath;
use crate::registry::{PlatformManifest, Registry, RegistryError};

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

/// Pushes each validated image's platform manifest by digest (no tag) to
/// every registry of the plan, in order. A registry that fails stops the
/// push before any tag has moved anywhere.
pub fn by_digest(client: &Registry, plan: &Plan, validated: &Validated, progress: &Progress) -> Result<Pushed> {
    let mut manifests = Vec::new();
    for registry in &plan.target.registries {
        for b in validated.images() {
            progress.step(format!("pushing {} {} to {registry} by digest", b.image, b.platform));
            let repo = registry.repository(&b.image);
            manifests.push(client.push_layout(&b.layout, &repo).map_err(|e| nothing_moved(plan, registry, e))?);
        }
    }
    Ok(Pushed { revision: plan.revision.clone(), manifests })
}

fn nothing_moved(plan: &Plan, registry: &RegistryPath, e: RegistryError) -> anyhow::Error {
    anyhow!(
        "publishing to {registry} failed: {e}; no tag moved in any of {}: fix it and run again, or publish to the others alone with --registry",
        plan.target.names()
    )
}

/// One image's index, in one registry by digest, waiting for its tags.
struct Ready {
    repo: String,
    bytes: Vec<u8>,
    digest: String,
    manifests: Vec<PlatformManifest>,
}

/// One index per image over its platform manifests, pushed by digest to
/// every registry first (a registry that fails then leaves every tag where
/// it was), then under every tag registry by registry, each read back and
/// verified. A failure while tags move names exactly the tags that moved.
pub fn indexes(client: &Registry, config: &Config, plan: &Plan, pushed: &Pushed, progress: &Progress) -> Result<()> {
    let mut ready = Vec::new();
    for registry in &plan.target.registries {
        for image in &plan.images {
            let repo = registry.repository(image);
            let manifests = pushed.of(&repo);
            if manifests.is_empty() {
                continue;
            }
            progress.step(format!("pushing the index of {repo} by digest"));
            let (bytes, digest) = Registry::index_for(&manifests, &metadata(config, plan, image))?;
            client.push_index_by_digest(&repo, &bytes).map_err(|e| nothing_moved(plan, registry, e))?;
            ready.push(Ready { repo, bytes, digest, manifests });
        }
    }
    let tags = &plan.target.tags;
    let mut moved: Vec<String> = Vec::new();
    for (i, r) in ready.iter().enumerate() {
        progress.step(format!("moving {} to {}", tags.join(", "), r.repo));
        let mut here: Vec<&str> = Vec::new();
        let mut result = Ok(());
        for tag in tags {
            result = client.push_index(&r.repo, &r.bytes, std::slice::from_ref(tag)).map(|_| ());
            if result.is_err() {
                break;
            }
            here.push(tag);
        }
        let result =
            result.and_then(|()| tags.iter().try_for_each(|t| client.verify(&r.repo, t, &r.digest, &r.manifests)));
        if let Err(e) = result {
            let rest: Vec<&str> = ready[i + 1..].iter().map(|r| r.repo.as_str()).collect();
            bail!(
                "moving the tags of {} failed: {e}; moved: {}{}; not moved: {}: run the push again to move the rest",
                r.repo,
                if moved.is_empty() { "none".into() } else { format!("{} (every tag)", moved.join(", ")) },
                if here.is_empty() { String::new() } else { format!(", and {} of {}", here.join(", "), r.repo) },
                if rest.is_empty() { "none".into() } else { rest.join(", ") },
            );
        }
        println!(
            "{}@{} {} ({})",
            r.repo,
            r.digest,
            tags.join(","),
            r.manifests.iter().map(|m| m.platform.as_str()).collect::<Vec<_>>().join(", ")
        );
        moved.push(r.repo.clone());
    }
    Ok(())
}
