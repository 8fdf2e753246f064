//! The machine that runs the containers, known only through its daemon:
//! what `docker version` and `docker info` say, and probes run in throwaway
//! helper containers on the daemon's side. imgtool never reads its own
//! /proc, /sys, interfaces or paths for this: the daemon is often elsewhere
//! (Docker Desktop's VM, a remote context, imgtool itself in a container).

use std::fmt;

use serde::Deserialize;

use crate::engine::{Engine, EngineError, Run, last_lines};

/// The oldest Docker API imgtool drives: `--network name=...,mac-address=...`
/// (one MAC per network of a container) arrived with API 1.44, engine 25.
pub const MIN_API: (u32, u32) = (1, 44);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot read `docker version` output: {0}")]
    Unreadable(String),
    #[error(
        "the Docker daemon is too old: engine {version} (API {api}); imgtool needs API {}.{} (engine 25.0) or newer: upgrade Docker",
        MIN_API.0,
        MIN_API.1
    )]
    TooOld { version: String, api: String },
    #[error(
        "the docker CLI has no {plugin} plugin: install it (Debian: apt-get install docker-{plugin}; Docker Desktop ships it)"
    )]
    MissingPlugin { plugin: &'static str },
}

/// Where the daemon runs, as far as the client can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local socket (this machine, or the machine of the container imgtool runs in).
    Local { endpoint: String },
    /// Docker Desktop's Linux VM (macOS, Windows).
    DockerDesktop { product: String },
    /// A daemon reached over TCP or SSH.
    Remote { endpoint: String },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local { endpoint } => write!(f, "local ({endpoint})"),
            Location::DockerDesktop { product } => write!(f, "Docker Desktop ({product})"),
            Location::Remote { endpoint } => write!(f, "remote ({endpoint})"),
        }
    }
}

/// What the daemon says about itself.
#[derive(Debug, Clone)]
pub struct Daemon {
    pub version: String,
    pub api: String,
    /// `linux/amd64`, `linux/arm64`: the daemon's, not this client's.
    pub platform: String,
    pub kernel: String,
    /// `Docker Desktop 4.x (...)`, `Docker Engine - Community`, or empty.
    pub product: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VersionJson {
    server: Option<ServerJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServerJson {
    version: String,
    api_version: String,
    os: String,
    arch: String,
    #[serde(default)]
    kernel_version: String,
    platform: Option<PlatformJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PlatformJson {
    #[serde(default)]
    name: String,
}

impl Daemon {
    /// One `docker version` call; fails if the daemon is down or too old.
    pub fn probe(engine: &Engine) -> Result<Daemon, DaemonError> {
        let run = engine.output(&["version", "--format", "{{json .}}"])?;
        let daemon = Daemon::parse(&run.stdout).map_err(|e| match e {
            // No server part: docker printed why on stderr (daemon down, TLS, ...).
            DaemonError::Unreadable(_) if !run.ok() => DaemonError::Engine(EngineError::Failed {
                cmd: "docker version".into(),
                status: format!("exit {}", run.code),
                tail: last_lines(&run.stderr, 2),
            }),
            other => other,
        })?;
        if !api_at_least(&daemon.api, MIN_API) {
            return Err(DaemonError::TooOld { version: daemon.version, api: daemon.api });
        }
        Ok(daemon)
    }

    fn parse(json: &str) -> Result<Daemon, DaemonError> {
        let v: VersionJson = serde_json::from_str(json.trim()).map_err(|e| DaemonError::Unreadable(e.to_string()))?;
        let s = v.server.ok_or_else(|| DaemonError::Unreadable("no server section".into()))?;
        Ok(Daemon {
            version: s.version,
            api: s.api_version,
            platform: format!("{}/{}", s.os, s.arch),
            kernel: s.kernel_version,
            product: s.platform.map(|p| p.name).unwrap_or_default(),
        })
    }

    pub fn is_docker_desktop(&self) -> bool {
        self.product.contains("Docker Desktop")
    }

    /// Where the daemon is: Docker Desktop by its product name, else by the
    /// endpoint the CLI uses (`DOCKER_HOST`, else the current context's).
    pub fn location(&self, engine: &Engine) -> Location {
        if self.is_docker_desktop() {
            return Location::DockerDesktop { product: self.product.clone() };
        }
        let endpoint = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| {
            engine
                .run(&["context", "inspect", "--format", "{{.Endpoints.docker.Host}}"])
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown endpoint".into())
        });
        if endpoint.starts_with("unix://") || endpoint.starts_with("npipe://") {
            Location::Local { endpoint }
        } else {
            Location::Remote { endpoint }
        }
    }
}

/// Whether API version text such as `1.45` is at least `min`.
fn api_at_least(api: &str, min: (u32, u32)) -> bool {
    let mut parts = api.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= min
}

/// Fails unless the docker CLI has `plugin` (buildx, compose).
pub fn require_plugin(engine: &Engine, plugin: &'static str) -> Result<(), DaemonError> {
    match engine.output(&[plugin, "version"]) {
        Ok(r) if r.ok() => Ok(()),
        Ok(_) => Err(DaemonError::MissingPlugin { plugin }),
        Err(e) => Err(e.into()),
    }
}

/// The address families (4, 6) a kernel-ESP probe covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
    fn addrs(self) -> (&'static str, &'static str) {
        match self {
            Family::V4 => ("192.0.2.1", "192.0.2.2"),
            Family::V6 => ("2001:db8::1", "2001:db8::2"),
        }
    }
}

/// A probe's answer: yes, no (with the kernel's words), or not run at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No(String),
    /// The probe itself could not run (docker's error, missing image): says
    /// nothing about the kernel.
    Unknown(String),
}

impl Answer {
    fn from_run(run: Result<Run, EngineError>) -> Answer {
        match run {
            Ok(r) if r.ok() => Answer::Yes,
            // 125: docker's own error; 126/127: the command is missing.
            Ok(r) if matches!(r.code, 125..=127) => Answer::Unknown(short(&r.stderr)),
            Ok(r) => Answer::No(short(&format!("{}{}", r.stderr, r.stdout))),
            Err(e) => Answer::Unknown(short(&e.to_string())),
        }
    }
}

/// The last telling line of docker's output, short enough for one line.
pub fn short(text: &str) -> String {
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("Run '")).collect();
    let tail = last_lines(&kept.join("\n"), 1);
    let line = tail.trim_start_matches("docker: ").trim_start_matches("Error response from daemon: ").to_string();
    if line.chars().count() > 100 { format!("{}…", line.chars().take(99).collect::<String>()) } else { line }
}

/// Probes run in throwaway containers of `image` (any image with `sh` and
/// iproute2, for the daemon's native platform), in their own network
/// namespace unless said otherwise, so nothing on the daemon's host changes.
pub struct Probes<'a> {
    pub engine: &'a Engine,
    pub image: &'a str,
}

impl Probes<'_> {
    fn run(&self, extra: &[&str], entry: &str, args: &[&str]) -> Result<Run, EngineError> {
        // --pull never: a missing probe image fails at once, not after a registry timeout.
        let mut argv = vec!["run", "--rm", "--pull", "never", "--network", "none"];
        argv.extend(extra);
        argv.extend(["--entrypoint", entry, self.image]);
        argv.extend(args);
        self.engine.output(&argv)
    }

    /// Adding (in a private namespace) an ESP SA of `family`: the only
    /// reliable test, since /proc/net/xfrm_stat exists without ESP.
    pub fn kernel_esp(&self, family: Family) -> Answer {
        let (src, dst) = family.addrs();
        let key = "0x00112233445566778899aabbccddeeff";
        let auth = "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let args = [
            "xfrm",
            "state",
            "add",
            "src",
            src,
            "dst",
            dst,
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
        ];
        Answer::from_run(self.run(&["--cap-add", "NET_ADMIN"], "ip", &args))
    }

    /// A macvlan interface on a veth parent, in a private namespace.
    pub fn macvlan(&self) -> Answer {
        let script = "ip link add p0 type veth peer name p1 && ip link add m0 link p0 type macvlan mode bridge";
        Answer::from_run(self.run(&["--cap-add", "NET_ADMIN"], "sh", &["-c", script]))
    }

    /// Whether the daemon's host has /dev/net/tun (kernel-libipsec needs it).
    pub fn tun(&self) -> Answer {
        match Answer::from_run(self.run(&["--device", "/dev/net/tun"], "test", &["-c", "/dev/net/tun"])) {
            // docker refuses a device its host lacks: that is a "no".
            Answer::Unknown(why) if why.contains("no such file") || why.contains("gathering device") => Answer::No(why),
            answer => answer,
        }
    }

    /// The daemon host's binfmt_misc entry `entry` (e.g. `qemu-aarch64`),
    /// read through a read-only bind mount of the daemon host's directory.
    pub fn binfmt(&self, entry: &str) -> Result<String, String> {
        let path = format!("/binfmt/{entry}");
        let run = self.run(&["--volume", "/proc/sys/fs/binfmt_misc:/binfmt:ro"], "cat", &[&path]);
        match run {
            Ok(r) if r.ok() => Ok(r.stdout),
            Ok(r) if r.code == 125 => Err(format!("cannot look: {}", short(&r.stderr))),
            Ok(_) => Err(format!("no {entry} handler")),
            Err(e) => Err(format!("cannot look: {}", short(&e.to_string()))),
        }
    }

    /// The daemon's cgroup version (1 or 2) from `docker info`.
    pub fn cgroup_version(&self) -> Result<String, EngineError> {
        Ok(self.engine.run(&["info", "--format", "{{.CgroupVersion}}"])?.trim().to_string())
    }
}

/// The binfmt_misc entry that runs `platform`'s binaries, if imgtool knows it.
pub fn binfmt_entry(platform: &str) -> Option<&'static str> {
    match platform {
        "linux/arm64" | "linux/arm64/v8" => Some("qemu-aarch64"),
        "linux/amd64" => Some("qemu-x86_64"),
        "linux/arm/v7" | "linux/arm" => Some("qemu-arm"),
        "linux/riscv64" => Some("qemu-riscv64"),
        "linux/ppc64le" => Some("qemu-ppc64le"),
        "linux/s390x" => Some("qemu-s390x"),
        _ => None,
    }
}

/// Judges a binfmt_misc entry's text: enabled, and with flag F (fix binary),
/// without which the interpreter is looked up inside each container.
pub fn judge_binfmt(entry: &str, text: &str) -> Result<String, String> {
    if !text.lines().any(|l| l.trim() == "enabled") {
        return Err(format!("{entry} registered but disabled"));
    }
    let flags = text.lines().find_map(|l| l.strip_prefix("flags:")).unwrap_or("").trim().to_string();
    if flags.contains('F') {
        Ok(format!("{entry} enabled (flags {flags})"))
    } else {
        Err(format!("{entry} lacks flag F: fails inside containers"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_json_gives_the_daemons_platform_and_product() {
        let json = r#"{"Client":{"Version":"28.2.2","Os":"darwin","Arch":"arm64"},
            "Server":{"Platform":{"Name":"Docker Desktop 4.37.1 (178610)"},"Version":"27.4.0","ApiVersion":"1.47",
            "Os":"linux","Arch":"arm64","KernelVersion":"6.10.14-linuxkit"}}"#;
        let d = Daemon::parse(json).unwrap();
        assert_eq!(d.platform, "linux/arm64");
        assert!(d.is_docker_desktop());
        assert_eq!(d.kernel, "6.10.14-linuxkit");
        let plain = r#"{"Server":{"Version":"26.1.5+dfsg1","ApiVersion":"1.45","Os":"linux","Arch":"amd64"}}"#;
        let d = Daemon::parse(plain).unwrap();
        assert_eq!((d.platform.as_str(), d.is_docker_desktop()), ("linux/amd64", false));
        assert!(matches!(Daemon::parse(r#"{"Client":{}}"#), Err(DaemonError::Unreadable(_))));
    }

    #[test]
    fn api_versions_compare_numerically() {
        assert!(api_at_least("1.45", (1, 44)));
        assert!(api_at_least("1.44", (1, 44)));
        assert!(!api_at_least("1.43", (1, 44)));
        assert!(!api_at_least("1.9", (1, 44)));
        assert!(api_at_least("2.0", (1, 44)));
        assert!(!api_at_least("garbage", (1, 44)));
    }

    #[test]
    fn binfmt_entries_need_enabled_and_flag_f() {
        assert!(judge_binfmt("q", "enabled\ninterpreter /usr/bin/q\nflags: POCF\n").is_ok());
        assert!(judge_binfmt("q", "enabled\nflags: P\n").unwrap_err().contains("lacks flag F"));
        assert!(judge_binfmt("q", "disabled\nflags: F\n").unwrap_err().contains("disabled"));
        assert_eq!(binfmt_entry("linux/arm64"), Some("qemu-aarch64"));
        assert_eq!(binfmt_entry("linux/sparc"), None);
    }

    #[test]
    fn short_skips_docker_boilerplate() {
        let stderr =
            "docker: Error response from daemon: No such image: x\n\nRun 'docker run --help' for more information\n";
        assert_eq!(short(stderr), "No such image: x");
    }
}
