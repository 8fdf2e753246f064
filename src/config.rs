//! `imgtool.toml`: the image set (declared once), the platforms and where
//! images are published. Found in the current directory or a parent; an
//! installed binary without a checkout falls back to the built-in copy, which
//! can pull images but not build them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const FILE_NAME: &str = "imgtool.toml";
const BUILTIN: &str = include_str!("../imgtool.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Invalid { path: String, line: usize, message: String },
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
        Ok(config)
    }

    /// This config with another `HOST/NAMESPACE` and tag (from the command line).
    pub fn with_registry(mut self, registry: Option<&str>, tag: Option<&str>) -> Result<Config, ConfigError> {
        if let Some(r) = registry {
            let (host, namespace) =
                r.split_once('/').filter(|(h, n)| !h.is_empty() && !n.is_empty()).ok_or_else(|| {
                    ConfigError::Invalid {
                        path: "--registry".into(),
                        line: 1,
                        message: format!("'{r}': expected HOST/NAMESPACE, e.g. 127.0.0.1:5000/vpnlab"),
                    }
                })?;
            self.registry.host = host.into();
            self.registry.namespace = namespace.trim_end_matches('/').into();
        }
        if let Some(t) = tag {
            self.registry.tag = t.into();
        }
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
    fn wrong_type_names_the_line() {
        let text = BUILTIN.replace("tag = \"latest\"", "tag = 3");
        let e = Config::parse(&text, "x.toml").unwrap_err().to_string();
        let line = text.lines().position(|l| l == "tag = 3").unwrap() + 1;
        assert!(e.starts_with(&format!("x.toml:{line}:")), "{e}");
    }
}
