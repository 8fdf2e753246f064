//! imgtool where the daemon is not on imgtool's machine: imgtool runs in a
//! container given only the Docker socket, so its /proc, /sys, network
//! namespace and files are not the daemon's (stricter than Docker Desktop,
//! a remote context or `DOCKER_HOST=ssh://`). Every command works there,
//! for every scenario, and the daemon's host is left as it was.
//! The "Docker Desktop-like" variant also shares the state directory at the
//! same path on both sides, as Docker Desktop's file sharing does.
//! These tests fail (never skip) without an engine; see scripts/setup-debian.sh.

mod common;
use common::*;

use std::path::Path;

/// A container of the imgtool image (the docker CLI and its plugins, as a
/// student runs it), with the daemon's socket and nothing else of the
/// host's, and this build's imgtool in place of the image's.
struct Client {
    name: String,
}

impl Client {
    fn start(name: &str, shared: Option<&Path>) -> Client {
        sh(&format!("docker rm -f {name} >/dev/null 2>&1")).success();
        let mut run = format!(
            "docker create --name {name} --label io.imgtool.test=remote -v /var/run/docker.sock:/var/run/docker.sock"
        );
        if let Some(dir) = shared {
            // Docker Desktop shares paths under the home directory with its VM.
            // The image keeps state in /var/lib/imgtool: here it is the home's.
            run += &format!(" -v {d}:{d} -e HOME={d} -e IMGTOOL_STATE_DIR={d}/.local/state/imgtool", d = dir.display());
        }
        run += " --entrypoint sleep docker.io/vpnlab/imgtool:latest infinity";
        sh(&run).success();
        let bin = env!("CARGO_BIN_EXE_imgtool");
        sh(&format!("docker cp {bin} {name}:/usr/local/bin/imgtool && docker start {name} >/dev/null")).success();
        Client { name: name.into() }
    }

    fn imgtool(&self, args: &[&str]) -> Run {
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let mut r = sh(&format!("docker exec -w / {} imgtool {}", self.name, quoted.join(" ")));
        r.cmd = format!("(in {}) imgtool {}", self.name, args.join(" "));
        r
    }

    fn file(&self, path: &str) -> Vec<u8> {
        let out = std::process::Command::new("docker").args(["exec", &self.name, "cat", path]).output().unwrap();
        assert!(out.status.success(), "cannot read {path} in {}", self.name);
        out.stdout
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        sh(&format!("docker rm -f {} >/dev/null 2>&1", self.name));
    }
}

fn assert_all_pass(r: &Run) {
    assert!(r.stdout.lines().filter(|l| l.starts_with("PASS")).count() >= 9, "{}", r.describe());
    assert!(!r.stdout.contains("FAIL"), "{}", r.describe());
}

/// up, check, status, exec, capture and down, all from the client container.
fn round_trip(client: &Client, scenario: &str, platform: &str, extra: &[&str]) {
    let name = format!("r-{}", scenario.replace("site-to-site", "s2s").replace("host-to-host", "h2h"));
    let before = host_snapshot();
    let mut args = vec!["up", scenario, "--name", &name, "--platform", platform];
    args.extend(extra);
    let up = client.imgtool(&args);
    if up.code != 0 {
        client.imgtool(&["down", "--name", &name]);
    }
    let up = up.success();
    assert_all_pass(&up);
    let memory = up.stdout.lines().find(|l| l.starts_with("memory")).unwrap_or_default().to_string();
    let verified = up.stdout.lines().find(|l| l.starts_with("verified")).unwrap_or_default();
    eprintln!("{}: {scenario} on {platform}: {verified}; {memory}", client.name);
    assert!(memory.contains("MiB now, peak") && !memory.contains("unknown"), "no memory figure:\n{}", up.describe());

    let check = client.imgtool(&["check", "--name", &name]);
    let status = client.imgtool(&["status", "--name", &name]);
    // What the checks' clients call: the server, or the gateway that forwards to it.
    let target = imgtool::scenario::Scenario::load(scenario).unwrap().service_addr().to_string();
    let target = target.as_str();
    let ping = client.imgtool(&["exec", "client-a1", "--name", &name, "--", "ping", "-c", "1", "-W", "3", target]);
    // A capture on the router's link from site A while client-a1 calls the
    // server: it must hold ESP (the capture stops after 6 packets).
    let (capture, _) = capture_while_pinging(&|args| client.imgtool(args), &name, "/tmp/a.pcap", "6", target);
    let pcap = capture.code.eq(&0).then(|| client.file("/tmp/a.pcap"));
    let down = client.imgtool(&["down", "--name", &name]);
    down.success();
    assert_all_pass(&check.success());
    let status = status.success();
    assert!(status.stdout.contains("gateway-a") && status.stdout.contains("running healthy"), "{}", status.stdout);
    assert!(ping.success().stdout.contains("1 received"));
    capture.success();
    let cap = imgtool::check::pcap::parse(&pcap.unwrap()).expect("a readable pcap");
    let esp = cap
        .packets
        .iter()
        .filter(|p| matches!(p.class, imgtool::check::pcap::Class::Esp | imgtool::check::pcap::Class::EspInUdp))
        .count();
    assert!(esp >= 1, "no ESP among {} captured packets", cap.packets.len());
    assert_eq!(host_snapshot(), before, "down left something behind on the daemon's host");
}

fn all_scenarios(client: &Client) {
    let native = native_platform();
    round_trip(client, "site-to-site", &native, &[]);
    round_trip(client, "site-to-site-ipv6", &native, &[]);
    round_trip(client, "host-to-host", &native, &["--psk"]);
    round_trip(client, "site-to-site", "linux/arm64", &[]);
}

#[test]
fn imgtool_in_a_container_with_only_the_docker_socket() {
    let _g = docker_lock();
    build_checkout_images();
    let client = Client::start("imgtool-remote-client", None);
    let doctor = client.imgtool(&["doctor"]).success();
    assert!(
        doctor.stdout.contains("daemon machine") && doctor.stdout.contains("local (unix:///var/run/docker.sock)"),
        "{}",
        doctor.describe()
    );
    all_scenarios(&client);
}

#[test]
fn imgtool_in_a_container_sharing_the_state_directory_like_docker_desktop() {
    let _g = docker_lock();
    build_checkout_images();
    let home = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let client = Client::start("imgtool-desktop-client", Some(home.path()));
    // Only the state path differs from the test above, which runs every
    // scenario: one IPv4 and one NAT scenario here keep CI within its time.
    let native = native_platform();
    round_trip(&client, "site-to-site", &native, &[]);
    round_trip(&client, "host-to-host", &native, &["--psk"]);
}
