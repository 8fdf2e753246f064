//! What `build` and `merge` are asked to do, in the library's own terms (the
//! CLI maps its flags to these). The rule that protects users lives here,
//! not in clap: nothing is pushed without validation. A [`Push`] that pushes
//! has no way to skip the gate, and [`Push::from_flags`] refuses the flag
//! combination that asks for it.

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::reference::ReferenceError;
use crate::scenario::ScenarioError;

/// Whether the built images go through the validation gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// Every scenario's checks on every platform, with exactly these images.
    Run,
    /// Local builds only: [`Push::No`] is the one place this can appear.
    Skip,
}

/// What happens to the images once built. Only `No` can skip validation:
/// the pushing variants always run the gate, and pushing itself takes the
/// proof the gate returns (`validate::Validated`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// Keep them in the local store.
    No(Validation),
    /// Push the per-platform manifests by digest, then one index per image
    /// under every tag; also write the digests if asked.
    Indexes { digests_out: Option<PathBuf> },
    /// Push the per-platform manifests by digest only (no index, no tag) and
    /// write their digests for `merge`.
    ByDigest { digests_out: PathBuf },
}

impl Push {
    /// From `--push`, `--push-by-digest`, `--digests-out` and `--no-validate`:
    /// refuses pushing unvalidated images, and options that would do nothing.
    pub fn from_flags(
        push: bool,
        by_digest: bool,
        digests_out: Option<PathBuf>,
        validation: Validation,
    ) -> Result<Push, RequestError> {
        if (push || by_digest) && validation == Validation::Skip {
            return Err(RequestError::PushWithoutValidation);
        }
        match (push, by_digest, digests_out) {
            (true, _, digests_out) => Ok(Push::Indexes { digests_out }),
            (false, true, Some(digests_out)) => Ok(Push::ByDigest { digests_out }),
            (false, true, None) => Err(RequestError::NoDigestsOut),
            (false, false, Some(_)) => Err(RequestError::DigestsOutWithoutPush),
            (false, false, None) => Ok(Push::No(validation)),
        }
    }

    pub fn validation(&self) -> Validation {
        match self {
            Push::No(v) => *v,
            Push::Indexes { .. } | Push::ByDigest { .. } => Validation::Run,
        }
    }

    /// One line for the plan.
    pub fn describe(&self) -> &'static str {
        match self {
            Push::No(_) => "nothing (no --push)",
            Push::Indexes { .. } => "validated images, by digest, then one index per image under every tag",
            Push::ByDigest { .. } => "validated images by digest only (no tag); digests to --digests-out",
        }
    }
}

/// Where images are published and under which tags, as asked (checked into
/// a `plan::Target`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destination {
    /// `HOST[:PORT]/NAMESPACE`; `None`: imgtool.toml's.
    pub registry: Option<String>,
    /// Release version `X.Y.Z[-PRE]` (semver), giving the release tags.
    pub version: Option<String>,
    /// Extra tags.
    pub tags: Vec<String>,
    /// CA certificate of a registry with a private CA.
    pub ca_cert: Option<PathBuf>,
}

/// `imgtool build`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    /// Empty: imgtool.toml's platforms.
    pub platforms: Vec<String>,
    /// Empty: all; what they are built from is added.
    pub images: Vec<String>,
    /// Scenarios of the gate; empty: every built-in one.
    pub scenarios: Vec<String>,
    /// A local directory or a registry reference.
    pub cache: Option<String>,
    pub no_cache: bool,
    /// A named buildx builder; `None`: buildx's current one.
    pub builder: Option<String>,
    pub push: Push,
    pub destination: Destination,
    /// Check everything, print the plan, and stop.
    pub dry_run: bool,
}

/// `imgtool merge`: indexes over the digests that validated builds recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequest {
    /// Digests files written by `build` with [`Push::ByDigest`].
    pub files: Vec<PathBuf>,
    pub destination: Destination,
    /// Push the indexes; without it, print them.
    pub push: bool,
}

/// A request refused before any work.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(
        "--no-validate cannot be used with --push or --push-by-digest: only validated images are pushed; drop --no-validate"
    )]
    PushWithoutValidation,
    #[error("--push-by-digest needs --digests-out FILE: `imgtool merge` reads the digests from it")]
    NoDigestsOut,
    #[error("--digests-out is written only when pushing: add --push-by-digest (or --push), or drop it")]
    DigestsOutWithoutPush,
    #[error(
        "version '{version}' is not X.Y.Z or X.Y.Z-PRE ({problem}): give a semantic version, e.g. 1.2.0 or 1.3.0-rc.1"
    )]
    Version { version: String, problem: String },
    #[error("version '{0}' has build metadata (+...), which a tag cannot carry: drop it, e.g. 1.2.0")]
    VersionBuild(String),
    #[error("unknown image '{name}': imgtool.toml has {known}")]
    UnknownImage { name: String, known: String },
    #[error(
        "validating needs the router, client and gateway images, but only {images} would be built: drop --image, or add --no-validate (then nothing can be pushed)"
    )]
    PartialValidation { images: String },
    #[error(
        "cache '{cache}' is not a registry reference ({problem}): give a directory or HOST[:PORT]/NAMESPACE/NAME[:TAG]"
    )]
    Cache { cache: String, problem: String },
    #[error("imgtool build needs a checkout with imgtool.toml and images/: run it there or pass --config")]
    NoCheckout,
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushing_unvalidated_images_is_refused_in_the_library() {
        let digests = || Some(PathBuf::from("d.json"));
        for (push, by_digest, out) in [(true, false, None), (false, true, digests()), (true, true, digests())] {
            let e = Push::from_flags(push, by_digest, out, Validation::Skip).unwrap_err();
            assert!(matches!(e, RequestError::PushWithoutValidation), "{e}");
            assert!(!e.to_string().contains('\n') && e.to_string().contains("drop --no-validate"), "{e}");
        }
    }

    #[test]
    fn every_pushing_request_runs_the_gate() {
        let out = Some(PathBuf::from("d.json"));
        let push = Push::from_flags(true, false, None, Validation::Run).unwrap();
        assert_eq!(push, Push::Indexes { digests_out: None });
        let by_digest = Push::from_flags(false, true, out.clone(), Validation::Run).unwrap();
        assert_eq!(by_digest, Push::ByDigest { digests_out: "d.json".into() });
        assert_eq!((push.validation(), by_digest.validation()), (Validation::Run, Validation::Run));
        assert_eq!(Push::from_flags(false, false, None, Validation::Skip).unwrap(), Push::No(Validation::Skip));
    }

    #[test]
    fn digests_options_that_would_do_nothing_are_refused() {
        let out = Some(PathBuf::from("d.json"));
        assert!(matches!(Push::from_flags(false, true, None, Validation::Run), Err(RequestError::NoDigestsOut)));
        let e = Push::from_flags(false, false, out, Validation::Run).unwrap_err();
        assert!(matches!(e, RequestError::DigestsOutWithoutPush), "{e}");
    }
}
