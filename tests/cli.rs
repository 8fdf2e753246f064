//! The binary's interface without a Docker engine: help, bad input, render.

mod common;
use common::*;

/// Every command path of the CLI, found by walking clap's own command tree,
/// so a subcommand added later (nested ones too) is covered without editing
/// this test. clap's generated `help` subcommand is not ours to document.
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, path: &[String], out: &mut Vec<Vec<String>>) {
        out.push(path.to_vec());
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut p = path.to_vec();
            p.push(sub.get_name().to_string());
            walk(sub, &p, out);
        }
    }
    let mut out = Vec::new();
    walk(&<imgtool::cli::Cli as clap::CommandFactory>::command(), &[], &mut out);
    out
}

/// The command lines under the first `Example:`/`Examples:` (or, for the top
/// level, `Quick start:`) heading of a help text: the indented lines up to
/// the next blank or unindented line.
fn example_lines(help: &str) -> Vec<&str> {
    let mut lines = help.lines().skip_while(|l| !matches!(l.trim(), "Example:" | "Examples:" | "Quick start:"));
    lines.next();
    lines.take_while(|l| l.starts_with("  ") && !l.trim().is_empty()).map(str::trim).collect()
}

/// The imgtool part of an example as argv: the shell's other commands
/// (after `&&`, `|`, `;`), a trailing `# comment` and leading `VAR=value`
/// environment assignments are cut; `None` if no `imgtool` command is left.
fn example_argv(line: &str) -> Option<Vec<&str>> {
    let command = line.split(['|', ';', '#']).next()?.split("&&").next()?;
    let words: Vec<&str> = command.split_whitespace().skip_while(|w| w.contains('=')).collect();
    (words.first() == Some(&"imgtool")).then_some(words)
}

#[test]
fn every_command_has_help_with_an_example_that_parses() {
    let paths = command_paths();
    // The walk must really find the commands (a broken walk would check nothing).
    for known in ["up", "check", "status", "exec", "capture", "down", "render", "doctor", "build", "merge", "inspect"] {
        assert!(paths.iter().any(|p| p == &[known]), "{known} not found in {paths:?}");
    }
    for path in &paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let r = imgtool(&args).success();
        let examples = example_lines(&r.stdout);
        let argvs: Vec<Vec<&str>> = examples.iter().filter_map(|l| example_argv(l)).collect();
        assert!(
            !argvs.is_empty(),
            "`imgtool {}` has no example with an imgtool command:\n{}",
            args.join(" "),
            r.stdout
        );
        for argv in &argvs {
            // A subcommand's examples run that subcommand.
            assert!(argv[1..].starts_with(&args[..path.len()]), "example {argv:?} is not for {path:?}");
            if let Err(e) = <imgtool::cli::Cli as clap::Parser>::try_parse_from(argv) {
                panic!("example `{}` of `imgtool {}` does not parse:\n{e}", argv.join(" "), args.join(" "));
            }
        }
    }
    let top = imgtool(&["--help"]).success();
    assert!(top.stdout.contains("Exit codes"), "{}", top.stdout);
}

/// The helpers above must reject what they should, or the test could pass on
/// help texts without usable examples.
#[test]
fn example_extraction_cuts_shell_syntax_and_finds_nothing_where_nothing_is() {
    let help = "Do it\n\nExamples:\n  imgtool up  # start\n  DOCKER_HOST=ssh://x imgtool up --driver bridge\n  imgtool render -o lab && docker compose up\n  docker ps | grep imgtool\n\nOther:\n  imgtool down\n";
    let argvs: Vec<_> = example_lines(help).into_iter().filter_map(example_argv).collect();
    assert_eq!(
        argvs,
        [vec!["imgtool", "up"], vec!["imgtool", "up", "--driver", "bridge"], vec!["imgtool", "render", "-o", "lab"]]
    );
    assert!(example_lines("Usage: imgtool up\n\n  imgtool up\n").is_empty());
    assert!(<imgtool::cli::Cli as clap::Parser>::try_parse_from(["imgtool", "up", "--no-such-flag"]).is_err());
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
fn a_bad_grading_weight_is_refused_at_its_line_before_any_container_exists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.toml");
    let text = include_str!("../manifests/site-to-site.toml").replace("tunnel = 20", "tunnel = -20");
    std::fs::write(&path, &text).unwrap();
    let line = text.lines().position(|l| l == "tunnel = -20").unwrap() + 1;
    let r = imgtool_env(&["up", path.to_str().unwrap()], &[("IMGTOOL_DOCKER", "/nonexistent/docker")]).code(1);
    let want = format!("weights.toml:{line}: points for tunnel must be a whole number from 0 to 1000, not -20");
    assert!(r.stderr.contains(&want), "{}", r.describe());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.describe());
}

#[test]
fn grade_is_check_and_both_take_a_format() {
    use imgtool::cli::{Cli, Command, FormatArg};
    let parse = |argv: &[&str]| <Cli as clap::Parser>::try_parse_from(argv).map(|c| c.command);
    for (argv, want) in [
        (&["imgtool", "check"][..], FormatArg::Table),
        (&["imgtool", "grade", "--format", "junit"], FormatArg::Junit),
        (&["imgtool", "check", "--format", "json", "--name", "lab1"], FormatArg::Json),
    ] {
        match parse(argv) {
            Ok(Command::Check { format, .. }) => assert_eq!(format, want, "{argv:?}"),
            other => panic!("{argv:?} parsed as {other:?}"),
        }
    }
    assert!(parse(&["imgtool", "grade", "--format", "xml"]).is_err());
    assert_eq!(imgtool(&["grade", "--help"]).success().stdout, imgtool(&["check", "--help"]).success().stdout);
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
    // Its own output is replaced by a new render of the same testbed, not by another's.
    imgtool(&["render", "host-to-host", "-o", out.to_str().unwrap(), "--driver", "bridge"]).success();
    let other = imgtool(&["render", "host-to-host", "-o", out.to_str().unwrap(), "--name", "other"]).code(1);
    assert!(other.stderr.contains("was not made by imgtool for testbed other"), "{}", other.describe());
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
    assert!(r.stderr.contains("was not made by imgtool for testbed vpnlab"), "{}", r.describe());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.describe());
    assert_eq!(std::fs::read_to_string(dir.path().join("precious.txt")).unwrap(), "keep me");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "render wrote into it");
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

/// `imgtool build --dry-run ARGS` with a docker that must not be called: bad
/// input is refused, in one line, before any work.
fn refused_build(args: &[&str]) -> Run {
    let argv = [&["build", "--dry-run"][..], args].concat();
    let r = imgtool_env(&argv, &[("IMGTOOL_DOCKER", "/nonexistent/docker")]).code(1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.describe());
    assert!(r.stdout.is_empty(), "a refused dry run printed a plan:\n{}", r.describe());
    r
}

#[test]
fn build_refuses_a_bad_registry_saying_what_a_valid_one_is() {
    for (registry, want) in [
        ("UPPER/Case:bad", "registry 'UPPER/Case:bad': 'UPPER' is not a registry host"),
        ("justahost", "registry 'justahost' is not HOST[:PORT]/NAMESPACE"),
        ("docker.io/Vpnlab", "namespace 'Vpnlab' is not valid"),
    ] {
        let r = refused_build(&["--push", "--registry", registry]);
        assert!(r.stderr.contains(want) && r.stderr.contains("e.g."), "wanted '{want}':\n{}", r.describe());
    }
}

#[test]
fn build_refuses_a_bad_tag() {
    let r = refused_build(&["--tag", "no spaces"]);
    assert!(r.stderr.contains("tag 'no spaces' is not valid") && r.stderr.contains("e.g. 1.2.0"), "{}", r.describe());
    let r = refused_build(&["--tag", ".hidden"]);
    assert!(r.stderr.contains("tag '.hidden' is not valid"), "{}", r.describe());
}

#[test]
fn build_refuses_a_bad_version() {
    for version in ["1.2", "1.2.x", "v01.2.3"] {
        let r = refused_build(&["--version", version]);
        let want = format!("version '{version}' is not X.Y.Z or X.Y.Z-PRE");
        assert!(r.stderr.contains(&want) && r.stderr.contains("e.g. 1.2.0"), "{}", r.describe());
    }
    let r = refused_build(&["--version", "1.2.3+build.1"]);
    assert!(r.stderr.contains("build metadata"), "{}", r.describe());
}

#[test]
fn build_refuses_an_unknown_platform_naming_the_valid_ones() {
    let r = refused_build(&["--platform", "linux/sparc"]);
    let want = "unknown platform linux/sparc: imgtool.toml builds linux/amd64, linux/arm64; pick one of them";
    assert!(r.stderr.contains(want), "{}", r.describe());
    let r = refused_build(&["--platform", "amd64"]);
    assert!(r.stderr.contains("platform 'amd64' is not OS/ARCH[/VARIANT]"), "{}", r.describe());
}

#[test]
fn build_refuses_unknown_images_and_scenarios_and_a_partial_gate() {
    let r = refused_build(&["--image", "webserver"]);
    assert!(r.stderr.contains("unknown image 'webserver': imgtool.toml has base, router, client"), "{}", r.describe());
    let r = refused_build(&["--scenario", "moon-base"]);
    assert!(r.stderr.contains("unknown scenario 'moon-base'"), "{}", r.describe());
    let r = refused_build(&["--image", "gateway", "--push"]);
    assert!(r.stderr.contains("validating needs the router, client and gateway images"), "{}", r.describe());
}

#[test]
fn merge_refuses_a_bad_registry_before_reading_the_files() {
    let args = ["merge", "/nonexistent/digests.json", "--registry", "UPPER/Case:bad", "--push"];
    let r = imgtool(&args).code(1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.describe());
    assert!(r.stderr.contains("'UPPER' is not a registry host"), "{}", r.describe());
}
