//! `imgtool doctor`: checks that this machine can build the images and run the
//! testbed, one finding per check, each with the fix. Docker is reached only
//! through [`Engine`]; host facts (binfmt, TUN) are read from /proc and /dev.
//! Kernel features are probed inside a throwaway container's own network
//! namespace, so nothing on the host changes.

use crate::engine::{Engine, EngineError, Run, last_lines};
use std::path::Path;

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
/// Runs every check. `probe_image` is an image with iproute2 and sh (e.g. the
/// router image); without it the kernel probes are reported as not probed.
pub fn run(engine: &Engine, probe_image: Option<&str>) -> Vec<Finding> {
    let mut out = Vec::new();
    let daemon = engine.run(&["version", "--format", "{{.Server.Version}}"]);
    let up = daemon.is_ok();
    let (start, install) = (format!("start dockerd, e.g. {SETUP}"), format!("install Docker, e.g. {SETUP}"));
    out.push(match daemon {
        Ok(v) => finding("docker daemon", Level::Ok, format!("engine {}", v.trim()), None),
        Err(EngineError::NotInstalled) => finding("docker daemon", Level::Fail, "docker CLI not found", Some(&install)),
        Err(EngineError::DaemonDown) => finding("docker daemon", Level::Fail, "daemon not answering", Some(&start)),
        Err(e) => finding("docker daemon", Level::Fail, short(&e.to_string()), Some(&start)),
    });
    // buildx and compose are client plugins: worth checking even with the daemon down.
    out.push(plugin(engine, "buildx", &["buildx", "version"], 1, "docker-buildx"));
    out.push(plugin(engine, "compose", &["compose", "version"], 3, "docker-compose"));
    let skipped = |name: &'static str| finding(name, Level::Warn, "unknown: no Docker daemon", None);
    out.push(if up { image_store(engine) } else { skipped("image store") });
    // Without the daemon, the host's own arch is the best guess at the native platform.
    let native = up.then(|| engine.native_platform().ok()).flatten().unwrap_or_else(|| match std::env::consts::ARCH {
        "aarch64" => "linux/arm64".into(),
        "x86_64" => "linux/amd64".into(),
        other => format!("linux/{other}"),
    });
    for (platform, name, entry) in
        [("linux/amd64", "binfmt amd64", "qemu-x86_64"), ("linux/arm64", "binfmt arm64", "qemu-aarch64")]
    {
        if native != platform {
            out.push(binfmt(name, Path::new("/proc/sys/fs/binfmt_misc"), entry));
        }
    }
    out.push(tun(Path::new("/dev/net/tun")));
    match (probe_image, up) {
        (Some(image), true) => out.extend(probes(engine, image)),
        (_, false) => out.extend(["kernel ESP", "macvlan", "dummy"].map(skipped)),
        (None, true) => {
            out.extend(["kernel ESP", "macvlan", "dummy"].map(|name| {
                finding(name, Level::Warn, "not probed: no probe image (build the router image first)", None)
            }))
        }
    }
    out
}

/// The last telling line of docker's stderr, short enough for the report.
fn short(text: &str) -> String {
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("Run '")).collect();
    let tail = last_lines(&kept.join("\n"), 1);
    let line = tail.trim_start_matches("docker: ").trim_start_matches("Error response from daemon: ").to_string();
    if line.chars().count() > 100 { format!("{}…", line.chars().take(99).collect::<String>()) } else { line }
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

fn image_store(engine: &Engine) -> Finding {
    const FIX: &str = r#"put "features":{"containerd-snapshotter":true} in /etc/docker/daemon.json, restart dockerd"#;
    match engine.run(&["info", "-f", "{{.DriverStatus}}"]) {
        Ok(s) if s.contains("io.containerd.snapshotter") => finding("image store", Level::Ok, "containerd", None),
        Ok(_) => finding("image store", Level::Warn, "classic store: no multi-platform images", Some(FIX)),
        Err(e) => finding("image store", Level::Warn, format!("unknown: {}", short(&e.to_string())), Some(FIX)),
    }
}

/// Reads a binfmt_misc entry. F (fix binary) matters: without it the
/// interpreter is looked up inside each container, where it is missing.
fn binfmt(name: &'static str, dir: &Path, entry: &str) -> Finding {
    const FIX: &str = "apt-get install qemu-user-static qemu-user-binfmt (trixie; see scripts/setup-debian.sh)";
    if !dir.join("status").exists() {
        // Not a Linux Docker host (e.g. Docker Desktop's VM), or binfmt_misc not mounted.
        let fix = "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc";
        return finding(name, Level::Warn, "unknown: no binfmt_misc here", Some(fix));
    }
    match std::fs::read_to_string(dir.join(entry)) {
        Err(_) => finding(name, Level::Warn, format!("no {entry} handler: cannot run that platform"), Some(FIX)),
        Ok(text) if !text.lines().any(|l| l.trim() == "enabled") => {
            finding(name, Level::Warn, format!("{entry} registered but disabled"), Some(FIX))
        }
        Ok(text) => {
            let flags = text.lines().find_map(|l| l.strip_prefix("flags:")).unwrap_or("").trim().to_string();
            if flags.contains('F') {
                finding(name, Level::Ok, format!("{entry} enabled (flags {flags})"), None)
            } else {
                finding(name, Level::Warn, format!("{entry} lacks flag F: fails inside containers"), Some(FIX))
            }
        }
    }
}

fn tun(dev: &Path) -> Finding {
    if dev.exists() {
        finding("tun", Level::Ok, dev.display().to_string(), None)
    } else if !Path::new("/proc/self").exists() {
        finding("tun", Level::Warn, "unknown: not on the Docker host", None)
    } else {
        let detail = format!("{} missing: kernel-libipsec needs it", dev.display());
        finding("tun", Level::Fail, detail, Some("use a kernel with CONFIG_TUN (modprobe tun)"))
    }
}

/// Kernel probes in a container's own netns. `--pull never`: a missing image
/// must fail at once, not wait on a registry.
fn probes(engine: &Engine, image: &str) -> Vec<Finding> {
    let base = ["run", "--rm", "--pull", "never", "--cap-add", "NET_ADMIN", "--network", "none"];
    let in_netns = |entry: &str, args: &[&str]| -> Result<Run, EngineError> {
        let argv: Vec<&str> =
            base.iter().copied().chain(["--entrypoint", entry, image]).chain(args.iter().copied()).collect();
        engine.output(&argv)
    };
    let key = "0x00112233445566778899aabbccddeeff";
    let auth = "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let esp = in_netns(
        "ip",
        &[
            "xfrm",
            "state",
            "add",
            "src",
            "192.0.2.1",
            "dst",
            "192.0.2.2",
            "proto",
            "esp",
            "spi",
            "0x1000",
            "mode",
            "tunnel",
            "enc",
            "cbc(aes)",
            key,
            "auth-trunc",
            "hmac(sha256)",
            auth,
            "128",
        ],
    );
    let sh = |script: &str| in_netns("sh", &["-c", script]);
    let macvlan = sh("ip link add p0 type veth peer name p1 && ip link add m0 link p0 type macvlan mode bridge");
    let dummy = sh("ip link add d0 type dummy");
    let (esp_no, dummy_no) = (
        "no kernel ESP: gateways use kernel-libipsec (userspace ESP over TUN)",
        "no dummy interfaces: imgtool gives each macvlan network a veth parent",
    );
    vec![
        judge("kernel ESP", esp, "kernel ESP available", esp_no, None),
        judge(
            "macvlan",
            macvlan,
            "macvlan on a veth parent works",
            "cannot make macvlan interfaces",
            Some("use --driver bridge"),
        ),
        judge("dummy", dummy, "dummy interfaces: yes (Docker can make parentless macvlan networks)", dummy_no, None),
    ]
}

/// Turns a probe run into a finding. A "no" is Ok (information) unless the
/// check has a fix, then Fail. Exit 125 is docker's own error and 126/127 a
/// missing command: the probe did not run, which says nothing of the kernel.
fn judge(name: &'static str, run: Result<Run, EngineError>, yes: &str, no: &str, fix: Option<&str>) -> Finding {
    match run {
        Ok(r) if r.ok() => finding(name, Level::Ok, yes, None),
        Ok(r) if r.code == 125 => finding(name, Level::Warn, format!("probe failed: {}", short(&r.stderr)), None),
        Ok(r) if r.code == 126 || r.code == 127 => {
            finding(name, Level::Warn, "probe failed: image lacks ip or sh", None)
        }
        Ok(_) => finding(name, if fix.is_some() { Level::Fail } else { Level::Ok }, no, fix),
        Err(e) => finding(name, Level::Warn, format!("probe failed: {}", short(&e.to_string())), None),
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
    fn binfmt_reads_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(binfmt("b", dir.path(), "qemu-aarch64").level, Level::Warn);
        std::fs::write(dir.path().join("status"), "enabled\n").expect("write");
        assert!(binfmt("b", dir.path(), "qemu-aarch64").detail.starts_with("no qemu-aarch64"));
        std::fs::write(dir.path().join("qemu-aarch64"), "enabled\nflags: POF\n").expect("write");
        assert_eq!(binfmt("b", dir.path(), "qemu-aarch64").level, Level::Ok);
        std::fs::write(dir.path().join("qemu-aarch64"), "enabled\nflags: P\n").expect("write");
        assert_eq!(binfmt("b", dir.path(), "qemu-aarch64").level, Level::Warn);
        std::fs::write(dir.path().join("qemu-aarch64"), "disabled\nflags: F\n").expect("write");
        assert!(binfmt("b", dir.path(), "qemu-aarch64").detail.contains("disabled"));
    }

    #[test]
    fn judge_tells_no_from_broken_probe() {
        let run = |code| Ok(Run { code, stdout: String::new(), stderr: "Error: x".into() });
        assert_eq!(judge("m", run(0), "yes", "no", Some("f")).detail, "yes");
        let no = judge("m", run(2), "yes", "no", Some("f"));
        assert_eq!((no.level, no.fix.as_deref()), (Level::Fail, Some("f")));
        assert_eq!(judge("m", run(2), "yes", "no", None).level, Level::Ok);
        assert_eq!(judge("m", run(125), "yes", "no", Some("f")).detail, "probe failed: Error: x");
        assert_eq!(judge("m", run(127), "yes", "no", Some("f")).level, Level::Warn);
    }

    #[test]
    fn short_skips_docker_boilerplate() {
        let stderr =
            "docker: Error response from daemon: No such image: x\n\nRun 'docker run --help' for more information\n";
        assert_eq!(short(stderr), "No such image: x");
    }
}
