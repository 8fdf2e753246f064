//! `build --builder NAME` and `doctor`'s builders, with the builder that
//! exists here: Docker's own, `default`. A named builder of another kind
//! cannot be made on these machines: the `docker-container` driver needs the
//! moby/buildkit image (no Docker Hub), and buildx refuses the `docker`
//! builder of a second context by name ("use `docker --context=X buildx`").
//! buildx/README.md says so. Fails (never skips) without an engine; see
//! scripts/setup-debian.sh.

mod common;
use common::*;

#[test]
fn build_uses_the_named_builder_refuses_an_unknown_one_and_doctor_lists_them() {
    let _docker = docker_lock();
    let doctor = imgtool(&["doctor"]);
    let line = doctor.stdout.lines().find(|l| l.contains("builders")).unwrap_or_default().to_string();
    assert!(line.contains("default (docker, 1 node(s): linux/amd64"), "{}", doctor.describe());

    let args = ["build", "--builder", "default", "--image", "base", "--platform", "linux/amd64", "--no-validate", "-v"];
    let build = imgtool(&args).success();
    assert!(build.stderr.contains("--builder=default"), "the build did not name the builder:\n{}", build.describe());

    let unknown = imgtool(&["build", "--builder", "no-such-builder", "--image", "base", "--no-validate"]).code(1);
    assert!(
        unknown.stderr.lines().count() == 1
            && unknown.stderr.contains("no buildx builder named no-such-builder (there are: default")
            && unknown.stderr.contains("buildx/README.md"),
        "{}",
        unknown.describe()
    );
}
