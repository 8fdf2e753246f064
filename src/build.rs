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
}

/// The build argument that carries the reference of the image `from` names:
/// `from = "strongswan"` becomes `STRONGSWAN_IMAGE`.
pub fn from_arg(from: &str) -> String {
    format!("{}_IMAGE", from.to_uppercase().replace('-', "_"))
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
    let mut wanted: Vec<&str> = names.to_vec();
    for n in names {
        if let Some(from) = config.image(n).and_then(|i| i.from.as_deref()) {
            wanted.push(from);
        }
    }
    for image in &config.images {
        if wanted.contains(&image.name.as_str()) {
            progress.step(format!("building {} for {}", image.name, platforms.join(",")));
            engine.run(&local_build_args(config, &image.name, platforms)?)?;
            progress.note(format!("built {}", config.reference(&image.name)));
        }
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
    fn unknown_image_is_an_error() {
        let config =
            Config::discover(Some(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/imgtool.toml")))).unwrap();
        assert!(matches!(local_build_args(&config, "nope", &[]), Err(BuildError::UnknownImage(_))));
    }
}
