//! Checks before anything is made, on the daemon's side: can its machine
//! run the platform asked for, and does its kernel have ESP where `--esp
//! kernel` demands it? Each refusal is one line that says what to do.

use super::TestbedError;
use super::spec::{Esp, Options};
use crate::daemon::{Answer, Family, Probes};
use crate::engine::Engine;
use crate::progress::Progress;
use crate::scenario::Scenario;

/// Before anything is made: can the daemon's machine run `platform`, and
/// does its kernel have ESP where `--esp kernel` demands it? Probes run in
/// native helper containers there.
pub(super) fn check(
    engine: &Engine,
    scenario: &Scenario,
    opts: &Options,
    progress: &Progress,
) -> Result<(), TestbedError> {
    let probes = Probes { engine, image: &opts.images.native_client };
    if opts.emulated() {
        let (platform, native) = (opts.platform.clone(), opts.native_platform.clone());
        let Some(entry) = crate::daemon::binfmt_entry(&opts.platform) else {
            let why = "imgtool knows no emulator for it".into();
            return Err(TestbedError::CannotEmulate { platform, native, why });
        };
        match probes.binfmt(entry) {
            Ok(text) => crate::daemon::judge_binfmt(entry, &text)
                .map(|_| ())
                .map_err(|why| TestbedError::CannotEmulate { platform, native, why })?,
            Err(why) if why.starts_with("cannot look") => {
                progress.note(format!("cannot see the daemon's binfmt_misc ({why}): trying {platform} anyway"))
            }
            Err(why) => return Err(TestbedError::CannotEmulate { platform, native, why }),
        }
    }
    if opts.esp == Esp::Kernel {
        if opts.emulated() {
            return Err(TestbedError::EspEmulated { native: opts.native_platform.clone() });
        }
        let families: Vec<Family> = crate::nodefiles::esp_families(scenario)
            .into_iter()
            .map(|f| if f == "6" { Family::V6 } else { Family::V4 })
            .collect();
        for (family, answer) in families.iter().zip(crate::parallel::map(&families, |f| probes.kernel_esp(*f))) {
            match answer {
                Answer::Yes => {}
                Answer::No(why) | Answer::Unknown(why) => {
                    return Err(TestbedError::NoKernelEsp { family: family.label(), why });
                }
            }
        }
    }
    Ok(())
}
