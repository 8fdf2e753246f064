//! `imgtool.toml`: the image set (declared once), the platforms and where
//! images are published. Found in the current directory or a parent; an
//! installed binary without a checkout falls back to the built-in copy, which
//! can pull images but not build them.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::reference::{ReferenceError, RegistryPath, check_tag};

pub const FILE_NAME: &str = "imgtool.toml";
const BUILTIN: &str = include_str!("../imgtool.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Invalid { path: String, line: usize, message: String },
    /// A registry or tag from the command line.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("platform '{platform}' is not OS/ARCH[/VARIANT]: imgtool.toml builds {known}; pick one of them")]
    PlatformShape { platform: String, known: String },
    #[error("unknown platform {platform}: imgtool.toml builds {known}; pick one of them")]
    UnknownPlatform { platform: String, known: String },
}

/// imgtool.toml as written, each value with its place in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    platforms: Vec<Spanned<String>>,
    source: String,
    licenses: String,
    registry: RawRegistry,
    images: Vec<RawImage>,
    #[serde(default)]
    course: RawCourse,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCourse {
    #[serde(default)]
    solutions: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    /// The one-registry form: `host` and `namespace`.
    host: Option<Spanned<String>>,
    namespace: Option<Spanned<String>>,
    /// Several, in order: `list = ["docker.io/vpnlab", "ghcr.io/vpnlab"]`.
    list: Option<Vec<Spanned<String>>>,
    tag: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    name: Spanned<String>,
    context: PathBuf,
    from: Option<Spanned<String>>,
    #[serde(default)]
    description: String,
    binaries: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Registry {
    /// `docker.io`, `ghcr.io`, `127.0.0.1:5000`, ...
    pub host: String,
    pub namespace: String,
    pub tag: String,
}

#[derive(Debug, Clone)]
pub struct Image {
    pub name: String,
    /// Build context, relative to the config file.
    pub context: PathBuf,
    /// Another image of the set that this one is built on.
    pub from: Option<String>,
    pub description: String,
    /// For the image that carries imgtool itself: the directory (relative
    /// to the config file) holding `linux-<arch>/imgtool`, static binaries
    /// the build gets as its `bin` context.
    pub binaries: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub platforms: Vec<String>,
    /// `org.opencontainers.image.source` of every image.
    pub source: String,
    /// `org.opencontainers.image.licenses` of every image.
    pub licenses: String,
    /// The registry images are pulled from and published to by default: the
    /// first of `registries`, or the one [`Config::using`] picked.
    pub registry: Registry,
    /// Every registry, in order: `build --push` publishes to each, `up` tries
    /// them in turn. One entry unless imgtool.toml has `list`.
    pub registries: Vec<RegistryPath>,
    pub images: Vec<Image>,
    /// Directory of the config file; `None` for the built-in copy.
    pub root: Option<PathBuf>,
    /// Whether `imgtool lab solution` may write the reference solution
    /// (`[course] solutions`): a course's student build sets it to false.
    pub solutions: bool,
}

impl Config {
    /// `explicit`, else `imgtool.toml` in the current directory or a parent,
    /// else the built-in copy.
    pub fn discover(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        if let Some(path) = explicit {
            return Config::load(path);
        }
        let mut dir = std::env::current_dir().ok();
        while let Some(d) = dir {
            let candidate = d.join(FILE_NAME);
            if candidate.is_file() {
                return Config::load(&candidate);
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        Config::parse(BUILTIN, "built-in imgtool.toml")
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let mut config = Config::parse(&text, &path.display().to_string())?;
        config.root = Some(path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf());
        Ok(config)
    }

    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        // Lines come from toml's spans: the value at fault, wherever it is
        // and however often its text recurs in the file.
        let line = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let invalid = |offset: usize, message: String| ConfigError::Invalid {
            path: origin.into(),
            line: line(offset),
            message: message.replace('\n', " "),
        };
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| invalid(e.span().map_or(0, |s| s.start), e.message().trim().to_string()))?;
        for (i, image) in raw.images.iter().enumerate() {
            if let Some(from) = &image.from
                && !raw.images[..i].iter().any(|m| m.name.get_ref() == from.get_ref())
            {
                return Err(invalid(
                    from.span().start,
                    format!(
                        "image {} is built from '{}', which must be an image listed before it",
                        image.name.get_ref(),
                        from.get_ref()
                    ),
                ));
            }
        }
        for p in &raw.platforms {
            if !matches!(p.get_ref().as_str(), "linux/amd64" | "linux/arm64") {
                return Err(invalid(
                    p.span().start,
                    format!("platform '{}': expected linux/amd64 or linux/arm64", p.get_ref()),
                ));
            }
        }
        let r = &raw.registry;
        let entries: Vec<(&str, usize)> = match (&r.host, &r.namespace, &r.list) {
            (Some(h), Some(_), None) => vec![(h.get_ref(), h.span().start)],
            (None, None, Some(list)) if !list.is_empty() => {
                list.iter().map(|e| (e.get_ref().as_str(), e.span().start)).collect()
            }
            _ => {
                let at = r.list.as_ref().and_then(|l| l.first()).map_or(r.tag.span().start, |e| e.span().start);
                let message = "[registry] needs host and namespace, or a non-empty list = [\"HOST[:PORT]/NAMESPACE\", ...], not both";
                return Err(invalid(at, message.into()));
            }
        };
        let mut registries = Vec::new();
        for (text, at) in entries {
            let path = match (&r.host, &r.namespace) {
                (Some(h), Some(n)) => RegistryPath::new(h.get_ref(), n.get_ref()).map_err(|e| {
                    let at = if matches!(e, ReferenceError::Namespace { .. }) { n.span().start } else { at };
                    invalid(at, e.to_string())
                })?,
                _ => RegistryPath::parse(text).map_err(|e| invalid(at, format!("registry list entry: {e}")))?,
            };
            if registries.contains(&path) {
                return Err(invalid(at, format!("registry {path} is listed twice: drop one")));
            }
            registries.push(path);
        }
        let first = &registries[0];
        let config = Config {
            platforms: raw.platforms.iter().map(|p| p.get_ref().clone()).collect(),
            source: raw.source.clone(),
            licenses: raw.licenses.clone(),
            registry: Registry {
                host: first.host.clone(),
                namespace: first.namespace.clone(),
                tag: r.tag.get_ref().clone(),
            },
            registries: registries.clone(),
            images: raw
                .images
                .iter()
                .map(|i| Image {
                    name: i.name.get_ref().clone(),
                    context: i.context.clone(),
                    from: i.from.as_ref().map(|f| f.get_ref().clone()),
                    binaries: i.binaries.clone(),
                    description: i.description.clone(),
                })
                .collect(),
            root: None,
            solutions: raw.course.solutions,
        };
        config.check_references().map_err(|e| {
            let at = match &e {
                ReferenceError::Tag(_) => r.tag.span().start,
                ReferenceError::Name(name) => raw
                    .images
                    .iter()
                    .find(|i| i.name.get_ref() == name)
                    .map_or(r.tag.span().start, |i| i.name.span().start),
                _ => r.tag.span().start,
            };
            invalid(at, e.to_string())
        })?;
        Ok(config)
    }

    /// The registry and namespace images are pulled from (and published to
    /// by default), checked.
    pub fn registry_path(&self) -> Result<RegistryPath, ReferenceError> {
        RegistryPath::new(&self.registry.host, &self.registry.namespace)
    }

    /// Every image's reference under each registry and the tag, checked as
    /// a whole: each part can be valid and the whole too long.
    fn check_references(&self) -> Result<(), ReferenceError> {
        for path in &self.registries {
            for image in &self.images {
                path.check_reference(&image.name, &self.registry.tag)?;
            }
        }
        Ok(())
    }

    /// This config pulling from `path` (one of `registries`, as `up` tries them).
    pub fn using(&self, path: &RegistryPath) -> Config {
        let mut c = self.clone();
        c.registry.host = path.host.clone();
        c.registry.namespace = path.namespace.clone();
        c
    }

    /// Refuses a platform that is not `os/arch[/variant]` or that imgtool.toml
    /// does not list in `platforms`, naming the ones it does; call it before
    /// any work that takes a `--platform`. Matching is exact: the images are
    /// built and validated for exactly these platforms.
    pub fn check_platform(&self, platform: &str) -> Result<(), ConfigError> {
        let known = self.platforms.join(", ");
        let parts: Vec<&str> = platform.split('/').collect();
        let part_ok =
            |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !matches!(parts.len(), 2 | 3) || !parts.iter().all(part_ok) {
            return Err(ConfigError::PlatformShape { platform: platform.into(), known });
        }
        if !self.platforms.iter().any(|p| p == platform) {
            return Err(ConfigError::UnknownPlatform { platform: platform.into(), known });
        }
        Ok(())
    }

    /// This config with another `HOST[:PORT]/NAMESPACE` and tag (from the
    /// command line), checked like imgtool.toml's before anything is pulled.
    pub fn with_registry(mut self, registry: Option<&str>, tag: Option<&str>) -> Result<Config, ConfigError> {
        if let Some(r) = registry {
            let path = RegistryPath::parse(r)?;
            self.registry.host = path.host.clone();
            self.registry.namespace = path.namespace.clone();
            self.registries = vec![path];
        }
        if let Some(t) = tag {
            check_tag(t)?;
            self.registry.tag = t.into();
        }
        self.check_references()?;
        Ok(self)
    }

    pub fn image(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.name == name)
    }

    /// `names` and every image they are built from, however deep (a gateway
    /// needs strongswan, which needs base), in build order. Unknown names
    /// are left out.
    pub fn with_bases<S: AsRef<str>>(&self, names: &[S]) -> Vec<&str> {
        let mut wanted: Vec<&str> =
            names.iter().filter_map(|n| self.image(n.as_ref())).map(|i| i.name.as_str()).collect();
        // `from` only names earlier images, so one pass from the end suffices.
        for image in self.images.iter().rev() {
            if wanted.contains(&image.name.as_str())
                && let Some(from) = image.from.as_deref()
                && !wanted.contains(&from)
            {
                wanted.push(from);
            }
        }
        self.images.iter().map(|i| i.name.as_str()).filter(|n| wanted.contains(n)).collect()
    }

    /// The full reference of an image of the set, e.g. `docker.io/vpnlab/router:latest`.
    pub fn reference(&self, name: &str) -> String {
        let r = &self.registry;
        format!("{}/{}/{}:{}", r.host, r.namespace, name, r.tag)
    }

    /// The build context of an image, if this config comes with a source tree.
    pub fn context(&self, image: &Image) -> Option<PathBuf> {
        let dir = self.root.as_ref()?.join(&image.context);
        dir.join("Dockerfile").is_file().then_some(dir)
    }

    /// Shared files every image copies (`COPY --from=common`).
    pub fn common_context(&self) -> Option<PathBuf> {
        self.root.as_ref().map(|r| r.join("images/common")).filter(|d| d.is_dir())
    }
}

#[cfg(test)]
mod list_tests;

#[cfg(test)]
mod tests;
