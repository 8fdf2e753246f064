//! The registry module against real registries (Debian's `docker-registry`,
//! started per test on a free loopback port): pushing layouts by digest, the
//! index, verify and inspect; TLS with basic auth; and the failures a user
//! meets (bad credentials, unknown CA, nothing listening, 5xx).

#[path = "registry/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use imgtool::registry::{Options, PlatformManifest, Registry, RegistryError};
use support::{FailingProxy, RegistryServer, write_layout};

const LABEL: &str = "org.opencontainers.image.title";

/// Two platforms sharing a base layer, as the images do.
fn two_layouts(root: &Path) -> Vec<PathBuf> {
    ["linux/amd64", "linux/arm64/v8"]
        .iter()
        .map(|p| write_layout(root, p, &[(LABEL, "router")], &[("base", "shared base"), ("arch", p)]))
        .collect()
}

fn plain() -> Registry {
    Registry::with_docker_config(&Options::default(), None).unwrap()
}

fn annotations(version: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("org.opencontainers.image.version".to_string(), version.to_string())])
}

fn push_all(reg: &Registry, layouts: &[PathBuf], repo: &str) -> Vec<PlatformManifest> {
    layouts.iter().map(|l| reg.push_layout(l, repo).unwrap()).collect()
}

/// The message of an error, checked to be one line.
fn message(err: RegistryError) -> String {
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "not one line: {msg}");
    msg
}

/// After a push that failed once one blob got through: pushing again
/// straight to the registry sends only the other four, and the index then
/// goes up and verifies.
fn rerun_sends_only_what_is_missing(server: &RegistryServer, layouts: &[PathBuf]) {
    let rerun = plain();
    let repo = format!("{}/vpnlab/router", server.addr);
    let pushed = push_all(&rerun, layouts, &repo);
    let s = rerun.stats();
    assert_eq!((s.blobs_uploaded, s.blobs_skipped), (4, 2), "the blob that got through is not sent again: {s:?}");
    let (bytes, digest) = Registry::index_for(&pushed, &annotations("1")).unwrap();
    rerun.push_index(&repo, &bytes, &["1".into()]).unwrap();
    rerun.verify(&repo, "1", &digest, &pushed).unwrap();
}

#[test]
fn push_two_platforms_then_index_verify_and_inspect() {
    let server = RegistryServer::start();
    let work = tempfile::tempdir().unwrap();
    let repo = format!("{}/vpnlab/router", server.addr);
    let reg = plain();
    let pushed = push_all(&reg, &two_layouts(work.path()), &repo);
    assert_eq!(pushed[1].platform, "linux/arm64/v8");
    assert_eq!(pushed[0].media_type, "application/vnd.oci.image.manifest.v1+json");
    assert!(server.tags("vpnlab/router").is_empty(), "manifests are pushed by digest, without a tag");
    let s = reg.stats();
    assert_eq!(
        (s.blobs_uploaded, s.blobs_skipped, s.manifests_pushed),
        (5, 1, 2),
        "shared base layer sent once: {s:?}"
    );

    let (bytes, digest) = Registry::index_for(&pushed, &annotations("1.2.0")).unwrap();
    let reversed: Vec<PlatformManifest> = pushed.iter().rev().cloned().collect();
    assert_eq!(Registry::index_for(&reversed, &annotations("1.2.0")).unwrap().0, bytes, "deterministic bytes");
    let tags = vec!["1.2.0".to_string(), "latest".to_string()];
    assert_eq!(reg.push_index(&repo, &bytes, &tags).unwrap(), digest);
    let mut listed = server.tags("vpnlab/router");
    listed.sort();
    assert_eq!(listed, tags);
    for tag in &tags {
        reg.verify(&repo, tag, &digest, &pushed).unwrap();
    }

    let found = reg.inspect(&format!("{repo}:1.2.0")).unwrap();
    assert_eq!(found.digest, digest);
    assert_eq!(found.media_type, "application/vnd.oci.image.index.v1+json");
    let platforms: Vec<&str> = found.manifests.iter().map(|m| m.platform.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    assert_eq!(found.manifests[0].labels.get(LABEL).map(String::as_str), Some("router"));
    assert_eq!(
        (found.manifests[1].digest.as_str(), found.manifests[1].size),
        (pushed[1].digest.as_str(), pushed[1].size)
    );
    let table = found.render();
    assert!(
        table.contains("linux/arm64/v8") && table.contains(&pushed[0].digest) && table.contains("title=router"),
        "{table}"
    );
    let json = serde_json::to_value(&found).unwrap();
    assert_eq!(json["manifests"][1]["platform"], "linux/arm64/v8");

    let single = reg.inspect(&format!("{repo}@{}", pushed[0].digest)).unwrap();
    assert_eq!(single.media_type, "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(single.manifests[0].platform, "linux/amd64");
    let missing = message(reg.inspect(&format!("{repo}:nope")).unwrap_err());
    assert!(missing.contains(&server.addr) && missing.contains("vpnlab/router:nope"), "{missing}");
}

#[test]
fn pushing_again_uploads_no_blob_and_changes_nothing() {
    let server = RegistryServer::start();
    let work = tempfile::tempdir().unwrap();
    let repo = format!("{}/vpnlab/client", server.addr);
    let layouts = two_layouts(work.path());
    let first = push_all(&plain(), &layouts, &repo);
    let (bytes, digest) = Registry::index_for(&first, &annotations("1")).unwrap();
    plain().push_index(&repo, &bytes, &["1".into()]).unwrap();

    let again = plain();
    assert_eq!(push_all(&again, &layouts, &repo), first);
    let s = again.stats();
    assert_eq!((s.blobs_uploaded, s.blob_bytes_uploaded, s.blobs_skipped), (0, 0, 6), "{s:?}");
    assert_eq!(again.push_index(&repo, &bytes, &["1".into()]).unwrap(), digest);
    assert_eq!(server.tags("vpnlab/client"), ["1"]);
    again.verify(&repo, "1", &digest, &first).unwrap();
}

#[test]
fn verify_fails_when_the_tag_points_at_another_index() {
    let server = RegistryServer::start();
    let work = tempfile::tempdir().unwrap();
    let repo = format!("{}/vpnlab/gateway", server.addr);
    let reg = plain();
    let pushed = push_all(&reg, &two_layouts(work.path()), &repo);
    let (a, digest_a) = Registry::index_for(&pushed, &annotations("1")).unwrap();
    let (b, digest_b) = Registry::index_for(&pushed, &annotations("2")).unwrap();
    reg.push_index(&repo, &a, &["stable".into()]).unwrap();
    reg.push_index(&repo, &b, &["stable".into()]).unwrap();
    let msg = message(reg.verify(&repo, "stable", &digest_a, &pushed).unwrap_err());
    assert!(msg.contains(&digest_b) && msg.contains(&digest_a) && msg.contains("gateway:stable"), "{msg}");

    let mut wrong = pushed.clone();
    wrong[0].size += 1;
    let msg = message(reg.verify(&repo, "stable", &digest_b, &wrong).unwrap_err());
    assert!(msg.contains(&pushed[0].digest) && msg.contains("bytes"), "{msg}");
}

#[test]
fn index_needs_one_repository_and_one_manifest_per_platform() {
    let m = |repo: &str, platform: &str, n: char| PlatformManifest {
        repository: repo.into(),
        digest: format!("sha256:{}", n.to_string().repeat(64)),
        size: 10,
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        platform: platform.into(),
    };
    let none = BTreeMap::new();
    let dup = Registry::index_for(&[m("r/a", "linux/amd64", 'a'), m("r/a", "linux/amd64", 'b')], &none).unwrap_err();
    assert!(dup.to_string().contains("two manifests for linux/amd64"), "{dup}");
    let mixed = Registry::index_for(&[m("r/a", "linux/amd64", 'a'), m("r/b", "linux/arm64", 'b')], &none).unwrap_err();
    assert!(mixed.to_string().contains("r/a and r/b"), "{mixed}");
    let (bytes, digest) =
        Registry::index_for(&[m("r/a", "linux/arm64", 'b'), m("r/a", "linux/amd64", 'a')], &none).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(v["manifests"][0]["platform"], serde_json::json!({"architecture": "amd64", "os": "linux"}));
    assert!(digest.starts_with("sha256:") && digest.len() == 71);
}

#[test]
fn a_damaged_layout_is_refused_before_any_request() {
    let work = tempfile::tempdir().unwrap();
    let layout = write_layout(work.path(), "linux/amd64", &[], &[("f", "content")]);
    let blob = std::fs::read_dir(layout.join("blobs/sha256")).unwrap().next().unwrap().unwrap().path();
    std::fs::write(&blob, b"tampered").unwrap();
    let reg = plain();
    let msg = message(reg.push_layout(&layout, "127.0.0.1:1/vpnlab/router").unwrap_err());
    assert!(msg.contains("rebuild"), "{msg}");
    assert_eq!(reg.stats().requests, 0);
}

#[test]
fn an_unreachable_registry_is_one_clear_line() {
    let work = tempfile::tempdir().unwrap();
    let layout = write_layout(work.path(), "linux/amd64", &[], &[("f", "x")]);
    let addr = format!("127.0.0.1:{}", support::free_port());
    let msg = message(plain().push_layout(&layout, &format!("{addr}/vpnlab/router")).unwrap_err());
    assert_eq!(msg, format!("cannot reach {addr}: connection refused: is the registry running?"));
}

fn docker_config(dir: &Path, host: &str, user: &str, password: &str) -> PathBuf {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(dir.join("config.json"), format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#)).unwrap();
    dir.to_path_buf()
}

#[test]
fn tls_registry_with_basic_auth() {
    const PASSWORD: &str = "Imgtool-Test-Pa55word";
    const WRONG: &str = "Wrong-Pa55word-Not-This-One";
    let work = tempfile::tempdir().unwrap();
    let (ca, secure) = support::make_certs(work.path(), "good");
    let (other_ca, _) = support::make_certs(work.path(), "other");
    std::fs::write(&secure.htpasswd, format!("pusher:{}\n", bcrypt::hash(PASSWORD, 4).unwrap())).unwrap();
    let server = RegistryServer::start_with(&secure.yaml());
    let repo = format!("{}/vpnlab/strongswan", server.addr);
    let layouts = two_layouts(work.path());
    let with_ca = Options { ca_cert: Some(ca.clone()) };

    let (good, bad, none) = (work.path().join("good"), work.path().join("bad"), work.path().join("none"));
    for d in [&good, &bad, &none] {
        std::fs::create_dir(d).unwrap();
    }
    docker_config(&good, &server.addr, "pusher", PASSWORD);
    docker_config(&bad, &format!("https://{}", server.addr), "pusher", WRONG);

    let reg = Registry::with_docker_config(&with_ca, Some(&good)).unwrap();
    let pushed = push_all(&reg, &layouts, &repo);
    let (bytes, digest) = Registry::index_for(&pushed, &annotations("1")).unwrap();
    reg.push_index(&repo, &bytes, &["1".into()]).unwrap();
    reg.verify(&repo, "1", &digest, &pushed).unwrap();
    assert_eq!(reg.inspect(&format!("{repo}:1")).unwrap().manifests.len(), 2);

    let mut errors = Vec::new();
    let attempt = |opts: &Options, config: &Path| {
        let reg = Registry::with_docker_config(opts, Some(config)).unwrap();
        reg.push_layout(&layouts[0], &repo).unwrap_err()
    };
    let rejected = attempt(&with_ca, &bad);
    errors.push(format!("{rejected:?}"));
    let rejected = message(rejected);
    let expected =
        format!("{0} rejected the credentials for vpnlab/strongswan (401): run `docker login {0}`", server.addr);
    assert_eq!(rejected, expected);

    let anonymous = attempt(&with_ca, &none);
    errors.push(format!("{anonymous:?}"));
    let anonymous = message(anonymous);
    assert!(anonymous.contains("needs credentials") && anonymous.contains("docker login"), "{anonymous}");

    let plain_http = attempt(&Options::default(), &good);
    errors.push(format!("{plain_http:?}"));
    let plain_http = message(plain_http);
    assert!(
        plain_http.contains(&server.addr) && plain_http.contains("HTTPS") && plain_http.contains("--ca-cert"),
        "{plain_http}"
    );

    let unknown_ca = attempt(&Options { ca_cert: Some(other_ca) }, &good);
    errors.push(format!("{unknown_ca:?}"));
    let unknown_ca = message(unknown_ca);
    assert!(unknown_ca.contains("TLS with") && unknown_ca.contains("certificate"), "{unknown_ca}");
    assert!(unknown_ca.contains("--ca-cert"), "{unknown_ca}");

    let not_a_cert =
        Registry::with_docker_config(&Options { ca_cert: Some(secure.htpasswd.clone()) }, None).err().unwrap();
    assert!(message(not_a_cert).contains("--ca-cert"));

    errors.extend([rejected, anonymous, plain_http, unknown_ca]);
    for e in &errors {
        assert!(!e.contains(PASSWORD) && !e.contains(WRONG), "a password leaked: {e}");
    }
}

#[test]
fn a_registry_answering_503_fails_cleanly_and_a_second_push_sends_only_what_is_missing() {
    let server = RegistryServer::start();
    let proxy = FailingProxy::start(&server.addr, 1);
    let work = tempfile::tempdir().unwrap();
    let layouts = two_layouts(work.path());

    let flaky = plain();
    let err = message(flaky.push_layout(&layouts[0], &format!("{}/vpnlab/router", proxy.addr)).unwrap_err());
    let expected = format!("registry {} answered 503 while uploading blob sha256:", proxy.addr);
    assert!(err.starts_with(&expected) && err.ends_with("retry; blobs already pushed are not sent again"), "{err}");
    assert_eq!(flaky.stats().blobs_uploaded, 1);
    assert!(server.tags("vpnlab/router").is_empty());

    rerun_sends_only_what_is_missing(&server, &layouts);
}

#[test]
fn token_auth_as_on_docker_hub() {
    const PASSWORD: &str = "Token-Test-Pa55word";
    let work = tempfile::tempdir().unwrap();
    let (cert, token) = support::make_token(work.path(), "imgtool-test", "imgtool-test-issuer", "vpnlab/router");
    let tokens = support::TokenServer::start("pusher", PASSWORD, token);
    let auth = format!(
        "auth:\n  token: {{realm: 'http://{}/token', service: imgtool-test, issuer: imgtool-test-issuer, rootcertbundle: {}}}\n",
        tokens.addr,
        cert.display()
    );
    let server = RegistryServer::start_with(&auth);
    let repo = format!("{}/vpnlab/router", server.addr);
    let (good, bad) = (work.path().join("good"), work.path().join("bad"));
    for d in [&good, &bad] {
        std::fs::create_dir(d).unwrap();
    }
    docker_config(&good, &server.addr, "pusher", PASSWORD);
    docker_config(&bad, &server.addr, "pusher", "not-the-password");

    let reg = Registry::with_docker_config(&Options::default(), Some(&good)).unwrap();
    let pushed = push_all(&reg, &two_layouts(work.path()), &repo);
    let (bytes, digest) = Registry::index_for(&pushed, &annotations("1")).unwrap();
    reg.push_index(&repo, &bytes, &["1".into()]).unwrap();
    reg.verify(&repo, "1", &digest, &pushed).unwrap();
    assert!(tokens.issued.load(std::sync::atomic::Ordering::SeqCst) > 0, "no token was fetched");

    let reg = Registry::with_docker_config(&Options::default(), Some(&bad)).unwrap();
    let msg = message(reg.push_layout(&two_layouts(work.path())[0], &repo).unwrap_err());
    assert!(msg.starts_with(&format!("{} rejected the credentials for vpnlab/router", server.addr)), "{msg}");
    assert!(
        msg.ends_with(&format!("run `docker login {}`", server.addr)) && !msg.contains("not-the-password"),
        "{msg}"
    );
}

#[test]
fn a_registry_stopped_mid_push_fails_cleanly_and_a_rerun_sends_only_what_is_missing() {
    let server = RegistryServer::start();
    let proxy = FailingProxy::dying(&server.addr, 1);
    let work = tempfile::tempdir().unwrap();
    let layouts = two_layouts(work.path());

    let client = plain();
    let err = message(client.push_layout(&layouts[0], &format!("{}/vpnlab/router", proxy.addr)).unwrap_err());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&proxy.addr), "the error names the registry: {err}");
    assert_eq!(client.stats().blobs_uploaded, 1);
    assert!(server.tags("vpnlab/router").is_empty());

    rerun_sends_only_what_is_missing(&server, &layouts);
}
