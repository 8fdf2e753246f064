//! Getting images for a testbed: use what is local, else pull, else build
//! from `images/` with `docker buildx build --load`, in the configured order
//! (a gateway is built on the strongswan image of the same build).

use crate::config::Config;
use crate::engine::{Engine, EngineError};
use crate::progress::Progress;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Daemon(#[from] crate::daemon::DaemonError),
    #[error(
        "image {reference} is missing for {platform}: pulling failed ({pull}) and there is no images/ source tree to build it from; run imgtool in a checkout or use --registry to pull from elsewhere"
    )]
    NoWayToGet { reference: String, platform: String, pull: String },
    #[error("unknown image '{0}' (imgtool.toml lists the image set)")]
    UnknownImage(String),
    #[error(
        "image {image} carries imgtool itself and needs its static binary for {platform} at {path}: run `scripts/cross-check.sh x86_64-unknown-linux-musl aarch64-unknown-linux-musl`, which puts them there"
    )]
    NoBinary { image: String, platform: String, path: String },
    #[error("{registry} answered 429 Too Many Requests to `docker pull`: {}", crate::registry::RATE_LIMIT)]
    TooManyRequests { registry: String },
    #[error(
        "no registry has the images for {platform}, and there is no images/ source tree to build them from: {tried}; run imgtool in a checkout or use --registry to pull from elsewhere"
    )]
    NoRegistry { platform: String, tried: String },
}

/// Whether docker's answer to a pull is a rate limit (Docker Hub says `toomanyrequests`).
fn rate_limited(stderr: &str) -> bool {
    let s = stderr.to_lowercase();
    s.contains("toomanyrequests") || s.contains("too many requests")
}

/// Tries imgtool.toml's registries (or the one `--registry` forces) in
/// order, on the images `up` pulls first (the native helpers when `probes`
/// run in them, else the testbed's): the first from which each is local or
/// pulls is the one `up` uses. Returns the config pulling from it and a
/// line that says so. When none has them: in a checkout, the first (so
/// `ensure` builds them); else one line for all, or the rate limit's.
pub fn choose(
    engine: &Engine,
    config: &Config,
    platform: &str,
    native: &str,
    probes: bool,
    progress: &Progress,
) -> Result<(Config, String), BuildError> {
    let needs: Vec<(&str, String)> = if probes {
        vec![("client", native.to_string()), ("gateway", native.to_string())]
    } else {
        ["router", "client", "gateway"].map(|i| (i, platform.to_string())).to_vec()
    };
    let mut tried: Vec<(String, String)> = Vec::new();
    let mut limited = None;
    for path in &config.registries {
        let c = config.using(path);
        let (mut failed, mut pulled) = (None, false);
        // Side by side: three `image inspect`s one after another were a
        // tenth of a second of every `up`.
        let here =
            crate::parallel::map(&needs, |(name, platform)| present(engine, &c.reference(name), platform, native));
        for ((name, platform), here) in needs.iter().zip(here) {
            let reference = c.reference(name);
            if here? {
                continue;
            }
            pulled = true;
            progress.step(format!("pulling {reference} ({platform})"));
            let pull = engine.output(&["pull", "--quiet", "--platform", platform, &reference])?;
            if !pull.ok() {
                failed = Some(crate::engine::last_lines(&pull.stderr, 1));
                limited = limited.or_else(|| rate_limited(&pull.stderr).then(|| path.to_string()));
                break;
            }
        }
        let Some(why) = failed else {
            let after = tried.iter().map(|(r, why)| format!("{r}: {why}")).collect::<Vec<_>>().join("; ");
            let here = if pulled { "" } else { ", already here" };
            let line = if after.is_empty() {
                format!("from {path}{here}")
            } else {
                format!("from {path}{here} (not {after})")
            };
            progress.note(format!("images {line}"));
            return Ok((c, line));
        };
        if config.registries.len() > 1 {
            progress.note(format!("cannot pull from {path} ({why}): trying the next registry"));
        }
        tried.push((path.to_string(), why));
    }
    if config.common_context().is_some() {
        let line = format!(
            "built here (no registry had them: {})",
            tried.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>().join(", ")
        );
        return Ok((config.clone(), line));
    }
    if let Some(registry) = limited {
        return Err(BuildError::TooManyRequests { registry });
    }
    let platform = needs.first().map(|(_, p)| p.clone()).unwrap_or_default();
    let tried = tried.iter().map(|(r, why)| format!("{r}: {why}")).collect::<Vec<_>>().join("; ");
    Err(BuildError::NoRegistry { platform, tried })
}

/// The build argument that carries the reference of the image `from` names:
/// `from = "strongswan"` becomes `STRONGSWAN_IMAGE`.
pub fn from_arg(from: &str) -> String {
    format!("{}_IMAGE", from.to_uppercase().replace('-', "_"))
}

/// The build arguments of an image that carries imgtool itself
/// (`binaries` in imgtool.toml): its static binaries as the `bin` context,
/// `linux-<arch>/imgtool` for each of `platforms`, and the testbed images'
/// tag its `up` runs by default (`IMGTOOL_TAG`), so that it matches the
/// release. None for the other images.
pub fn imgtool_image_args(
    config: &Config,
    image: &crate::config::Image,
    platforms: &[String],
    tag: &str,
) -> Result<Vec<String>, BuildError> {
    let (Some(dir), Some(root)) = (&image.binaries, &config.root) else { return Ok(Vec::new()) };
    let dir = root.join(dir);
    for platform in platforms {
        let binary = dir.join(platform.replace('/', "-")).join("imgtool");
        if !binary.is_file() {
            let path = binary.display().to_string();
            return Err(BuildError::NoBinary { image: image.name.clone(), platform: platform.clone(), path });
        }
    }
    Ok(vec![format!("--build-context=bin={}", dir.display()), format!("--build-arg=IMGTOOL_TAG={tag}")])
}

/// `docker buildx build` arguments for one image of the set, loaded into the
/// local image store for `platforms`.
pub fn local_build_args(config: &Config, name: &str, platforms: &[String]) -> Result<Vec<String>, BuildError> {
    let image = config.image(name).ok_or_else(|| BuildError::UnknownImage(name.into()))?;
    let (Some(context), Some(common)) = (config.context(image), config.common_context()) else {
        return Err(BuildError::NoWayToGet {
            reference: config.reference(name),
            platform: platforms.join(","),
            pull: "not tried".into(),
        });
    };
    let mut args: Vec<String> = vec!["buildx".into(), "build".into(), "--load".into(), "--progress=plain".into()];
    args.push(format!("--platform={}", platforms.join(",")));
    args.push(format!("--tag={}", config.reference(name)));
    args.push(format!("--build-context=common={}", common.display()));
    if let Some(from) = &image.from {
        args.push(format!("--build-arg={}={}", from_arg(from), config.reference(from)));
    }
    args.extend(imgtool_image_args(config, image, platforms, &config.registry.tag)?);
    args.push(context.display().to_string());
    Ok(args)
}

/// Builds `names` (and what they are built from) for `platforms`, in order.
pub fn build_local(
    engine: &Engine,
    config: &Config,
    names: &[&str],
    platforms: &[String],
    progress: &Progress,
) -> Result<(), BuildError> {
    crate::daemon::require_plugin(engine, "buildx")?;
    for name in config.with_bases(names) {
        progress.step(format!("building {name} for {}", platforms.join(",")));
        engine.run(&local_build_args(config, name, platforms)?)?;
        progress.note(format!("built {}", config.reference(name)));
    }
    Ok(())
}

/// Whether `reference` is in the local store for `platform`. `image inspect`
/// reports the native variant when there is one (else the only one there
/// is); a foreign platform is proven by creating, not starting, a container
/// of it without pulling.
pub(crate) fn present(engine: &Engine, reference: &str, platform: &str, native: &str) -> Result<bool, EngineError> {
    if platform == native {
        let run = engine.output(&["image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", reference])?;
        return Ok(run.ok() && run.stdout.trim() == native);
    }
    let created = engine.output(&["create", "--pull=never", "--platform", platform, "--network=none", reference])?;
    if created.ok() {
        engine.output(&["rm", created.stdout.trim()])?;
    }
    Ok(created.ok())
}

/// Makes sure every image in `needs` ((image name, platform) pairs) is local:
/// as it is, else pulled, else built (`force_build` skips straight to it).
pub fn ensure(
    engine: &Engine,
    config: &Config,
    needs: &[(&str, String)],
    native: &str,
    force_build: bool,
    progress: &Progress,
) -> Result<(), BuildError> {
    let mut to_build: Vec<(&str, String)> = Vec::new();
    let here: Vec<bool> = if force_build {
        vec![false; needs.len()]
    } else {
        crate::parallel::map(needs, |(name, platform)| present(engine, &config.reference(name), platform, native))
            .into_iter()
            .collect::<Result<_, _>>()?
    };
    for ((name, platform), here) in needs.iter().zip(here) {
        let reference = config.reference(name);
        if here {
            continue;
        }
        if !force_build {
            progress.step(format!("pulling {reference} ({platform})"));
            let pull = engine.output(&["pull", "--quiet", "--platform", platform, &reference])?;
            if pull.ok() {
                continue;
            }
            if config.common_context().is_none() {
                return Err(BuildError::NoWayToGet {
                    reference,
                    platform: platform.clone(),
                    pull: crate::engine::last_lines(&pull.stderr, 1),
                });
            }
            progress.note(format!("cannot pull {reference} for {platform}: building it locally"));
        }
        to_build.push((name, platform.clone()));
    }
    if to_build.is_empty() {
        return Ok(());
    }
    // Every platform the testbed needs, not only the missing ones: `--load`
    // replaces the tag, so an arm64-only build would drop the native variant.
    let mut platforms: Vec<String> = needs.iter().map(|(_, p)| p.clone()).collect();
    platforms.sort();
    platforms.dedup();
    let mut names: Vec<&str> = to_build.iter().map(|(n, _)| *n).collect();
    names.sort();
    names.dedup();
    build_local(engine, config, &names, &platforms, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_is_built_on_the_strongswan_reference() {
        let config =
            Config::discover(Some(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/imgtool.toml")))).unwrap();
        let args = local_build_args(&config, "gateway", &["linux/amd64".into()]).unwrap();
        assert!(
            args.contains(&"--build-arg=STRONGSWAN_IMAGE=docker.io/vpnlab/strongswan:latest".to_string()),
            "{args:?}"
        );
        assert!(args.contains(&"--platform=linux/amd64".to_string()));
        assert!(args.last().unwrap().ends_with("images/gateway"));
    }

    #[test]
    fn the_imgtool_image_gets_its_binaries_and_tag_or_one_line_naming_what_is_missing() {
        let mut config =
            Config::discover(Some(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/imgtool.toml")))).unwrap();
        let dir = tempfile::tempdir().unwrap();
        config.root = Some(dir.path().to_path_buf());
        let image = config.image("imgtool").unwrap().clone();
        let platforms = ["linux/amd64".to_string(), "linux/arm64".to_string()];
        std::fs::create_dir_all(dir.path().join("target/image-bin/linux-amd64")).unwrap();
        std::fs::write(dir.path().join("target/image-bin/linux-amd64/imgtool"), "").unwrap();
        let e = imgtool_image_args(&config, &image, &platforms, "1.2.0").unwrap_err().to_string();
        assert!(e.contains("for linux/arm64 at ") && e.contains("linux-arm64/imgtool") && !e.contains('\n'), "{e}");
        let args = imgtool_image_args(&config, &image, &platforms[..1], "1.2.0").unwrap();
        let bin = dir.path().join("target/image-bin");
        assert_eq!(args, [format!("--build-context=bin={}", bin.display()), "--build-arg=IMGTOOL_TAG=1.2.0".into()]);
        let router = config.image("router").unwrap().clone();
        assert!(imgtool_image_args(&config, &router, &platforms, "1.2.0").unwrap().is_empty());
    }

    #[test]
    fn docker_rate_limit_answers_are_recognised() {
        let hub = "Error response from daemon: toomanyrequests: You have reached your pull rate limit.";
        assert!(rate_limited(hub) && rate_limited("429 Too Many Requests"));
        assert!(!rate_limited("dial tcp 127.0.0.1:1: connect: connection refused"));
    }

    #[test]
    fn unknown_image_is_an_error() {
        let config =
            Config::discover(Some(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/imgtool.toml")))).unwrap();
        assert!(matches!(local_build_args(&config, "nope", &[]), Err(BuildError::UnknownImage(_))));
    }
}
