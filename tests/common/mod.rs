//! Helpers for tests that run the real imgtool binary. On failure they print
//! the command, its exit status and its output.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};

pub struct Run {
    pub cmd: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(cmd: String, out: Output) -> Run {
        Run {
            cmd,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
    pub fn describe(&self) -> String {
        format!("$ {}\nexit {}\n--- stdout\n{}--- stderr\n{}", self.cmd, self.code, self.stdout, self.stderr)
    }
    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(self.code, 0, "command failed:\n{}", self.describe());
        self
    }
    #[track_caller]
    pub fn code(self, want: i32) -> Run {
        assert_eq!(self.code, want, "unexpected exit status:\n{}", self.describe());
        self
    }
}

/// State directory shared by this test process (removed at exit by the OS tmp cleaner).
pub fn state_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

pub fn imgtool(args: &[&str]) -> Run {
    imgtool_env(args, &[])
}

pub fn imgtool_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    imgtool_in(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), args, env)
}

/// imgtool run from `dir` (outside the checkout it has no images/ to build from).
pub fn imgtool_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let bin = env!("CARGO_BIN_EXE_imgtool");
    let mut cmd = Command::new(bin);
    cmd.args(args).current_dir(dir).env("IMGTOOL_STATE_DIR", state_dir()).env_remove("IMGTOOL_TESTBED");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run imgtool");
    Run::from(format!("imgtool {}", args.join(" ")), out)
}

/// `capture router isp-a -w FILE -c COUNT` (at most 20 s) while client-a1
/// pings `target`, so the capture holds tunnel traffic; `run` is the
/// imgtool to use (here, or in a container). Returns (capture, ping).
pub fn capture_while_pinging(
    run: &(dyn Fn(&[&str]) -> Run + Sync),
    name: &str,
    file: &str,
    count: &str,
    target: &str,
) -> (Run, Run) {
    std::thread::scope(|s| {
        let cap = s.spawn(|| {
            run(&["capture", "router", "isp-a", "-w", file, "-c", count, "--duration", "20", "--name", name])
        });
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let ping = run(&["exec", "client-a1", "--name", name, "--", "ping", "-c", "8", "-i", "0.2", "-W", "2", target]);
        (cap.join().unwrap(), ping)
    })
}

pub fn sh(script: &str) -> Run {
    let out = Command::new("bash").args(["-c", script]).output().expect("run bash");
    Run::from(script.to_string(), out)
}

/// Docker-backed tests run one at a time (2 cores; timing matters) and
/// fail, never skip, without an engine.
pub fn docker_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let probe = sh("docker version --format '{{.Server.Version}}'");
    assert!(
        probe.code == 0,
        "this test needs a running Docker engine with buildx and compose: run `scripts/setup-debian.sh` (Debian) \
         or start Docker, then retry.\n{}",
        probe.describe()
    );
    guard
}

/// `--build` the first time a platform's images are needed in this process,
/// so tests run the images of this checkout.
pub fn build_flag(platform: &str) -> Option<&'static str> {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.iter().any(|p| p == platform) {
        None
    } else {
        built.push(platform.to_string());
        Some("--build")
    }
}

/// What the host shows of containers, networks and links, to compare
/// before `up` and after `down`.
pub fn host_snapshot() -> String {
    let r = sh(
        "docker ps -a --format '{{.Names}}' | sort; echo ---; docker network ls --format '{{.Name}}' | sort; echo ---; ip -o link | sed 's/^[0-9]*: //; s/:.*//' | sort",
    );
    assert_eq!(r.code, 0, "{}", r.describe());
    r.stdout
}

pub fn native_platform() -> String {
    let r = sh("docker version --format '{{.Server.Os}}/{{.Server.Arch}}'");
    r.stdout.trim().to_string()
}

/// This checkout's router, client and gateway images for linux/amd64 and
/// linux/arm64, built once per test process, for tests whose imgtool has no
/// images/ tree to build from (in a container, against a VM's daemon), and
/// the imgtool image (its static binaries: scripts/cross-check.sh).
pub fn build_checkout_images() {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let engine = imgtool::engine::Engine::default();
        let file = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/imgtool.toml"));
        let config = imgtool::config::Config::discover(Some(file)).expect("imgtool.toml");
        let platforms = ["linux/amd64".to_string(), "linux/arm64".to_string()];
        let progress = imgtool::progress::Progress::hidden();
        imgtool::build::build_local(
            &engine,
            &config,
            &["router", "client", "gateway", "imgtool"],
            &platforms,
            &progress,
        )
        .expect("building this checkout's images for linux/amd64 and linux/arm64");
    });
}

/// What publishing prints per image, `REPO@DIGEST TAGS (PLATFORMS)`: repository -> (digest, tags, platforms).
pub fn published(r: &Run) -> BTreeMap<String, (String, String, String)> {
    r.stdout
        .lines()
        .filter_map(|l| {
            let (reference, rest) = l.split_once(' ')?;
            let (repo, digest) = reference.split_once("@sha256:")?;
            let (tags, platforms) = rest.split_once(' ')?;
            let platforms = platforms.strip_prefix('(')?.strip_suffix(')')?;
            Some((repo.to_string(), (format!("sha256:{digest}"), tags.to_string(), platforms.to_string())))
        })
        .collect()
}

/// The digest the registry serves for `reference`, read by imgtool's registry client.
pub fn served_digest(reference: &str) -> String {
    let r = imgtool(&["inspect", "--json", reference]).success();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", r.describe()));
    v["digest"].as_str().unwrap_or_else(|| panic!("no digest:\n{}", r.describe())).to_string()
}

/// The image set, in build order, as this checkout's imgtool.toml declares it.
pub fn image_set() -> Vec<String> {
    let file = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/imgtool.toml"));
    let config = imgtool::config::Config::discover(Some(file)).expect("imgtool.toml");
    config.images.iter().map(|i| i.name.clone()).collect()
}
