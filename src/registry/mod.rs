//! The only module that talks to registries. Buildx writes each image and
//! platform as an OCI layout; this pushes those by digest, assembles the
//! multi-platform OCI index itself (deterministic bytes, annotations of our
//! choosing), pushes it under the tags and reads it back to prove the tags
//! hold exactly what was validated. Built on oci-client; a private
//! current-thread tokio runtime keeps the rest of imgtool synchronous.

mod auth;
mod error;
mod index;
mod layout;
mod push;
mod read;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

pub use auth::docker_config_dir;
pub use error::{RATE_LIMIT, RegistryError};
pub use index::Platform;
pub use layout::{Descriptor, ManifestJson, blob_path, sha256_file};
pub use read::{InspectedManifest, Inspection};

/// The `docker login` (user and password) that Docker's config.json or a
/// credential helper holds for `host`, for a server that logs in itself
/// (the classroom mirror's upstream). Callers keep it out of every message.
pub fn basic_login(host: &str) -> Result<Option<(String, String)>, RegistryError> {
    let dir = docker_config_dir(std::env::var_os("DOCKER_CONFIG"), std::env::var_os("HOME"));
    match auth::lookup(dir.as_deref(), host)? {
        RegistryAuth::Basic(user, password) => Ok(Some((user, password))),
        RegistryAuth::Anonymous | RegistryAuth::Bearer(_) => Ok(None),
    }
}

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A CA (PEM) to trust besides the system's; also turns loopback registries to HTTPS.
    pub ca_cert: Option<PathBuf>,
}

/// One platform's image manifest, pushed by digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlatformManifest {
    /// e.g. `127.0.0.1:5000/vpnlab/router` (no tag).
    pub repository: String,
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    /// `os/architecture[/variant]`, e.g. `linux/arm64/v8`.
    pub platform: String,
}

/// What a [`Registry`] did so far.
#[derive(Debug, Default, Clone, Copy)]
pub struct PushStats {
    /// Registry calls made (a blob upload or a login counts as one).
    pub requests: u64,
    pub blobs_uploaded: u64,
    pub blob_bytes_uploaded: u64,
    /// Blobs the registry already had.
    pub blobs_skipped: u64,
    pub manifests_pushed: u64,
}

/// One client per registry host, with the credentials found for it.
#[derive(Clone)]
struct Host {
    client: Client,
    auth: RegistryAuth,
    plain_http: bool,
    ca_cert: bool,
}

/// One repository, ready for calls.
struct Repo {
    reference: Reference,
    host: Host,
    secrets: Vec<String>,
}

impl Repo {
    /// The host as the user wrote it (`docker.io`, `127.0.0.1:5000`).
    fn registry(&self) -> &str {
        self.reference.registry()
    }

    fn name(&self) -> &str {
        self.reference.repository()
    }

    fn at_digest(&self, digest: &str) -> Reference {
        Reference::with_digest(self.registry().into(), self.name().into(), digest.into())
    }

    fn at_tag(&self, tag: &str) -> Reference {
        Reference::with_tag(self.registry().into(), self.name().into(), tag.into())
    }

    fn ctx(&self, action: String, pushing: bool) -> error::Ctx<'_> {
        error::Ctx {
            host: self.registry(),
            repository: self.name(),
            action,
            pushing,
            has_credentials: self.host.auth != RegistryAuth::Anonymous,
            plain_http: self.host.plain_http,
            ca_cert: self.host.ca_cert,
            secrets: &self.secrets,
        }
    }
}

/// A registry client; see the module docs. Deliberately without Debug: it holds credentials.
pub struct Registry {
    runtime: tokio::runtime::Runtime,
    ca_pems: Vec<Vec<u8>>,
    docker_config: Option<PathBuf>,
    hosts: Mutex<HashMap<String, Host>>,
    secrets: Mutex<Vec<String>>,
    stats: Mutex<PushStats>,
}

/// `127.0.0.1:5000`, `localhost`, `[::1]:5000`: registries spoken to in plain HTTP.
fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn split_pems(path: &Path, text: &[u8]) -> Result<Vec<Vec<u8>>, RegistryError> {
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(text);
    let pems: Vec<Vec<u8>> = text
        .split_inclusive(END)
        .filter(|p| p.contains("-----BEGIN CERTIFICATE-----") && p.contains(END))
        .map(|p| p.trim_start().as_bytes().to_vec())
        .collect();
    for pem in &pems {
        reqwest::Certificate::from_pem(pem).map_err(|e| RegistryError::CaCert {
            path: path.into(),
            problem: format!("not a valid certificate: {e}"),
        })?;
    }
    if pems.is_empty() {
        return Err(RegistryError::CaCert { path: path.into(), problem: "no PEM certificate in it".into() });
    }
    Ok(pems)
}

impl Registry {
    /// A client with credentials from `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn new(opts: &Options) -> Result<Registry, RegistryError> {
        let dir = docker_config_dir(std::env::var_os("DOCKER_CONFIG"), std::env::var_os("HOME"));
        Registry::with_docker_config(opts, dir.as_deref())
    }

    /// A client whose credentials come from `docker_config/config.json` (as if `DOCKER_CONFIG` named it).
    pub fn with_docker_config(opts: &Options, docker_config: Option<&Path>) -> Result<Registry, RegistryError> {
        let ca_pems = match &opts.ca_cert {
            Some(path) => {
                let text = std::fs::read(path).map_err(|e| RegistryError::CaCert {
                    path: path.clone(),
                    problem: format!("cannot read it: {e}"),
                })?;
                split_pems(path, &text)?
            }
            None => Vec::new(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| RegistryError::Setup(format!("cannot start the I/O runtime: {e}")))?;
        Ok(Registry {
            runtime,
            ca_pems,
            docker_config: docker_config.map(Path::to_path_buf),
            hosts: Mutex::default(),
            secrets: Mutex::default(),
            stats: Mutex::default(),
        })
    }

    pub fn stats(&self) -> PushStats {
        *self.stats.lock().unwrap()
    }

    fn count(&self, f: impl FnOnce(&mut PushStats)) {
        f(&mut self.stats.lock().unwrap());
    }

    fn host(&self, reference: &Reference) -> Result<Host, RegistryError> {
        let key = reference.resolve_registry().to_string();
        if let Some(h) = self.hosts.lock().unwrap().get(&key) {
            return Ok(h.clone());
        }
        let plain_http = self.ca_pems.is_empty() && is_loopback(&key);
        let config = ClientConfig {
            protocol: if plain_http { ClientProtocol::Http } else { ClientProtocol::Https },
            use_monolithic_push: true,
            extra_root_certificates: (self.ca_pems.iter())
                .map(|pem| Certificate { encoding: CertificateEncoding::Pem, data: pem.clone() })
                .collect(),
            platform_resolver: None,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(300)),
            ..ClientConfig::default()
        };
        // rustls's crypto is ring's (Cargo.toml); installing it twice is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::try_from(config).map_err(|e| RegistryError::Setup(e.to_string()))?;
        let auth = auth::lookup(self.docker_config.as_deref(), reference.registry())?;
        if let Some(secret) = auth::secret(&auth) {
            self.secrets.lock().unwrap().push(secret);
        }
        let host = Host { client, auth, plain_http, ca_cert: !self.ca_pems.is_empty() };
        self.hosts.lock().unwrap().insert(key, host.clone());
        Ok(host)
    }

    /// The repository (`HOST/NAMESPACE/NAME`, no tag) and a login for `op`.
    fn repo(&self, repository: &str, op: RegistryOperation) -> Result<Repo, RegistryError> {
        let bad =
            |problem: String| RegistryError::Reference { reference: repository.into(), what: "repository", problem };
        let last = repository.rsplit('/').next().unwrap_or(repository);
        if last.contains([':', '@']) {
            return Err(bad(
                "it carries a tag or digest; give HOST/NAMESPACE/NAME, e.g. 127.0.0.1:5000/vpnlab/router".into()
            ));
        }
        let reference: Reference = repository.parse().map_err(|e| bad(format!("{e}")))?;
        self.repo_of(reference, op)
    }

    fn repo_of(&self, reference: Reference, op: RegistryOperation) -> Result<Repo, RegistryError> {
        let host = self.host(&reference)?;
        let repo = Repo { reference, host, secrets: self.secrets.lock().unwrap().clone() };
        let verb = if op == RegistryOperation::Push { "push to" } else { "read" };
        let action = format!("logging in to {verb} {}", repo.name());
        let login = repo.host.client.auth(&repo.reference, &repo.host.auth, op);
        self.call(&repo, action, op == RegistryOperation::Push, login)?;
        Ok(repo)
    }

    /// Runs one registry call, counts it, and names it if it fails.
    fn call<T>(
        &self,
        repo: &Repo,
        action: String,
        pushing: bool,
        fut: impl Future<Output = oci_client::errors::Result<T>>,
    ) -> Result<T, RegistryError> {
        self.count(|s| s.requests += 1);
        self.runtime.block_on(fut).map_err(|e| repo.ctx(action, pushing).classify(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_names() {
        let r: Reference = "docker.io/router".parse().unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.resolve_registry()),
            ("docker.io", "library/router", "index.docker.io")
        );
        let r: Reference = "docker.io/vpnlab/router".parse().unwrap();
        assert_eq!(r.repository(), "vpnlab/router");
        let r: Reference = "127.0.0.1:5000/router".parse().unwrap();
        assert_eq!((r.registry(), r.repository()), ("127.0.0.1:5000", "router"));
    }

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1:5000", "127.0.0.1", "localhost:5000", "[::1]:5000", "127.1.2.3:80"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["index.docker.io", "10.0.0.1:5000", "registry.example:5000", "[2001:db8::1]:5000"] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
