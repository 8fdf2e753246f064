//! Node files travel as tar streams, never as bind mounts: into a created
//! (not yet started) container with `docker cp -`, and out of the pki helper
//! on its stdout. Both go through the daemon's API, so they work where the
//! daemon cannot see this client's paths (Docker Desktop, remote daemons,
//! imgtool in a container).

use std::io;
use std::path::{Component, Path, PathBuf};

use super::state;

/// Mode of every file given to a node: keys among them, so owner-only.
const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

/// A tar of `files` ((client directory or file, container path) pairs),
/// laid out at the container paths, owned by root, files 0600 and
/// directories 0700. A directory that is itself in `files` is packed only
/// there. A single file lets a helper get one file of a node's directory
/// and not the rest (its keys).
pub fn pack(files: &[(PathBuf, &str)]) -> io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    let sources: Vec<&Path> = files.iter().map(|(dir, _)| dir.as_path()).collect();
    for (source, target) in files {
        let target = Path::new(target.trim_start_matches('/'));
        if source.is_file() {
            // Its directory is imgtool's own (e.g. /etc/imgtool), made owner-only.
            if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                tar.append_data(&mut header(tar::EntryType::Directory, DIR_MODE, 0), parent, io::empty())?;
            }
            let data = std::fs::read(source)?;
            let mut h = header(tar::EntryType::Regular, FILE_MODE, data.len() as u64);
            tar.append_data(&mut h, target, data.as_slice())?;
        } else {
            append_dir(&mut tar, source, target, &sources)?;
        }
    }
    tar.into_inner()
}

fn append_dir(tar: &mut tar::Builder<Vec<u8>>, dir: &Path, at: &Path, skip: &[&Path]) -> io::Result<()> {
    tar.append_data(&mut header(tar::EntryType::Directory, DIR_MODE, 0), at, io::empty())?;
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let inside = at.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if !skip.contains(&path.as_path()) {
                append_dir(tar, &path, &inside, skip)?;
            }
        } else {
            let data = std::fs::read(&path)?;
            let mut h = header(tar::EntryType::Regular, FILE_MODE, data.len() as u64);
            tar.append_data(&mut h, &inside, data.as_slice())?;
        }
    }
    Ok(())
}

/// Unpacks the regular files of `archive` under `dir`, private to the user
/// (directories 0700, files 0600). Only plain relative paths are accepted:
/// an entry with `..`, a root or a link is an error, not a write elsewhere.
pub fn unpack_private(archive: &[u8], dir: &Path) -> io::Result<usize> {
    let mut count = 0;
    for entry in tar::Archive::new(archive).entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        if !path.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("refusing tar entry {}", path.display())));
        }
        let dest = dir.join(&path);
        match entry.header().entry_type() {
            tar::EntryType::Directory => state::private_dir(&dest)?,
            tar::EntryType::Regular => {
                if let Some(parent) = dest.parent() {
                    state::private_dir(parent)?;
                }
                let mut text = String::new();
                io::Read::read_to_string(&mut entry, &mut text)?;
                state::write_private(&dest, &text)?;
                count += 1;
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("refusing tar entry {} of type {other:?}", path.display()),
                ));
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(archive: &[u8]) -> Vec<(String, u32, bool)> {
        tar::Archive::new(archive)
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (e.path().unwrap().display().to_string(), h.mode().unwrap(), h.entry_type().is_dir())
            })
            .collect()
    }

    #[test]
    fn pack_lays_files_out_at_container_paths_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let node = tmp.path().join("gw");
        std::fs::create_dir_all(node.join("swanctl/pkcs8")).unwrap();
        std::fs::write(node.join("net.conf"), "link x\n").unwrap();
        std::fs::write(node.join("swanctl/swanctl.conf"), "connections {}\n").unwrap();
        std::fs::write(node.join("swanctl/pkcs8/gw.key"), "KEY").unwrap();
        let archive = pack(&[(node.clone(), "/etc/imgtool"), (node.join("swanctl"), "/etc/swanctl")]).unwrap();
        let got = listing(&archive);
        let names: Vec<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "etc/imgtool",
                "etc/imgtool/net.conf",
                "etc/swanctl",
                "etc/swanctl/pkcs8",
                "etc/swanctl/pkcs8/gw.key",
                "etc/swanctl/swanctl.conf"
            ],
            "the swanctl tree goes to /etc/swanctl only, and no entry touches /etc itself"
        );
        assert!(got.iter().all(|(_, mode, dir)| *mode == if *dir { 0o700 } else { 0o600 }), "{got:?}");
    }

    #[test]
    fn a_single_file_goes_alone_without_its_neighbours() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("firewall.nft"), "flush ruleset\n").unwrap();
        std::fs::write(tmp.path().join("gw.key"), "KEY").unwrap();
        let archive = pack(&[(tmp.path().join("firewall.nft"), "/etc/imgtool/firewall.nft")]).unwrap();
        let names: Vec<String> = listing(&archive).into_iter().map(|(n, _, _)| n).collect();
        assert_eq!(names, ["etc/imgtool", "etc/imgtool/firewall.nft"]);
    }

    #[test]
    fn unpack_writes_private_files_and_refuses_escapes() {
        let tmp = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = header(tar::EntryType::Regular, 0o644, 3);
        b.append_data(&mut h, "nodes/gw/swanctl/x509/gw.pem", &b"PEM"[..]).unwrap();
        let good = b.into_inner().unwrap();
        assert_eq!(unpack_private(&good, tmp.path()).unwrap(), 1);
        let pem = tmp.path().join("nodes/gw/swanctl/x509/gw.pem");
        assert_eq!(std::fs::read_to_string(&pem).unwrap(), "PEM");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&pem).unwrap().permissions().mode() & 0o777, 0o600);
        }

        // A hand-made header with `..`: the tar crate refuses to build one.
        let mut evil = good.clone();
        evil[..100].fill(0);
        evil[..14].copy_from_slice(b"../escaped.txt");
        let mut h = tar::Header::from_byte_slice(&evil[..512]).clone();
        h.set_cksum();
        evil[..512].copy_from_slice(h.as_bytes());
        assert!(unpack_private(&evil, tmp.path()).is_err());
        assert!(!tmp.path().parent().unwrap().join("escaped.txt").exists());
    }
}
