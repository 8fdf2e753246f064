//! Course mode end to end on the real Docker engine: the reference solution
//! of every scenario gets full marks; each broken configuration of
//! tests/fixtures/course/broken.toml fails exactly its checks, with hints
//! that say what was observed; a bare testbed takes a student's files with
//! `lab reload`, restarting nothing; bad lab folders get one line each; the
//! legacy ipsec.conf format loads, grades and reports its errors; and on
//! emulated linux/arm64 site-to-site grades as it does natively.
//! They run the local vpnlab/*:latest images, which tests/bundle.rs (run
//! before this file by `cargo test`) builds from this checkout for both
//! platforms; alone, run `imgtool build --no-validate` first.
//! These tests fail (never skip) without an engine; see scripts/setup-debian.sh.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;

#[derive(serde::Deserialize)]
struct Catalogue {
    broken: Vec<Broken>,
}

#[derive(serde::Deserialize)]
struct Broken {
    name: String,
    #[serde(default)]
    edits: Vec<Edit>,
    /// Commands run in nodes after `up` (node, then argv).
    #[serde(default)]
    exec: Vec<Vec<String>>,
    /// Every check that must fail, with words its hint must contain.
    fails: BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
struct Edit {
    file: String,
    replace: Option<String>,
    with: Option<String>,
    append: Option<String>,
}

/// The reference solution of `scenario` in `dir`, as a teacher exports it.
fn solution(dir: &Path, scenario: &str) {
    imgtool(&["lab", "solution", dir.to_str().unwrap(), scenario]).success();
}

/// The catalogue of broken configurations.
fn catalogue() -> Catalogue {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/course/broken.toml"))
        .expect("tests/fixtures/course/broken.toml");
    toml::from_str(&text).expect("broken.toml")
}

fn apply(dir: &Path, broken: &Broken) {
    for e in &broken.edits {
        let path = dir.join(&e.file);
        let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let (Some(old), Some(new)) = (&e.replace, &e.with) {
            assert!(text.contains(old.as_str()), "{}: the fixture's text is not in {}: {old:?}", broken.name, e.file);
            text = text.replace(old.as_str(), new);
        }
        if let Some(more) = &e.append {
            text.push_str(more);
        }
        std::fs::write(&path, text).unwrap();
    }
}

/// Each check's (passed, detail), from `imgtool check --format json`.
fn graded(name: &str) -> (serde_json::Value, BTreeMap<String, (bool, String)>) {
    let r = imgtool(&["check", "--name", name, "--format", "json"]);
    let report: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("check --format json: {e}\n{}", r.describe()));
    let checks = report["checks"].as_array().expect("checks").iter().map(|c| {
        let name = c["name"].as_str().unwrap().to_string();
        (name, (c["passed"].as_bool().unwrap(), c["detail"].as_str().unwrap().to_string()))
    });
    let checks = checks.collect();
    (report, checks)
}

/// Each container of testbed `name` with the time it started, to tell
/// whether anything restarted.
fn start_times(name: &str) -> String {
    let list = format!("docker ps -q --filter label=imgtool.testbed={name}");
    sh(&format!("{list} | xargs docker inspect --format '{{{{.Name}}}} {{{{.State.StartedAt}}}}' | sort"))
        .success()
        .stdout
}

/// Every check passed, at full marks.
fn full_marks(report: &serde_json::Value, checks: &BTreeMap<String, (bool, String)>) -> bool {
    checks.values().all(|(p, _)| *p) && report["score"] == report["max"]
}

/// Brings up `dir` as testbed `name`, returns what failed that should not
/// have and what passed that should have failed; leaves nothing running.
fn judge(broken: &Broken, name: &str, dir: &Path) -> Vec<String> {
    imgtool(&["up", "--lab", dir.to_str().unwrap(), "--name", name, "-q"]);
    for argv in &broken.exec {
        let mut args = vec!["exec", argv[0].as_str(), "--name", name, "--"];
        args.extend(argv[1..].iter().map(String::as_str));
        imgtool(&args).success();
    }
    let (report, checks) = graded(name);
    imgtool(&["down", "--name", name]).success();
    let mut wrong = Vec::new();
    for (check, (passed, detail)) in &checks {
        match (broken.fails.get(check), passed) {
            (None, false) => wrong.push(format!("{}: {check} failed: {detail}", broken.name)),
            (Some(_), true) => wrong.push(format!("{}: {check} passed", broken.name)),
            (Some(words), false) if !detail.contains(words.as_str()) => {
                wrong.push(format!("{}: {check}'s hint lacks '{words}': {detail}", broken.name))
            }
            _ => {}
        }
    }
    for check in broken.fails.keys().filter(|c| !checks.contains_key(*c)) {
        wrong.push(format!("{}: no check named {check}", broken.name));
    }
    if report["score"] == report["max"] {
        wrong.push(format!("{}: full marks", broken.name));
    }
    wrong
}

#[test]
fn the_reference_solution_of_every_scenario_gets_full_marks() {
    let _docker = docker_lock();
    // The three side by side, as a teacher grades a class.
    let scenarios = ["site-to-site", "site-to-site-ipv6", "host-to-host"];
    let failures: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = scenarios
            .iter()
            .enumerate()
            .map(|(i, scenario)| {
                s.spawn(move || {
                    let tmp = tempfile::tempdir().unwrap();
                    let dir = tmp.path().join("answers");
                    solution(&dir, scenario);
                    let name = format!("course-ref-{i}");
                    let up = imgtool(&["up", scenario, "--lab", dir.to_str().unwrap(), "--name", &name]);
                    let (report, checks) = graded(&name);
                    imgtool(&["down", "--name", &name]).success();
                    let failed: Vec<_> = checks.iter().filter(|(_, (p, _))| !p).collect();
                    let full = report["max"].as_u64().unwrap_or(0) > 0 && report["score"] == report["max"];
                    if up.code != 0 || up.stdout.contains("FAIL") || !failed.is_empty() || !full {
                        Some(format!("{scenario}: {failed:?} {report}\n{}", up.describe()))
                    } else {
                        None
                    }
                })
            })
            .collect();
        runs.into_iter().filter_map(|r| r.join().expect("scenario thread panicked")).collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn each_broken_configuration_fails_exactly_its_checks_with_its_hints() {
    let _docker = docker_lock();
    let catalogue = catalogue();
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    solution(&reference, "site-to-site");
    // Three testbeds side by side: bring-ups mostly wait (scripts/bench-grade.sh).
    let next = std::sync::atomic::AtomicUsize::new(0);
    let wrong = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for worker in 0..3 {
            let (next, wrong, catalogue, tmp, reference) = (&next, &wrong, &catalogue, &tmp, &reference);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(broken) = catalogue.broken.get(i) else { break };
                    let dir = tmp.path().join(format!("broken-{i}"));
                    sh(&format!("cp -r {} {}", reference.display(), dir.display())).success();
                    apply(&dir, broken);
                    let found = judge(broken, &format!("course-broken-{worker}"), &dir);
                    wrong.lock().unwrap().extend(found);
                }
            });
        }
    });
    let wrong = wrong.into_inner().unwrap();
    assert!(catalogue.broken.len() >= 11, "the catalogue shrank");
    assert!(wrong.is_empty(), "{} problems:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn a_bare_testbed_takes_the_students_files_without_restarting_a_node() {
    let _docker = docker_lock();
    let name = "course-bare";
    let up = imgtool(&["up", "--bare", "--name", name]);
    if up.code != 0 {
        imgtool(&["down", "--name", name]);
    }
    up.success();
    let started = || start_times(name);
    let before = started();
    let sas = imgtool(&["exec", "gateway-a", "--name", name, "--", "swanctl", "--list-conns"]).success();
    assert!(sas.stdout.trim().is_empty(), "a bare gateway has no connection:\n{}", sas.describe());
    let (_, checks) = graded(name);
    assert!(!checks["tunnel a-s"].0 && !checks["firewall gateway-s"].0, "{checks:?}");

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mine");
    solution(&dir, "site-to-site");
    // A syntax error: one line with the file and line, and the testbed keeps running.
    let good = std::fs::read_to_string(dir.join("gateway-b/firewall.nft")).unwrap();
    std::fs::write(dir.join("gateway-b/firewall.nft"), good.replacen("accept", "acept", 1)).unwrap();
    let bad = imgtool(&["lab", "reload", dir.to_str().unwrap(), "--name", name]).code(1);
    assert!(
        bad.stderr.contains("gateway-b/firewall.nft:") && bad.stderr.contains("syntax error"),
        "{}",
        bad.describe()
    );
    std::fs::write(dir.join("gateway-b/firewall.nft"), good).unwrap();
    // Bad folders: one line each before anything is copied; the testbed keeps running (graded below).
    let refused = |why: &str, edit: &dyn Fn(&Path), words: &str| {
        let bad = tmp.path().join(why);
        sh(&format!("cp -r {} {}", dir.display(), bad.display())).success();
        edit(&bad);
        let r = imgtool(&["lab", "reload", bad.to_str().unwrap(), "--name", name]).code(1);
        assert!(r.stderr.lines().count() == 1 && r.stderr.contains(words), "{why}:\n{}", r.describe());
    };
    refused(
        "missing",
        &|d| std::fs::remove_dir_all(d.join("gateway-b")).unwrap(),
        "has no folder for gateway gateway-b",
    );
    refused("extra", &|d| std::fs::create_dir(d.join("gateway-x")).unwrap(), "has no gateway gateway-x");
    refused("latin1", &|d| std::fs::write(d.join("gateway-a/swanctl.conf"), b"# caf\xe9\n").unwrap(), "not UTF-8");
    let big = |d: &Path| std::fs::write(d.join("gateway-s/firewall.nft"), vec![b'#'; 10_000_000]).unwrap();
    refused("big", &big, "over the limit of 1 MiB");
    imgtool(&["lab", "reload", dir.to_str().unwrap(), "--name", name]).success();
    let (report, checks) = graded(name);
    let after = started();
    imgtool(&["down", "--name", name]).success();
    assert!(full_marks(&report, &checks), "{checks:?}");
    assert_eq!(before, after, "lab reload restarted a node");
}

#[test]
fn a_students_first_run_shows_the_starting_score_without_an_error() {
    let _docker = docker_lock();
    let tmp = tempfile::tempdir().unwrap();
    let lab = tmp.path().join("lab");
    let dir = lab.to_str().unwrap();
    let name = "course-first";
    imgtool(&["lab", "init", dir]).success();
    let up = imgtool(&["up", "--lab", dir, "--name", name]);
    let check = imgtool(&["check", "--lab", dir, "--name", name]);
    imgtool(&["down", "--name", name]).success();
    let up = up.success();
    assert!(up.stdout.contains("score: 0/") && up.stdout.contains("not full marks yet"), "{}", up.describe());
    let check = check.code(3);
    assert!(!up.stderr.contains("error") && !check.stderr.contains("error"), "{}\n{}", up.describe(), check.describe());
    // Every check that earns points failed, each with what was observed.
    let fails: Vec<&str> = check.stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(fails.len() >= 12 && fails.iter().all(|l| l.split_whitespace().count() > 4), "{}", check.describe());
    assert!(check.stdout.contains("score: 0/120"), "{}", check.describe());
}

#[test]
fn the_legacy_format_loads_grades_and_reports_errors_and_reload_switches_formats() {
    let _docker = docker_lock();
    let tmp = tempfile::tempdir().unwrap();
    let lab = tmp.path().join("lab");
    let dir = lab.to_str().unwrap();
    let name = "course-legacy";
    // The templates load as they are: score 0, and no error from starter.
    imgtool(&["lab", "init", dir, "--legacy"]).success();
    let up = imgtool(&["up", "--lab", dir, "--name", name]);
    if up.code != 0 {
        imgtool(&["down", "--name", name]);
    }
    let up = up.success();
    assert!(up.stdout.contains("score: 0/") && !up.stderr.contains("ipsec.conf"), "{}", up.describe());
    let started = || start_times(name);
    let before = started();

    let answers = tmp.path().join("answers");
    imgtool(&["lab", "solution", answers.to_str().unwrap(), "--legacy"]).success();
    let conf = answers.join("gateway-a/ipsec.conf");
    let good = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, good.replacen("  mobike = no\n", "  mobike = no\n  bogus\n", 1)).unwrap();
    let bad = imgtool(&["lab", "reload", answers.to_str().unwrap(), "--name", name]).code(1);
    assert!(
        bad.stderr.lines().count() == 1 && bad.stderr.contains("gateway-a/ipsec.conf:") && bad.stderr.contains("bogus"),
        "{}",
        bad.describe()
    );
    std::fs::write(&conf, good).unwrap();
    imgtool(&["lab", "reload", answers.to_str().unwrap(), "--name", name]).success();
    let (legacy_report, legacy_checks) = graded(name);

    // From ipsec.conf back to swanctl.conf: the gateways run the format the folder holds now.
    let modern = tmp.path().join("modern");
    solution(&modern, "site-to-site");
    imgtool(&["lab", "reload", modern.to_str().unwrap(), "--name", name]).success();
    let (report, checks) = graded(name);
    let after = started();
    imgtool(&["down", "--name", name]).success();
    assert!(full_marks(&legacy_report, &legacy_checks), "legacy: {legacy_checks:?}");
    assert!(full_marks(&report, &checks), "swanctl after legacy: {checks:?}");
    assert_eq!(before, after, "lab reload restarted a node");
}

#[test]
fn on_emulated_arm64_site_to_site_grades_as_natively() {
    // Full marks there prove that the emulated gateways' native holders
    // loaded the student's rulesets: without them the firewall probes fail.
    let _docker = docker_lock();
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    solution(&reference, "site-to-site");
    let legacy = tmp.path().join("legacy");
    imgtool(&["lab", "solution", legacy.to_str().unwrap(), "--legacy"]).success();
    let name = "course-arm64";
    let up = imgtool(&["up", "--lab", reference.to_str().unwrap(), "--name", name, "--platform", "linux/arm64"]);
    let (report, checks) = graded(name);
    // lab reload after an edit, into the legacy format.
    let reload = imgtool(&["lab", "reload", legacy.to_str().unwrap(), "--name", name]);
    let (legacy_report, legacy_checks) = graded(name);
    imgtool(&["down", "--name", name]).success();
    for (run, report, checks) in [(up, report, checks), (reload, legacy_report, legacy_checks)] {
        assert!(run.code == 0 && full_marks(&report, &checks), "{checks:?}\n{}", run.describe());
    }
}
