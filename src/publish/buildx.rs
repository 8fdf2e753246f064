//! One image for one platform with `docker buildx`: into an OCI layout kept
//! between builds (`layouts`; reproducible: SOURCE_DATE_EPOCH from the
//! commit, timestamps rewritten),
//! then loaded into the local store under its digest, which is what the
//! validation gate runs and what is pushed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{Plan, inputs, metadata};
use crate::config::Config;
use crate::engine::Engine;
use crate::progress::Progress;

/// One built image for one platform: its OCI layout and local reference.
#[derive(Debug, Clone)]
pub struct Built {
    pub image: String,
    pub platform: String,
    pub layout: PathBuf,
    /// `imgtool.local/<image>@sha256:...`, loaded in the local store: what
    /// validation runs.
    pub local: String,
    /// `imgtool.local/<image>:<commit>-<arch>`: what a dependent build's FROM
    /// names (BuildKit resolves a digest reference remotely, a tag locally).
    pub tag: String,
    pub digest: String,
}

fn arch(platform: &str) -> &str {
    platform.rsplit('/').next().unwrap_or(platform)
}

/// One image for one platform, in a build.
pub(super) struct Job<'a> {
    pub plan: &'a Plan,
    pub image: &'a str,
    pub platform: &'a str,
    pub work: &'a Path,
    pub from: Option<&'a Built>,
}

/// A buildx plain-progress line that starts a Dockerfile step, e.g.
/// `#7 [2/4] RUN apt-get update`, as `[2/4] RUN apt-get update`.
fn buildx_step(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('#')?;
    let (_, step) = rest.split_once(' ')?;
    (step.starts_with('[') && !step.starts_with("[internal]") && !step.contains("] CACHED")).then_some(step)
}

/// Builds one image for one platform into an OCI layout and loads it.
pub(super) fn build_one(engine: &Engine, config: &Config, job: Job, progress: &Progress) -> Result<Built> {
    let Job { plan, image, platform, work, from } = job;
    let spec = config.image(image).context("image vanished from imgtool.toml")?;
    let context =
        config.context(spec).with_context(|| format!("no Dockerfile for {image} under {}", spec.context.display()))?;
    let common = config.common_context().context("no images/common directory")?;
    let held = super::layouts::Layout::open(image, arch(platform))?;
    let layout = work.join(format!("{image}-{}", arch(platform)));
    let metadata_file = work.join(format!("{image}-{}.json", arch(platform)));
    let name = format!("imgtool.local/{image}:{}-{}", plan.short(), arch(platform));
    let mut args: Vec<String> = vec![
        "buildx".into(),
        "build".into(),
        "--progress=plain".into(),
        format!("--platform={platform}"),
        "--provenance=false".into(),
        "--sbom=false".into(),
        format!("--build-context=common={}", common.display()),
        format!("--output=type=oci,tar=false,dest={},name={name},rewrite-timestamp=true", held.dir.display()),
        format!("--metadata-file={}", metadata_file.display()),
    ];
    for (k, v) in metadata(config, plan, image) {
        args.push(format!("--label={k}={v}"));
    }
    if let (Some(base), Some(from_name)) = (from, spec.from.as_deref()) {
        args.push(format!("--build-arg={}={}", crate::build::from_arg(from_name), base.tag));
    }
    // The imgtool image's `up` runs the testbed images of its own release:
    // the version when there is one, the first tag it is published under.
    let tag = plan.target.tags.first().unwrap_or(&config.registry.tag);
    args.extend(crate::build::imgtool_image_args(config, spec, &[platform.to_string()], tag)?);
    if let Some(cache) = &plan.cache {
        args.extend(cache.buildx_args());
    }
    if plan.no_cache {
        args.push("--no-cache".into());
    }
    if let Some(builder) = &plan.builder {
        args.push(format!("--builder={builder}"));
    }
    args.push(context.display().to_string());
    let epoch = plan.epoch.to_string();
    let task = progress.task(format!("{image} {platform}"));
    // Without a cache to export or a build asked to start afresh, inputs
    // that match the layout's record are that image: no buildx at all.
    // A named builder resolves its bases where this cannot look.
    // A Dockerfile that cannot be read hides its bases: no fingerprint, and
    // buildx says what is wrong with it.
    let dockerfile = std::fs::read_to_string(context.join("Dockerfile")).ok();
    let inputs = match dockerfile {
        Some(dockerfile) if plan.cache.is_none() && !plan.no_cache && plan.builder.is_none() => {
            let base = from.map(|b| b.digest.as_str());
            inputs::digest(engine, &args, &inputs::Sources { epoch: &epoch, dockerfile: &dockerfile, base })?
        }
        _ => None,
    };
    let unchanged = inputs.as_deref().and_then(|i| held.built_from(i));
    let digest = match &unchanged {
        Some(digest) => digest.clone(),
        None => {
            held.forget_inputs()?;
            let run = engine.output_streaming(&args, &[("SOURCE_DATE_EPOCH", &epoch)], |line| {
                if let Some(step) = buildx_step(line) {
                    task.step(step);
                }
            })?;
            if !run.ok() {
                bail!("building {image} for {platform} failed: {}", build_failure(&run.stderr));
            }
            built_digest(&metadata_file)?
        }
    };
    let blobs = held.keep_only(&digest)?;
    if let (Some(inputs), None) = (&inputs, &unchanged) {
        held.record_inputs(inputs, &digest)?;
    }
    held.snapshot(&blobs, &layout)?;
    // The cache is free for other builds again: this one reads its snapshot.
    drop(held);
    // A no-op rebuild gives a digest the local store already has.
    let by_digest = format!("imgtool.local/{image}@{digest}");
    let loaded = engine.output(&["image", "inspect", "--format", "{{.Id}}", &by_digest])?.ok();
    if !loaded {
        let tar = work.join(format!("{image}-{}.tar", arch(platform)));
        let mut archive = tar::Builder::new(std::fs::File::create(&tar)?);
        archive.append_path_with_name(layout.join("oci-layout"), "oci-layout")?;
        archive.append_path_with_name(layout.join("index.json"), "index.json")?;
        archive.append_dir_all("blobs", layout.join("blobs"))?;
        archive.into_inner()?;
        engine.run(&["load", "--quiet", "--input", &tar.display().to_string()])?;
    }
    engine.run(&["tag", &by_digest, &name])?;
    task.finish(&format!("{} {digest}", if unchanged.is_some() { "unchanged" } else { "built" }));
    Ok(Built { image: image.into(), platform: platform.into(), layout, local: by_digest, tag: name, digest })
}

/// The digest of the image manifest buildx exported, from its metadata file.
fn built_digest(metadata_file: &Path) -> Result<String> {
    let metadata: serde_json::Value = serde_json::from_slice(&std::fs::read(metadata_file)?)?;
    metadata["containerimage.digest"]
        .as_str()
        .map(String::from)
        .with_context(|| format!("{} names no image digest", metadata_file.display()))
}

/// The failing step of a buildx log: from its `Dockerfile:N` excerpt (or the
/// last lines) on, joined on one line.
fn build_failure(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("Dockerfile:")).unwrap_or(lines.len().saturating_sub(8));
    let picked: Vec<&str> =
        lines[start..].iter().map(|l| l.trim()).filter(|l| !l.is_empty() && !l.starts_with("----")).take(12).collect();
    picked.join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_failure_starts_at_the_dockerfile_excerpt() {
        let log = "#5 [2/3] RUN false\n#5 ERROR: process \"/bin/sh -c false\" did not complete successfully: exit code: 1\n------\nDockerfile:3\n--------------------\n   3 | >>> RUN false\n--------------------\nERROR: failed to solve: exit code: 1\n";
        let f = build_failure(log);
        assert!(f.starts_with("Dockerfile:3 | 3 | >>> RUN false"), "{f}");
        assert!(f.contains("failed to solve"), "{f}");
    }

    #[test]
    fn buildx_steps_are_dockerfile_steps_only() {
        assert_eq!(buildx_step("#7 [2/4] RUN apt-get update"), Some("[2/4] RUN apt-get update"));
        assert_eq!(buildx_step("#1 [internal] load build definition from Dockerfile"), None);
        assert_eq!(buildx_step("#7 0.512 Get:1 http://deb.debian.org bookworm InRelease"), None);
        assert_eq!(buildx_step("#5 [2/4] RUN apt-get update] CACHED"), None);
        assert_eq!(buildx_step("plain text"), None);
    }
}
