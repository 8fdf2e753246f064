//! Memory of a testbed's nine nodes, read from their cgroups on the Docker
//! host: the sum now, and the peak of that sum, sampled while `up` runs
//! (summing each container's own peak would add maxima that never coincide).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::TestbedError;
use super::spec::Options;
use crate::engine::Engine;
use crate::scenario::Scenario;

#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub current: u64,
    pub peak: u64,
}

/// The usage file of the cgroup in a /proc/PID/cgroup text: cgroup v1's
/// memory controller, else v2's unified hierarchy.
fn usage_file(proc_cgroup: &str) -> PathBuf {
    if let Some(path) = proc_cgroup.lines().find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string())) {
        return PathBuf::from(format!("/sys/fs/cgroup/memory{path}/memory.usage_in_bytes"));
    }
    let path = proc_cgroup.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or("/");
    PathBuf::from(format!("/sys/fs/cgroup{path}/memory.current"))
}

/// The usage files of the scenario's nodes (not the observer).
pub fn node_files(engine: &Engine, scenario: &Scenario, opts: &Options) -> Result<Vec<PathBuf>, TestbedError> {
    let mut args = vec!["inspect".to_string(), "--format".into(), "{{.State.Pid}}".into()];
    args.extend(scenario.nodes.iter().map(|n| opts.container(&n.name)));
    let out = engine.run(&args)?;
    out.split_whitespace()
        .map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .map(|cg| usage_file(&cg))
                .map_err(|source| TestbedError::State { path: format!("/proc/{pid}/cgroup").into(), source })
        })
        .collect()
}

/// Bytes in use now, summed over `files`; unreadable files count 0.
pub fn sum(files: &[PathBuf]) -> u64 {
    files.iter().filter_map(|f| std::fs::read_to_string(f).ok()).filter_map(|s| s.trim().parse::<u64>().ok()).sum()
}

/// Samples the sum every 20 ms until stopped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<u64>,
}

impl Sampler {
    pub fn start(files: Vec<PathBuf>) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(sum(&files));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak.max(sum(&files))
        });
        Sampler { stop, handle }
    }

    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_file_for_v1_and_v2() {
        assert_eq!(
            usage_file("4:memory:/docker/abc\n0::/docker/abc\n"),
            PathBuf::from("/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes")
        );
        assert_eq!(
            usage_file("0::/system.slice/docker-abc.scope\n"),
            PathBuf::from("/sys/fs/cgroup/system.slice/docker-abc.scope/memory.current")
        );
    }

    #[test]
    fn sum_reads_numbers_and_skips_the_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, "1000\n").unwrap();
        assert_eq!(sum(&[a.clone(), a, dir.path().join("missing")]), 2000);
    }
}
