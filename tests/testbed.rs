//! End to end on the real Docker engine: every scenario comes up verified,
//! leaves the host as it found it, and the checks catch a broken testbed.
//! These tests fail (never skip) without an engine; see scripts/setup-debian.sh.

mod common;
use common::*;

/// `imgtool up` with the flags given; builds this checkout's images the
/// first time a platform is used.
fn up(scenario: &str, name: &str, platform: &str, extra: &[&str]) -> Run {
    let mut args = vec!["up", scenario, "--name", name, "--platform", platform];
    args.extend(build_flag(platform));
    args.extend(extra);
    imgtool(&args)
}

fn assert_all_pass(r: &Run) {
    let passes = r.stdout.lines().filter(|l| l.starts_with("PASS")).count();
    assert!(passes >= 9 && !r.stdout.contains("FAIL"), "not every check passed:\n{}", r.describe());
    for check in [
        "tunnel a-s",
        "tunnel b-s",
        "reach client-a1",
        "reach client-b2",
        "router capture",
        "payload secrecy",
        "firewall gateway-s",
    ] {
        assert!(
            r.stdout.lines().any(|l| l.starts_with("PASS") && l.contains(check)),
            "no PASS for {check}:\n{}",
            r.describe()
        );
    }
}

/// up, check, down on one scenario and platform; the host looks the same after.
fn round_trip(scenario: &str, platform: &str, extra: &[&str]) {
    let name = format!("t-{}", scenario.replace("site-to-site", "s2s").replace("host-to-host", "h2h"));
    let before = host_snapshot();
    let r = up(scenario, &name, platform, extra);
    if r.code != 0 {
        imgtool(&["down", "--name", &name]);
    }
    let r = r.success();
    assert_all_pass(&r);
    assert!(
        r.stdout.contains(&format!("scenario  {scenario}")) && r.stdout.contains(&format!("platform  {platform}")),
        "{}",
        r.stdout
    );
    // --driver auto on this kernel (macvlan works on a veth parent).
    assert!(r.stdout.contains("network   macvlan (macvlan works on the daemon's side)"), "{}", r.stdout);
    // The router asks for a neighbour every 100 ms (images/common/node.sh);
    // an emulated one's native observer set that, since qemu-user cannot.
    let owner = if platform == native_platform() { format!("{name}-router") } else { format!("{name}-observer") };
    let timers = arp_retransmit_ms(&owner);
    assert!(timers.len() >= 3 && timers.iter().all(|(_, ms)| *ms == 100), "router's ARP timers: {timers:?}");
    let c = imgtool(&["check", "--name", &name]);
    imgtool(&["down", "--name", &name]).success();
    assert_all_pass(&c.success());
    assert_eq!(host_snapshot(), before, "down left something behind");
}

/// Each interface's ARP retransmit time (ms) in `container`'s namespace, lo aside.
fn arp_retransmit_ms(container: &str) -> Vec<(String, u32)> {
    let out = sh(&format!("docker exec {container} ip ntable show name arp_cache")).success().stdout;
    let mut words = out.split_whitespace();
    let (mut timers, mut dev) = (Vec::new(), None);
    while let Some(w) = words.next() {
        match w {
            "dev" => dev = words.next().filter(|d| *d != "lo"),
            "retrans" => {
                if let (Some(d), Some(ms)) = (dev.take(), words.next().and_then(|m| m.parse().ok())) {
                    timers.push((d.to_string(), ms));
                }
            }
            _ => {}
        }
    }
    timers
}

#[test]
fn site_to_site_native() {
    let _g = docker_lock();
    round_trip("site-to-site", &native_platform(), &[]);
}

#[test]
fn site_to_site_ipv6_native() {
    let _g = docker_lock();
    round_trip("site-to-site-ipv6", &native_platform(), &[]);
}

#[test]
fn host_to_host_native_with_psk() {
    let _g = docker_lock();
    round_trip("host-to-host", &native_platform(), &["--psk"]);
}

#[test]
fn site_to_site_arm64_emulated() {
    let _g = docker_lock();
    round_trip("site-to-site", "linux/arm64", &[]);
}

#[test]
fn second_up_changes_nothing_and_three_ups_at_once_run_beside_it() {
    let _g = docker_lock();
    let native = native_platform();
    let ids = |name: &str| sh(&format!("docker ps -q --filter label=io.imgtool.testbed={name} | sort")).stdout;
    up("site-to-site", "t-one", &native, &[]).success();
    let first = ids("t-one");
    let again = imgtool(&["up", "--name", "t-one"]).success();
    assert!(again.stdout.contains("nothing changed"), "{}", again.describe());
    assert_eq!(ids("t-one"), first);
    // Another scenario under the same name is refused, not mixed in.
    let other = imgtool(&["up", "host-to-host", "--name", "t-one"]).code(1);
    assert!(other.stderr.contains("already runs scenario site-to-site"), "{}", other.describe());
    // Three more at once, each its own `imgtool up` process, as on a
    // grading server: no race on the daemon's shared state, and all verify.
    let names = ["t-par-0", "t-par-1", "t-par-2"];
    let ups: Vec<Run> = std::thread::scope(|s| {
        let runs: Vec<_> = names.iter().map(|n| s.spawn(|| imgtool(&["up", "--name", n]))).collect();
        runs.into_iter().map(|r| r.join().expect("up thread panicked")).collect()
    });
    let check_one = imgtool(&["check", "--name", "t-one"]);
    for n in names.iter().chain(&["t-one"]) {
        imgtool(&["down", "--name", n]).success();
    }
    for r in ups {
        assert_all_pass(&r.success());
    }
    assert_all_pass(&check_one.success());
}

#[test]
fn checks_fail_when_the_vpn_is_broken() {
    let _g = docker_lock();
    let native = native_platform();
    up("site-to-site", "t-broken", &native, &[]).success();
    // An open firewall on gateway-a and a stopped tunnel on gateway-b.
    let opened = sh("docker exec t-broken-gateway-a nft flush ruleset");
    let closed = sh("docker exec t-broken-gateway-b swanctl --terminate --ike b-s");
    let r = imgtool(&["check", "--name", "t-broken"]);
    imgtool(&["down", "--name", "t-broken"]).success();
    opened.success();
    closed.success();
    let r = r.code(3);
    assert!(r.stdout.lines().any(|l| l.starts_with("FAIL") && l.contains("firewall gateway-a")), "{}", r.describe());
    assert!(r.stdout.lines().any(|l| l.starts_with("FAIL") && l.contains("tunnel b-s")), "{}", r.describe());
    assert!(r.stdout.lines().any(|l| l.starts_with("PASS") && l.contains("firewall gateway-s")), "{}", r.describe());
}

#[test]
fn exec_status_and_capture_work_on_a_running_testbed() {
    let _g = docker_lock();
    up("site-to-site", "t-ops", &native_platform(), &[]).success();
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("router.pcap");
    let ping = imgtool(&["exec", "client-a1", "--name", "t-ops", "--", "ping", "-c", "1", "10.3.0.10"]);
    let status = imgtool(&["status", "--name", "t-ops"]);
    // Traffic flows while the capture runs, so it must hold ESP both ways.
    let (cap, traffic) = capture_while_pinging(&imgtool, "t-ops", pcap.to_str().unwrap(), "10", "10.3.0.10");
    traffic.success();
    let unknown = imgtool(&["exec", "nobody", "--name", "t-ops", "--", "true"]);
    // Files are copied in, not mounted: keys owner-only, nothing bound from the client.
    let modes = sh(
        "docker exec t-ops-gateway-a stat -c '%a %U %n' /etc/swanctl/pkcs8/gateway-a.key /etc/swanctl/swanctl.conf /etc/imgtool",
    );
    let mounts = sh("docker inspect -f '{{len .Mounts}}' t-ops-gateway-a t-ops-client-a1");
    imgtool(&["down", "--name", "t-ops"]).success();
    assert_eq!(
        modes.success().stdout,
        "600 root /etc/swanctl/pkcs8/gateway-a.key\n600 root /etc/swanctl/swanctl.conf\n700 root /etc/imgtool\n"
    );
    assert_eq!(mounts.success().stdout, "0\n0\n", "a node has a bind mount");
    assert!(ping.success().stdout.contains("1 received"));
    let status = status.success();
    assert!(status.stdout.contains("gateway-a") && status.stdout.contains("running healthy"), "{}", status.stdout);
    cap.success();
    use imgtool::check::pcap::{self, Class};
    let read = pcap::parse(&std::fs::read(&pcap).unwrap()).expect("a readable pcap");
    let (a, s): (std::net::IpAddr, std::net::IpAddr) =
        ("172.26.26.10".parse().unwrap(), "172.28.28.10".parse().unwrap());
    let esp = |from, to| {
        read.packets
            .iter()
            .any(|p| matches!(p.class, Class::Esp | Class::EspInUdp) && p.src == Some(from) && p.dst == Some(to))
    };
    assert!(esp(a, s) && esp(s, a), "no ESP both ways between the gateways among {} packets", read.packets.len());
    let clear: Vec<_> = read.cleartext().collect();
    assert!(clear.is_empty(), "traffic in the clear on isp-a: {clear:?}");
    assert!(unknown.code(1).stderr.contains("no node nobody"));
}

#[test]
fn foreign_container_name_is_refused_and_left_alone() {
    let _g = docker_lock();
    let native = native_platform();
    // A container that is not ours holds one of the names.
    sh("docker rm -f t-taken-router >/dev/null 2>&1; docker create --name t-taken-router docker.io/vpnlab/client:latest").success();
    let r = up("site-to-site", "t-taken", &native, &[]);
    let still_there = sh("docker inspect -f '{{.Name}}' t-taken-router");
    let ours = sh("docker ps -aq --filter label=io.imgtool.testbed=t-taken").stdout;
    sh("docker rm -f t-taken-router").success();
    let r = r.code(1);
    assert!(
        r.stderr.contains("container t-taken-router already exists and is not part of testbed t-taken"),
        "{}",
        r.describe()
    );
    still_there.success();
    assert_eq!(ours.trim(), "", "a refused up made containers");
}

#[test]
#[cfg(unix)] // signals to a process group
fn interrupted_up_is_cleaned_by_down() {
    let _g = docker_lock();
    let native = native_platform();
    let before = host_snapshot();
    // Ctrl-C (SIGINT to the whole process group, docker children included)
    // and SIGTERM (a stopped CI job) are handled alike.
    for signal in ["INT", "TERM"] {
        use std::os::unix::process::CommandExt;
        let bin = env!("CARGO_BIN_EXE_imgtool");
        let mut child = std::process::Command::new(bin)
            .process_group(0)
            .args(["up", "--name", "t-int", "--platform", &native])
            .env("IMGTOOL_STATE_DIR", state_dir())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Interrupt once the first container exists, so that there is
        // something to clean up (a signal before that proves nothing).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while sh("docker ps -aq --filter label=io.imgtool.testbed=t-int").stdout.trim().is_empty() {
            assert!(std::time::Instant::now() < deadline, "up made no container within 120 s");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        sh(&format!("kill -{signal} -- -{}", child.id())).success();
        let status = child.wait().unwrap();
        // up stops at the next step, removes what it made and says so.
        assert_eq!(status.code(), Some(130), "up interrupted by SIG{signal} should exit 130");
        let after_up = host_snapshot();
        imgtool(&["down", "--name", "t-int"]).success();
        assert_eq!(after_up, before, "an up interrupted by SIG{signal} left something behind");
        assert_eq!(host_snapshot(), before, "down after an interrupted up left something behind");
    }
}

#[test]
fn down_removes_a_testbed_whose_state_was_edited_by_hand() {
    let _g = docker_lock();
    let native = native_platform();
    let before = host_snapshot();
    up("site-to-site", "t-edited", &native, &[]).success();
    let dir = state_dir().join("t-edited");
    // The record truncated and the marker gone, as a careless hand might leave them.
    std::fs::write(dir.join("testbed.toml"), "scenario = \"site-to").unwrap();
    std::fs::remove_file(dir.join(".imgtool-testbed")).unwrap();
    let status = imgtool(&["status", "--name", "t-edited"]).code(1);
    assert!(status.stderr.contains("no testbed named t-edited"), "{}", status.describe());
    let down = imgtool(&["down", "--name", "t-edited"]).success();
    // Nine nodes: a native router captures and probes itself (no observer).
    assert!(down.stdout.contains("removed 9 containers and 6 networks"), "{}", down.describe());
    assert!(
        down.stderr.contains("refusing to delete it"),
        "an unmarked directory is left, and said so:\n{}",
        down.describe()
    );
    assert!(dir.join("scenario.toml").is_file(), "the unmarked state directory was deleted");
    assert_eq!(host_snapshot(), before, "down left something behind");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rendered_compose_project_runs_with_docker_compose_alone() {
    let _g = docker_lock();
    build_flag(&native_platform()).map(|_| up("site-to-site", "t-prebuild", &native_platform(), &[]));
    imgtool(&["down", "--name", "t-prebuild"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lab");
    imgtool(&["render", "site-to-site", "-o", out.to_str().unwrap(), "--name", "t-compose", "--driver", "bridge"])
        .success();
    let file = out.join("compose.yaml");
    let f = file.to_str().unwrap();
    let upr = sh(&format!("docker compose -f {f} up -d --wait --wait-timeout 60"));
    let ping = sh("docker exec t-compose-client-a1 ping -c 2 -W 2 10.3.0.10");
    let http = sh("docker exec t-compose-client-b1 curl -sS --max-time 5 'http://10.3.0.10:8080/ping?id=compose'");
    sh(&format!("docker compose -f {f} down --volumes --timeout 1")).success();
    upr.success();
    ping.success();
    assert_eq!(http.success().stdout.trim(), "pong compose server-s1");
}

#[test]
fn missing_images_with_no_way_to_get_them_is_one_clear_line() {
    let _g = docker_lock();
    // Outside the checkout (no images/ to build from), with a tag nobody has.
    let dir = tempfile::tempdir().unwrap();
    let before = host_snapshot();
    let r = imgtool_in(dir.path(), &["up", "-q", "--name", "t-none", "--tag", "no-such-tag"], &[]).code(1);
    assert!(
        r.stderr.contains("no registry has the images for") && r.stderr.contains("no images/ source tree"),
        "{}",
        r.describe()
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.describe());
    assert_eq!(host_snapshot(), before, "a failed up left something behind");
}

#[test]
fn doctor_reports_this_machine() {
    let _g = docker_lock();
    let r = imgtool(&["doctor"]).success();
    // What these machines are (see ../shared/ENVIRONMENT.md): each probe
    // must give its real answer, not a warning that it could not ask.
    for (line, want) in [
        ("docker daemon", "engine "),
        ("buildx", "0."),
        ("compose", "2."),
        ("daemon machine", "local (unix://"),
        ("tun", "/dev/net/tun on the daemon's host"),
        ("kernel ESP IPv4", "no kernel ESP for IPv4: gateways use kernel-libipsec"),
        ("kernel ESP IPv6", "no kernel ESP for IPv6: gateways use kernel-libipsec"),
        ("macvlan", "macvlan on a veth parent works"),
        ("binfmt arm64", "qemu-aarch64 enabled"),
    ] {
        assert!(
            r.stdout.lines().any(|l| l.starts_with("ok ") && l.contains(line) && l.contains(want)),
            "no 'ok {line} ... {want}' line:\n{}",
            r.stdout
        );
    }
    assert!(!r.stdout.contains("probe failed"), "{}", r.stdout);
    // Without a daemon it fails, saying how to start one.
    let down = imgtool_env(&["doctor"], &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]).code(1);
    assert!(down.stdout.contains("FAIL") && down.stdout.contains("setup-debian.sh"), "{}", down.describe());
}

#[test]
fn bad_input_about_the_daemons_machine_is_one_clear_line_and_makes_nothing() {
    let _g = docker_lock();
    let native = native_platform();
    // Build this checkout's images first if no test did: the probes run in them.
    if build_flag(&native).is_some() {
        up("site-to-site", "t-prebuild", &native, &["--build"]).success();
        imgtool(&["down", "--name", "t-prebuild"]).success();
    }
    let before = host_snapshot();
    for (args, want) in [
        // These machines' kernel has no ESP at all.
        (
            vec!["--esp", "kernel", "--platform", native.as_str()],
            "--esp kernel: the daemon's kernel has no ESP for IPv4",
        ),
        (vec!["--esp", "kernel", "--platform", "linux/arm64"], "--esp kernel needs the daemon's native platform"),
        // imgtool.toml builds amd64 and arm64 only.
        (vec!["--platform", "linux/s390x"], "linux/amd64, linux/arm64"),
        (vec!["--platform", "linux/sparc"], "linux/amd64, linux/arm64"),
    ] {
        let mut full = vec!["up", "-q", "--name", "t-bad"];
        full.extend(args);
        let r = imgtool(&full).code(1);
        assert!(r.stderr.contains(want), "{}", r.describe());
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.describe());
    }
    assert_eq!(host_snapshot(), before, "a refused up left something behind");
    let gone = imgtool(&["status", "--name", "t-bad"]).code(1);
    assert!(gone.stderr.contains("no testbed named t-bad"), "{}", gone.describe());
}
