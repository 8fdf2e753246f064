//! `imgtool build`, `merge` and `inspect`. Each image is built per platform
//! with buildx into an OCI layout (reproducible: SOURCE_DATE_EPOCH from the
//! commit, timestamps rewritten), loaded into the local store, and every
//! platform is proven by the scenarios' checks run on exactly those images.
//! Only then are the per-platform manifests pushed by digest and one OCI
//! index per image assembled and pushed under every tag (see `registry`).

mod plan;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cli::{BuildArgs, PublishArgs};
use crate::config::Config;
use crate::engine::Engine;
use crate::progress::Progress;
use crate::registry::{self, PlatformManifest, Registry};
pub use plan::{Plan, tags, valid_tag};

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

/// The digests file of `--push-by-digest`, read by `merge`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Digests {
    pub revision: String,
    pub manifests: Vec<PlatformManifest>,
}

fn arch(platform: &str) -> &str {
    platform.rsplit('/').next().unwrap_or(platform)
}

/// OCI annotations / labels for one image of the set.
fn metadata(config: &Config, plan: &Plan, image: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let desc = config.image(image).map(|i| i.description.clone()).unwrap_or_default();
    let created = chrono_free_rfc3339(plan.epoch);
    for (k, v) in [
        ("title", format!("imgtool {image}")),
        ("description", desc),
        ("source", config.source.clone()),
        ("licenses", config.licenses.clone()),
        ("revision", plan.revision.clone()),
        ("version", plan.target.version.clone().unwrap_or_else(|| format!("sha-{}", plan.short()))),
        ("created", created),
    ] {
        m.insert(format!("org.opencontainers.image.{k}"), v);
    }
    m
}

/// RFC 3339 UTC time of a Unix timestamp (days-from-civil, no date crate).
fn chrono_free_rfc3339(epoch: u64) -> String {
    let (days, secs) = (epoch / 86_400, epoch % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// One image for one platform, in a build.
struct Job<'a> {
    plan: &'a Plan,
    image: &'a str,
    platform: &'a str,
    work: &'a Path,
    from: Option<&'a Built>,
}

/// A buildx plain-progress line that starts a Dockerfile step, e.g.
/// `#7 [2/4] RUN apt-get update`, as `[2/4] RUN apt-get update`.
fn buildx_step(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('#')?;
    let (_, step) = rest.split_once(' ')?;
    (step.starts_with('[') && !step.starts_with("[internal]") && !step.contains("] CACHED")).then_some(step)
}

/// Builds one image for one platform into an OCI layout and loads it.
fn build_one(engine: &Engine, config: &Config, job: Job, progress: &Progress) -> Result<Built> {
    let Job { plan, image, platform, work, from } = job;
    let spec = config.image(image).context("image vanished from imgtool.toml")?;
    let context =
        config.context(spec).with_context(|| format!("no Dockerfile for {image} under {}", spec.context.display()))?;
    let common = config.common_context().context("no images/common directory")?;
    let layout = work.join(format!("{image}-{}", arch(platform)));
    let name = format!("imgtool.local/{image}:{}-{}", plan.short(), arch(platform));
    let mut args: Vec<String> = vec![
        "buildx".into(),
        "build".into(),
        "--progress=plain".into(),
        format!("--platform={platform}"),
        "--provenance=false".into(),
        "--sbom=false".into(),
        format!("--build-context=common={}", common.display()),
        format!("--output=type=oci,tar=false,dest={},name={name},rewrite-timestamp=true", layout.display()),
    ];
    for (k, v) in metadata(config, plan, image) {
        args.push(format!("--label={k}={v}"));
    }
    if let (Some(base), Some(from_name)) = (from, spec.from.as_deref()) {
        args.push(format!("--build-arg={}={}", crate::build::from_arg(from_name), base.tag));
    }
    if let Some(cache) = &plan.cache {
        args.extend(cache.buildx_args());
    }
    if plan.no_cache {
        args.push("--no-cache".into());
    }
    args.push(context.display().to_string());
    let epoch = plan.epoch.to_string();
    let task = progress.task(format!("{image} {platform}"));
    let run = engine.output_streaming(&args, &[("SOURCE_DATE_EPOCH", &epoch)], |line| {
        if let Some(step) = buildx_step(line) {
            task.step(step);
        }
    })?;
    if !run.ok() {
        bail!("building {image} for {platform} failed: {}", build_failure(&run.stderr));
    }
    let digest = layout_digest(&layout)?;
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
    task.finish(&format!("built {digest}"));
    Ok(Built { image: image.into(), platform: platform.into(), layout, local: by_digest, tag: name, digest })
}

/// The digest of the one image manifest an OCI layout's index.json lists.
fn layout_digest(layout: &Path) -> Result<String> {
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(layout.join("index.json"))?)?;
    index["manifests"][0]["digest"]
        .as_str()
        .map(String::from)
        .with_context(|| format!("{} lists no manifest", layout.join("index.json").display()))
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

pub fn build(engine: &Engine, config: &Config, args: &BuildArgs, quiet: bool) -> Result<u8> {
    let plan = plan::plan(config, args)?;
    let publish = match (args.push, args.push_by_digest) {
        (true, _) => "validated images, by digest, then one index per image under every tag",
        (false, true) => "validated images by digest only (no tag); digests to --digests-out",
        _ => "nothing (no --push)",
    };
    if args.dry_run {
        print!("{}", plan.render(publish));
        return Ok(0);
    }
    crate::daemon::require_plugin(engine, "buildx")?;
    let progress = Progress::new(quiet);
    let work = tempfile::Builder::new().prefix("imgtool-build-").tempdir()?;
    // Platforms build side by side (each in dependency order): the exports
    // are mostly I/O, and a no-op rebuild is mostly exports.
    let per_platform = crate::parallel::map(&plan.platforms, |platform| -> Result<Vec<Built>> {
        let mut built: Vec<Built> = Vec::new();
        for image in &plan.images {
            let from = config.image(image).and_then(|i| i.from.as_deref());
            let base = from.and_then(|f| built.iter().find(|b| b.image == f));
            let job = Job { plan: &plan, image, platform, work: work.path(), from: base };
            let b = build_one(engine, config, job, &progress)?;
            built.push(b);
        }
        Ok(built)
    });
    let mut built: Vec<Built> = Vec::new();
    for b in per_platform {
        built.extend(b?);
    }
    if args.no_validate {
        progress.note("not validated (--no-validate): these images cannot be pushed");
    } else {
        validate::all(engine, config, &plan, &built, &progress)?;
    }
    if !(args.push || args.push_by_digest) {
        progress.finish();
        for b in &built {
            println!("{} {} {}", b.image, b.platform, b.digest);
        }
        let how = if args.no_validate { "built (not validated)" } else { "built and validated" };
        println!("{how} {} images for {}; nothing pushed (use --push)", plan.images.len(), plan.platforms.join(", "));
        return Ok(0);
    }
    let client = Registry::new(&registry::Options { ca_cert: args.publish.ca_cert.clone() })?;
    let mut pushed = Vec::new();
    for b in &built {
        progress.step(format!("pushing {} {} by digest", b.image, b.platform));
        pushed.push(client.push_layout(&b.layout, &plan.target.repository(&b.image))?);
    }
    if let Some(path) = &args.digests_out {
        let digests = Digests { revision: plan.revision.clone(), manifests: pushed.clone() };
        std::fs::write(path, serde_json::to_string_pretty(&digests)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.push {
        publish_indexes(&client, config, &plan, &pushed, &progress)?;
    }
    progress.finish();
    let s = client.stats();
    println!(
        "pushed {} manifests: {} blobs uploaded ({} bytes), {} already there; {} registry requests",
        s.manifests_pushed, s.blobs_uploaded, s.blob_bytes_uploaded, s.blobs_skipped, s.requests
    );
    Ok(0)
}

/// One index per image over its platform manifests, pushed under every tag,
/// then read back and verified.
fn publish_indexes(
    client: &Registry,
    config: &Config,
    plan: &Plan,
    pushed: &[PlatformManifest],
    progress: &Progress,
) -> Result<()> {
    let images: Vec<&str> = plan.images.iter().map(String::as_str).collect();
    for image in images {
        let repo = plan.target.repository(image);
        let mine: Vec<PlatformManifest> = pushed.iter().filter(|m| m.repository == repo).cloned().collect();
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

pub fn merge(config: &Config, files: &[PathBuf], publish: &PublishArgs, push: bool) -> Result<u8> {
    let mut manifests: Vec<PlatformManifest> = Vec::new();
    let mut revision = None;
    for f in files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let d: Digests =
            serde_json::from_str(&text).with_context(|| format!("{} is not an imgtool digests file", f.display()))?;
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
    let revision = revision.unwrap_or_else(|| "unknown".into());
    let target = plan::target(config, publish, &revision)?;
    let epoch = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let images: Vec<String> = config
        .images
        .iter()
        .map(|i| i.name.clone())
        .filter(|n| manifests.iter().any(|m| m.repository == target.repository(n)))
        .collect();
    if images.is_empty() {
        bail!("no digest in {} belongs to {}: use the --registry the builds pushed to", files.len(), target.registry);
    }
    let plan = Plan {
        images,
        platforms: Vec::new(),
        revision,
        epoch,
        target,
        cache: None,
        no_cache: false,
        scenarios: Vec::new(),
    };
    if !push {
        for image in &plan.images {
            let mine: Vec<PlatformManifest> =
                manifests.iter().filter(|m| m.repository == plan.target.repository(image)).cloned().collect();
            let (bytes, digest) = Registry::index_for(&mine, &metadata(config, &plan, image))?;
            println!("{} {digest}\n{}", plan.target.repository(image), String::from_utf8_lossy(&bytes));
        }
        return Ok(0);
    }
    let client = Registry::new(&registry::Options { ca_cert: publish.ca_cert.clone() })?;
    publish_indexes(&client, config, &plan, &manifests, &Progress::new(false))?;
    Ok(0)
}

pub fn inspect(reference: &str, ca_cert: Option<&Path>, json: bool) -> Result<u8> {
    let client = Registry::new(&registry::Options { ca_cert: ca_cert.map(Path::to_path_buf) })?;
    let found = client.inspect(reference)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        print!("{}", found.render());
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_times() {
        assert_eq!(chrono_free_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(chrono_free_rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(chrono_free_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn build_failure_starts_at_the_dockerfile_excerpt() {
        let log = "#5 [2/3] RUN false\n#5 ERROR: process \"/bin/sh -c false\" did not complete successfully: exit code: 1\n------\nDockerfile:3\n--------------------\n   3 | >>> RUN false\n--------------------\nERROR: failed to solve: exit code: 1\n";
        let f = build_failure(log);
        assert!(f.starts_with("Dockerfile:3 | 3 | >>> RUN false"), "{f}");
        assert!(f.contains("failed to solve"), "{f}");
    }
}

#[cfg(test)]
mod step_tests {
    use super::buildx_step;

    #[test]
    fn buildx_steps_are_dockerfile_steps_only() {
        assert_eq!(buildx_step("#7 [2/4] RUN apt-get update"), Some("[2/4] RUN apt-get update"));
        assert_eq!(buildx_step("#1 [internal] load build definition from Dockerfile"), None);
        assert_eq!(buildx_step("#7 0.512 Get:1 http://deb.debian.org bookworm InRelease"), None);
        assert_eq!(buildx_step("#5 [2/4] RUN apt-get update] CACHED"), None);
        assert_eq!(buildx_step("plain text"), None);
    }
}
