//! Several registries and the classroom limit, against real servers
//! (Debian's `docker-registry` on free loopback ports): `build --push` to two
//! registries, one of them down; `up` trying a dead registry before a live
//! one; a registry answering 429; `imgtool mirror` as a copy and as a
//! pull-through cache; a bad registry list.

mod common;
#[path = "registry/support.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::*;
use imgtool::registry::{Options, Registry};
use support::{FailingProxy, RegistryServer, free_port, write_layout};

/// imgtool.toml of this checkout with `[registry] list = [...]`, written
/// beside it (so `build` finds images/ and the commit) and removed on drop.
struct ListConfig(PathBuf);

impl ListConfig {
    fn new(dir: &Path, name: &str, registries: &[&str]) -> ListConfig {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/imgtool.toml")).unwrap();
        let list = registries.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", ");
        let text = text.replace("host = \"docker.io\"\nnamespace = \"vpnlab\"\n", &format!("list = [{list}]\n"));
        assert!(text.contains("list = ["), "imgtool.toml's [registry] changed shape");
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        ListConfig(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for ListConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn checkout() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `build --push` of the native platform to the registries `config` lists.
fn push(config: &ListConfig) -> Run {
    let native = native_platform();
    let mut args = vec!["--config", config.path(), "build", "--push", "--platform", &native];
    args.extend(["--scenario", "site-to-site", "--version", "1.0.0", "-q"]);
    imgtool(&args)
}

/// `build --push` to two registries gives identical indexes in both; then
/// `up` (outside the checkout, so it must pull) tries a dead registry
/// first, takes the images from the first of the two, and says so. One
/// test, so the servers it fills are stopped when it ends.
#[test]
fn build_push_to_two_registries_gives_identical_digests_and_up_tries_a_dead_one_first() {
    let _g = docker_lock();
    let (a, b) = (RegistryServer::start(), RegistryServer::start());
    let (live, other) = (format!("{}/vpnlab", a.addr), format!("{}/vpnlab", b.addr));
    let config = ListConfig::new(checkout(), ".t-reg-two.toml", &[&live, &other]);
    let r = push(&config).success();
    let printed = published(&r);
    assert_eq!(printed.len(), 2 * image_set().len(), "every image in each of two registries:\n{}", r.describe());
    for image in image_set() {
        let (ra, rb) = (format!("{live}/{image}"), format!("{other}/{image}"));
        let digest = |repo: &str| printed.get(repo).unwrap_or_else(|| panic!("{repo}:\n{}", r.describe())).0.clone();
        let (da, db) = (digest(&ra), digest(&rb));
        assert_eq!(da, db, "{image}: the two registries got different indexes:\n{}", r.describe());
        for (server, repo) in [(&a, &ra), (&b, &rb)] {
            let tags = server.tags(&format!("vpnlab/{image}"));
            assert!(["1", "1.0", "1.0.0", "latest"].iter().all(|t| tags.iter().any(|x| x == t)), "{repo}: {tags:?}");
            for tag in ["1.0.0", "latest"] {
                assert_eq!(served_digest(&format!("{repo}:{tag}")), da, "{repo}:{tag}");
            }
        }
    }

    let dead = format!("127.0.0.1:{}/vpnlab", free_port());
    let dir = tempfile::tempdir().unwrap();
    let config = ListConfig::new(dir.path(), "imgtool.toml", &[&dead, &live, &other]);
    let up = imgtool_in(dir.path(), &["up", "--config", config.path(), "--name", "t-reg-up"], &[]);
    imgtool(&["down", "--name", "t-reg-up"]).success();
    let up = up.success();
    let line = up.stdout.lines().find(|l| l.starts_with("images ")).unwrap_or_else(|| panic!("{}", up.describe()));
    assert!(line.contains(&format!("from {live} (not {dead}: ")), "{}", up.describe());
    assert!(!up.stdout.contains("FAIL"), "{}", up.describe());
}

#[test]
fn one_registry_down_during_a_push_is_one_line_and_moves_no_tag_in_the_other() {
    let _g = docker_lock();
    let live = RegistryServer::start();
    let dead = format!("127.0.0.1:{}", free_port());
    let config =
        ListConfig::new(checkout(), ".t-reg-down.toml", &[&format!("{}/vpnlab", live.addr), &format!("{dead}/vpnlab")]);
    let r = push(&config).code(1);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.describe());
    let want = format!("publishing to {dead}/vpnlab failed: cannot reach {dead}: connection refused");
    assert!(r.stderr.contains(&want) && r.stderr.contains("no tag moved in any of"), "{}", r.describe());
    for image in image_set() {
        assert_eq!(live.tags(&format!("vpnlab/{image}")), Vec::<String>::new(), "{image} was tagged in {}", live.addr);
    }
}

#[test]
fn a_registry_failing_while_tags_move_is_reported_exactly() {
    let _g = docker_lock();
    let (first, second) = (RegistryServer::start(), RegistryServer::start());
    let refusing = FailingProxy::refusing_tags(&second.addr);
    let (a, b) = (format!("{}/vpnlab", first.addr), format!("{}/vpnlab", refusing.addr));
    let config = ListConfig::new(checkout(), ".t-reg-tags.toml", &[&a, &b]);
    let r = push(&config).code(1);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.describe());
    let all = image_set();
    let moved = all.iter().map(|i| format!("{a}/{i}")).collect::<Vec<_>>().join(", ");
    let rest = all[1..].iter().map(|i| format!("{b}/{i}")).collect::<Vec<_>>().join(", ");
    let want = format!("moving the tags of {b}/{} failed: ", all[0]);
    let said = format!("; moved: {moved} (every tag); not moved: {rest}: run the push again");
    assert!(r.stderr.contains(&want) && r.stderr.contains(&said), "{}", r.describe());
    for image in &all {
        assert!(first.tags(&format!("vpnlab/{image}")).contains(&"1.0.0".to_string()), "{image} not moved in {a}");
        assert_eq!(second.tags(&format!("vpnlab/{image}")), Vec::<String>::new(), "{image} moved in {b}");
    }
}

/// A registry that answers every request (TLS handshakes too) with Docker Hub's 429.
fn too_many_requests() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body = r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}"#;
            let _ = write!(
                conn,
                "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

#[test]
fn a_429_answer_is_one_line_naming_the_limit_and_the_ways_around_it() {
    let _g = docker_lock();
    let addr = too_many_requests();
    let dir = tempfile::tempdir().unwrap();
    let registry = format!("{addr}/vpnlab");
    for r in [
        imgtool(&["inspect", &format!("{registry}/router:latest")]),
        imgtool_in(dir.path(), &["up", "-q", "--name", "t-reg-429", "--registry", &registry], &[]),
    ] {
        let r = r.code(1);
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.describe());
        for want in
            ["429 Too Many Requests", "10 pulls an hour", "another registry", "imgtool bundle", "imgtool mirror"]
        {
            assert!(r.stderr.contains(want), "no '{want}':\n{}", r.describe());
        }
    }
}

/// `imgtool mirror` running in the background, killed on drop.
struct Mirror(std::process::Child);

impl Mirror {
    fn start(port: u16, dir: &Path, proxy: Option<&str>) -> Mirror {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_imgtool"));
        cmd.args(["mirror", "--listen", "127.0.0.1", "--port", &port.to_string(), "--dir"]).arg(dir);
        if let Some(url) = proxy {
            cmd.args(["--proxy", url]);
        }
        let log = std::fs::File::create(dir.with_extension("log")).unwrap();
        let mut child = cmd.stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Mirror(child);
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "imgtool mirror exited ({status}): {}",
                    std::fs::read_to_string(dir.with_extension("log")).unwrap()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        let _ = child.kill();
        panic!("imgtool mirror did not listen on {port}");
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn mirror_serves_a_pull_on_the_chosen_port_as_a_copy_and_as_a_cache_and_refuses_a_port_in_use() {
    let _g = docker_lock();
    let work = tempfile::tempdir().unwrap();
    let (copy_port, cache_port) = (free_port(), free_port());
    let _copy = Mirror::start(copy_port, &work.path().join("copy"), None);
    // The teacher fills the copy: one image, pushed with imgtool's registry client.
    let layout = write_layout(work.path(), "linux/amd64", &[], &[("hello", "from the teacher")]);
    let reg = Registry::with_docker_config(&Options::default(), None).unwrap();
    let repo = format!("127.0.0.1:{copy_port}/vpnlab/t-reg-mirror");
    let pushed = reg.push_layout(&layout, &repo).unwrap();
    let (bytes, digest) = Registry::index_for(&[pushed], &Default::default()).unwrap();
    reg.push_index(&repo, &bytes, &["1".into()]).unwrap();
    // The cache fetches from the copy on the first pull.
    let upstream = format!("http://127.0.0.1:{copy_port}");
    let _cache = Mirror::start(cache_port, &work.path().join("cache"), Some(&upstream));
    for port in [copy_port, cache_port] {
        let reference = format!("127.0.0.1:{port}/vpnlab/t-reg-mirror:1");
        assert_eq!(served_digest(&reference), digest, "{reference}");
        sh(&format!("docker pull -q --platform linux/amd64 {reference} && docker rmi {reference}")).success();
    }
    let r = imgtool(&["mirror", "--listen", "127.0.0.1", "--port", &copy_port.to_string()]).code(1);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.describe());
    assert!(r.stderr.contains(&format!("port {copy_port} is already in use on 127.0.0.1")), "{}", r.describe());
}

#[test]
fn a_bad_registry_list_entry_or_upstream_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = ListConfig::new(dir.path(), "bad.toml", &["docker.io/vpnlab", "ghcr.io"]);
    let line = std::fs::read_to_string(&config.0).unwrap().lines().position(|l| l.starts_with("list = ")).unwrap() + 1;
    for cmd in [["up", "--name", "t-reg-bad"], ["build", "--dry-run", "-q"]] {
        let mut args = vec!["--config", config.path()];
        args.extend(cmd);
        let r = imgtool_in(dir.path(), &args, &[]).code(1);
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.describe());
        let want = format!("bad.toml:{line}: registry list entry: registry 'ghcr.io' is not HOST[:PORT]/NAMESPACE");
        assert!(r.stderr.contains(&want), "{}", r.describe());
    }
    let r = imgtool(&["mirror", "--port", &free_port().to_string(), "--proxy", "registry-1.docker.io"]).code(1);
    assert!(r.stderr.contains("is not an upstream registry URL: give http(s)://HOST[:PORT]"), "{}", r.describe());
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.describe());
}
