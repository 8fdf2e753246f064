//! The binary's interface without a Docker engine: help, bad input, render.

mod common;
use common::*;

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in ["up", "check", "status", "exec", "capture", "down", "render", "doctor", "build", "merge", "inspect"] {
        let r = imgtool(&[cmd, "--help"]).success();
        assert!(r.stdout.contains("Example"), "{cmd} --help has no example:\n{}", r.stdout);
    }
    let top = imgtool(&["--help"]).success();
    assert!(top.stdout.contains("imgtool up") && top.stdout.contains("Exit codes"), "{}", top.stdout);
}

#[test]
fn unknown_scenario_is_one_clear_line() {
    let r = imgtool(&["up", "moon-base"]).code(1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.describe());
    assert!(r.stderr.contains("unknown scenario 'moon-base'") && r.stderr.contains("site-to-site"), "{}", r.describe());
}

#[test]
fn malformed_scenario_file_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = include_str!("../manifests/site-to-site.toml").replace("role = \"client\"", "role = client");
    std::fs::write(&path, &text).unwrap();
    let line = text.lines().position(|l| l == "role = client").unwrap() + 1;
    let r = imgtool(&["up", path.to_str().unwrap()]).code(1);
    assert!(r.stderr.contains(&format!("bad.toml:{line}:")), "{}", r.describe());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.describe());
}

#[test]
fn duplicate_address_is_refused_before_any_container_exists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.toml");
    let text = include_str!("../manifests/site-to-site.toml").replace("\"10.2.0.11\"", "\"10.2.0.10\"");
    std::fs::write(&path, text).unwrap();
    // A docker that must not be called: the scenario is rejected first.
    let r = imgtool_env(&["up", path.to_str().unwrap()], &[("IMGTOOL_DOCKER", "/nonexistent/docker")]).code(1);
    assert!(r.stderr.contains("10.2.0.10 on intranet-b is given to both client-b1 and client-b2"), "{}", r.describe());
}

#[test]
fn missing_docker_says_how_to_get_it() {
    let r = imgtool_env(&["up"], &[("IMGTOOL_DOCKER", "/nonexistent/docker")]).code(1);
    assert!(r.stderr.contains("docker is not installed") && r.stderr.contains("setup-debian.sh"), "{}", r.describe());
}

#[test]
fn docker_daemon_down_is_one_clear_line() {
    let r = imgtool_env(&["status"], &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]).code(1);
    assert!(r.stderr.contains("Docker daemon is not running"), "{}", r.describe());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.describe());
}

#[test]
fn render_writes_a_compose_project_with_node_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lab");
    imgtool(&["render", "host-to-host", "-o", out.to_str().unwrap(), "--driver", "bridge"]).success();
    let compose = std::fs::read_to_string(out.join("compose.yaml")).unwrap();
    assert!(compose.contains("driver: bridge") && compose.contains("inhibit_ipv4"), "{compose}");
    assert!(out.join("nodes/gateway-s/firewall.nft").is_file());
    let swanctl = std::fs::read_to_string(out.join("nodes/gateway-a/swanctl/swanctl.conf")).unwrap();
    assert!(swanctl.contains("auth = psk"), "{swanctl}");
    // The key is in the node's files only, never in the compose file.
    assert!(!compose.contains("secret"), "{compose}");
}

#[test]
fn render_refuses_a_foreign_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    let r = imgtool(&["render", "-o", dir.path().to_str().unwrap()]).code(1);
    assert!(r.stderr.contains("is not an imgtool render output"), "{}", r.describe());
    assert!(dir.path().join("precious.txt").exists());
}

#[test]
#[cfg(unix)] // the stand-in docker CLI is a shell script
fn a_daemon_too_old_or_a_missing_plugin_is_one_clear_line() {
    // A stand-in docker CLI: an old engine cannot be installed beside the
    // real one here, and the real CLI finds its plugins in system paths.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("docker");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$1\" in\n  version) echo '{\"Server\":{\"Version\":\"20.10.24\",\"ApiVersion\":\"1.41\",\"Os\":\"linux\",\"Arch\":\"amd64\"}}' ;;\n  *) echo \"docker: '$1' is not a docker command.\" >&2; exit 1 ;;\nesac\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let env = [("IMGTOOL_DOCKER", fake.to_str().unwrap())];
    let out = dir.path().join("lab");
    for (args, want) in [
        (vec!["up"], "the Docker daemon is too old: engine 20.10.24 (API 1.41); imgtool needs API 1.44"),
        (vec!["build", "--platform", "linux/amd64"], "the docker CLI has no buildx plugin"),
        (vec!["render", "-o", out.to_str().unwrap()], "the docker CLI has no compose plugin"),
    ] {
        let r = imgtool_env(&args, &env).code(1);
        assert!(r.stderr.contains(want), "{}", r.describe());
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.describe());
    }
    assert!(!out.exists(), "a refused render wrote files");
}
