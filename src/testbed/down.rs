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
/// them when the record (or a macvlan network left behind) says there may be
/// some, beside the removal of the containers and networks. The kernel takes
/// a parent's macvlan links with it, and Docker leaves a parent it did not
/// make alone, so neither order leaves anything behind.
pub fn down(engine: &Engine, name: &TestbedName, progress: &Progress) -> Result<(usize, usize), TestbedError> {
    let dir = state::dir(name);
    let recorded = state::read_record(&dir).ok();
    let (found, nets) = std::thread::scope(|s| {
        let nets = s.spawn(|| objects::testbed_networks(engine, name));
        (objects::testbed_containers(engine, name), nets.join().expect("network listing panicked"))
    });
    let (found, nets) = (found?, nets?);
    let ids: Vec<String> = found.iter().map(|c| c.id.clone()).collect();
    let macvlan =
        nets.iter().any(|n| n.driver == "macvlan") || recorded.as_ref().is_some_and(|r| r.driver == Driver::Macvlan);
    let containers_and_networks = || -> Result<(), TestbedError> {
        if !ids.is_empty() {
            progress.step(format!("removing {} containers", ids.len()));
            let mut a = vec!["rm".to_string(), "--force".into(), "--volumes".into()];
            a.extend(ids.iter().cloned());
            engine.run(&a)?;
        }
        if !nets.is_empty() {
            progress.step(format!("removing {} networks", nets.len()));
            let mut a = vec!["network".to_string(), "rm".into()];
            a.extend(nets.iter().map(|n| n.id.clone()));
            engine.run(&a)?;
        }
        Ok(())
    };
    let veth_parents = || -> Result<(), TestbedError> {
        if !macvlan {
            return Ok(());
        }
        progress.step("removing veth parents on the daemon's host");
        let platform = match &recorded {
            Some(r) => r.native_platform.clone(),
            None => Daemon::probe(engine)?.platform,
        };
        // The first of these that the store still has does it; the observer
        // runs a native image with `ip`.
        let images: Vec<String> = [
            found.iter().find(|c| c.node() == Some(spec::OBSERVER)).map(|c| c.image.clone()),
            recorded.as_ref().map(|r| r.images.native_client.clone()),
            Config::discover(None).ok().map(|c| c.reference("client")),
        ]
        .into_iter()
        .flatten()
        .collect();
        bringup::remove_veths_with_any(engine, &images, &platform, name)
    };
    let (removed, veths) = std::thread::scope(|s| {
        let veths = s.spawn(veth_parents);
        (containers_and_networks(), veths.join().expect("veth removal panicked"))
    });
    removed?;
    veths?;
    // A state directory edited by hand (its marker gone) is left for the
    // user: everything with the testbed's labels is already removed.
    if let Err(e) = state::remove(&dir, name) {
        progress.note(format!("left {}: {e}", dir.display()));
    }
    Ok((ids.len(), nets.len()))
}
