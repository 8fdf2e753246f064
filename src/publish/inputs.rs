//! The inputs of one image's build for one platform, as one digest: the
//! buildx arguments that shape the image, SOURCE_DATE_EPOCH, every file of
//! its build contexts, and the images it is built on. When a build's inputs
//! are the ones recorded beside its kept layout, the image in that layout is
//! what BuildKit would build: every step would be a cache hit, and the export
//! alone, which clamps file times for reproducibility, costs about a second
//! per image (docs/benchmarks.md, "The no-op rebuild").
//!
//! An external base (`FROM debian:bookworm-slim`) counts as the local store
//! holds it, as the classic builder saw it: `docker pull` of a newer one, or
//! `--no-cache`, builds again. Anything this cannot see makes it give no
//! digest, and the build runs as before: a base that is not in the local
//! store (BuildKit then resolves it in the registry), a context that is not
//! a local directory, a FROM whose argument no image of the set supplies.

use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::engine::Engine;

/// Arguments that say where the results go, not what is built.
const WHERE_RESULTS_GO: [&str; 2] = ["--output=", "--metadata-file="];

/// Bumped when what the digest covers changes, so old records never match.
const VERSION: &str = "imgtool build inputs 1";

/// What a build is made of, besides its arguments.
pub(super) struct Sources<'a> {
    pub epoch: &'a str,
    /// The text of the Dockerfile.
    pub dockerfile: &'a str,
    /// The digest of the image of the set this one is built on, if any.
    pub base: Option<&'a str>,
}

/// The digest of a build's inputs, or None when some input is out of sight.
pub(super) fn digest(engine: &Engine, args: &[String], sources: &Sources) -> Result<Option<String>> {
    let mut h = Sha256::new();
    field(&mut h, VERSION.as_bytes());
    field(&mut h, sources.epoch.as_bytes());
    let shaping = args.iter().filter(|a| !WHERE_RESULTS_GO.iter().any(|p| a.starts_with(p)));
    for arg in shaping {
        field(&mut h, arg.as_bytes());
    }
    let Some(dirs) = context_dirs(args) else { return Ok(None) };
    for dir in dirs {
        hash_tree(&mut h, Path::new(dir)).with_context(|| format!("cannot read the build context {dir}"))?;
    }
    let Some(froms) = froms(sources.dockerfile) else { return Ok(None) };
    if froms.by_argument {
        // The argument names the image of the set this one is built on.
        let Some(base) = sources.base else { return Ok(None) };
        field(&mut h, base.as_bytes());
    }
    for reference in froms.external {
        let id = engine.output(&["image", "inspect", "--format", "{{.Id}}", &reference])?;
        if !id.ok() {
            return Ok(None);
        }
        field(&mut h, reference.as_bytes());
        field(&mut h, id.stdout.trim().as_bytes());
    }
    Ok(Some(format!("sha256:{}", hex::encode(h.finalize()))))
}

/// One length-prefixed field, so that no two sequences hash alike.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// The local directories the build reads: each `--build-context=NAME=DIR`
/// and the context itself (the last argument). None if any is not a local
/// directory (an image or URL context, whose content this cannot see).
fn context_dirs(args: &[String]) -> Option<Vec<&str>> {
    let named =
        args.iter().filter_map(|a| a.strip_prefix("--build-context=")).map(|a| a.split_once('=').map(|(_, d)| d));
    let mut dirs: Vec<&str> = named.collect::<Option<_>>()?;
    dirs.push(args.last()?);
    dirs.iter().all(|d| Path::new(d).is_dir()).then_some(dirs)
}

/// Every entry under `root`, in name order: its path, kind, executable bit
/// and content's digest (a symlink: its target). File times are left out: the build
/// rewrites them.
fn hash_tree(h: &mut Sha256, root: &Path) -> Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        // Subdirectories are pushed in reverse, so they come off in name order.
        let mut subdirs = Vec::new();
        for entry in entries {
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            let kind = entry.file_type()?;
            field(h, relative.as_bytes());
            if kind.is_symlink() {
                field(h, b"link");
                field(h, std::fs::read_link(&path)?.to_string_lossy().as_bytes());
            } else if kind.is_dir() {
                field(h, b"dir");
                subdirs.push(path);
            } else {
                field(h, if executable(&entry.metadata()?) { b"exec" } else { b"file" });
                field(h, crate::registry::sha256_file(&path)?.0.as_bytes());
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(())
}

#[cfg(unix)]
fn executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_: &std::fs::Metadata) -> bool {
    false
}

/// What a Dockerfile's FROM lines build on.
#[derive(Debug, PartialEq)]
struct Froms {
    /// Images named outright (not an earlier stage, not `scratch`).
    external: Vec<String>,
    /// Whether some FROM takes its image from a build argument.
    by_argument: bool,
}

/// None when a FROM line cannot be read (a continuation, say): the build
/// then runs as before.
fn froms(dockerfile: &str) -> Option<Froms> {
    let mut stages: Vec<String> = Vec::new();
    let mut found = Froms { external: Vec::new(), by_argument: false };
    for line in dockerfile.lines().map(str::trim) {
        let Some((keyword, rest)) = line.split_once(char::is_whitespace) else { continue };
        if !keyword.eq_ignore_ascii_case("FROM") {
            continue;
        }
        let words: Vec<&str> = rest.split_whitespace().filter(|w| !w.starts_with("--")).collect();
        let image = *words.first()?;
        if image.ends_with('\\') {
            return None;
        }
        let lower = image.to_lowercase();
        if image.contains('$') {
            found.by_argument = true;
        } else if lower != "scratch" && !stages.contains(&lower) {
            found.external.push(image.to_string());
        }
        if let [_, as_word, stage] = words[..]
            && as_word.eq_ignore_ascii_case("AS")
        {
            stages.push(stage.to_lowercase());
        }
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn froms_are_the_images_named_outright_and_whether_an_argument_names_one() {
        let text = "ARG BASE_IMAGE=x\nFROM --platform=$BUILDPLATFORM debian:bookworm-slim AS cli\nRUN true\nFROM ${BASE_IMAGE}\nCOPY --from=cli /a /a\nfrom cli AS again\nFROM scratch\n";
        let want = Froms { external: vec!["debian:bookworm-slim".into()], by_argument: true };
        assert_eq!(froms(text), Some(want));
        assert_eq!(froms("FROM debian\n").unwrap(), Froms { external: vec!["debian".into()], by_argument: false });
        assert_eq!(froms("FROM \\\n  debian\n"), None);
    }

    #[test]
    fn the_tree_digest_follows_content_names_and_modes_not_times() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.sh"), "echo a\n").unwrap();
        std::fs::write(dir.path().join("b"), "b\n").unwrap();
        let of = |p: &Path| {
            let mut h = Sha256::new();
            hash_tree(&mut h, p).unwrap();
            hex::encode(h.finalize())
        };
        let first = of(dir.path());
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        std::fs::File::options().write(true).open(dir.path().join("b")).unwrap().set_modified(later).unwrap();
        assert_eq!(of(dir.path()), first, "a file's time changed the digest");
        std::fs::write(dir.path().join("sub/a.sh"), "echo A\n").unwrap();
        let edited = of(dir.path());
        assert_ne!(edited, first, "an edit did not change the digest");
        std::fs::rename(dir.path().join("b"), dir.path().join("c")).unwrap();
        assert_ne!(of(dir.path()), edited, "a rename did not change the digest");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let renamed = of(dir.path());
            std::fs::set_permissions(dir.path().join("c"), std::fs::Permissions::from_mode(0o755)).unwrap();
            assert_ne!(of(dir.path()), renamed, "making a file executable did not change the digest");
        }
    }

    #[test]
    fn contexts_are_the_named_ones_and_the_last_argument() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let args = vec!["buildx".into(), format!("--build-context=common={d}"), d.clone()];
        assert_eq!(context_dirs(&args), Some(vec![d.as_str(), d.as_str()]));
        let image = vec![format!("--build-context=base=docker-image://debian"), d.clone()];
        assert_eq!(context_dirs(&image), None);
    }
}
