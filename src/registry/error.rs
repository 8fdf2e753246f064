//! What can go wrong talking to a registry, as one-line messages that name
//! the registry, the repository and the step, and say what to do next. The
//! oci-client and reqwest errors are classified here so callers never see a
//! transport error chain (nor, through it, a credential).

use std::path::PathBuf;

use oci_client::errors::{OciDistributionError, OciErrorCode};

/// What a `429 Too Many Requests` means, and the ways around it; said the
/// same way for the registry API (push, inspect) and for `docker pull`.
pub const RATE_LIMIT: &str = "its rate limit is reached (Docker Hub allows 10 pulls an hour per IPv4 address \
     anonymously, 100 after `docker login`): use another registry (--registry HOST[:PORT]/NAMESPACE), an offline \
     bundle (`imgtool bundle`), or a classroom mirror (`imgtool mirror`, docs/classroom.md)";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{host} answered 429 Too Many Requests while {action}: {RATE_LIMIT}")]
    TooManyRequests { host: String, action: String },
    #[error("{host} rejected the credentials for {repository} ({status}): run `docker login {host}`")]
    CredentialsRejected { host: String, repository: String, status: String },
    #[error("{host} needs credentials for {repository} ({status}): run `docker login {host}`")]
    CredentialsNeeded { host: String, repository: String, status: String },
    #[error("{host} denied {action} (403): log in as a user allowed to push to {repository} (`docker login {host}`)")]
    Denied { host: String, repository: String, action: String },
    #[error("{host} has no {what}: check the reference, and that it was pushed")]
    NotFound { host: String, what: String },
    #[error("cannot reach {host}: {reason}: {hint}")]
    Unreachable { host: String, reason: String, hint: &'static str },
    #[error("TLS with {host} failed: {reason}: {hint}")]
    Tls { host: String, reason: String, hint: String },
    #[error(
        "{host} answered 400 to plain HTTP while {action}: it probably serves HTTPS (imgtool speaks plain HTTP to \
         loopback registries unless --ca-cert is given): pass --ca-cert FILE with the CA that signed its certificate"
    )]
    PlainHttpToTls { host: String, action: String },
    #[error("registry {host} answered {status} while {action}: {hint}")]
    Server { host: String, status: String, action: String, hint: &'static str },
    #[error("{host} refused {action} ({detail}): {hint}")]
    Rejected { host: String, action: String, detail: String, hint: &'static str },
    #[error("{host} gave an unexpected answer while {action}: {detail}: check that it is an OCI distribution registry")]
    Protocol { host: String, action: String, detail: String },
    #[error(
        "{host} stored {reference} as {actual}, not {expected}: the registry rewrote what was pushed; use a registry \
         that stores manifests byte for byte"
    )]
    DigestChanged { host: String, reference: String, expected: String, actual: String },
    #[error(
        "{reference} is not what was pushed: {problem}: push again (imgtool merge --push), and check that nothing else writes this tag"
    )]
    Verify { reference: String, problem: String },
    #[error(
        "{path}: not a usable OCI image layout: {problem}: rebuild it with `docker buildx build --output type=oci`"
    )]
    Layout { path: PathBuf, problem: String },
    #[error("{path} does not match its digest {expected} (its sha256 is {actual}): the layout is damaged; rebuild it")]
    BlobMismatch { path: PathBuf, expected: String, actual: String },
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{action} failed: {reason}: check the file and retry")]
    Io { action: String, reason: String },
    #[error("cannot assemble the image index: {0}")]
    Index(String),
    #[error("{reference} is not a valid {what}: {problem}")]
    Reference { reference: String, what: &'static str, problem: String },
    #[error("cannot get the credentials for {host}: {problem}: fix {config} or run `docker login {host}`")]
    Credentials { host: String, config: String, problem: String },
    #[error("--ca-cert {path}: {problem}: give the PEM file of the CA that signed the registry's certificate")]
    CaCert { path: PathBuf, problem: String },
    #[error("cannot set up the registry client: {0}")]
    Setup(String),
}

/// What was being done when a call failed, to name it in the error.
pub(crate) struct Ctx<'a> {
    pub host: &'a str,
    pub repository: &'a str,
    pub action: String,
    pub pushing: bool,
    pub has_credentials: bool,
    pub plain_http: bool,
    /// A --ca-cert was given (so an untrusted certificate means the wrong CA).
    pub ca_cert: bool,
    pub secrets: &'a [String],
}

impl Ctx<'_> {
    fn clean(&self, text: &str) -> String {
        one_line(text, self.secrets)
    }

    fn status(&self, code: u16, detail: &str) -> RegistryError {
        let (host, repository, action) = (self.host.to_string(), self.repository.to_string(), self.action.clone());
        let status = code.to_string();
        match code {
            401 if self.has_credentials => RegistryError::CredentialsRejected { host, repository, status },
            401 => RegistryError::CredentialsNeeded { host, repository, status },
            403 => RegistryError::Denied { host, repository, action },
            404 => RegistryError::NotFound { host, what: self.missing() },
            400 if self.plain_http && (detail.is_empty() || detail.contains("HTTPS server")) => {
                RegistryError::PlainHttpToTls { host, action }
            }
            429 => RegistryError::TooManyRequests { host, action },
            500..=599 => RegistryError::Server { host, status, action, hint: self.retry_hint() },
            _ => {
                let detail = if detail.is_empty() { status } else { format!("{status}: {}", self.clean(detail)) };
                RegistryError::Rejected { host, action, detail, hint: "see the registry's log for why" }
            }
        }
    }

    fn retry_hint(&self) -> &'static str {
        if self.pushing { "retry; blobs already pushed are not sent again" } else { "retry later" }
    }

    /// The missing thing of a 404, from the action ("reading X" -> "X").
    fn missing(&self) -> String {
        let what = self.action.split_once(' ').map_or(self.action.as_str(), |(_, rest)| rest);
        if what.contains(self.repository) { what.to_string() } else { format!("{what} in {}", self.repository) }
    }

    /// Turns an oci-client error into one of ours.
    pub fn classify(&self, err: OciDistributionError) -> RegistryError {
        let host = self.host.to_string();
        let action = self.action.clone();
        match err {
            OciDistributionError::RequestError(e) => self.request(&e),
            OciDistributionError::UnauthorizedError { .. } => self.status(401, ""),
            OciDistributionError::AuthenticationFailure(reason) => {
                let status = format!("token refused: {}", self.clean(&reason));
                let (repository, status) = (self.repository.to_string(), truncate(status, 120));
                if self.has_credentials {
                    RegistryError::CredentialsRejected { host, repository, status }
                } else {
                    RegistryError::CredentialsNeeded { host, repository, status }
                }
            }
            OciDistributionError::ServerError { code, message, .. } => self.status(code, &message),
            OciDistributionError::RegistryError { envelope, .. } => {
                let first = envelope.errors.first();
                let message = first.map(|e| e.message.clone()).unwrap_or_default();
                match first.map(|e| &e.code) {
                    Some(OciErrorCode::Unauthorized) => self.status(401, &message),
                    Some(OciErrorCode::Denied) => self.status(403, &message),
                    Some(OciErrorCode::Toomanyrequests) => self.status(429, &message),
                    Some(
                        OciErrorCode::NameUnknown
                        | OciErrorCode::ManifestUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound,
                    ) => self.status(404, &message),
                    code => {
                        let code = code.map(|c| format!("{c:?}")).unwrap_or_else(|| "no error code".into());
                        let hint = if matches!(first.map(|e| &e.code), Some(OciErrorCode::ManifestBlobUnknown)) {
                            "push the platform manifests to this repository first (imgtool build --push-by-digest)"
                        } else {
                            "see the registry's log for why"
                        };
                        let detail = format!("{code}: {}", self.clean(&message));
                        RegistryError::Rejected { host, action, detail, hint }
                    }
                }
            }
            OciDistributionError::DigestError(e) => RegistryError::Protocol {
                host,
                action,
                detail: format!("content does not match its digest ({})", self.clean(&e.to_string())),
            },
            OciDistributionError::IoError(e) => RegistryError::Io { action, reason: self.clean(&e.to_string()) },
            other => RegistryError::Protocol { host, action, detail: self.clean(&other.to_string()) },
        }
    }

    fn request(&self, e: &reqwest::Error) -> RegistryError {
        if let Some(status) = e.status() {
            return self.status(status.as_u16(), "");
        }
        let host = self.host.to_string();
        let chain = chain(e);
        let innermost = chain.last().cloned().unwrap_or_default();
        let all = chain.join(": ").to_lowercase();
        if e.is_timeout() {
            return RegistryError::Unreachable { host, reason: "timed out".into(), hint: "is the registry running?" };
        }
        if ["certificate", "tls", "handshake", "corrupt message", "peer"].iter().any(|w| all.contains(w)) {
            let hint = if all.contains("certificate") && self.ca_cert {
                format!("check that --ca-cert is the CA that signed the certificate of {}", self.host)
            } else if all.contains("certificate") {
                "pass --ca-cert FILE with the CA that signed its certificate".to_string()
            } else {
                format!("check that {} serves HTTPS (only loopback registries are spoken to in plain HTTP)", self.host)
            };
            return RegistryError::Tls { host, reason: self.clean(&innermost), hint };
        }
        if refused(e) {
            return RegistryError::Unreachable {
                host,
                reason: "connection refused".into(),
                hint: "is the registry running?",
            };
        }
        if all.contains("dns") || all.contains("lookup") {
            return RegistryError::Unreachable {
                host,
                reason: self.clean(&innermost),
                hint: "check the registry's name and this machine's DNS",
            };
        }
        if e.is_connect() || e.is_request() {
            return RegistryError::Unreachable { host, reason: self.clean(&innermost), hint: self.retry_hint() };
        }
        RegistryError::Protocol { host, action: self.action.clone(), detail: self.clean(&chain.join(": ")) }
    }
}

/// Every message of an error's chain, outermost first.
fn chain(e: &reqwest::Error) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut cur = std::error::Error::source(e);
    while let Some(s) = cur {
        out.push(s.to_string());
        cur = s.source();
    }
    out
}

/// Whether an I/O error in the chain is a refused connection.
fn refused(e: &reqwest::Error) -> bool {
    let mut cur = std::error::Error::source(e);
    while let Some(s) = cur {
        if s.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused) {
            return true;
        }
        cur = s.source();
    }
    false
}

/// One line, without known secrets, at most 300 characters.
pub(crate) fn one_line(text: &str, secrets: &[String]) -> String {
    let mut s = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        s = s.replace(secret.as_str(), "***");
    }
    truncate(s, 300)
}

fn truncate(mut s: String, max: usize) -> String {
    if s.chars().count() > max {
        s = s.chars().take(max).collect::<String>() + "…";
    }
    s
}
