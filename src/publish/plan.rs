//! What `imgtool build` will do, decided before anything runs: the images in
//! dependency order, the platforms, the commit and its time (for
//! reproducible builds), the repositories and tags, the cache. `--dry-run`
//! prints exactly this.

use std::fmt::Write as _;
use std::path::Path;

use super::request::{BuildRequest, Destination, RequestError, Validation};
use crate::config::Config;
use crate::reference::{RegistryPath, check_tag};

/// What the validation gate runs a testbed of.
pub const GATE_IMAGES: [&str; 3] = ["router", "client", "gateway"];

#[derive(Debug, Clone)]
pub struct Plan {
    /// Images in build order (what they are built from first).
    pub images: Vec<String>,
    pub platforms: Vec<String>,
    /// Full commit hash, or "unknown" outside a git checkout.
    pub revision: String,
    /// Commit time (seconds since the epoch): SOURCE_DATE_EPOCH of the build.
    pub epoch: u64,
    pub target: Target,
    pub cache: Option<Cache>,
    pub no_cache: bool,
    /// A named buildx builder; `None`: buildx's current one.
    pub builder: Option<String>,
    pub scenarios: Vec<String>,
    pub validation: Validation,
}

/// Where images go and under which tags, checked.
#[derive(Debug, Clone)]
pub struct Target {
    /// Every registry to publish to, in order (imgtool.toml's, or the one
    /// `--registry` names): each gets the same indexes, digest for digest.
    pub registries: Vec<RegistryPath>,
    /// The release version, without a leading `v`.
    pub version: Option<String>,
    pub tags: Vec<String>,
}

impl Target {
    /// `HOST/NAMESPACE/IMAGE` in each registry, in order.
    pub fn repositories(&self, image: &str) -> Vec<String> {
        self.registries.iter().map(|r| r.repository(image)).collect()
    }

    /// The registries, for messages: `a/x, b/y`.
    pub fn names(&self) -> String {
        self.registries.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Debug, Clone)]
pub enum Cache {
    Local(String),
    Registry(String),
}

impl Cache {
    /// `--cache-from` / `--cache-to` values for buildx.
    pub fn buildx_args(&self) -> [String; 2] {
        match self {
            Cache::Local(dir) => {
                [format!("--cache-from=type=local,src={dir}"), format!("--cache-to=type=local,dest={dir},mode=max")]
            }
            Cache::Registry(r) => {
                [format!("--cache-from=type=registry,ref={r}"), format!("--cache-to=type=registry,ref={r},mode=max")]
            }
        }
    }
}

/// Tags for a release version X.Y.Z[-PRE] (parsed as semver, a leading `v`
/// allowed): X.Y.Z, X.Y, X and latest, but only X.Y.Z-PRE for a
/// pre-release; plus `sha-<7 hex>` of the commit and the extras. Every tag
/// is checked.
pub fn tags(version: Option<&str>, revision: &str, extra: &[String]) -> Result<Vec<String>, RequestError> {
    let mut tags = Vec::new();
    if let Some(v) = version {
        let v = release(v)?;
        tags.push(v.to_string());
        if v.pre.is_empty() {
            tags.extend([format!("{}.{}", v.major, v.minor), v.major.to_string(), "latest".into()]);
        }
    }
    if revision.len() >= 7 && revision != "unknown" {
        tags.push(format!("sha-{}", &revision[..7]));
    }
    tags.extend(extra.iter().cloned());
    for tag in &tags {
        check_tag(tag)?;
    }
    let mut seen = std::collections::HashSet::new();
    tags.retain(|t| seen.insert(t.clone()));
    Ok(tags)
}

/// `--version`: semver without build metadata, which no tag can carry.
fn release(version: &str) -> Result<semver::Version, RequestError> {
    let bare = version.strip_prefix('v').unwrap_or(version);
    let v = semver::Version::parse(bare)
        .map_err(|e| RequestError::Version { version: version.into(), problem: e.to_string() })?;
    if !v.build.is_empty() {
        return Err(RequestError::VersionBuild(version.into()));
    }
    Ok(v)
}

/// The commit and its time, from git; SOURCE_DATE_EPOCH overrides the time.
fn revision(root: &Path) -> (String, u64) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rev = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .or_else(|| git(&["log", "-1", "--format=%ct"]).and_then(|t| t.parse().ok()))
        .unwrap_or(0);
    (rev, epoch)
}

/// The checked destination: the registry (imgtool.toml's unless given), the
/// tags, and every reference `images` will have under them.
pub fn target(config: &Config, dest: &Destination, revision: &str, images: &[String]) -> Result<Target, RequestError> {
    let registries = match &dest.registry {
        Some(r) => vec![RegistryPath::parse(r)?],
        None => config.registries.clone(),
    };
    let version = dest.version.as_deref().map(|v| release(v).map(|r| r.to_string())).transpose()?;
    let tags = tags(dest.version.as_deref(), revision, &dest.tags)?;
    for registry in &registries {
        for image in images {
            for tag in &tags {
                registry.check_reference(image, tag)?;
            }
        }
    }
    Ok(Target { registries, version, tags })
}

/// A local directory unless it reads as a registry reference (`HOST:PORT/...`
/// or `NAME:TAG`), which must then parse as one.
fn cache(text: &str) -> Result<Cache, RequestError> {
    if text.starts_with('/') || text.starts_with('.') || !text.contains(':') {
        return Ok(Cache::Local(text.into()));
    }
    let _: oci_client::Reference = text
        .parse()
        .map_err(|e: oci_client::ParseError| RequestError::Cache { cache: text.into(), problem: e.to_string() })?;
    Ok(Cache::Registry(text.into()))
}

/// Everything `req` asks, checked before any work (and so in `--dry-run`):
/// platforms, images, scenarios, registry, version, tags, references, cache.
pub fn plan(config: &Config, req: &BuildRequest) -> Result<Plan, RequestError> {
    let root = config.root.clone().ok_or(RequestError::NoCheckout)?;
    let mut platforms: Vec<String> = Vec::new();
    for p in if req.platforms.is_empty() { &config.platforms } else { &req.platforms } {
        config.check_platform(p)?;
        if !platforms.contains(p) {
            platforms.push(p.clone());
        }
    }
    let wanted: Vec<String> =
        if req.images.is_empty() { config.images.iter().map(|i| i.name.clone()).collect() } else { req.images.clone() };
    if let Some(name) = wanted.iter().find(|n| config.image(n).is_none()) {
        return Err(RequestError::UnknownImage {
            name: name.clone(),
            known: config.images.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", "),
        });
    }
    let images: Vec<String> = config.with_bases(&wanted).into_iter().map(String::from).collect();
    let validation = req.push.validation();
    // The gate runs a whole testbed: refused now rather than after the builds.
    if validation == Validation::Run && !GATE_IMAGES.iter().all(|g| images.iter().any(|i| i == g)) {
        return Err(RequestError::PartialValidation { images: images.join(", ") });
    }
    let (revision, epoch) = revision(&root);
    let cache = req.cache.as_deref().map(cache).transpose()?;
    let scenarios = if req.scenarios.is_empty() {
        crate::scenario::BUILTIN.iter().map(|(n, _)| n.to_string()).collect()
    } else {
        req.scenarios.clone()
    };
    for s in &scenarios {
        crate::scenario::Scenario::load(s)?;
    }
    let target = target(config, &req.destination, &revision, &images)?;
    let builder = req.builder.clone();
    Ok(Plan {
        images,
        platforms,
        revision,
        epoch,
        target,
        cache,
        no_cache: req.no_cache,
        builder,
        scenarios,
        validation,
    })
}

/// `images` (in build order) in levels: each image one level after the
/// image it is built from, so the images of one level can build side by side.
pub fn levels(config: &Config, images: &[String]) -> Vec<Vec<String>> {
    let mut depth: Vec<(&str, usize)> = Vec::new();
    let mut levels: Vec<Vec<String>> = Vec::new();
    for image in images {
        let from = config.image(image).and_then(|i| i.from.as_deref());
        let d = from.and_then(|f| depth.iter().find(|(n, _)| *n == f)).map_or(0, |(_, d)| d + 1);
        depth.push((image, d));
        if levels.len() <= d {
            levels.resize(d + 1, Vec::new());
        }
        levels[d].push(image.clone());
    }
    levels
}

impl Plan {
    pub fn short(&self) -> &str {
        self.revision.get(..7).unwrap_or(&self.revision)
    }

    pub fn render(&self, publish: &str) -> String {
        let validate = match self.validation {
            Validation::Run => format!("{} on every platform", self.scenarios.join(", ")),
            Validation::Skip => "nothing (--no-validate): these images cannot be pushed".into(),
        };
        let mut out = String::new();
        let _ = writeln!(out, "commit     {} (SOURCE_DATE_EPOCH={})", self.revision, self.epoch);
        let _ = writeln!(out, "platforms  {}", self.platforms.join(", "));
        let _ = writeln!(out, "order      {}", self.images.join(" -> "));
        let _ = writeln!(out, "validate   {validate}");
        let cache = match &self.cache {
            Some(Cache::Local(d)) => format!("local directory {d}"),
            Some(Cache::Registry(r)) => format!("registry {r}"),
            None => "the builder's own".into(),
        };
        let _ = writeln!(out, "cache      {cache}");
        let _ = writeln!(out, "builder    {}", self.builder.as_deref().unwrap_or("buildx's current one"));
        let _ = writeln!(out, "publish    {publish}");
        for image in &self.images {
            for repo in self.target.repositories(image) {
                let _ = writeln!(out, "  {repo}:{}", self.target.tags.join(","));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::request::Push;

    #[test]
    fn release_tags_and_pre_releases() {
        let rev = "0123456789abcdef";
        assert_eq!(tags(Some("1.2.3"), rev, &[]).unwrap(), ["1.2.3", "1.2", "1", "latest", "sha-0123456"]);
        assert_eq!(tags(Some("v2.0.0-rc.1"), rev, &[]).unwrap(), ["2.0.0-rc.1", "sha-0123456"]);
        assert_eq!(tags(None, rev, &["edge".into()]).unwrap(), ["sha-0123456", "edge"]);
        assert_eq!(tags(Some("1.0.0"), "unknown", &["latest".into()]).unwrap(), ["1.0.0", "1.0", "1", "latest"]);
    }

    #[test]
    fn bad_versions_are_one_line() {
        for bad in ["1.2", "1.2.x", "01.2.3", "1.2.3.4", "latest", ""] {
            let e = tags(Some(bad), "unknown", &[]).unwrap_err();
            assert!(matches!(e, RequestError::Version { .. }), "{bad}: {e}");
            let e = e.to_string();
            assert!(e.contains("is not X.Y.Z or X.Y.Z-PRE") && e.contains("e.g. 1.2.0") && !e.contains('\n'), "{e}");
        }
        assert!(matches!(tags(Some("1.2.3+build.5"), "unknown", &[]), Err(RequestError::VersionBuild(_))));
    }

    #[test]
    fn cache_arguments() {
        assert_eq!(Cache::Local("/c".into()).buildx_args()[1], "--cache-to=type=local,dest=/c,mode=max");
        assert_eq!(Cache::Registry("r:5000/c:b".into()).buildx_args()[0], "--cache-from=type=registry,ref=r:5000/c:b");
        assert!(matches!(cache("r:5000/c:b"), Ok(Cache::Registry(_))));
        assert!(matches!(cache("R:5000/C:b"), Err(RequestError::Cache { .. })));
    }

    #[test]
    fn images_of_one_level_share_a_built_base() {
        let config = checkout();
        let images: Vec<String> = config.images.iter().map(|i| i.name.clone()).collect();
        let levels = levels(&config, &images);
        assert_eq!(levels[0], ["base"]);
        assert!(levels[1].contains(&"strongswan".to_string()) && levels[1].contains(&"router".to_string()));
        assert_eq!(levels[2], ["gateway"], "after strongswan, its base");
        assert_eq!(levels.concat().len(), images.len());
    }

    fn checkout() -> Config {
        let mut config = Config::parse(include_str!("../../imgtool.toml"), "imgtool.toml").unwrap();
        config.root = Some(env!("CARGO_MANIFEST_DIR").into());
        config
    }

    /// One change to a good request.
    type Change = fn(&mut BuildRequest);

    fn request(f: impl FnOnce(&mut BuildRequest)) -> Result<Plan, RequestError> {
        let mut req = BuildRequest {
            platforms: Vec::new(),
            images: Vec::new(),
            scenarios: vec!["site-to-site".into()],
            cache: None,
            no_cache: false,
            builder: None,
            push: Push::Indexes { digests_out: None },
            destination: Destination::default(),
            dry_run: true,
        };
        f(&mut req);
        plan(&checkout(), &req)
    }

    #[test]
    fn a_good_request_plans_every_reference() {
        let p = request(|r| {
            r.destination.registry = Some("127.0.0.1:5999/vpnlab".into());
            r.destination.version = Some("v1.2.3".into());
            r.platforms = vec!["linux/arm64".into(), "linux/arm64".into()];
        })
        .unwrap();
        assert_eq!(p.platforms, ["linux/arm64"]);
        assert_eq!(p.target.version.as_deref(), Some("1.2.3"));
        assert!(p.render("x").contains("127.0.0.1:5999/vpnlab/gateway:1.2.3,1.2,1,latest"), "{}", p.render("x"));
    }

    #[test]
    fn bad_input_is_refused_before_any_work() {
        let cases: [(Change, &str); 10] = [
            (|r| r.destination.registry = Some("UPPER/Case:bad".into()), "'UPPER' is not a registry host"),
            (|r| r.destination.registry = Some("justahost".into()), "is not HOST[:PORT]/NAMESPACE"),
            (|r| r.destination.tags = vec!["no spaces".into()], "tag 'no spaces' is not valid"),
            (|r| r.destination.version = Some("1.2".into()), "version '1.2' is not X.Y.Z"),
            (|r| r.platforms = vec!["linux/sparc".into()], "unknown platform linux/sparc: imgtool.toml builds"),
            (|r| r.platforms = vec!["arm64".into()], "platform 'arm64' is not OS/ARCH[/VARIANT]"),
            (|r| r.images = vec!["webserver".into()], "unknown image 'webserver': imgtool.toml has base, router"),
            (|r| r.scenarios = vec!["moon-base".into()], "unknown scenario 'moon-base'"),
            (|r| r.images = vec!["gateway".into()], "only base, strongswan, gateway would be built"),
            (|r| r.cache = Some("Bad:ref/X".into()), "cache 'Bad:ref/X' is not a registry reference"),
        ];
        for (change, want) in cases {
            let e = request(change).unwrap_err().to_string();
            assert!(e.contains(want) && !e.contains('\n'), "wanted '{want}': {e}");
        }
        let long = format!("docker.io/{}", "n".repeat(245));
        let e = request(|r| r.destination.registry = Some(long)).unwrap_err().to_string();
        assert!(e.contains("/strongswan:") && e.contains("must not be more than 255 characters"), "{e}");
    }

    #[test]
    fn a_local_build_without_validation_may_be_partial() {
        let p = request(|r| {
            r.images = vec!["gateway".into()];
            r.push = Push::No(Validation::Skip);
        })
        .unwrap();
        assert_eq!(p.images, ["base", "strongswan", "gateway"]);
        assert!(p.render("x").contains("validate   nothing (--no-validate)"), "{}", p.render("x"));
    }
}
