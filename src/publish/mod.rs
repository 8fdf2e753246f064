//! `imgtool build`, `merge` and `inspect`, from the library's own requests
//! (`request`). Everything asked is checked first (`plan`); each image is
//! built per platform (`buildx`), every platform is proven by the scenarios'
//! checks run on exactly those images (`validate`), and only then are the
//! per-platform manifests pushed by digest and one OCI index per image
//! assembled and pushed under every tag (`push`, over `registry`).

mod buildx;
mod inputs;
mod layouts;
mod plan;
mod push;
mod request;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};

use crate::config::Config;
use crate::engine::Engine;
use crate::progress::Progress;
use crate::registry::{self, Registry};
pub use buildx::Built;
use buildx::Job;
pub use plan::{Plan, tags};
pub use push::Digests;
use push::Pushed;
pub use request::{BuildRequest, Destination, MergeRequest, Push, RequestError, Validation};

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

/// `imgtool build`: checks the request, builds, validates unless a local
/// build skips it, and pushes what `req.push` asks. Pushing takes the
/// gate's `Validated`, so there is no path from a build to a push around it.
pub fn build(engine: &Engine, config: &Config, req: &BuildRequest, quiet: bool) -> Result<u8> {
    let plan = plan::plan(config, req)?;
    if req.dry_run {
        print!("{}", plan.render(req.push.describe()));
        return Ok(0);
    }
    crate::daemon::require_plugin(engine, "buildx")?;
    if let Some(name) = &plan.builder {
        crate::builders::require(engine, name)?;
    }
    // The imgtool image's binaries are checked before any build starts.
    for spec in plan.images.iter().filter_map(|i| config.image(i)) {
        crate::build::imgtool_image_args(config, spec, &plan.platforms, "")?;
    }
    let progress = Progress::new(quiet);
    let work = tempfile::Builder::new().prefix("imgtool-build-").tempdir()?;
    // Platforms build side by side (each in dependency order): the exports
    // are mostly I/O, and a no-op rebuild is mostly exports.
    // Within a platform, the images whose base is built go side by side.
    let per_platform = crate::parallel::map(&plan.platforms, |platform| -> Result<Vec<Built>> {
        let mut built: Vec<Built> = Vec::new();
        for level in plan::levels(config, &plan.images) {
            let jobs = crate::parallel::map(&level, |image| {
                let from = config.image(image).and_then(|i| i.from.as_deref());
                let base = from.and_then(|f| built.iter().find(|b| b.image == f));
                let job = Job { plan: &plan, image, platform, work: work.path(), from: base };
                buildx::build_one(engine, config, job, &progress)
            });
            for b in jobs {
                built.push(b?);
            }
        }
        Ok(built)
    });
    let mut built: Vec<Built> = Vec::new();
    for b in per_platform {
        built.extend(b?);
    }
    let validated = match req.push {
        Push::No(Validation::Skip) => {
            progress.note("not validated (--no-validate): these images cannot be pushed");
            progress.finish();
            print_local(&plan, &built, "built (not validated)");
            return Ok(0);
        }
        _ => validate::all(engine, config, &plan, built, &progress)?,
    };
    let (indexes, digests_out) = match &req.push {
        Push::No(_) => {
            progress.finish();
            print_local(&plan, validated.images(), "built and validated");
            return Ok(0);
        }
        Push::Indexes { digests_out } => (true, digests_out.as_deref()),
        Push::ByDigest { digests_out } => (false, Some(digests_out.as_path())),
    };
    let client = Registry::new(&registry::Options { ca_cert: req.destination.ca_cert.clone() })?;
    let pushed = push::by_digest(&client, &plan, &validated, &progress)?;
    if let Some(path) = digests_out {
        pushed.write(path)?;
    }
    if indexes {
        push::indexes(&client, config, &plan, &pushed, &progress)?;
    }
    progress.finish();
    let s = client.stats();
    println!(
        "pushed {} manifests: {} blobs uploaded ({} bytes), {} already there; {} registry requests",
        s.manifests_pushed, s.blobs_uploaded, s.blob_bytes_uploaded, s.blobs_skipped, s.requests
    );
    Ok(0)
}

fn print_local(plan: &Plan, built: &[Built], how: &str) {
    for b in built {
        println!("{} {} {}", b.image, b.platform, b.digest);
    }
    println!("{how} {} images for {}; nothing pushed (use --push)", plan.images.len(), plan.platforms.join(", "));
}

/// `imgtool merge`: indexes over the platform manifests that validated
/// builds pushed by digest and recorded; it pushes nothing else.
pub fn merge(config: &Config, req: &MergeRequest) -> Result<u8> {
    let all: Vec<String> = config.images.iter().map(|i| i.name.clone()).collect();
    // The destination is checked before the files are read (their commit
    // only adds a sha- tag, which is always valid).
    plan::target(config, &req.destination, "unknown", &all)?;
    let pushed = Pushed::from_files(&req.files)?;
    let target = plan::target(config, &req.destination, &pushed.revision, &all)?;
    let epoch = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let images: Vec<String> =
        (all.into_iter()).filter(|n| target.repositories(n).iter().any(|repo| !pushed.of(repo).is_empty())).collect();
    if images.is_empty() {
        bail!(
            "no digest in {} belongs to {}: use the --registry the builds pushed to",
            req.files.len(),
            target.names()
        );
    }
    let plan = Plan {
        images,
        platforms: Vec::new(),
        revision: pushed.revision.clone(),
        epoch,
        target,
        cache: None,
        no_cache: false,
        builder: None,
        scenarios: Vec::new(),
        validation: Validation::Run,
    };
    if !req.push {
        for image in &plan.images {
            for repo in plan.target.repositories(image).iter().filter(|r| !pushed.of(r).is_empty()) {
                let (bytes, digest) = Registry::index_for(&pushed.of(repo), &metadata(config, &plan, image))?;
                println!("{repo} {digest}\n{}", String::from_utf8_lossy(&bytes));
            }
        }
        return Ok(0);
    }
    let client = Registry::new(&registry::Options { ca_cert: req.destination.ca_cert.clone() })?;
    push::indexes(&client, config, &plan, &pushed, &Progress::new(false))?;
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
}
