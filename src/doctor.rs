//! `imgtool doctor`: checks that the Docker daemon's machine can build the
//! images and run the testbed, one finding per check, each with the fix.
//! Everything about that machine is learnt through the daemon: `docker
//! version`/`info`, and probes in throwaway containers on its side (see
//! [`crate::daemon`]), never this client's own /proc, /sys or /dev.

use crate::daemon::{self, Answer, Daemon, DaemonError, Family, Probes, short};
use crate::engine::{Engine, EngineError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub name: &'static str,
    pub level: Level,
    pub detail: String,
    pub fix: Option<String>,
}

fn finding(name: &'static str, level: Level, detail: impl Into<String>, fix: Option<&str>) -> Finding {
    Finding { name, level, detail: detail.into(), fix: fix.map(str::to_string) }
}

const SETUP: &str = "scripts/setup-debian.sh";

/// Runs every check. `probe_image` is a native image with iproute2 and sh
/// (e.g. the client image); without it the kernel probes are reported as
/// not probed. `platforms` are those the images are built for.
pub fn run(engine: &Engine, probe_image: Option<&str>, platforms: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    let (start, install) = (format!("start dockerd, e.g. {SETUP}"), format!("install Docker, e.g. {SETUP}"));
    let daemon = match Daemon::probe(engine) {
        Ok(d) => {
            out.push(finding("docker daemon", Level::Ok, format!("engine {} (API {})", d.version, d.api), None));
            Some(d)
        }
        Err(DaemonError::Engine(EngineError::NotInstalled)) => {
            out.push(finding("docker daemon", Level::Fail, "docker CLI not found", Some(&install)));
            None
        }
        Err(DaemonError::Engine(EngineError::DaemonDown)) => {
            out.push(finding("docker daemon", Level::Fail, "daemon not answering", Some(&start)));
            None
        }
        Err(e @ DaemonError::TooOld { .. }) => {
            out.push(finding("docker daemon", Level::Fail, e.to_string(), Some("upgrade Docker to 25.0 or newer")));
            None
        }
        Err(e) => {
            out.push(finding("docker daemon", Level::Fail, short(&e.to_string()), Some(&start)));
            None
        }
    };
    // buildx and compose are client plugins: worth checking even with the daemon down.
    out.push(plugin(engine, "buildx", &["buildx", "version"], 1, "docker-buildx"));
    out.push(plugin(engine, "compose", &["compose", "version"], 3, "docker-compose"));
    out.push(builders(engine, platforms));
    let Some(daemon) = daemon else {
        let skipped = |name: &'static str| finding(name, Level::Warn, "unknown: no Docker daemon", None);
        out.extend(
            ["daemon machine", "image store", "tun", "kernel ESP IPv4", "kernel ESP IPv6", "macvlan"].map(skipped),
        );
        return out;
    };
    let detail = format!("{}, {}, kernel {}", daemon.location(engine), daemon.platform, daemon.kernel);
    out.push(finding("daemon machine", Level::Ok, detail, None));
    out.push(image_store(engine));
    let Some(image) = probe_image else {
        let unprobed = |name: &'static str| {
            finding(name, Level::Warn, "not probed: no probe image (build the client image first)", None)
        };
        out.extend(["cgroup", "tun", "kernel ESP IPv4", "kernel ESP IPv6", "macvlan"].map(unprobed));
        return out;
    };
    let probes = Probes { engine, image };
    let foreign: Vec<&String> = platforms.iter().filter(|p| **p != daemon.platform).collect();
    #[derive(Clone, Copy)]
    enum Kind {
        Cgroup,
        Tun,
        Esp(Family),
        Macvlan,
    }
    let kinds = [Kind::Cgroup, Kind::Tun, Kind::Esp(Family::V4), Kind::Esp(Family::V6), Kind::Macvlan];
    let desktop = daemon.is_docker_desktop();
    out.extend(crate::parallel::map(&kinds, |kind| match *kind {
        Kind::Cgroup => cgroup(&probes),
        Kind::Tun => judge("tun", probes.tun(), "/dev/net/tun on the daemon's host", "no /dev/net/tun", Some(TUN_FIX)),
        Kind::Esp(f) => esp(f, probes.kernel_esp(f)),
        Kind::Macvlan if desktop => finding(
            "macvlan",
            Level::Ok,
            "Docker Desktop does not support macvlan: `up` uses bridge networks (--driver auto)",
            None,
        ),
        Kind::Macvlan => judge(
            "macvlan",
            probes.macvlan(),
            "macvlan on a veth parent works (--driver auto picks it)",
            "no macvlan: --driver auto picks bridge",
            None,
        ),
    }));
    out.extend(crate::parallel::map(&foreign, |p| binfmt(&probes, p)));
    out
}

const TUN_FIX: &str = "use a kernel with CONFIG_TUN (modprobe tun) on the daemon's machine";

fn esp(family: Family, answer: Answer) -> Finding {
    let name = match family {
        Family::V4 => "kernel ESP IPv4",
        Family::V6 => "kernel ESP IPv6",
    };
    let yes = format!("the daemon's kernel has ESP for {}: gateways use kernel-netlink", family.label());
    let no = format!("no kernel ESP for {}: gateways use kernel-libipsec (userspace ESP over TUN)", family.label());
    judge(name, answer, &yes, &no, None)
}

fn cgroup(probes: &Probes) -> Finding {
    match probes.cgroup_version() {
        Ok(v) if v == "1" => {
            finding("cgroup", Level::Ok, "v1: docker stats shows 0 B here, memory is read from cgroup files", None)
        }
        Ok(v) => finding("cgroup", Level::Ok, format!("v{v}: memory from docker stats"), None),
        Err(e) => finding("cgroup", Level::Warn, format!("unknown: {}", short(&e.to_string())), None),
    }
}

/// Checks a CLI plugin; `word` picks the version out of its first line.
fn plugin(engine: &Engine, name: &'static str, args: &[&str], word: usize, package: &str) -> Finding {
    let fix = format!("{SETUP}, or apt-get install {package}/trixie");
    match engine.run(args) {
        Ok(text) => {
            let version = text.lines().next().and_then(|l| l.split_whitespace().nth(word)).unwrap_or("present");
            finding(name, Level::Ok, version, None)
        }
        Err(EngineError::NotInstalled) => finding(name, Level::Fail, "docker CLI not found", Some(&fix)),
        Err(_) => finding(name, Level::Fail, "not found", Some(&fix)),
    }
}

/// The buildx builders, their drivers, nodes and platforms; a warning when
/// none of them builds one of the image set's platforms.
fn builders(engine: &Engine, platforms: &[String]) -> Finding {
    let all = match crate::builders::list(engine) {
        Ok(all) => all,
        Err(e) => return finding("builders", Level::Warn, format!("unknown: {}", short(&e.to_string())), None),
    };
    let shown: Vec<String> = all
        .iter()
        .map(|b| format!("{} ({}, {} node(s): {})", b.name, b.driver, b.nodes.len(), b.platforms().join(" ")))
        .collect();
    let missing: Vec<&String> =
        platforms.iter().filter(|p| !all.iter().any(|b| b.platforms().contains(&p.as_str()))).collect();
    if missing.is_empty() {
        finding("builders", Level::Ok, shown.join("; "), None)
    } else {
        let detail = format!(
            "{}; none builds {}",
            shown.join("; "),
            missing.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
        );
        finding(
            "builders",
            Level::Warn,
            detail,
            Some("register QEMU (binfmt) or append a native node: buildx/README.md"),
        )
    }
}

fn image_store(engine: &Engine) -> Finding {
    const FIX: &str = r#"put "features":{"containerd-snapshotter":true} in /etc/docker/daemon.json, restart dockerd"#;
    match engine.run(&["info", "-f", "{{.DriverStatus}}"]) {
        Ok(s) if s.contains("io.containerd.snapshotter") => finding("image store", Level::Ok, "containerd", None),
        Ok(_) => finding("image store", Level::Warn, "classic store: no multi-platform images", Some(FIX)),
        Err(e) => finding("image store", Level::Warn, format!("unknown: {}", short(&e.to_string())), Some(FIX)),
    }
}

/// The daemon host's binfmt_misc entry for a foreign platform.
fn binfmt(probes: &Probes, platform: &str) -> Finding {
    const FIX: &str =
        "on the daemon's machine: apt-get install qemu-user-static qemu-user-binfmt (see scripts/setup-debian.sh)";
    let name = if platform.ends_with("arm64") { "binfmt arm64" } else { "binfmt emulation" };
    let Some(entry) = daemon::binfmt_entry(platform) else {
        return finding(name, Level::Warn, format!("no emulator known for {platform}"), None);
    };
    match probes.binfmt(entry).and_then(|text| daemon::judge_binfmt(entry, &text)) {
        Ok(detail) => finding(name, Level::Ok, detail, None),
        Err(why) if why.starts_with("cannot look") => finding(name, Level::Warn, why, None),
        Err(why) => finding(name, Level::Warn, format!("{why}: cannot run {platform}"), Some(FIX)),
    }
}

/// Turns a probe's answer into a finding. A "no" is Ok (information) unless
/// the check has a fix, then Fail; a probe that could not run is a warning.
fn judge(name: &'static str, answer: Answer, yes: &str, no: &str, fix: Option<&str>) -> Finding {
    match answer {
        Answer::Yes => finding(name, Level::Ok, yes, None),
        Answer::No(_) => finding(name, if fix.is_some() { Level::Fail } else { Level::Ok }, no, fix),
        Answer::Unknown(why) => finding(name, Level::Warn, format!("probe failed: {why}"), None),
    }
}

/// One aligned line per finding: level, name, detail, then the fix if any.
pub fn render(findings: &[Finding]) -> String {
    let width = findings.iter().map(|f| f.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for f in findings {
        let level = match f.level {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        let line = format!("{level:<5} {:<width$}  {}", f.name, f.detail);
        out += line.trim_end();
        if let Some(fix) = &f.fix {
            out += &format!(" — fix: {fix}");
        }
        out.push('\n');
    }
    out
}

/// False if any check failed; warnings do not count.
pub fn all_required_ok(findings: &[Finding]) -> bool {
    findings.iter().all(|f| f.level != Level::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_aligns_and_appends_fixes() {
        let fs = vec![
            finding("docker daemon", Level::Ok, "engine 26.1.5", None),
            finding("buildx", Level::Fail, "not found", Some("apt-get install docker-buildx")),
            finding("tun", Level::Warn, "unknown", None),
        ];
        assert_eq!(
            render(&fs),
            "ok    docker daemon  engine 26.1.5\n\
             FAIL  buildx         not found — fix: apt-get install docker-buildx\n\
             warn  tun            unknown\n"
        );
        assert_eq!(render(&[]), "");
    }

    #[test]
    fn only_fail_breaks_required() {
        let ok = finding("a", Level::Ok, "", None);
        let warn = finding("b", Level::Warn, "", None);
        assert!(all_required_ok(&[ok.clone(), warn.clone()]));
        assert!(all_required_ok(&[]));
        assert!(!all_required_ok(&[ok, warn, finding("c", Level::Fail, "", None)]));
    }

    #[test]
    fn judge_tells_no_from_broken_probe() {
        assert_eq!(judge("m", Answer::Yes, "yes", "no", Some("f")).detail, "yes");
        let no = judge("m", Answer::No("x".into()), "yes", "no", Some("f"));
        assert_eq!((no.level, no.fix.as_deref()), (Level::Fail, Some("f")));
        assert_eq!(judge("m", Answer::No("x".into()), "yes", "no", None).level, Level::Ok);
        let broken = judge("m", Answer::Unknown("Error: x".into()), "yes", "no", Some("f"));
        assert_eq!((broken.level, broken.detail.as_str()), (Level::Warn, "probe failed: Error: x"));
    }
}
