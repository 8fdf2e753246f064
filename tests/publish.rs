//! `imgtool build` end to end: the plan, bad input, reproducible digests,
//! the validation gate, and publishing multi-arch indexes to a real registry
//! that `docker pull` and `imgtool up` then use.

mod common;
#[path = "registry/support.rs"]
mod support;
use common::*;

use support::RegistryServer;

#[test]
fn dry_run_prints_order_platforms_and_tags() {
    let r = imgtool(&["build", "--dry-run", "--registry", "127.0.0.1:5999/vpnlab", "--version", "1.2.3"]).success();
    assert!(r.stdout.contains("order      base -> router -> client -> strongswan -> gateway"), "{}", r.stdout);
    assert!(r.stdout.contains("platforms  linux/amd64, linux/arm64"), "{}", r.stdout);
    assert!(r.stdout.contains("127.0.0.1:5999/vpnlab/gateway:1.2.3,1.2,1,latest,sha-"), "{}", r.stdout);
    // Without validation: the gate needs router, client and gateway.
    let one =
        imgtool(&["build", "--dry-run", "--image", "gateway", "--platform", "linux/arm64", "--no-validate"]).success();
    assert!(one.stdout.contains("order      base -> strongswan -> gateway"), "{}", one.stdout);
}

#[test]
fn bad_build_input_is_one_clear_line() {
    for (args, want) in [
        (
            vec!["--platform", "linux/s390x"],
            "unknown platform linux/s390x: imgtool.toml builds linux/amd64, linux/arm64",
        ),
        (vec!["--image", "webserver"], "unknown image 'webserver'"),
        (vec!["--image", "gateway"], "validating needs the router, client and gateway images"),
        (vec!["--tag", "no spaces"], "tag 'no spaces' is not valid"),
        (vec!["--version", "1.2"], "version '1.2' is not X.Y.Z or X.Y.Z-PRE"),
        (vec!["--registry", "justahost"], "is not HOST[:PORT]/NAMESPACE"),
        (vec!["--push", "--registry", "UPPER/Case:bad"], "'UPPER' is not a registry host"),
    ] {
        let mut a = vec!["build", "--dry-run"];
        a.extend(args);
        let r = imgtool(&a).code(1);
        assert!(r.stderr.contains(want), "wanted '{want}':\n{}", r.describe());
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.describe());
    }
    // clap refuses this one (usage, exit 2); the library refuses it too (src/publish/request.rs).
    let r = imgtool(&["build", "--dry-run", "--push", "--no-validate"]).code(2);
    assert!(r.stderr.contains("cannot be used with"), "{}", r.describe());
}

/// The digest `docker buildx imagetools inspect` reads for `reference`: a client that is not imgtool's.
fn buildx_digest(inspected: &Run) -> String {
    let line = inspected.stdout.lines().find(|l| l.starts_with("Digest:"));
    line.and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no digest:\n{}", inspected.describe()))
        .into()
}

/// `linux/amd64, linux/arm64` (buildx may name arm64's variant).
fn both_platforms(printed: &str) -> bool {
    let p: Vec<&str> = printed.split(", ").collect();
    p.len() == 2 && p[0] == "linux/amd64" && p[1].starts_with("linux/arm64")
}

/// The first 7 hex digits of this checkout's commit.
fn short_commit() -> String {
    let r = sh(&format!("git -C {} rev-parse HEAD", env!("CARGO_MANIFEST_DIR"))).success();
    r.stdout.trim()[..7].to_string()
}

/// The router's digest from `imgtool build --image router --no-validate` output.
fn router_digest(r: &Run) -> String {
    r.stdout
        .lines()
        .find(|l| l.starts_with("router linux/amd64 sha256:"))
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("no digest:\n{}", r.describe()))
}

#[test]
fn two_builds_of_one_commit_give_the_same_digest() {
    let _g = docker_lock();
    let args = ["build", "--image", "router", "--platform", "linux/amd64", "--no-validate", "--no-cache", "-q"];
    let first = router_digest(&imgtool(&args).success());
    let second = router_digest(&imgtool(&args).success());
    assert_eq!(first, second, "a no-cache rebuild of the same commit changed the router's digest");
}

#[test]
fn failing_validation_publishes_nothing() {
    let _g = docker_lock();
    let registry = RegistryServer::start();
    // A scenario whose clients have no route: the reach checks must fail.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("no-routes.toml");
    let text = include_str!("../manifests/site-to-site.toml").replace("routes = { default = \"10.1.0.1\" }\n", "");
    std::fs::write(&broken, text).unwrap();
    let target = format!("{}/vpnlab", registry.addr);
    let r = imgtool(&[
        "build",
        "--platform",
        &native_platform(),
        "--scenario",
        broken.to_str().unwrap(),
        "--push",
        "--registry",
        &target,
        "-q",
    ]);
    let r = r.code(1);
    assert!(r.stderr.contains("validation failed on") && r.stderr.contains("reach client-a1"), "{}", r.describe());
    assert!(r.stderr.contains("nothing was tagged or pushed"), "{}", r.describe());
    for image in image_set() {
        assert_eq!(registry.tags(&format!("vpnlab/{image}")), Vec::<String>::new(), "{image} was published");
    }
}

#[test]
fn build_push_publishes_validated_multi_arch_indexes() {
    let _g = docker_lock();
    let registry = RegistryServer::start();
    let target = format!("{}/vpnlab", registry.addr);
    let r =
        imgtool(&["build", "--push", "--registry", &target, "--version", "1.0.0", "--scenario", "site-to-site", "-q"])
            .success();
    let printed = published(&r);
    let tags = ["1.0.0", "1.0", "1", "latest", &format!("sha-{}", short_commit())].map(String::from);
    assert_eq!(printed.len(), image_set().len(), "one index per image:\n{}", r.describe());
    for image in image_set() {
        let repo = format!("{target}/{image}");
        let (digest, printed_tags, platforms) =
            printed.get(&repo).unwrap_or_else(|| panic!("{repo} not printed:\n{}", r.describe()));
        assert_eq!(printed_tags, &tags.join(","), "{}", r.describe());
        assert!(both_platforms(platforms), "{}", r.describe());
        let mut served = registry.tags(&format!("vpnlab/{image}"));
        served.sort();
        let mut want = tags.to_vec();
        want.sort();
        assert_eq!(served, want, "{image}");
        // Every tag serves exactly the index that was printed.
        for tag in &tags {
            assert_eq!(&served_digest(&format!("{repo}:{tag}")), digest, "{repo}:{tag}");
        }
        let inspected = sh(&format!("docker buildx imagetools inspect {repo}:1.0.0")).success();
        assert_eq!(&buildx_digest(&inspected), digest, "{}", inspected.stdout);
        assert!(
            inspected.stdout.contains("linux/amd64") && inspected.stdout.contains("linux/arm64"),
            "{}",
            inspected.stdout
        );
        assert!(!inspected.stdout.contains("unknown/unknown"), "{}", inspected.stdout);
    }
    let ours = imgtool(&["inspect", &format!("{target}/gateway:1.0.0")]).success();
    assert!(
        ours.stdout.contains("linux/arm64") && ours.stdout.contains("org.opencontainers.image.revision"),
        "{}",
        ours.stdout
    );
    // Each platform pulls and runs as itself.
    for (platform, machine) in [("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")] {
        let u = sh(&format!(
            "docker run --rm --pull always --platform {platform} --entrypoint uname {target}/client:1.0.0 -m"
        ))
        .success();
        assert_eq!(u.stdout.trim(), machine);
        // The imgtool image of a release runs that release's testbed images.
        let tag = sh(&format!(
            "docker run --rm --pull always --platform {platform} --entrypoint sh {target}/imgtool:1.0.0 -c 'echo $IMGTOOL_TAG; uname -m'"
        ))
        .success();
        assert_eq!(tag.stdout, format!("1.0.0\n{machine}\n"), "{}", tag.describe());
    }
    // An unchanged set re-sends manifests only.
    let again =
        imgtool(&["build", "--push", "--registry", &target, "--version", "1.0.0", "--scenario", "site-to-site", "-q"])
            .success();
    assert!(again.stdout.contains(" 0 blobs uploaded"), "{}", again.describe());
    assert_eq!(published(&again), printed, "a rebuild of the same commit changed an index");
    // And the testbed runs from the published images.
    let up = imgtool(&["up", "--name", "t-pub", "--registry", &target, "--tag", "1.0.0"]);
    imgtool(&["down", "--name", "t-pub"]).success();
    assert!(!up.success().stdout.contains("FAIL"));
}

#[test]
fn build_cache_goes_to_a_local_directory() {
    let _g = docker_lock();
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("buildx");
    let args = [
        "build",
        "--image",
        "router",
        "--platform",
        "linux/amd64",
        "--no-validate",
        "-q",
        "--cache",
        dir.to_str().unwrap(),
    ];
    imgtool(&args).success();
    assert!(dir.join("index.json").is_file(), "no cache written to {}", dir.display());
}

/// A copy of the project's images and imgtool.toml, with the imgtool
/// image's binaries (imgtool.toml's `binaries`), which every build of the
/// set checks first.
fn project_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let copy = "cp -r {0}/imgtool.toml {0}/images {1}/ && mkdir {1}/target && cp -r {0}/target/image-bin {1}/target/";
    sh(&copy.replace("{0}", env!("CARGO_MANIFEST_DIR")).replace("{1}", &dir.path().display().to_string())).success();
    dir
}

/// The router's digest from a build's stderr, if that line says `outcome`
/// ("built" or "unchanged").
fn router_outcome(r: &Run, outcome: &str) -> Option<String> {
    let prefix = format!("router linux/amd64: {outcome} sha256:");
    let line = r.stderr.lines().find_map(|l| l.split_once("] ").map(|(_, m)| m).filter(|m| m.starts_with(&prefix)))?;
    line.rsplit(' ').next().map(str::to_string)
}

#[test]
fn a_rebuild_of_unchanged_inputs_runs_no_buildx_and_an_edit_rebuilds() {
    let _g = docker_lock();
    let dir = project_copy();
    let root = dir.path();
    let cache = tempfile::tempdir().unwrap();
    let config = root.join("imgtool.toml");
    let args = [
        "build",
        "--config",
        config.to_str().unwrap(),
        "--image",
        "router",
        "--platform",
        "linux/amd64",
        "--no-validate",
    ];
    let build = || imgtool_env(&args, &[("IMGTOOL_CACHE_DIR", cache.path().to_str().unwrap())]).success();
    let first = build();
    let built = router_outcome(&first, "built")
        .unwrap_or_else(|| panic!("the first build was not a build:\n{}", first.describe()));
    let again = build();
    assert_eq!(router_outcome(&again, "unchanged"), Some(built.clone()), "{}", again.describe());
    assert!(router_outcome(&again, "built").is_none(), "{}", again.describe());

    // A changed file in the context is a new image.
    let entrypoint = root.join("images/router/entrypoint.sh");
    let original = std::fs::read_to_string(&entrypoint).unwrap();
    std::fs::write(&entrypoint, format!("{original}\n# edited\n")).unwrap();
    let edited = build();
    let edited_digest =
        router_outcome(&edited, "built").unwrap_or_else(|| panic!("an edit did not rebuild:\n{}", edited.describe()));
    assert_ne!(edited_digest, built, "an edited entrypoint gave the same image");
    // Undoing the edit builds again, and BuildKit gives the first image back.
    std::fs::write(&entrypoint, original).unwrap();
    let undone = build();
    assert_eq!(router_outcome(&undone, "built"), Some(built), "{}", undone.describe());
}

#[test]
fn dockerfile_error_names_the_line_and_publishes_nothing() {
    let _g = docker_lock();
    // A copy of the project whose router Dockerfile has a failing step.
    let dir = project_copy();
    let root = dir.path();
    let dockerfile = root.join("images/router/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    std::fs::write(&dockerfile, text.replacen("COPY entrypoint.sh", "RUN false\nCOPY entrypoint.sh", 1)).unwrap();
    let registry = RegistryServer::start();
    let target = format!("{}/vpnlab", registry.addr);
    let config = root.join("imgtool.toml");
    let args = [
        "build",
        "--config",
        config.to_str().unwrap(),
        "--platform",
        "linux/amd64",
        "--push",
        "--registry",
        &target,
        "-q",
    ];
    let r = imgtool(&args).code(1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.describe());
    assert!(
        r.stderr.contains("building router for linux/amd64 failed: Dockerfile:") && r.stderr.contains("RUN false"),
        "{}",
        r.describe()
    );
    assert!(registry.tags("vpnlab/router").is_empty());
}

/// The release pipeline's path: one `--push-by-digest` per platform (as on
/// native runners), then `merge --push` assembles and tags the indexes.
#[test]
fn push_by_digest_then_merge_publishes_the_indexes() {
    let _g = docker_lock();
    let registry = RegistryServer::start();
    let target = format!("{}/vpnlab", registry.addr);
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for platform in ["linux/amd64", "linux/arm64"] {
        let file = dir.path().join(format!("digests-{}.json", platform.rsplit('/').next().unwrap()));
        let args = ["build", "--platform", platform, "--push-by-digest", "--digests-out", file.to_str().unwrap()];
        let rest = ["--registry", &target, "--version", "2.0.0", "--scenario", "site-to-site", "-q"];
        imgtool(&[&args[..], &rest[..]].concat()).success();
        files.push(file);
    }
    assert!(registry.tags("vpnlab/router").is_empty(), "pushing by digest must not tag");
    let mut merge = vec!["merge"];
    merge.extend(files.iter().map(|f| f.to_str().unwrap()));
    merge.extend(["--push", "--registry", &target, "--version", "2.0.0"]);
    let merged = imgtool(&merge).success();
    let printed = published(&merged);
    for image in image_set() {
        let repo = format!("{target}/{image}");
        let (digest, _, platforms) =
            printed.get(&repo).unwrap_or_else(|| panic!("{repo} not printed:\n{}", merged.describe()));
        assert!(both_platforms(platforms), "{}", merged.describe());
        let tags = registry.tags(&format!("vpnlab/{image}"));
        for want in ["2.0.0", "2.0", "2", "latest"] {
            assert!(tags.iter().any(|t| t == want), "{image} lacks {want}: {tags:?}");
            assert_eq!(&served_digest(&format!("{repo}:{want}")), digest, "{repo}:{want}");
        }
    }
    let shown = imgtool(&["inspect", &format!("{target}/strongswan:2")]).success();
    assert!(shown.stdout.contains("linux/amd64") && shown.stdout.contains("linux/arm64"), "{}", shown.stdout);
}
