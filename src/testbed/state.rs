//! A testbed's state directory: the scenario it runs, each node's files and
//! the credentials made at `up`. Private to the user (0700), removed by
//! `down`, so no key outlives its testbed.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::nodefiles::{self, Auth};
use crate::scenario::Scenario;

pub const SCENARIO_FILE: &str = "scenario.toml";

/// `$IMGTOOL_STATE_DIR`, else `$XDG_STATE_HOME/imgtool`, else `~/.local/state/imgtool`.
pub fn root() -> PathBuf {
    if let Some(dir) = std::env::var_os("IMGTOOL_STATE_DIR") {
        return dir.into();
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("imgtool");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".local/state/imgtool")
}

pub fn dir(testbed: &str) -> PathBuf {
    root().join(testbed)
}

fn private_dir(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}

fn write_private(path: &Path, text: &str) -> io::Result<()> {
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

/// Writes every node's files for `scenario` under `dir/nodes/`, and the
/// scenario text itself, so later commands run exactly what `up` started.
pub fn write(dir: &Path, scenario: &Scenario, scenario_text: &str, auth: &Auth) -> io::Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    private_dir(dir)?;
    write_private(&dir.join(SCENARIO_FILE), scenario_text)?;
    for node in &scenario.nodes {
        let nd = dir.join("nodes").join(&node.name);
        private_dir(&nd)?;
        write_private(&nd.join("net.conf"), &nodefiles::net_conf(scenario, node))?;
        if nodefiles::is_gateway(node) {
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

/// `N` random bytes from the kernel.
pub fn random_bytes<const N: usize>() -> io::Result<[u8; N]> {
    use std::io::Read;
    let mut bytes = [0u8; N];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// A random pre-shared key: 32 bytes, as hex.
pub fn random_psk() -> io::Result<String> {
    Ok(random_bytes::<32>()?.iter().map(|b| format!("{b:02x}")).collect())
}

/// Shell script for strongSwan's `pki`, run in the gateway image with the
/// state directory at /state: a fresh CA and one certificate per gateway,
/// placed in each gateway's swanctl tree. Nothing is printed.
pub fn pki_script(scenario: &Scenario, testbed: &str) -> String {
    let mut s = String::from(
        "set -eu\numask 077\ncd /state\nmkdir -p pki\n\
         pki --gen --type ed25519 --outform pem >pki/ca.key\n",
    );
    s += &format!(
        "pki --self --ca --lifetime 30 --in pki/ca.key --type priv --dn 'CN=imgtool {testbed} CA' --outform pem >pki/ca.pem\n"
    );
    for node in scenario.nodes.iter().filter(|n| nodefiles::is_gateway(n)) {
        let g = &node.name;
        s += &format!(
            "d=nodes/{g}/swanctl\npki --gen --type ed25519 --outform pem >$d/pkcs8/{g}.key\n\
             pki --pub --in $d/pkcs8/{g}.key --type priv | pki --issue --lifetime 30 --cacert pki/ca.pem --cakey pki/ca.key \
             --dn 'CN={g}' --san {g} --flag serverAuth --outform pem >$d/x509/{g}.pem\n\
             cp pki/ca.pem $d/x509ca/ca.pem\n"
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_files_are_private_and_complete() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tb");
        let s = Scenario::load("site-to-site").unwrap();
        write(&dir, &s, "text", &Auth::Psk("00".into())).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("nodes/gateway-a/swanctl/swanctl.conf")), 0o600);
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
    fn pki_script_makes_a_certificate_per_gateway() {
        let s = Scenario::load("site-to-site").unwrap();
        let script = pki_script(&s, "t");
        assert_eq!(script.matches("pki --issue").count(), 3);
        assert!(script.contains("--san gateway-b"));
    }
}
