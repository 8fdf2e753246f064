//! Node files travel as tar streams, never as bind mounts: into a created
//! (not yet started) container with `docker cp -`, through the daemon's API,
//! so they work where the daemon cannot see this client's paths (Docker
//! Desktop, remote daemons, imgtool in a container).

use std::io;
use std::path::{Path, PathBuf};

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
}
