//! Memory of a testbed's nodes, measured on the daemon's side: `docker
//! stats` where it reports numbers, else the nodes' cgroup files read by a
//! helper container there (cgroup v1 hosts, where `docker stats` prints 0B).
//! The sum now, and the peak of that sum while `up` runs (summing each
//! container's own peak would add maxima that never coincide). A figure
//! that cannot be had never fails `up`: it is reported as unknown, with why.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::engine::Engine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    pub current: u64,
    pub peak: u64,
    pub source: &'static str,
}

/// How the meter reaches the daemon's side.
pub struct MeterSpec {
    /// The nodes' containers.
    pub containers: Vec<String>,
    /// The meter container's name and labels (so `down` removes a leftover).
    pub name: String,
    pub labels: Vec<(String, String)>,
    /// A native image with sh, sed and sleep.
    pub image: String,
    pub platform: String,
}

/// Reads the nodes' cgroups (v1 or v2) on the daemon's host, given the
/// nodes' host PIDs as arguments; prints `<sum> <peak>` every 50 ms for at
/// most 10 minutes, or `error: <why>`.
const CGROUP_SCRIPT: &str = r#"files=
for pid in "$@"; do
  cg=$(cat "/proc/$pid/cgroup" 2>/dev/null) || { echo "error: no process $pid on the daemon's host"; exit 1; }
  v1=$(printf '%s\n' "$cg" | sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}memory\(,[^:]*\)\{0,1\}:\(.*\)$/\3/p')
  if [ -n "$v1" ]; then f=/host-cgroup/memory$v1/memory.usage_in_bytes
  else f=/host-cgroup$(printf '%s\n' "$cg" | sed -n 's/^0:://p')/memory.current; fi
  [ -r "$f" ] || { echo "error: cannot read $f"; exit 1; }
  files="$files $f"
done
peak=0 i=0
while [ $i -lt 12000 ]; do
  sum=0
  for f in $files; do read -r v <"$f"; sum=$((sum + v)); done
  [ "$sum" -gt "$peak" ] && peak=$sum
  echo "$sum $peak"
  i=$((i + 1))
  sleep 0.05
done
"#;

type Latest = Arc<Mutex<Result<Memory, String>>>;

/// Samples in the background from `start` to `stop`: `docker stats` and,
/// at the same time, the cgroup reader (starting it only once stats proved
/// useless would lose the first seconds, where the peak usually is).
pub struct Meter<'a> {
    engine: &'a Engine,
    spec: MeterSpec,
    stats: Latest,
    stop: Arc<AtomicBool>,
    reader: JoinHandle<Result<(), String>>,
}

/// The bytes of a `docker stats` MemUsage such as `12.5MiB / 23.4GiB`.
fn parse_usage(text: &str) -> Option<u64> {
    let used = text.split('/').next()?.trim();
    let split = used.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = used.split_at(split);
    let factor: f64 = match unit {
        "B" => 1.0,
        "kB" | "KB" => 1e3,
        "KiB" => 1024.0,
        "MB" => 1e6,
        "MiB" => 1024.0 * 1024.0,
        "GB" => 1e9,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number.trim().parse::<f64>().ok()? * factor) as u64)
}

/// The sum of the containers' usage per `docker stats`, if every one is non-zero.
fn stats_sum(engine: &Engine, containers: &[String]) -> Result<u64, String> {
    let mut args = vec!["stats".to_string(), "--no-stream".into(), "--format".into(), "{{.MemUsage}}".into()];
    args.extend(containers.iter().cloned());
    let out = engine.run(&args).map_err(|e| e.to_string())?;
    let usages: Vec<Option<u64>> = out.lines().map(parse_usage).collect();
    if usages.len() != containers.len() || usages.iter().any(|u| u.is_none_or(|b| b == 0)) {
        return Err("docker stats reports 0 B here (cgroup v1?)".into());
    }
    Ok(usages.into_iter().flatten().sum())
}

impl<'a> Meter<'a> {
    pub fn start(engine: &'a Engine, spec: MeterSpec) -> Meter<'a> {
        let stats: Latest = Arc::new(Mutex::new(Err("no sample yet".into())));
        let stop = Arc::new(AtomicBool::new(false));
        let (e, l, s, containers) = (engine.clone(), Arc::clone(&stats), Arc::clone(&stop), spec.containers.clone());
        // Detached: a sample in flight at `stop` is not waited for.
        std::thread::spawn(move || {
            let mut peak = 0;
            while !s.load(Ordering::Relaxed) {
                let sample = stats_sum(&e, &containers).map(|sum| {
                    peak = peak.max(sum);
                    Memory { current: sum, peak, source: "docker stats" }
                });
                let failed = sample.is_err();
                if let Ok(mut latest) = l.lock() {
                    *latest = sample;
                }
                if failed {
                    break;
                }
            }
        });
        let (e, containers, args) = (engine.clone(), spec.containers.clone(), cgroup_meter_args(&spec));
        let reader = std::thread::spawn(move || {
            let mut args = args;
            args.extend(pids(&e, &containers)?);
            e.run(&args).map(|_| ()).map_err(|e| e.to_string())
        });
        Meter { engine, spec, stats, stop, reader }
    }

    /// The figure so far (docker stats where it has numbers, else the
    /// cgroup reader's), or why there is none; removes the reader container.
    pub fn stop(self) -> Result<Memory, String> {
        self.stop.store(true, Ordering::Relaxed);
        let started = self.reader.join().unwrap_or_else(|_| Err("meter thread panicked".into()));
        let cgroup = match started {
            Ok(()) => {
                let last = self.engine.output(&["logs", "--tail", "1", &self.spec.name]);
                let _ = self.engine.output(&["rm", "--force", &self.spec.name]);
                last.map_err(|e| e.to_string()).and_then(|r| parse_line(&r.stdout))
            }
            Err(e) => Err(format!("the cgroup reader did not start: {e}")),
        };
        let stats = self.stats.lock().map(|l| l.clone()).unwrap_or_else(|_| Err("stats thread panicked".into()));
        match (stats, cgroup) {
            (Ok(m), _) | (Err(_), Ok(m)) => Ok(m),
            (Err(a), Err(b)) => Err(format!("{a}; {b}")),
        }
    }
}

fn parse_line(line: &str) -> Result<Memory, String> {
    let line = line.trim();
    if let Some(why) = line.strip_prefix("error: ") {
        return Err(format!("cgroup reader: {why}"));
    }
    let mut f = line.split_whitespace().map(str::parse::<u64>);
    match (f.next(), f.next()) {
        (Some(Ok(current)), Some(Ok(peak))) if current > 0 => Ok(Memory { current, peak, source: "cgroup" }),
        _ => Err(format!("cgroup reader said '{line}'")),
    }
}

fn pids(engine: &Engine, containers: &[String]) -> Result<Vec<String>, String> {
    let mut args = vec!["inspect".to_string(), "--format".into(), "{{.State.Pid}}".into()];
    args.extend(containers.iter().cloned());
    Ok(engine.run(&args).map_err(|e| e.to_string())?.split_whitespace().map(String::from).collect())
}

/// `docker run` of the cgroup reader: the daemon host's PID namespace and
/// cgroup tree (read-only), no network, nothing else.
fn cgroup_meter_args(spec: &MeterSpec) -> Vec<String> {
    let mut a: Vec<String> =
        ["run", "-d", "--rm", "--pid=host", "--cgroupns=host", "--network=none"].map(String::from).to_vec();
    a.extend(["--name".into(), spec.name.clone(), "--platform".into(), spec.platform.clone()]);
    a.push("--volume=/sys/fs/cgroup:/host-cgroup:ro".into());
    for (k, v) in &spec.labels {
        a.push(format!("--label={k}={v}"));
    }
    a.extend(["--entrypoint".into(), "sh".into(), spec.image.clone(), "-c".into(), CGROUP_SCRIPT.into(), "sh".into()]);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_stats_usage_is_read_in_bytes() {
        assert_eq!(parse_usage("12.5MiB / 23.4GiB"), Some(13_107_200));
        assert_eq!(parse_usage("0B / 0B"), Some(0));
        assert_eq!(parse_usage("1.5kB / 2GB"), Some(1500));
        assert_eq!(parse_usage("--"), None);
    }

    #[test]
    fn cgroup_reader_lines_become_figures_or_reasons() {
        assert_eq!(parse_line("1000 2000\n"), Ok(Memory { current: 1000, peak: 2000, source: "cgroup" }));
        assert_eq!(parse_line("error: cannot read /x").unwrap_err(), "cgroup reader: cannot read /x");
        assert!(parse_line("").is_err());
        assert!(parse_line("0 0").is_err(), "zero bytes is no measurement");
    }
}
