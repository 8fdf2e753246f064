//! Bad input from a user: each is one line on stderr, a non-zero exit, and
//! nothing touched. The name tests make a real directory where a name that
//! is a path would lead, and check that it is still there, with its file.

mod common;
use common::*;

use std::path::Path;

/// A directory with a file in it, standing for a student's work.
fn victim(dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("thesis.tex");
    std::fs::write(&file, "years of work").unwrap();
    file
}

#[track_caller]
fn one_line_error(r: Run, want: &str) {
    assert_ne!(r.code, 0, "accepted:\n{}", r.describe());
    assert!(r.stderr.contains(want), "no '{want}':\n{}", r.describe());
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "not one line:\n{}", r.describe());
}

#[test]
fn names_that_are_paths_or_shell_text_are_refused_and_delete_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let abs = tmp.path().join("victim");
    let kept = victim(&abs);
    // The state root's parent: `..` under it would be the root itself.
    let parent_kept = victim(&state_dir().join("..").join("beside-state"));
    let long = "n".repeat(200);
    let names = [abs.to_str().unwrap(), "..", ".", "a b", "x\ny", &long, "../beside-state", "$(id)", "-rf"];
    for name in names {
        for cmd in ["up", "down", "check", "status"] {
            let by_flag = imgtool(&[cmd, &format!("--name={name}")]);
            one_line_error(by_flag, "invalid testbed name");
            let by_env = imgtool_env(&[cmd], &[("IMGTOOL_TESTBED", name)]);
            one_line_error(by_env, "invalid testbed name");
        }
    }
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "years of work");
    assert_eq!(std::fs::read_to_string(&parent_kept).unwrap(), "years of work");
}

#[test]
fn a_scenario_with_shell_or_nft_metacharacters_in_a_name_is_refused() {
    let good = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/site-to-site.toml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("[nodes.client-a1]", "[nodes.\"client;reboot\"]"),
        ("[nodes.client-a1]", "[nodes.\"c$(id)\"]"),
        ("intranet-a = { kind", "\"intra{net}\" = { kind"),
        ("[nodes.client-a1]", "[nodes.\"a b\"]"),
    ] {
        let file = tmp.path().join("bad.toml");
        std::fs::write(&file, good.replacen(from, to, 1)).unwrap();
        let r = imgtool(&["up", file.to_str().unwrap(), "--name", "t-meta"]);
        one_line_error(r, "bad.toml:");
        let r = imgtool(&["render", file.to_str().unwrap(), "-o", tmp.path().join("out").to_str().unwrap()]);
        one_line_error(r, "bad.toml:");
        assert!(!tmp.path().join("out").exists(), "render made its output for a bad scenario");
    }
}

#[test]
fn an_unknown_platform_is_one_line_listing_the_valid_ones() {
    for cmd in [vec!["up", "--platform", "linux/sparc"], vec!["render", "--platform", "linux/sparc", "-o", "x"]] {
        let r = imgtool(&cmd);
        one_line_error(r, "linux/amd64, linux/arm64");
    }
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR")).join("x").exists());
}
