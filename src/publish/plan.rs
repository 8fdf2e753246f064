//! What `imgtool build` will do, decided before anything runs: the images in
//! dependency order, the platforms, the commit and its time (for
//! reproducible builds), the repositories and tags, the cache. `--dry-run`
//! prints exactly this.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cli::{BuildArgs, PublishArgs};
use crate::config::Config;

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
    pub scenarios: Vec<String>,
}

/// Where images go and under which tags.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host/namespace`, e.g. `docker.io/vpnlab`.
    pub registry: String,
    pub version: Option<String>,
    pub tags: Vec<String>,
}

impl Target {
    pub fn repository(&self, image: &str) -> String {
        format!("{}/{image}", self.registry)
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

/// A tag is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}` (the OCI distribution rule).
pub fn valid_tag(tag: &str) -> bool {
    let mut b = tag.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphanumeric() || c == b'_')
        && tag.len() <= 128
        && b.all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
}

/// Tags for a release version X.Y.Z[-pre]: X.Y.Z, X.Y, X and latest, but only
/// X.Y.Z for a pre-release; plus `sha-<7 hex>` of the commit and extras.
pub fn tags(version: Option<&str>, revision: &str, extra: &[String]) -> Result<Vec<String>> {
    let mut tags = Vec::new();
    if let Some(v) = version {
        let v = v.strip_prefix('v').unwrap_or(v);
        let (core, pre) = v.split_once('-').map_or((v, None), |(c, p)| (c, Some(p)));
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
            bail!("--version {v}: expected X.Y.Z or X.Y.Z-pre (e.g. 1.2.0 or 1.3.0-rc.1)");
        }
        tags.push(v.to_string());
        if pre.is_none() {
            tags.extend([format!("{}.{}", parts[0], parts[1]), parts[0].to_string(), "latest".into()]);
        }
    }
    if revision.len() >= 7 && revision != "unknown" {
        tags.push(format!("sha-{}", &revision[..7]));
    }
    tags.extend(extra.iter().cloned());
    if let Some(bad) = tags.iter().find(|t| !valid_tag(t)) {
        bail!(
            "'{bad}' is not a valid tag: use letters, digits, '_', '.' and '-', starting with a letter, digit or '_'"
        );
    }
    tags.dedup();
    Ok(tags)
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

pub fn target(config: &Config, args: &PublishArgs, revision: &str) -> Result<Target> {
    let registry =
        args.registry.clone().unwrap_or_else(|| format!("{}/{}", config.registry.host, config.registry.namespace));
    if !registry.contains('/') || registry.ends_with('/') {
        bail!("--registry {registry}: expected HOST/NAMESPACE, e.g. docker.io/vpnlab or 127.0.0.1:5000/vpnlab");
    }
    Ok(Target { registry, version: args.version.clone(), tags: tags(args.version.as_deref(), revision, &args.tags)? })
}

pub fn plan(config: &Config, args: &BuildArgs) -> Result<Plan> {
    let root = config.root.clone().context("imgtool build needs a checkout with imgtool.toml and images/")?;
    let platforms = if args.platforms.is_empty() { config.platforms.clone() } else { args.platforms.clone() };
    for p in &platforms {
        if !matches!(p.as_str(), "linux/amd64" | "linux/arm64") {
            bail!("unknown platform '{p}': imgtool builds linux/amd64 and linux/arm64");
        }
    }
    let mut wanted: Vec<String> = if args.images.is_empty() {
        config.images.iter().map(|i| i.name.clone()).collect()
    } else {
        args.images.clone()
    };
    for name in wanted.clone() {
        let image = config.image(&name).with_context(|| {
            let known: Vec<&str> = config.images.iter().map(|i| i.name.as_str()).collect();
            format!("unknown image '{name}': imgtool.toml has {}", known.join(", "))
        })?;
        if let Some(from) = &image.from {
            wanted.push(from.clone());
        }
    }
    let images = config.images.iter().filter(|i| wanted.contains(&i.name)).map(|i| i.name.clone()).collect();
    let (revision, epoch) = revision(&root);
    let cache = args.cache.as_ref().map(|c| {
        if c.starts_with('/') || c.starts_with('.') || !c.contains(':') {
            Cache::Local(c.clone())
        } else {
            Cache::Registry(c.clone())
        }
    });
    let scenarios = if args.scenarios.is_empty() {
        crate::scenario::BUILTIN.iter().map(|(n, _)| n.to_string()).collect()
    } else {
        args.scenarios.clone()
    };
    for s in &scenarios {
        crate::scenario::Scenario::load(s)?;
    }
    let target = target(config, &args.publish, &revision)?;
    Ok(Plan { images, platforms, revision, epoch, target, cache, no_cache: args.no_cache, scenarios })
}

impl Plan {
    pub fn short(&self) -> &str {
        self.revision.get(..7).unwrap_or(&self.revision)
    }

    pub fn render(&self, publish: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "commit     {} (SOURCE_DATE_EPOCH={})", self.revision, self.epoch);
        let _ = writeln!(out, "platforms  {}", self.platforms.join(", "));
        let _ = writeln!(out, "order      {}", self.images.join(" -> "));
        let _ = writeln!(out, "validate   {} on every platform", self.scenarios.join(", "));
        let cache = match &self.cache {
            Some(Cache::Local(d)) => format!("local directory {d}"),
            Some(Cache::Registry(r)) => format!("registry {r}"),
            None => "the builder's own".into(),
        };
        let _ = writeln!(out, "cache      {cache}");
        let _ = writeln!(out, "publish    {publish}");
        for image in &self.images {
            let _ = writeln!(out, "  {}:{}", self.target.repository(image), self.target.tags.join(","));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_tags_and_pre_releases() {
        let rev = "0123456789abcdef";
        assert_eq!(tags(Some("1.2.3"), rev, &[]).unwrap(), ["1.2.3", "1.2", "1", "latest", "sha-0123456"]);
        assert_eq!(tags(Some("v2.0.0-rc.1"), rev, &[]).unwrap(), ["2.0.0-rc.1", "sha-0123456"]);
        assert_eq!(tags(None, rev, &["edge".into()]).unwrap(), ["sha-0123456", "edge"]);
        assert!(tags(Some("1.2"), rev, &[]).unwrap_err().to_string().contains("expected X.Y.Z"));
        assert!(tags(None, rev, &["bad tag".into()]).unwrap_err().to_string().contains("not a valid tag"));
        assert!(!valid_tag(".hidden") && !valid_tag(&"a".repeat(129)) && valid_tag("_x.1-2"));
    }

    #[test]
    fn cache_arguments() {
        assert_eq!(Cache::Local("/c".into()).buildx_args()[1], "--cache-to=type=local,dest=/c,mode=max");
        assert_eq!(Cache::Registry("r:5000/c:b".into()).buildx_args()[0], "--cache-from=type=registry,ref=r:5000/c:b");
    }
}
