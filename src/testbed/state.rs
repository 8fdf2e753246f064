//! A testbed's state directory: the scenario it runs, each node's files and
//! the credentials made at `up`. Private to the user (0700), removed by
//! `down`, so no key outlives its testbed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::name::TestbedName;
use crate::nodefiles::{self, Auth};
use crate::scenario::Scenario;

pub const SCENARIO_FILE: &str = "scenario.toml";

/// `$IMGTOOL_STATE_DIR`, else `$XDG_STATE_HOME/imgtool`, else
/// `~/.local/state/imgtool` (on Windows `%LOCALAPPDATA%\imgtool`, inside the
/// user's profile, whose ACL keeps other users out).
pub fn root() -> PathBuf {
    crate::dirs::user_dir("IMGTOOL_STATE_DIR", "XDG_STATE_HOME", ".local/state", None)
}

/// A testbed's state directory. The name's rule keeps it inside [`root`].
pub fn dir(testbed: &TestbedName) -> PathBuf {
    root().join(testbed.as_str())
}

/// The file that marks a directory as made by imgtool for one testbed. Only
/// a directory that holds it, naming the same testbed, is ever deleted.
pub const MARKER_FILE: &str = ".imgtool-testbed";

fn marker_names(dir: &Path, testbed: &TestbedName) -> bool {
    fs::read_to_string(dir.join(MARKER_FILE)).is_ok_and(|t| t.trim_end() == testbed.as_str())
}

fn not_ours(dir: &Path, testbed: &TestbedName) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{} was not made by imgtool for testbed {testbed} (no {MARKER_FILE} naming it): refusing to delete it; choose another directory or remove it yourself",
            dir.display()
        ),
    )
}

/// Whether [`claim`] would take `dir`, without touching it.
pub fn check_claim(dir: &Path, testbed: &TestbedName) -> io::Result<()> {
    if dir.exists() && !marker_names(dir, testbed) && fs::read_dir(dir)?.next().is_some() {
        return Err(not_ours(dir, testbed));
    }
    Ok(())
}

/// Makes `dir` afresh for `testbed`: an existing one is deleted only if it
/// is empty or carries this testbed's marker.
pub fn claim(dir: &Path, testbed: &TestbedName) -> io::Result<()> {
    check_claim(dir, testbed)?;
    if dir.exists() && marker_names(dir, testbed) {
        fs::remove_dir_all(dir)?;
    }
    private_dir(dir)?;
    write_private(&dir.join(MARKER_FILE), &format!("{testbed}\n"))
}

/// Deletes `dir` if it carries this testbed's marker. `Ok(false)`: there
/// was nothing to delete. A directory without the marker is left alone.
pub fn remove(dir: &Path, testbed: &TestbedName) -> io::Result<bool> {
    if !dir.exists() {
        return Ok(false);
    }
    if !marker_names(dir, testbed) {
        return Err(not_ours(dir, testbed));
    }
    fs::remove_dir_all(dir)?;
    Ok(true)
}

// On Windows the modes have no equivalent: the state lives under the
// user's profile, whose ACL already keeps other users out.
pub(crate) fn private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

pub(crate) fn write_private(path: &Path, text: &str) -> io::Result<()> {
    fs::write(path, text)?;
    #[cfg(unix)]
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

/// Writes every node's files for `scenario` under `dir/nodes/`, and the
/// scenario text itself, so later commands run exactly what `up` started.
/// `dir` is one that [`claim`] made. Course mode's gateways get
/// [`super::course::write_gateway`]'s files instead of imgtool's tunnels
/// and firewall.
pub fn write(
    dir: &Path,
    scenario: &Scenario,
    scenario_text: &str,
    auth: &Auth,
    configs: &super::course::Configs,
) -> io::Result<()> {
    write_private(&dir.join(SCENARIO_FILE), scenario_text)?;
    for node in &scenario.nodes {
        let nd = dir.join("nodes").join(&node.name);
        private_dir(&nd)?;
        write_private(&nd.join("net.conf"), &nodefiles::net_conf(scenario, node))?;
        if nodefiles::is_gateway(node) && !matches!(configs, super::course::Configs::Finished) {
            let lab = match configs {
                super::course::Configs::Lab(lab) => Some(lab),
                _ => None,
            };
            super::course::write_gateway(&nd, scenario, node, lab)?;
        } else if nodefiles::is_gateway(node) {
            write_private(&nd.join("children"), &nodefiles::children(scenario, node))?;
            write_private(&nd.join("initiate"), &nodefiles::initiate(scenario, node))?;
            write_private(&nd.join("firewall.nft"), &nodefiles::firewall(scenario, node))?;
            for sub in ["x509", "x509ca", "pkcs8"] {
                private_dir(&nd.join("swanctl").join(sub))?;
            }
            write_private(&nd.join("swanctl/swanctl.conf"), &nodefiles::swanctl_conf(scenario, node, auth))?;
        }
    }
    Ok(())
}

/// `N` random bytes from the operating system (getrandom(2), BCryptGenRandom, ...).
pub fn random_bytes<const N: usize>() -> io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(bytes)
}

/// A random pre-shared key: 32 bytes, as hex.
pub fn random_psk() -> io::Result<String> {
    Ok(random_bytes::<32>()?.iter().map(|b| format!("{b:02x}")).collect())
}

/// The testbed's CA name and its gateways, for [`crate::pki::issue`].
pub fn pki_subjects(scenario: &Scenario, testbed: &TestbedName) -> (String, Vec<String>) {
    let gateways = scenario.nodes.iter().filter(|n| nodefiles::is_gateway(n)).map(|n| n.name.clone()).collect();
    (format!("imgtool {testbed} CA"), gateways)
}

/// Writes [`crate::pki::issue`]'s files under `dir`, private to the user.
pub fn write_credentials(dir: &Path, files: &[crate::pki::CredentialFile]) -> io::Result<()> {
    for f in files {
        let dest = dir.join(&f.path);
        if let Some(parent) = dest.parent() {
            private_dir(parent)?;
        }
        write_private(&dest, &f.pem)?;
    }
    Ok(())
}

/// What `up` chose, recorded once so that later commands (`check`, `status`,
/// `exec`, `capture`, `down`) read it back instead of guessing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub testbed: TestbedName,
    pub scenario: String,
    pub platform: String,
    pub native_platform: String,
    pub driver: super::spec::Driver,
    /// What was asked for (`auto`, `kernel`, `libipsec`)...
    pub esp: super::spec::Esp,
    /// ...and what the gateways run (`kernel-netlink`, `kernel-libipsec`),
    /// once they have said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esp_backend: Option<String>,
    pub auth: AuthKind,
    /// Where the images came from (HOST/NAMESPACE) and under which tag.
    pub registry: String,
    pub tag: String,
    /// Pinned by image ID (see `objects::pin`): every later command runs
    /// exactly what `up` checked.
    pub images: super::spec::Images,
    /// Finished, or course mode's bare or lab gateways.
    #[serde(default)]
    pub course: super::course::Mode,
}

/// How the gateways authenticate; the key itself is only in the node files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    Certificates,
    Psk,
}

impl From<&Auth> for AuthKind {
    fn from(auth: &Auth) -> AuthKind {
        match auth {
            Auth::Certificates => AuthKind::Certificates,
            Auth::Psk(_) => AuthKind::Psk,
        }
    }
}

pub const RECORD_FILE: &str = "testbed.toml";

pub fn write_record(dir: &Path, record: &Record) -> io::Result<()> {
    let text = toml::to_string(record).map_err(io::Error::other)?;
    write_private(&dir.join(RECORD_FILE), &format!("# Written by imgtool up: what this testbed runs.\n{text}"))
}

pub fn read_record(dir: &Path) -> io::Result<Record> {
    let text = fs::read_to_string(dir.join(RECORD_FILE))?;
    toml::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tb(name: &str) -> TestbedName {
        name.parse().unwrap()
    }

    #[test]
    fn only_marked_directories_of_the_same_testbed_are_deleted() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        fs::create_dir(&victim).unwrap();
        fs::write(victim.join("thesis.tex"), "years of work").unwrap();
        let err = claim(&victim, &tb("a")).unwrap_err().to_string();
        assert!(err.contains("refusing to delete"), "{err}");
        assert!(remove(&victim, &tb("a")).unwrap_err().to_string().contains("refusing to delete"));
        assert!(victim.join("thesis.tex").is_file(), "nothing deleted");

        let ours = tmp.path().join("ours");
        claim(&ours, &tb("a")).unwrap();
        fs::write(ours.join("f"), "x").unwrap();
        assert!(claim(&ours, &tb("b")).is_err(), "another testbed's directory is not ours");
        assert!(remove(&ours, &tb("b")).is_err());
        claim(&ours, &tb("a")).unwrap();
        assert!(!ours.join("f").exists(), "made afresh");
        assert!(remove(&ours, &tb("a")).unwrap());
        assert!(!ours.exists());
        assert!(!remove(&ours, &tb("a")).unwrap(), "nothing left to delete");
    }

    #[test]
    fn state_files_are_private_and_complete() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tb");
        let s = Scenario::load("site-to-site").unwrap();
        claim(&dir, &tb("tb")).unwrap();
        write(&dir, &s, "text", &Auth::Psk("00".into()), &Default::default()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&dir.join("nodes/gateway-a/swanctl/swanctl.conf")), 0o600);
        }
        assert!(dir.join("nodes/server-s1/net.conf").is_file());
        assert!(!dir.join("nodes/server-s1/firewall.nft").exists());
        assert!(dir.join("nodes/gateway-s/firewall.nft").is_file());
    }

    #[test]
    fn psk_is_random_hex() {
        let a = random_psk().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_psk().unwrap());
    }

    #[test]
    fn credentials_are_written_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let files = crate::pki::issue("imgtool t CA", &["gw".to_string()]).unwrap();
        write_credentials(tmp.path(), &files).unwrap();
        let key = tmp.path().join("nodes/gw/swanctl/pkcs8/gw.key");
        assert_eq!(fs::read_to_string(&key).unwrap(), files[0].pem);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!((mode(&key), mode(key.parent().unwrap())), (0o600, 0o700));
        }
    }

    #[test]
    fn the_ca_is_named_after_the_testbed_and_every_gateway_gets_a_certificate() {
        let s = Scenario::load("site-to-site").unwrap();
        let (ca, gateways) = pki_subjects(&s, &tb("t"));
        assert_eq!(
            (ca.as_str(), gateways),
            ("imgtool t CA", vec!["gateway-a".into(), "gateway-b".into(), "gateway-s".into()])
        );
    }

    #[test]
    fn record_reads_back_what_was_written() {
        let tmp = tempfile::tempdir().unwrap();
        let record = Record {
            testbed: tb("t"),
            esp_backend: Some("kernel-libipsec".into()),
            auth: AuthKind::Psk,
            registry: "127.0.0.1:5000/vpnlab".into(),
            tag: "1.2.0".into(),
            scenario: "site-to-site".into(),
            platform: "linux/arm64".into(),
            native_platform: "linux/amd64".into(),
            driver: super::super::spec::Driver::Bridge,
            esp: super::super::spec::Esp::Kernel,
            images: super::super::spec::Images::same_for_all("r".into(), "c".into(), "g".into()),
            course: super::super::course::Mode::Lab,
        };
        write_record(tmp.path(), &record).unwrap();
        assert_eq!(read_record(tmp.path()).unwrap(), record);
    }
}
