//! `imgtool build --bake`: the whole set in one `docker buildx bake`, so
//! that BuildKit solves every image of every platform at once. The bake
//! definition is generated from the plan and imgtool.toml (never written by
//! hand): one target per image and platform, each exported into its kept
//! OCI layout as `buildx::build_one` does, an image's base named as the
//! context `target:<base>-<arch>`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use super::buildx::{self, Built};
use super::layouts::Layout;
use super::{Plan, metadata};
use crate::config::Config;
use crate::engine::Engine;
use crate::progress::Progress;

fn arch(platform: &str) -> &str {
    platform.rsplit('/').next().unwrap_or(platform)
}

fn target_id(image: &str, platform: &str) -> String {
    format!("{image}-{}", arch(platform))
}

/// The bake definition: every image of the plan for every platform, each
/// target exported to `dest(image, platform)`.
pub(super) fn definition(config: &Config, plan: &Plan, dest: impl Fn(&str, &str) -> String) -> Result<Value> {
    let common = config.common_context().context("no images/common directory")?;
    let tag = plan.target.tags.first().unwrap_or(&config.registry.tag);
    let mut targets = Map::new();
    for platform in &plan.platforms {
        for image in &plan.images {
            let spec = config.image(image).context("image vanished from imgtool.toml")?;
            let context = config.context(spec).with_context(|| format!("no Dockerfile for {image}"))?;
            let name = buildx::local_tag(plan, image, platform);
            let mut contexts = Map::new();
            contexts.insert("common".into(), json!(common.display().to_string()));
            let mut args = Map::new();
            if let Some(from) = spec.from.as_deref() {
                // The base's tag names the base's target, so FROM resolves to it.
                let base = buildx::local_tag(plan, from, platform);
                contexts.insert(base.clone(), json!(format!("target:{}", target_id(from, platform))));
                args.insert(crate::build::from_arg(from), json!(base));
            }
            for arg in crate::build::imgtool_image_args(config, spec, std::slice::from_ref(platform), tag)? {
                let (map, kv) = if let Some(kv) = arg.strip_prefix("--build-context=") {
                    (&mut contexts, kv)
                } else if let Some(kv) = arg.strip_prefix("--build-arg=") {
                    (&mut args, kv)
                } else {
                    bail!("no bake field for {arg}");
                };
                let (k, v) = kv.split_once('=').with_context(|| format!("{arg} is not KEY=VALUE"))?;
                map.insert(k.into(), json!(v));
            }
            let mut target = json!({
                "context": context.display().to_string(),
                "contexts": contexts,
                "args": args,
                "labels": metadata(config, plan, image),
                "platforms": [platform],
                "attest": ["type=provenance,disabled=true", "type=sbom,disabled=true"],
                "output": [format!(
                    "type=oci,tar=false,dest={},name={name},rewrite-timestamp=true",
                    dest(image, platform)
                )],
                "no-cache": plan.no_cache,
            });
            if let Some(cache) = &plan.cache {
                let [from, to] = cache.buildx_args();
                target["cache-from"] = json!([from.trim_start_matches("--cache-from=")]);
                target["cache-to"] = json!([to.trim_start_matches("--cache-to=")]);
            }
            targets.insert(target_id(image, platform), target);
        }
    }
    let ids: Vec<String> = targets.keys().cloned().collect();
    Ok(json!({ "group": { "default": { "targets": ids } }, "target": targets }))
}

/// Builds the whole plan with one `docker buildx bake`, then loads each
/// image as `buildx::build_one` does.
pub(super) fn build_all(
    engine: &Engine,
    config: &Config,
    plan: &Plan,
    work: &Path,
    progress: &Progress,
) -> Result<Vec<Built>> {
    // Every layout of the set, locked in one order (by name): two bakes at
    // once wait for each other instead of deadlocking.
    let mut ids: Vec<(String, String)> =
        plan.platforms.iter().flat_map(|p| plan.images.iter().map(move |i| (i.clone(), p.clone()))).collect();
    ids.sort_by_key(|(i, p)| target_id(i, p));
    let mut held = Vec::new();
    for (image, platform) in &ids {
        held.push(((image.clone(), platform.clone()), Layout::open(image, arch(platform))?));
    }
    let dir_of = |image: &str, platform: &str| {
        held.iter().find(|((i, p), _)| i == image && p == platform).map(|(_, l)| l.dir.display().to_string())
    };
    let def = definition(config, plan, |i, p| dir_of(i, p).unwrap_or_default())?;
    let file = work.join("bake.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&def)?)?;
    let meta_file = work.join("bake-metadata.json");
    let mut args: Vec<String> = ["buildx", "bake", "--progress=plain"].map(String::from).to_vec();
    args.extend([format!("--file={}", file.display()), format!("--metadata-file={}", meta_file.display())]);
    if let Some(builder) = &plan.builder {
        args.push(format!("--builder={builder}"));
    }
    let task = progress.task(format!("bake: {} targets", ids.len()));
    let epoch = plan.epoch.to_string();
    let run = engine.output_streaming(&args, &[("SOURCE_DATE_EPOCH", &epoch)], |line| {
        if let Some(step) = buildx::buildx_step(line) {
            task.step(step);
        }
    })?;
    if !run.ok() {
        bail!("docker buildx bake failed: {}", buildx::build_failure(&run.stderr));
    }
    task.finish("baked");
    let meta: Value = serde_json::from_slice(&std::fs::read(&meta_file)?)?;
    let mut built = Vec::new();
    for ((image, platform), layout) in held {
        let id = target_id(&image, &platform);
        let digest = meta[&id]["containerimage.digest"]
            .as_str()
            .with_context(|| format!("bake's metadata names no digest for {id}"))?
            .to_string();
        built.push(buildx::finish(engine, plan, layout, &digest, &image, &platform, work)?);
    }
    // In the plan's order, as the per-image path returns them.
    built.sort_by_key(|b| {
        let p = plan.platforms.iter().position(|p| *p == b.platform);
        (p, plan.images.iter().position(|i| *i == b.image))
    });
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_image_and_platform_is_a_target_built_on_its_bases_target() {
        let mut config = Config::parse(include_str!("../../imgtool.toml"), "imgtool.toml").unwrap();
        config.root = Some(env!("CARGO_MANIFEST_DIR").into());
        let req = super::super::BuildRequest {
            platforms: Vec::new(),
            images: vec!["gateway".into()],
            scenarios: Vec::new(),
            cache: None,
            no_cache: false,
            builder: None,
            bake: true,
            push: super::super::Push::No(super::super::Validation::Skip),
            destination: super::super::Destination::default(),
            dry_run: true,
        };
        let plan = super::super::plan::plan(&config, &req).unwrap();
        let def = definition(&config, &plan, |i, p| format!("/cache/{i}-{}", arch(p))).unwrap();
        let targets = def["target"].as_object().unwrap();
        assert_eq!(targets.len(), 3 * plan.platforms.len(), "base, strongswan and gateway on every platform");
        let gw = &def["target"]["gateway-arm64"];
        let base = buildx::local_tag(&plan, "strongswan", "linux/arm64");
        assert_eq!(gw["contexts"][&base], "target:strongswan-arm64");
        assert_eq!(gw["args"]["STRONGSWAN_IMAGE"], base.as_str());
        assert_eq!(gw["platforms"], json!(["linux/arm64"]));
        let output = gw["output"][0].as_str().unwrap();
        assert!(
            output.starts_with("type=oci,tar=false,dest=/cache/gateway-arm64,")
                && output.contains("rewrite-timestamp=true")
        );
        assert_eq!(gw["labels"]["org.opencontainers.image.title"], "imgtool gateway");
        let group: Vec<&str> =
            def["group"]["default"]["targets"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        assert!(group.contains(&"base-amd64") && group.contains(&"gateway-arm64"), "{group:?}");
    }
}
