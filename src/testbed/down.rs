//! `down`: everything a testbed made goes, found by its labels, so an
//! interrupted `up` or a hand-edited state directory is cleaned all the same.

use super::{TestbedError, TestbedName, bringup, objects, spec, state};
use crate::config::Config;
use crate::daemon::Daemon;
use crate::engine::Engine;
use crate::progress::Progress;
use spec::Driver;

/// Removes every container, network, veth parent and state file of the
/// testbed. Veth parents live on the daemon's host: a helper there removes
/// them when the record (or a macvlan network left behind) says there may be some.
pub fn down(engine: &Engine, name: &TestbedName, progress: &Progress) -> Result<(usize, usize), TestbedError> {
    let dir = state::dir(name);
    let recorded = state::read_record(&dir).ok();
    let found = objects::testbed_containers(engine, name)?;
    let ids: Vec<String> = found.iter().map(|c| c.id.clone()).collect();
    // The observer runs a native image with `ip`: the veth remover can use it.
    let observer_image = found.iter().find(|c| c.node() == Some(spec::OBSERVER)).map(|c| c.image.clone());
    if !ids.is_empty() {
        progress.step(format!("removing {} containers", ids.len()));
        let mut a = vec!["rm".to_string(), "--force".into(), "--volumes".into()];
        a.extend(ids.iter().cloned());
        engine.run(&a)?;
    }
    let nets = objects::testbed_networks(engine, name)?;
    let macvlan_left = nets.iter().any(|n| n.driver == "macvlan");
    if !nets.is_empty() {
        progress.step(format!("removing {} networks", nets.len()));
        let mut a = vec!["network".to_string(), "rm".into()];
        a.extend(nets.iter().map(|n| n.id.clone()));
        engine.run(&a)?;
    }
    if macvlan_left || recorded.as_ref().is_some_and(|r| r.driver == Driver::Macvlan) {
        progress.step("removing veth parents on the daemon's host");
        let platform = match &recorded {
            Some(r) => r.native_platform.clone(),
            None => Daemon::probe(engine)?.platform,
        };
        // The first of these that the store still has does it.
        let images: Vec<String> = [
            observer_image,
            recorded.as_ref().map(|r| r.images.native_client.clone()),
            Config::discover(None).ok().map(|c| c.reference("client")),
        ]
        .into_iter()
        .flatten()
        .collect();
        bringup::remove_veths_with_any(engine, &images, &platform, name)?;
    }
    // A state directory edited by hand (its marker gone) is left for the
    // user: everything with the testbed's labels is already removed.
    if let Err(e) = state::remove(&dir, name) {
        progress.note(format!("left {}: {e}", dir.display()));
    }
    Ok((ids.len(), nets.len()))
}
