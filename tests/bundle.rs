//! `imgtool bundle` end to end on the real Docker engine: a bundle of this
//! checkout's images, under a namespace no reachable registry holds, brings
//! up a verified testbed after the images are removed; a second load sends
//! nothing; bad bundles are refused with one line and load nothing. Fails
//! (never skips) without an engine; see scripts/setup-debian.sh.

mod common;
use common::*;

use std::path::Path;

/// The ID the daemon gives `reference` (its index digest), or None.
fn image_id(reference: &str) -> Option<String> {
    let r = sh(&format!("docker image inspect --format '{{{{.Id}}}}' {reference}"));
    (r.code == 0).then(|| r.stdout.trim().to_string())
}

/// The full digest of each image a bundle report lists (`REF sha256:… (platforms)`).
fn bundle_digests(file: &Path) -> Vec<(String, String)> {
    let mut archive = tar::Archive::new(std::fs::File::open(file).unwrap());
    let index =
        archive.entries().unwrap().map(|e| e.unwrap()).find(|e| e.path().unwrap().to_str() == Some("index.json"));
    let v: serde_json::Value = serde_json::from_reader(index.expect("index.json in the bundle")).unwrap();
    (v["manifests"].as_array().unwrap().iter())
        .map(|m| {
            let name = m["annotations"]["io.containerd.image.name"].as_str().unwrap().to_string();
            (name, m["digest"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Where the largest blob's data starts in the archive, and its size.
fn largest_blob(file: &Path) -> (u64, u64) {
    let mut archive = tar::Archive::new(std::fs::File::open(file).unwrap());
    let entries = archive.entries().unwrap().map(|e| e.unwrap());
    entries.map(|e| (e.raw_file_position(), e.size())).max_by_key(|(_, size)| *size).unwrap()
}

/// Removes the test's testbed and image names, even when an assertion fails.
struct Cleanup<'a>(&'a [String]);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        imgtool(&["down", "--name", "t-bundle"]);
        sh(&format!("docker rmi {} 2>/dev/null", self.0.join(" ")));
    }
}

/// imgtool with `-q`: what it prints on stderr is then the error alone.
fn quiet(args: &[&str]) -> Run {
    imgtool(&[args, &["-q"]].concat())
}

#[track_caller]
fn refused(r: Run, want: &str, refs: &[String]) {
    let r = r.code(1);
    assert_eq!(r.stderr.lines().count(), 1, "not one line:\n{}", r.describe());
    assert!(r.stderr.starts_with("imgtool: error: ") && r.stderr.contains(want), "wanted '{want}':\n{}", r.describe());
    for reference in refs {
        assert_eq!(image_id(reference), None, "{reference} was loaded by a refused bundle:\n{}", r.describe());
    }
}

#[test]
fn a_bundle_starts_a_verified_testbed_with_no_registry_and_refuses_bad_copies() {
    let _g = docker_lock();
    build_checkout_images();
    // Port 1 of loopback: no registry there, so nothing can be pulled.
    let namespace = format!("127.0.0.1:1/t-bundle-{}", std::process::id());
    let refs: Vec<String> = image_set().iter().map(|i| format!("{namespace}/{i}:t1")).collect();
    let _cleanup = Cleanup(&refs);
    for (image, reference) in image_set().iter().zip(&refs) {
        sh(&format!("docker tag docker.io/vpnlab/{image}:latest {reference}")).success();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("set.tar");
    let bundle = file.to_str().unwrap();
    let saved = imgtool(&["bundle", "save", bundle, "--registry", &namespace, "--tag", "t1"]).success();
    for want in [
        &format!("{} images, each blob once", image_set().len()),
        "linux/amd64 ",
        "linux/arm64 ",
        "bytes (",
        "of unique blobs",
    ] {
        assert!(saved.stdout.contains(want), "no '{want}':\n{}", saved.describe());
    }
    let verified = imgtool(&["bundle", "verify", bundle]).success();
    assert!(verified.stdout.contains("every digest and size checked"), "{}", verified.describe());
    let digests = bundle_digests(&file);
    assert_eq!(digests.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>(), refs);

    // Gone from the daemon, and no registry can give them back.
    sh(&format!("docker rmi {}", refs.join(" "))).success();
    for reference in &refs {
        assert_eq!(image_id(reference), None);
    }
    let pull = sh(&format!("docker pull --platform {} {}", native_platform(), refs[0]));
    assert_ne!(pull.code, 0, "a registry holds {}:\n{}", refs[0], pull.describe());

    // Bad copies: one line each, exit 1, nothing loaded.
    let bytes = std::fs::read(&file).unwrap();
    refused(quiet(&["bundle", "load", dir.path().join("none.tar").to_str().unwrap()]), "does not exist", &refs);
    let cut = dir.path().join("cut.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    refused(quiet(&["bundle", "load", cut.to_str().unwrap()]), "is truncated", &refs);
    refused(quiet(&["up", "--name", "t-bundle", "--bundle", cut.to_str().unwrap()]), "is truncated", &refs);
    let (offset, size) = largest_blob(&file);
    let mut altered = bytes.clone();
    altered[(offset + size / 2) as usize] ^= 0x01;
    let bad = dir.path().join("altered.tar");
    std::fs::write(&bad, &altered).unwrap();
    refused(quiet(&["bundle", "verify", bad.to_str().unwrap()]), "is damaged (blob sha256:", &refs);
    refused(quiet(&["bundle", "load", bad.to_str().unwrap()]), "is damaged (blob sha256:", &refs);
    let other = dir.path().join("imgtool.toml");
    let toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/imgtool.toml")).unwrap();
    std::fs::write(&other, toml.replace("name = \"client\"", "name = \"webclient\"")).unwrap();
    let args = ["--config", other.to_str().unwrap(), "bundle", "load", bundle];
    let theirs = format!("holds another image set ({} of", image_set().join(","));
    refused(quiet(&args), &theirs, &refs);

    // The good one: load, up, every check passes.
    let up = imgtool(&["up", "--name", "t-bundle", "--bundle", bundle]).success();
    assert!(up.stderr.contains(&format!("{} images loaded, 0 already there", image_set().len())), "{}", up.describe());
    let passes = up.stdout.lines().filter(|l| l.starts_with("PASS")).count();
    assert!(passes >= 9 && !up.stdout.contains("FAIL"), "not every check passed:\n{}", up.describe());
    for (reference, digest) in &digests {
        assert_eq!(image_id(reference).as_deref(), Some(digest.as_str()), "{reference} is not the bundle's");
    }
    let status = sh("docker ps --filter label=io.imgtool.testbed=t-bundle --format '{{.Image}}'").success();
    assert!(!status.stdout.contains("docker.io/vpnlab"), "a node runs another image:\n{}", status.stdout);

    // A second load sends nothing and changes nothing.
    let again = imgtool(&["bundle", "load", bundle]).success();
    assert!(
        again.stdout.contains(&format!("0 images loaded, {} already there; 0 blobs sent (0 bytes)", image_set().len())),
        "{}",
        again.describe()
    );
    for (reference, digest) in &digests {
        assert_eq!(image_id(reference).as_deref(), Some(digest.as_str()), "{reference} changed");
    }

    // One image gone: only it is sent, as an archive of its own.
    imgtool(&["down", "--name", "t-bundle"]).success();
    sh(&format!("docker rmi {}", refs[0])).success();
    let one = imgtool(&["bundle", "load", bundle]).success();
    assert!(
        one.stdout.contains(&format!("1 images loaded, {} already there", image_set().len() - 1)),
        "{}",
        one.describe()
    );
    let sent: u64 = one.stdout.split("; ").nth(1).and_then(|s| s.split(' ').next()?.parse().ok()).unwrap_or(0);
    assert!(sent > 0, "no blobs sent for {}:\n{}", refs[0], one.describe());
    assert_eq!(image_id(&refs[0]).as_deref(), Some(digests[0].1.as_str()));
}

/// Without a Docker engine's help: a file that is not a bundle.
#[test]
fn a_file_that_is_not_a_bundle_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, b"this is not a tar file, nor a bundle\n".repeat(40)).unwrap();
    let r = imgtool(&["bundle", "verify", junk.to_str().unwrap(), "-q"]).code(1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.describe());
    assert!(r.stderr.contains("is not an imgtool bundle"), "{}", r.describe());
}
