//! The bundle as a tar: one pass that hashes every blob (order does not
//! matter, nothing is extracted), and a writer that copies chosen blobs of
//! one archive into another, each once, with a new `index.json`.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::Digest as _;

/// Blobs up to this size are kept in memory by a scan (indexes, manifests
/// and configs are a few KiB; layers are streamed through the hash only).
const SMALL: u64 = 1 << 20;

/// What one pass over an archive found.
#[derive(Debug, Default)]
pub struct Scanned {
    pub index: Option<Vec<u8>>,
    pub oci_layout: bool,
    /// Every blob whose content matches its name: digest → size.
    pub blobs: HashMap<String, u64>,
    pub small: HashMap<String, Vec<u8>>,
    /// Bytes read.
    pub bytes: u64,
}

#[derive(Debug)]
pub enum ScanError {
    /// Reading failed: a truncated archive, or not a tar at all.
    Read(io::Error),
    /// A blob whose content hashes to another digest.
    Damaged { digest: String, actual: String },
}

impl From<io::Error> for ScanError {
    fn from(e: io::Error) -> ScanError {
        ScanError::Read(e)
    }
}

/// Reads a whole archive once: `index.json`, `oci-layout` and each
/// `blobs/sha256/<hex>`, every blob checked against its name.
pub fn scan(input: impl Read) -> Result<Scanned, ScanError> {
    let mut archive = tar::Archive::new(input);
    let mut found = Scanned::default();
    let mut buf = vec![0u8; 1 << 20];
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let path = path.trim_start_matches("./");
        if path == "index.json" {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            found.index = Some(bytes);
            continue;
        }
        if path == "oci-layout" {
            found.oci_layout = true;
        }
        let Some(hex) = path.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) else {
            continue;
        };
        let digest = format!("sha256:{hex}");
        let mut hasher = sha2::Sha256::new();
        let keep = entry.size() <= SMALL;
        let mut small = Vec::new();
        let mut size = 0u64;
        loop {
            let n = entry.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            if keep {
                small.extend_from_slice(&buf[..n]);
            }
            size += n as u64;
        }
        // A short read inside an entry is the tar reader's EOF, not ours.
        if size != entry.size() {
            return Err(ScanError::Read(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends inside a blob",
            )));
        }
        found.bytes += size;
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != digest {
            return Err(ScanError::Damaged { digest, actual });
        }
        if keep {
            found.small.insert(digest.clone(), small);
        }
        found.blobs.insert(digest, size);
    }
    Ok(found)
}

/// Everything read from `inner` is also written to `copy`.
pub struct Tee<R, W> {
    pub inner: R,
    pub copy: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

fn header(path: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o444);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(size);
    // Paths here are short and ASCII (`blobs/sha256/<64 hex>`).
    let _ = h.set_path(path);
    h.set_cksum();
    h
}

/// What [`copy`] wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub blobs: u64,
    pub bytes: u64,
}

/// Writes a bundle to `out`: `oci-layout`, `index`, the `extra` blobs
/// (digest, bytes), then each blob of `source` whose digest is in `wanted`,
/// once, in the order `source` holds them.
pub fn copy(
    source: &Path,
    out: impl Write,
    index: &[u8],
    extra: &[(String, Vec<u8>)],
    wanted: &BTreeSet<String>,
) -> io::Result<Written> {
    let mut builder = tar::Builder::new(out);
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    builder.append(&header("oci-layout", layout.len() as u64), &layout[..])?;
    builder.append(&header("index.json", index.len() as u64), index)?;
    let mut written = Written::default();
    let mut done = BTreeSet::new();
    for (digest, bytes) in extra {
        if let Some(path) = super::layout::blob_path(digest)
            && done.insert(digest.clone())
        {
            builder.append(&header(&path, bytes.len() as u64), &bytes[..])?;
            written.blobs += 1;
            written.bytes += bytes.len() as u64;
        }
    }
    let mut archive = tar::Archive::new(io::BufReader::new(std::fs::File::open(source)?));
    for entry in archive.entries()? {
        let entry = entry?;
        let path = entry.path()?.to_string_lossy().trim_start_matches("./").to_string();
        let Some(hex) = path.strip_prefix("blobs/sha256/") else { continue };
        let digest = format!("sha256:{hex}");
        if wanted.contains(&digest) && done.insert(digest) {
            let size = entry.size();
            builder.append(&header(&path, size), entry)?;
            written.blobs += 1;
            written.bytes += size;
        }
    }
    builder.into_inner()?.flush()?;
    Ok(written)
}
