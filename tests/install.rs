//! The release binaries' packaging and install script, without GitHub: fake
//! builds of every target are packed by scripts/package-release.sh (as the
//! release workflow packs the real ones), served over HTTP from a local
//! directory (python3's http.server on 127.0.0.1), and installed by
//! scripts/install.sh. It must install a good archive for each platform it
//! knows and refuse a tampered archive, a bad sum file, a missing file or an
//! unknown platform in one line, installing nothing. The fake builds are
//! shell scripts, so every platform's archive can be installed and run here;
//! a fake `uname` picks the platform. Also: the Homebrew formula filled from
//! the same sums, and the Windows zip.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use common::Run;
use sha2::{Digest, Sha256};

/// The archives install.sh chooses from, by `uname -s` and `uname -m`.
const UNIX_TARGETS: [&str; 4] =
    ["aarch64-apple-darwin", "x86_64-apple-darwin", "aarch64-unknown-linux-musl", "x86_64-unknown-linux-musl"];
const VERSION: &str = "9.8.7";
/// What this machine is told it is when a test does not say.
const HERE: (&str, &str) = ("Linux", "x86_64");
const HERE_ARCHIVE: &str = "imgtool-x86_64-unknown-linux-musl.tar.gz";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn script(name: &str) -> PathBuf {
    repo().join("scripts").join(name)
}

/// Runs `program args` (in `dir` if given) and records it for assertions.
fn run(program: &str, args: &[&str], dir: Option<&Path>, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(args).env_remove("IMGTOOL_RELEASE_URL").env_remove("IMGTOOL_INSTALL_DIR").env_remove("IMGTOOL_VERSION");
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}='{v}'")).collect();
    Run::from(format!("{} {program} {} (in {:?})", shown.join(" "), args.join(" "), dir.unwrap_or(repo())), out)
}

/// A fake imgtool for `target`: answers `--version` like the real one, and
/// says which build it is in a comment.
fn fake_build(dir: &Path, target: &str, version: &str) -> PathBuf {
    let path = dir.join(format!("build-{target}"));
    fs::write(&path, format!("#!/bin/sh\n# build: {target}\necho 'imgtool {version}'\n")).unwrap();
    path
}

/// Packs `binary` for `target` into `dist` with the release's own script.
fn pack(target: &str, binary: &Path, dist: &Path) {
    let s = script("package-release.sh");
    run("sh", &[s.to_str().unwrap(), target, binary.to_str().unwrap(), dist.to_str().unwrap()], None, &[]).success();
}

/// A release of fake builds of every macOS and Linux target in `dist`.
fn release(dist: &Path, version: &str) {
    let builds = dist.with_extension("builds");
    fs::create_dir_all(&builds).unwrap();
    for t in UNIX_TARGETS {
        pack(t, &fake_build(&builds, t, version), dist);
    }
}

/// python3 -m http.server on 127.0.0.1 (a free port) serving `root`; stopped on drop.
struct Server {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    url: String,
}

impl Server {
    fn start(root: &Path) -> Server {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
            .arg(root)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server (python3 is needed to serve the fake release)");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        // "Serving HTTP on 127.0.0.1 port 43117 (http://127.0.0.1:43117/) ...", once it listens.
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let port = line.split_whitespace().skip_while(|w| *w != "port").nth(1);
        let port = port.unwrap_or_else(|| panic!("http.server did not say its port: {line:?}")).to_string();
        Server { child, _stdout: stdout, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory whose `uname` answers `-s` and `-m` from FAKE_UNAME_S and FAKE_UNAME_M.
fn fake_uname(tmp: &Path) -> PathBuf {
    let dir = tmp.join("fake-uname");
    fs::create_dir_all(&dir).unwrap();
    let uname = dir.join("uname");
    fs::write(&uname, "#!/bin/sh\ncase $1 in -s) echo \"$FAKE_UNAME_S\" ;; -m) echo \"$FAKE_UNAME_M\" ;; esac\n")
        .unwrap();
    fs::set_permissions(&uname, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// install.sh with `args`, from `url`, on a machine that says it is `os` `arch`.
fn install(tmp: &Path, url: &str, (os, arch): (&str, &str), args: &[&str]) -> Run {
    install_with(
        tmp,
        url,
        (os, arch),
        args,
        &format!("{}:{}", fake_uname(tmp).display(), std::env::var("PATH").unwrap()),
    )
}

fn install_with(tmp: &Path, url: &str, (os, arch): (&str, &str), args: &[&str], path: &str) -> Run {
    let s = script("install.sh");
    let mut argv = vec![s.to_str().unwrap()];
    argv.extend(args);
    let home = tmp.join("home");
    let env = [
        ("IMGTOOL_RELEASE_URL", url),
        ("FAKE_UNAME_S", os),
        ("FAKE_UNAME_M", arch),
        ("HOME", home.to_str().unwrap()),
        ("PATH", path),
    ];
    // /bin/sh: dash on Debian, so the script is run as POSIX sh, not bash.
    run("/bin/sh", &argv, Some(tmp), &env)
}

/// Every file under `dir` with its contents, to show that nothing changed.
fn listing(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(listing(&p));
            } else {
                out.push((p.clone(), fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A refusal: exit status `code`, exactly one line on stderr containing
/// `what`, nothing on stdout.
#[track_caller]
fn refused(r: Run, code: i32, what: &str) {
    let r = r.code(code);
    assert_eq!(r.stderr.lines().count(), 1, "not one line:\n{}", r.describe());
    assert!(r.stderr.contains(what), "expected {what:?}:\n{}", r.describe());
    assert!(r.stdout.is_empty(), "printed on stdout:\n{}", r.describe());
}

#[track_caller]
fn installed_build(bin: &Path, target: &str) {
    let text = fs::read_to_string(bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    assert!(text.contains(&format!("# build: {target}\n")), "{} is not the {target} build:\n{text}", bin.display());
    assert_eq!(fs::metadata(bin).unwrap().permissions().mode() & 0o777, 0o755);
    let r = run(bin.to_str().unwrap(), &["--version"], None, &[]).success();
    assert_eq!(r.stdout, format!("imgtool {VERSION}\n"));
}

#[test]
fn installs_the_build_for_each_platform() {
    let tmp = tempfile::tempdir().unwrap();
    release(&tmp.path().join("dist"), VERSION);
    let server = Server::start(&tmp.path().join("dist"));
    let cases = [
        ("Linux", "x86_64", "x86_64-unknown-linux-musl"),
        ("Linux", "amd64", "x86_64-unknown-linux-musl"),
        ("Linux", "aarch64", "aarch64-unknown-linux-musl"),
        ("Linux", "arm64", "aarch64-unknown-linux-musl"),
        ("Darwin", "arm64", "aarch64-apple-darwin"),
        ("Darwin", "x86_64", "x86_64-apple-darwin"),
    ];
    for (i, (os, arch, target)) in cases.into_iter().enumerate() {
        // A directory that does not exist yet: the script makes it.
        let dir = tmp.path().join(format!("case-{i}/bin"));
        let r = install(tmp.path(), &server.url, (os, arch), &["--dir", dir.to_str().unwrap()]).success();
        let bin = dir.join("imgtool");
        assert!(
            r.stdout.starts_with(&format!("installed imgtool {VERSION} ({target}) as {}\n", bin.display())),
            "{}",
            r.describe()
        );
        installed_build(&bin, target);
        assert_eq!(listing(&dir).len(), 1, "more than imgtool in {}", dir.display());
    }

    // The default directory is ~/.local/bin; IMGTOOL_INSTALL_DIR and --dir=DIR choose another.
    install(tmp.path(), &server.url, HERE, &[]).success();
    installed_build(&tmp.path().join("home/.local/bin/imgtool"), "x86_64-unknown-linux-musl");
    let other = tmp.path().join("other");
    install(tmp.path(), &server.url, HERE, &[&format!("--dir={}", other.display())]).success();
    installed_build(&other.join("imgtool"), "x86_64-unknown-linux-musl");

    // An install over an older imgtool replaces it; --version must match what the build says.
    let dir = tmp.path().join("case-0/bin");
    install(tmp.path(), &server.url, HERE, &["--dir", dir.to_str().unwrap(), "--version", &format!("v{VERSION}")])
        .success();
    installed_build(&dir.join("imgtool"), "x86_64-unknown-linux-musl");
    let before = listing(&dir);
    let r = install(tmp.path(), &server.url, HERE, &["--dir", dir.to_str().unwrap(), "--version", "1.0.0"]);
    refused(r, 1, &format!("asked for imgtool 1.0.0 but the download says 'imgtool {VERSION}'; nothing installed"));
    assert_eq!(listing(&dir), before);
}

#[test]
fn refuses_a_tampered_archive_and_installs_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("www");
    release(&root.join("good"), VERSION);
    // An archive swapped for another build after the sums were made, and
    // one cut short in transit; their .sha256 files are the good ones.
    let swapped = root.join("swapped");
    release(&swapped, VERSION);
    let sum = fs::read(root.join("good").join(format!("{HERE_ARCHIVE}.sha256"))).unwrap();
    let evil = tmp.path().join("evil");
    fs::create_dir(&evil).unwrap();
    let evil_build = evil.join("imgtool");
    fs::write(&evil_build, "#!/bin/sh\n# build: x86_64-unknown-linux-musl\necho 'imgtool 9.8.7'; touch pwned\n")
        .unwrap();
    pack("x86_64-unknown-linux-musl", &evil_build, &swapped);
    fs::write(swapped.join(format!("{HERE_ARCHIVE}.sha256")), &sum).unwrap();
    let truncated = root.join("truncated");
    release(&truncated, VERSION);
    let archive = fs::read(truncated.join(HERE_ARCHIVE)).unwrap();
    fs::write(truncated.join(HERE_ARCHIVE), &archive[..archive.len() / 2]).unwrap();
    let server = Server::start(&root);

    // An older imgtool is installed; a refused install must leave it as it is.
    let dir = tmp.path().join("bin");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("imgtool"), "#!/bin/sh\necho 'imgtool 0.9.0'\n").unwrap();
    let before = listing(&dir);
    for bad in ["swapped", "truncated"] {
        let r = install(tmp.path(), &format!("{}/{bad}", server.url), HERE, &["--dir", dir.to_str().unwrap()]);
        let line = r.stderr.clone();
        refused(
            r,
            1,
            &format!("install.sh: checksum mismatch for {HERE_ARCHIVE} from {}/{bad}: expected ", server.url),
        );
        assert!(line.trim_end().ends_with("; nothing installed"), "{line}");
        assert_eq!(listing(&dir), before, "a {bad} archive changed {}", dir.display());
        // A directory that did not exist is not even made.
        let fresh = tmp.path().join(format!("fresh-{bad}"));
        refused(
            install(tmp.path(), &format!("{}/{bad}", server.url), HERE, &["--dir", fresh.to_str().unwrap()]),
            1,
            "checksum mismatch",
        );
        assert!(!fresh.exists(), "{} was made", fresh.display());
    }
    assert!(listing(tmp.path()).iter().all(|(p, _)| !p.ends_with("pwned")), "the swapped build ran");

    // The same directory and install from the good release: it was the archive that was refused.
    install(tmp.path(), &format!("{}/good", server.url), HERE, &["--dir", dir.to_str().unwrap()]).success();
    installed_build(&dir.join("imgtool"), "x86_64-unknown-linux-musl");
}

#[test]
fn refuses_bad_sums_missing_files_and_unknown_platforms_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("www");
    let good = root.join("good");
    release(&good, VERSION);
    // Each case: a copy of the good release, changed by `spoil`.
    type Spoil = fn(&Path);
    let cases: [(&str, Spoil, &str); 6] = [
        (
            "garbage-sum",
            |d| fs::write(d.join(format!("{HERE_ARCHIVE}.sha256")), "not a sum\n").unwrap(),
            "is not a SHA-256 sum file; nothing installed",
        ),
        (
            "other-sum",
            |d| {
                let other = fs::read(d.join("imgtool-aarch64-unknown-linux-musl.tar.gz.sha256")).unwrap();
                fs::write(d.join(format!("{HERE_ARCHIVE}.sha256")), other).unwrap();
            },
            "is the sum of 'imgtool-aarch64-unknown-linux-musl.tar.gz', not of imgtool-x86_64-unknown-linux-musl.tar.gz",
        ),
        (
            "no-sum",
            |d| fs::remove_file(d.join(format!("{HERE_ARCHIVE}.sha256"))).unwrap(),
            ".tar.gz.sha256: curl: (22) The requested URL returned error: 404",
        ),
        (
            "no-archive",
            |d| fs::remove_file(d.join(HERE_ARCHIVE)).unwrap(),
            "-musl.tar.gz: curl: (22) The requested URL returned error: 404",
        ),
        (
            // A correct sum of an archive that holds something else.
            "no-binary",
            |d| {
                let empty = d.join("empty/imgtool-x86_64-unknown-linux-musl");
                fs::create_dir_all(&empty).unwrap();
                fs::write(empty.join("README.md"), "hi").unwrap();
                let s = Command::new("tar")
                    .arg("-czf")
                    .arg(d.join(HERE_ARCHIVE))
                    .arg("-C")
                    .arg(d.join("empty"))
                    .arg(".")
                    .status();
                assert!(s.unwrap().success());
                write_sum(d, HERE_ARCHIVE);
            },
            "has no imgtool-x86_64-unknown-linux-musl/imgtool",
        ),
        (
            // A build for another machine: it does not run here.
            "wrong-machine",
            |d| {
                let bin = d.join("not-here");
                fs::write(&bin, [0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0]).unwrap();
                pack("x86_64-unknown-linux-musl", &bin, d);
            },
            "the downloaded imgtool does not run on this machine (",
        ),
    ];
    for (name, spoil, _) in &cases {
        let d = root.join(name);
        fs::create_dir_all(&d).unwrap();
        for e in fs::read_dir(&good).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), d.join(e.file_name())).unwrap();
        }
        spoil(&d);
    }
    let server = Server::start(&root);
    let dir = tmp.path().join("bin");
    let dir_arg = ["--dir", dir.to_str().unwrap()];
    for (name, _, what) in cases {
        refused(install(tmp.path(), &format!("{}/{name}", server.url), HERE, &dir_arg), 1, what);
        assert!(!dir.exists(), "{name}: {} was made", dir.display());
    }

    let url = format!("{}/good", server.url);
    for (os, arch) in [("FreeBSD", "amd64"), ("Linux", "armv7l"), ("Darwin", "powerpc")] {
        refused(install(tmp.path(), &url, (os, arch), &dir_arg), 1, &format!("no imgtool build for {os} {arch} ("));
    }
    refused(install(tmp.path(), "ftp://example.org/x", HERE, &dir_arg), 1, "IMGTOOL_RELEASE_URL must start with");
    refused(install(tmp.path(), &url, HERE, &["--version", "latest"]), 1, "'latest' is not a release version");
    refused(install(tmp.path(), &url, HERE, &["--bogus"]), 2, "unknown argument '--bogus' (usage: ");
    refused(install(tmp.path(), &url, HERE, &["--dir"]), 2, "--dir needs a directory");
    assert!(!dir.exists() && !tmp.path().join("home").exists(), "something was installed");
}

fn write_sum(dir: &Path, name: &str) {
    let digest = hex::encode(Sha256::digest(fs::read(dir.join(name)).unwrap()));
    fs::write(dir.join(format!("{name}.sha256")), format!("{digest}  {name}\n")).unwrap();
}

#[test]
fn takes_what_it_is_given_as_data_not_as_code() {
    let tmp = tempfile::tempdir().unwrap();
    release(&tmp.path().join("dist"), VERSION);
    let server = Server::start(&tmp.path().join("dist"));
    // Spaces, quotes, command substitutions, a glob and a leading dash, as a
    // directory relative to where the script runs.
    let name = "-a b'c\"d;$(touch pwned1)`touch pwned2`*";
    let dir = tmp.path().join(name);
    install(tmp.path(), &server.url, HERE, &["--dir", name]).success();
    installed_build(&dir.join("imgtool"), "x86_64-unknown-linux-musl");
    let r = install(tmp.path(), &server.url, HERE, &["--dir", name, "--version", "1.0$(touch pwned3)"]);
    refused(r, 1, "is not a release version such as 1.2.0");
    let url = format!("{}/$(touch pwned4)", server.url);
    refused(install(tmp.path(), &url, HERE, &["--dir", name]), 1, "cannot download");
    let ran: Vec<_> = listing(tmp.path()).into_iter().filter(|(p, _)| p.to_string_lossy().contains("pwned")).collect();
    let ran: Vec<_> = ran.into_iter().filter(|(p, _)| !p.starts_with(&dir)).collect();
    assert!(ran.is_empty(), "a value was run as a command: {ran:?}");
}

#[test]
fn works_with_wget_and_shasum_alone() {
    // What macOS has (shasum, no sha256sum) and what small Linux systems
    // have (wget, no curl): a PATH with only the tools the script needs.
    let tmp = tempfile::tempdir().unwrap();
    release(&tmp.path().join("dist"), VERSION);
    let server = Server::start(&tmp.path().join("dist"));
    let tools = tmp.path().join("tools");
    fs::create_dir(&tools).unwrap();
    for tool in
        ["mktemp", "rm", "mkdir", "cp", "chmod", "mv", "tar", "gzip", "tr", "tail", "head", "sed", "wget", "shasum"]
    {
        let found = run("sh", &["-c", &format!("command -v {tool}")], None, &[]);
        assert_eq!(found.code, 0, "{tool} is not installed (scripts/setup-debian.sh installs it)");
        std::os::unix::fs::symlink(found.stdout.trim(), tools.join(tool)).unwrap();
    }
    let path = format!("{}:{}", fake_uname(tmp.path()).display(), tools.display());
    let dir = tmp.path().join("bin");
    let r = install_with(tmp.path(), &server.url, HERE, &["--dir", dir.to_str().unwrap()], &path).success();
    assert!(r.stdout.contains("installed imgtool 9.8.7"), "{}", r.describe());
    installed_build(&dir.join("imgtool"), "x86_64-unknown-linux-musl");

    // The same PATH still refuses a bad archive.
    let spoilt = tmp.path().join("dist").join(HERE_ARCHIVE);
    let mut bytes = fs::read(&spoilt).unwrap();
    bytes[100] ^= 1;
    fs::write(&spoilt, bytes).unwrap();
    fs::remove_dir_all(&dir).unwrap();
    refused(
        install_with(tmp.path(), &server.url, HERE, &["--dir", dir.to_str().unwrap()], &path),
        1,
        "checksum mismatch",
    );
    assert!(!dir.exists());

    // file:// needs curl: without it, one line says so.
    let url = format!("file://{}", tmp.path().join("dist").display());
    refused(install_with(tmp.path(), &url, HERE, &[], &path), 1, "wget does not read file:// URLs (install curl)");
}

#[test]
fn installs_from_a_file_url_with_curl() {
    let tmp = tempfile::tempdir().unwrap();
    release(&tmp.path().join("dist"), VERSION);
    let url = format!("file://{}", tmp.path().join("dist").display());
    install(tmp.path(), &url, HERE, &[]).success();
    installed_build(&tmp.path().join("home/.local/bin/imgtool"), "x86_64-unknown-linux-musl");
}

#[test]
fn archives_hold_the_binary_and_their_sums_are_right() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    release(&dist, VERSION);
    let exe = tmp.path().join("imgtool.exe");
    fs::write(&exe, b"MZ fake").unwrap();
    pack("x86_64-pc-windows-gnu", &exe, &dist);

    let mut names: Vec<String> =
        fs::read_dir(&dist).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    let mut want: Vec<String> = UNIX_TARGETS.iter().map(|t| format!("imgtool-{t}.tar.gz")).collect();
    want.push("imgtool-x86_64-pc-windows-gnu.zip".into());
    want = want.into_iter().flat_map(|a| [format!("{a}.sha256"), a]).collect();
    want.sort();
    assert_eq!(names, want);
    for archive in names.iter().filter(|n| !n.ends_with(".sha256")) {
        let digest = hex::encode(Sha256::digest(fs::read(dist.join(archive)).unwrap()));
        let sum = fs::read_to_string(dist.join(format!("{archive}.sha256"))).unwrap();
        assert_eq!(sum, format!("{digest}  {archive}\n"), "{archive}.sha256");
    }
    // `sha256sum -c` reads them as they are.
    run("sh", &["-c", "cat *.sha256 | sha256sum -c --strict --quiet"], Some(&dist), &[]).success();

    let r = run("tar", &["-tzf", "imgtool-aarch64-apple-darwin.tar.gz"], Some(&dist), &[]).success();
    let mut members: Vec<&str> = r.stdout.lines().collect();
    members.sort();
    let dir = "imgtool-aarch64-apple-darwin";
    assert_eq!(
        members,
        [format!("{dir}/"), format!("{dir}/LICENSE"), format!("{dir}/README.md"), format!("{dir}/imgtool")]
    );
    let r = run("python3", &["-m", "zipfile", "-l", "imgtool-x86_64-pc-windows-gnu.zip"], Some(&dist), &[]).success();
    for member in ["imgtool.exe", "README.md", "LICENSE"] {
        assert!(r.stdout.contains(&format!("imgtool-x86_64-pc-windows-gnu/{member}")), "{}", r.describe());
    }

    let s = script("package-release.sh");
    let r = run(
        "sh",
        &[s.to_str().unwrap(), "riscv64gc-unknown-linux-gnu", exe.to_str().unwrap(), "out"],
        Some(tmp.path()),
        &[],
    );
    refused(r, 1, "unknown target 'riscv64gc-unknown-linux-gnu'");
}

#[test]
fn the_homebrew_formula_is_filled_with_the_release_sums() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    release(&dist, VERSION);
    let s = script("homebrew-formula.sh");
    let base = format!("https://github.com/vpnlab/imgtool/releases/download/v{VERSION}");
    let fill =
        |version: &str, base: &str| run("sh", &[s.to_str().unwrap(), version, base, dist.to_str().unwrap()], None, &[]);
    let formula = fill(VERSION, &base).success().stdout;
    assert!(formula.contains(&format!("  version \"{VERSION}\"\n")), "{formula}");
    assert!(!formula.contains('@'), "a placeholder is left:\n{formula}");
    for t in UNIX_TARGETS {
        let sum = fs::read_to_string(dist.join(format!("imgtool-{t}.tar.gz.sha256"))).unwrap();
        let sum = sum.split_whitespace().next().unwrap();
        let stanza = format!("url \"{base}/imgtool-{t}.tar.gz\"\n      sha256 \"{sum}\"\n");
        assert!(formula.contains(&stanza), "no {stanza:?} in\n{formula}");
    }

    refused(fill("1.0\"; system \"x", &base), 1, "is not a release version");
    refused(fill(VERSION, "https://example.org/\"x"), 1, "has characters a formula URL cannot carry");
    fs::write(dist.join("imgtool-x86_64-apple-darwin.tar.gz.sha256"), "0123  imgtool-x86_64-apple-darwin.tar.gz\n")
        .unwrap();
    refused(fill(VERSION, &base), 1, "imgtool-x86_64-apple-darwin.tar.gz.sha256 holds no SHA-256 sum");
    fs::remove_file(dist.join("imgtool-x86_64-apple-darwin.tar.gz.sha256")).unwrap();
    refused(fill(VERSION, &base), 1, "no imgtool-x86_64-apple-darwin.tar.gz.sha256 in");
}

#[test]
fn the_scripts_are_posix_sh() {
    // shellcheck as POSIX sh: no bashisms that dash or macOS's sh would trip on.
    let scripts =
        ["install.sh", "package-release.sh", "homebrew-formula.sh"].map(|s| script(s).to_str().unwrap().to_string());
    let mut args = vec!["-s", "sh"];
    args.extend(scripts.iter().map(String::as_str));
    let out = match Command::new("shellcheck").args(&args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("shellcheck is not installed: run scripts/setup-debian.sh (or apt-get install shellcheck)")
        }
        Err(e) => panic!("cannot run shellcheck: {e}"),
    };
    assert!(out.status.success(), "shellcheck:\n{}", String::from_utf8_lossy(&out.stdout));
}
