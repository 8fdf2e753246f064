//! Registry credentials, found where `docker login` left them: Docker's
//! config.json (`auths`, `credHelpers`, `credsStore`), through the
//! `docker-credential-<helper> get` protocol for helpers. Secrets only ever
//! live in oci-client's `RegistryAuth` (whose Debug redacts them) and in the
//! list used to scrub error messages; nothing here prints them.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;

use super::RegistryError;

/// Docker Hub's key in config.json and for credential helpers.
const HUB_SERVER: &str = "https://index.docker.io/v1/";

/// `$DOCKER_CONFIG`, else `~/.docker` (given the two variables' values).
pub fn docker_config_dir(docker_config: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    match docker_config.filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => home.filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".docker")),
    }
}

/// What config.json says about credentials.
#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Default, serde::Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// A helper's answer to `get`.
#[derive(serde::Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// The host part of a config.json key: `https://host:5000/v1/` -> `host:5000`.
fn key_host(key: &str) -> &str {
    let key = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

fn is_hub(host: &str) -> bool {
    matches!(host, "docker.io" | "index.docker.io" | "registry-1.docker.io")
}

/// Credentials for `host` (as written in references: `docker.io`,
/// `127.0.0.1:5000`) from the Docker config in `dir`; anonymous when none.
pub fn lookup(dir: Option<&Path>, host: &str) -> Result<RegistryAuth, RegistryError> {
    let Some(dir) = dir else { return Ok(RegistryAuth::Anonymous) };
    let path = dir.join("config.json");
    let fail = |problem: String| RegistryError::Credentials {
        host: host.to_string(),
        config: path.display().to_string(),
        problem,
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RegistryAuth::Anonymous),
        Err(e) => return Err(fail(format!("cannot read it: {e}"))),
    };
    // Only the position: the text around it may hold a secret.
    let config: DockerConfig = serde_json::from_str(&text)
        .map_err(|e| fail(format!("not valid JSON (line {}, column {})", e.line(), e.column())))?;
    let matches = |key: &str| key_host(key) == host || (is_hub(host) && is_hub(key_host(key)));
    let server = if is_hub(host) { HUB_SERVER.to_string() } else { host.to_string() };

    let helper = config.cred_helpers.iter().find(|(k, _)| matches(k)).map(|(_, v)| v.clone());
    if let Some(helper) = helper.or(config.creds_store.clone()).filter(|h| !h.is_empty()) {
        let program = format!("docker-credential-{helper}");
        if let Some(auth) = helper_get(Path::new(&program), &server).map_err(fail)? {
            return Ok(auth);
        }
    }
    // Docker Hub's own key first, then any other spelling of the host.
    let mut entries: Vec<(&String, &AuthEntry)> = config.auths.iter().filter(|(k, _)| matches(k)).collect();
    entries.sort_by_key(|(k, _)| k.as_str() != HUB_SERVER && k.as_str() != host);
    for (_, entry) in entries {
        if let Some(auth) = from_entry(entry).map_err(fail)? {
            return Ok(auth);
        }
    }
    Ok(RegistryAuth::Anonymous)
}

fn from_entry(entry: &AuthEntry) -> Result<Option<RegistryAuth>, String> {
    if let Some(encoded) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| "an `auth` entry is not base64".to_string())?;
        let decoded = String::from_utf8(decoded).map_err(|_| "an `auth` entry is not UTF-8".to_string())?;
        let (user, password) = decoded.split_once(':').ok_or("an `auth` entry is not user:password")?;
        return Ok(Some(RegistryAuth::Basic(user.to_string(), password.to_string())));
    }
    if let (Some(user), Some(password)) = (&entry.username, &entry.password) {
        return Ok(Some(RegistryAuth::Basic(user.clone(), password.clone())));
    }
    if entry.identitytoken.is_some() {
        return Err(
            "it holds an identity token, which imgtool cannot use; log in with a password or access token".into()
        );
    }
    Ok(None)
}

/// Runs `PROGRAM get` with the server on stdin; None when it has nothing.
pub fn helper_get(program: &Path, server: &str) -> Result<Option<RegistryAuth>, String> {
    let name = program.display();
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {name} ({e}); install it or remove it from config.json"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its exit status below.
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| format!("{name} get: {e}"))?;
    if !out.status.success() {
        // The protocol's "not found" answer comes on stdout; either way no secret is in it.
        let said = String::from_utf8_lossy(if out.stdout.is_empty() { &out.stderr } else { &out.stdout }).to_string();
        if said.to_lowercase().contains("not found") {
            return Ok(None);
        }
        let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
        return Err(format!("{name} get failed ({}): {said}", out.status));
    }
    let answer: HelperAnswer =
        serde_json::from_slice(&out.stdout).map_err(|_| format!("{name} get did not answer with credentials JSON"))?;
    if answer.username == "<token>" {
        return Err(format!("{name} holds an identity token, which imgtool cannot use; log in with a password"));
    }
    Ok(Some(RegistryAuth::Basic(answer.username, answer.secret)))
}

/// The secret of an auth, for scrubbing messages.
pub fn secret(auth: &RegistryAuth) -> Option<String> {
    match auth {
        RegistryAuth::Anonymous => None,
        RegistryAuth::Basic(_, s) | RegistryAuth::Bearer(s) => Some(s.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, json: &str) {
        std::fs::write(dir.join("config.json"), json).unwrap();
    }

    #[test]
    fn config_dir_prefers_docker_config() {
        let dir = docker_config_dir(Some("/cfg".into()), Some("/home/u".into()));
        assert_eq!(dir, Some(PathBuf::from("/cfg")));
        assert_eq!(docker_config_dir(None, Some("/home/u".into())), Some(PathBuf::from("/home/u/.docker")));
        assert_eq!(docker_config_dir(Some("".into()), None), None);
    }

    #[test]
    fn auths_entry_by_any_spelling_of_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        config(dir.path(), &format!(r#"{{"auths": {{"https://127.0.0.1:5001/v1/": {{"auth": "{auth}"}}}}}}"#));
        let found = lookup(Some(dir.path()), "127.0.0.1:5001").unwrap();
        assert_eq!(found, RegistryAuth::Basic("alice".into(), "s3cret".into()));
        assert_eq!(lookup(Some(dir.path()), "127.0.0.1:5002").unwrap(), RegistryAuth::Anonymous);
        assert!(!format!("{found:?}").contains("s3cret"));
    }

    #[test]
    fn docker_hub_key_serves_docker_io() {
        let dir = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:pw");
        config(dir.path(), &format!(r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{auth}"}}}}}}"#));
        assert_eq!(lookup(Some(dir.path()), "docker.io").unwrap(), RegistryAuth::Basic("bob".into(), "pw".into()));
    }

    #[test]
    fn missing_config_is_anonymous_and_bad_json_names_the_file_only() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(lookup(Some(dir.path()), "h:1").unwrap(), RegistryAuth::Anonymous);
        config(dir.path(), r#"{"auths": {"h:1": {"auth": "hunter2"#);
        let err = lookup(Some(dir.path()), "h:1").unwrap_err().to_string();
        assert!(err.contains("config.json") && err.contains("docker login h:1") && !err.contains("hunter2"), "{err}");
    }

    #[test]
    #[cfg(unix)] // the fake helper is a shell script
    fn credential_helper_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-fake");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread server\nif [ \"$server\" = reg:5000 ]; then\n  echo '{\"ServerURL\":\"reg:5000\",\"Username\":\"carol\",\"Secret\":\"pw2\"}'\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        assert_eq!(helper_get(&helper, "reg:5000").unwrap(), Some(RegistryAuth::Basic("carol".into(), "pw2".into())));
        assert_eq!(helper_get(&helper, "other:1").unwrap(), None);
        let missing = helper_get(&dir.path().join("docker-credential-none"), "reg:5000").unwrap_err();
        assert!(missing.contains("cannot run"), "{missing}");
    }
}
