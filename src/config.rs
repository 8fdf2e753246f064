//! `imgtool.toml`: the image set (declared once), the platforms and where
//! images are published. Found in the current directory or a parent; an
//! installed binary without a checkout falls back to the built-in copy, which
//! can pull images but not build them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// `docker.io`, `ghcr.io`, `127.0.0.1:5000`, ...
    pub host: String,
    pub namespace: String,
    pub tag: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub name: String,
    /// Build context, relative to the config file.
    pub context: PathBuf,
    /// Another image of the set that this one is built on.
    pub from: Option<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub platforms: Vec<String>,
    /// `org.opencontainers.image.source` of every image.
    pub source: String,
    /// `org.opencontainers.image.licenses` of every image.
    pub licenses: String,
    pub registry: Registry,
    pub images: Vec<Image>,
    /// Directory of the config file; `None` for the built-in copy.
    #[serde(skip)]
    pub root: Option<PathBuf>,
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
        let invalid = |line: usize, message: String| ConfigError::Invalid { path: origin.into(), line, message };
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| text[..s.start].lines().count().max(1));
            invalid(line, e.message().trim().to_string())
        })?;
        let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).map_or(1, |i| i + 1);
        for (i, image) in config.images.iter().enumerate() {
            if let Some(from) = &image.from
                && !config.images[..i].iter().any(|m| &m.name == from)
            {
                return Err(invalid(
                    line_of(&format!("from = \"{from}\"")),
                    format!("image {} is built from '{from}', which must be an image listed before it", image.name),
                ));
            }
        }
        for p in &config.platforms {
            if !matches!(p.as_str(), "linux/amd64" | "linux/arm64") {
                return Err(invalid(line_of(p), format!("platform '{p}': expected linux/amd64 or linux/arm64")));
            }
        }
        config.check_references().map_err(|e| {
            let line = match &e {
                ReferenceError::Host { .. } => line_of("host ="),
                ReferenceError::Namespace { .. } => line_of("namespace ="),
                ReferenceError::Tag(_) => line_of("tag ="),
                ReferenceError::Name(name) => line_of(&format!("\"{name}\"")),
                ReferenceError::Shape(_) | ReferenceError::Reference { .. } => line_of("[registry]"),
            };
            invalid(line, e.to_string())
        })?;
        Ok(config)
    }

    /// The registry and namespace images are pulled from (and published to
    /// by default), checked.
    pub fn registry_path(&self) -> Result<RegistryPath, ReferenceError> {
        RegistryPath::new(&self.registry.host, &self.registry.namespace)
    }

    /// Every image's reference under this registry and tag, checked as a
    /// whole: each part can be valid and the whole too long.
    fn check_references(&self) -> Result<(), ReferenceError> {
        let path = self.registry_path()?;
        for image in &self.images {
            path.check_reference(&image.name, &self.registry.tag)?;
        }
        Ok(())
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
            self.registry.host = path.host;
            self.registry.namespace = path.namespace;
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
mod tests {
    use super::*;

    #[test]
    fn builtin_config_declares_the_four_images_in_build_order() {
        let c = Config::parse(BUILTIN, "imgtool.toml").unwrap();
        let names: Vec<_> = c.images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["router", "client", "strongswan", "gateway"]);
        assert_eq!(c.image("gateway").unwrap().from.as_deref(), Some("strongswan"));
        assert_eq!(c.reference("router"), "docker.io/vpnlab/router:latest");
    }

    #[test]
    fn image_built_from_a_later_image_is_rejected_with_its_line() {
        let text = BUILTIN.replace("from = \"strongswan\"", "from = \"gatewayx\"");
        let e = Config::parse(&text, "imgtool.toml").unwrap_err().to_string();
        let line = text.lines().position(|l| l.contains("gatewayx")).unwrap() + 1;
        assert!(e.starts_with(&format!("imgtool.toml:{line}: image gateway")), "{e}");
    }

    #[test]
    fn unknown_platform_is_rejected() {
        let text = BUILTIN.replace("linux/arm64", "linux/s390x");
        let e = Config::parse(&text, "imgtool.toml").unwrap_err().to_string();
        assert!(e.contains("platform 'linux/s390x'"), "{e}");
    }

    #[test]
    fn a_bad_registry_in_imgtool_toml_names_its_line() {
        for (from, to, what) in [
            ("namespace = \"vpnlab\"", "namespace = \"VPNlab\"", "namespace 'VPNlab' is not valid"),
            ("host = \"docker.io\"", "host = \"dockerio\"", "'dockerio' is not a registry host"),
            ("tag = \"latest\"", "tag = \"-latest\"", "tag '-latest' is not valid"),
            ("name = \"router\"", "name = \"Router\"", "image name 'Router' is not valid"),
        ] {
            let text = BUILTIN.replace(from, to);
            let e = Config::parse(&text, "imgtool.toml").unwrap_err().to_string();
            let line = text.lines().position(|l| l == to).unwrap() + 1;
            assert!(e.starts_with(&format!("imgtool.toml:{line}: ")) && e.contains(what), "{e}");
        }
    }

    #[test]
    fn registry_and_tag_from_the_command_line_are_checked() {
        let c = || Config::parse(BUILTIN, "imgtool.toml").unwrap();
        let ok = c().with_registry(Some("127.0.0.1:5000/vpnlab"), Some("1.2.0")).unwrap();
        assert_eq!(ok.reference("gateway"), "127.0.0.1:5000/vpnlab/gateway:1.2.0");
        for (registry, tag, want) in [
            (Some("UPPER/Case:bad"), None, "'UPPER' is not a registry host"),
            (Some("justahost"), None, "is not HOST[:PORT]/NAMESPACE"),
            (Some("docker.io/vpnlab/"), None, "namespace 'vpnlab/' is not valid"),
            (None, Some("no spaces"), "tag 'no spaces' is not valid"),
        ] {
            let e = c().with_registry(registry, tag).unwrap_err().to_string();
            assert!(e.contains(want) && !e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn platforms_are_checked_against_imgtool_toml() {
        let c = Config::parse(BUILTIN, "imgtool.toml").unwrap();
        assert!(c.check_platform("linux/amd64").is_ok() && c.check_platform("linux/arm64").is_ok());
        assert_eq!(
            c.check_platform("linux/sparc").unwrap_err().to_string(),
            "unknown platform linux/sparc: imgtool.toml builds linux/amd64, linux/arm64; pick one of them"
        );
        for bad in ["amd64", "linux/", "linux/arm64/v8/x", "Linux/AMD64", "linux amd64"] {
            let e = c.check_platform(bad).unwrap_err().to_string();
            assert!(e.contains("is not OS/ARCH[/VARIANT]") && e.contains("linux/amd64, linux/arm64"), "{e}");
        }
        // Exact: a variant imgtool.toml does not name is not built.
        assert!(c.check_platform("linux/arm64/v8").unwrap_err().to_string().starts_with("unknown platform"));
    }

    #[test]
    fn wrong_type_names_the_line() {
        let text = BUILTIN.replace("tag = \"latest\"", "tag = 3");
        let e = Config::parse(&text, "x.toml").unwrap_err().to_string();
        let line = text.lines().position(|l| l == "tag = 3").unwrap() + 1;
        assert!(e.starts_with(&format!("x.toml:{line}:")), "{e}");
    }
}
