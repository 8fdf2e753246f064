//! The validation gate: every scenario's checks, on every platform, with
//! exactly the images just built (addressed by digest). One failure stops
//! the build before anything is tagged or pushed, and says where. Passing
//! returns [`Validated`], the only way to hand images to `push`.

use anyhow::{Result, bail};

use super::Plan;
use super::buildx::Built;
use crate::config::Config;
use crate::engine::Engine;
use crate::progress::Progress;
use crate::testbed::spec::Images;
use crate::testbed::{self, UpRequest};

/// The gate's testbed for the `i`th scenario: one each, so they can run side by side.
fn testbed_name(i: usize) -> testbed::TestbedName {
    format!("imgtool-validate-{i}").parse().expect("a valid testbed name")
}

/// The reference of `image` built for `platform`.
fn local<'a>(built: &'a [Built], image: &str, platform: &str) -> Option<&'a str> {
    built.iter().find(|b| b.image == image && b.platform == platform).map(|b| b.local.as_str())
}

/// Proof that these images passed the gate in this run. Its field is private
/// to this module, so only [`all`] makes one; pushing takes one, so nothing
/// that was not validated can be pushed.
#[derive(Debug)]
pub struct Validated {
    built: Vec<Built>,
}

impl Validated {
    pub fn images(&self) -> &[Built] {
        &self.built
    }
}

/// Runs every scenario of the plan on every platform with `built`, and
/// returns them as validated if all checks pass.
pub fn all(engine: &Engine, config: &Config, plan: &Plan, built: Vec<Built>, progress: &Progress) -> Result<Validated> {
    let native = crate::daemon::Daemon::probe(engine)?.platform;
    for platform in &plan.platforms {
        let pick = |image: &str| local(&built, image, platform).map(String::from);
        let (Some(router), Some(client), Some(gateway)) = (pick("router"), pick("client"), pick("gateway")) else {
            progress.note(format!("{platform}: router, client and gateway were not all built: no validation"));
            bail!("validating {platform} needs the router, client and gateway images: build them all (drop --image)");
        };
        // Helpers run natively: the native build if there is one, else imgtool.toml's images.
        let helper = |image: &str| {
            local(&built, image, &native).map(String::from).map_or_else(
                || {
                    crate::build::ensure(engine, config, &[(image, native.clone())], &native, false, progress)
                        .map(|()| config.reference(image))
                },
                Ok,
            )
        };
        let images =
            Images { router, client, gateway, native_client: helper("client")?, native_gateway: helper("gateway")? };
        // Natively the scenarios' testbeds run side by side: they mostly wait
        // on the daemon. Emulated ones run one by one: QEMU keeps both cores
        // busy, and three at once only made each slower.
        let side_by_side = *platform == native;
        progress.step(format!("validating {platform}: {}", plan.scenarios.join(", ")));
        let hidden = Progress::hidden();
        let shown = if side_by_side { &hidden } else { progress };
        let run = |(i, scenario): &(usize, &String)| -> Result<()> {
            if !side_by_side {
                progress.step(format!("validating {platform}: {scenario}"));
            }
            let req = UpRequest {
                platform: Some(platform.clone()),
                images: Some(images.clone()),
                ..UpRequest::new(scenario.to_string(), testbed_name(*i))
            };
            let outcome = testbed::up(engine, config, &req, shown);
            let _ = testbed::down(engine, &testbed_name(*i), &Progress::hidden());
            let summary = match outcome {
                Ok(s) => s,
                Err(e) => {
                    bail!("validation failed on {platform}, scenario {scenario}: {e}; nothing was tagged or pushed")
                }
            };
            let failed: Vec<String> =
                summary.checks.iter().filter(|c| !c.passed).map(|c| format!("{}: {}", c.name, c.detail)).collect();
            if !failed.is_empty() || summary.checks.is_empty() {
                bail!(
                    "validation failed on {platform}, scenario {scenario}: {}; nothing was tagged or pushed",
                    if failed.is_empty() { "no check ran".into() } else { failed.join("; ") }
                );
            }
            progress.note(format!(
                "validated {platform} {scenario}: {} checks passed in {:.1} s",
                summary.checks.len(),
                summary.seconds
            ));
            Ok(())
        };
        let scenarios: Vec<(usize, &String)> = plan.scenarios.iter().enumerate().collect();
        let started = std::time::Instant::now();
        if side_by_side {
            crate::parallel::map(&scenarios, run).into_iter().collect::<Result<Vec<()>>>()?;
        } else {
            scenarios.iter().try_for_each(run)?;
        }
        progress.note(format!(
            "validated {platform}: {} scenarios in {:.1} s",
            scenarios.len(),
            started.elapsed().as_secs_f64()
        ));
        for spec in config.images.iter().filter(|i| i.binaries.is_some()) {
            if let Some(reference) = local(&built, &spec.name, platform) {
                progress.step(format!("validating {platform}: the {} image", spec.name));
                imgtool_image(engine, reference, platform, &native).map_err(|e| {
                    anyhow::anyhow!(
                        "validation failed on {platform}, image {}: {e}; nothing was tagged or pushed",
                        spec.name
                    )
                })?;
            }
        }
    }
    Ok(Validated { built })
}

/// The image that carries imgtool, in one container with only the daemon's
/// socket, as a student runs it: its imgtool is this one's version and the
/// docker CLI reaches the daemon. On the daemon's own platform the buildx
/// and compose plugins must answer and `imgtool doctor` must pass too; on
/// an emulated one they must be there (under QEMU, running them and doctor
/// took about 47 s of every gate). `tests/remote.rs` runs whole testbeds
/// from the image.
fn imgtool_image(engine: &Engine, reference: &str, platform: &str, native: &str) -> Result<(), String> {
    const COMMON: &str = "imgtool --version && docker version --format 'engine {{.Server.Version}}'";
    let more = if platform == native {
        "docker buildx version && docker compose version && imgtool doctor"
    } else {
        "test -x /usr/libexec/docker/cli-plugins/docker-buildx && test -x /usr/libexec/docker/cli-plugins/docker-compose"
    };
    let script = format!("{COMMON} && {more}");
    let socket = "/var/run/docker.sock:/var/run/docker.sock";
    let args = ["run", "--rm", "--pull=never", "--platform", platform, "-v", socket, "--entrypoint", "sh", reference];
    let r = engine.output(&[&args[..], &["-c", &script]].concat()).map_err(|e| e.to_string())?;
    let out = format!("{}{}", r.stdout, r.stderr);
    if !r.ok() {
        return Err(format!("`{script}` exited {}: {}", r.code, out.lines().last().unwrap_or_default()));
    }
    let want = format!("imgtool {}", env!("CARGO_PKG_VERSION"));
    match r.stdout.lines().next() {
        Some(first) if first == want => Ok(()),
        first => Err(format!("its imgtool says '{}', not '{want}'", first.unwrap_or_default())),
    }
}
