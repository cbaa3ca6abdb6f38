//! The store of what jobs make: artifacts, caches, release assets and
//! documentation, each kept once by the SHA-256 of its bytes as
//! `{store}/{sha256}` (archives are `.tar.gz`). What comes in is a stream
//! from the job helper (`ci::helper`), which read the job's files where
//! they are; the server only ever writes its own folders here. An archive
//! is the job's making, so nothing reads one as more than regular files
//! and folders. Blocking; call from `spawn_blocking`.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

/// A stream being stored: written to a temporary file of the store while
/// hashed, and kept (renamed to its SHA-256) only once whoever sent it
/// said it is whole.
pub struct Incoming {
    tmp: PathBuf,
    file: std::fs::File,
    hash: Sha256,
    size: u64,
}

/// What was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub sha: String,
    pub size: u64,
}

impl Incoming {
    pub fn new(store: &Path) -> std::io::Result<Incoming> {
        std::fs::create_dir_all(store)?;
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
        let tmp = store.join(format!("tmp-{}", hex(&nonce)));
        Ok(Incoming {
            file: std::fs::File::create(&tmp)?,
            tmp,
            hash: Sha256::new(),
            size: 0,
        })
    }

    /// Copies `from` in, up to `cap` bytes: more is an error saying so
    /// (and nothing is kept).
    pub fn copy_from(&mut self, from: &mut dyn Read, cap: u64, what: &str) -> Result<(), String> {
        std::io::copy(&mut from.take(cap.saturating_sub(self.size) + 1), self).map_err(|e| format!("{what}: {e}"))?;
        if self.size > cap {
            return Err(format!("{what} is larger than {}", size_text(cap)));
        }
        Ok(())
    }

    /// Keeps what came in under its SHA-256.
    pub fn keep(mut self) -> std::io::Result<Stored> {
        self.file.flush()?;
        self.file.sync_all()?;
        let sha = hex(&std::mem::take(&mut self.hash).finalize());
        let store = self.tmp.parent().map(Path::to_path_buf).unwrap_or_default();
        std::fs::rename(&self.tmp, store.join(&sha))?;
        Ok(Stored { sha, size: self.size })
    }
}

impl Write for Incoming {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Drop for Incoming {
    /// What was not kept goes (a rename already moved what was).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// `n` bytes in the largest unit that fits.
pub fn size_text(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// Unpacks stored archive `sha` into `dest`, a fresh folder of the
/// server's own: only its regular files and folders, never a link, a
/// device or a path that climbs (the archive is a job's making), at most
/// `max_files` files of `max_bytes` together. Returns how many files.
pub fn extract_files(store: &Path, sha: &str, dest: &Path, max_files: usize, max_bytes: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::File::open(store.join(archive_id(sha)?))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let (mut files, mut bytes) = (0usize, 0u64);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            continue;
        }
        let path = entry.path()?.into_owned();
        if path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            continue;
        }
        let rel: PathBuf = path
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        if rel.as_os_str().is_empty() {
            continue;
        }
        let to = dest.join(&rel);
        // What cannot be placed (a file where a folder is, a second entry
        // of a name) is left out, never written through what is there.
        if kind.is_dir() {
            let _ = std::fs::create_dir_all(&to);
            continue;
        }
        files += 1;
        bytes += entry.size();
        if files > max_files || bytes > max_bytes {
            return Err(std::io::Error::other(format!(
                "the archive holds more than {max_files} files or {}",
                size_text(max_bytes)
            )));
        }
        if let Some(parent) = to.parent()
            && std::fs::create_dir_all(parent).is_err()
        {
            continue;
        }
        let Ok(mut out) = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&to)
        else {
            continue;
        };
        std::io::copy(&mut (&mut entry).take(max_bytes), &mut out)?;
    }
    Ok(files)
}

/// `sha` when it names an archive of the store (64 hex digits).
fn archive_id(sha: &str) -> std::io::Result<&str> {
    match sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        true => Ok(sha),
        false => Err(std::io::Error::other("not an archive id")),
    }
}

/// What stored archive `sha` holds: the paths of its files, and the bytes
/// of file `wanted` when it is there and at most `cap` bytes (a larger one
/// is an error saying so). Nothing is written.
pub fn contents(
    store: &Path,
    sha: &str,
    wanted: &str,
    cap: u64,
) -> std::io::Result<(std::collections::BTreeSet<String>, Option<Vec<u8>>)> {
    let file = std::fs::File::open(store.join(archive_id(sha)?))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut files = std::collections::BTreeSet::new();
    let mut found = None;
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path()?.to_string_lossy().trim_start_matches("./").to_string();
        if path == wanted {
            if entry.size() > cap {
                return Err(std::io::Error::other(format!("{wanted} is larger than {cap} bytes")));
            }
            let mut bytes = Vec::new();
            entry.by_ref().take(cap).read_to_end(&mut bytes)?;
            found = Some(bytes);
        }
        files.insert(path);
    }
    Ok((files, found))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An archive of `entries` (name, link target or contents), stored.
    fn stored(store: &Path, entries: &[(&str, Result<&str, &str>)]) -> String {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (name, what) in entries {
            let mut header = tar::Header::new_gnu();
            match what {
                Ok(text) => {
                    header.set_size(text.len() as u64);
                    header.set_mode(0o644);
                    header.set_entry_type(tar::EntryType::Regular);
                    tar.append_data(&mut header, name, text.as_bytes()).unwrap();
                }
                Err(target) => {
                    header.set_size(0);
                    header.set_entry_type(tar::EntryType::Symlink);
                    tar.append_link(&mut header, name, target).unwrap();
                }
            }
        }
        let bytes = tar.into_inner().unwrap().finish().unwrap();
        let mut incoming = Incoming::new(store).unwrap();
        incoming.copy_from(&mut &bytes[..], 1 << 20, "test").unwrap();
        incoming.keep().unwrap().sha
    }

    #[test]
    fn an_archive_is_extracted_as_its_regular_files_only() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = dir.path().join("store");
        let sha = stored(
            &store,
            &[
                ("index.html", Ok("hello")),
                ("leak", Err("/etc/passwd")),
                ("leak/through", Ok("x")),
                ("index.html", Ok("second")),
                ("sub/page.html", Ok("page")),
            ],
        );
        let dest = dir.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        assert_eq!(extract_files(&store, &sha, &dest, 10, 1 << 20).unwrap(), 4);
        assert_eq!(std::fs::read_to_string(dest.join("index.html")).unwrap(), "hello");
        assert!(std::fs::symlink_metadata(dest.join("leak")).unwrap().is_dir());
        assert_eq!(std::fs::read_to_string(dest.join("sub/page.html")).unwrap(), "page");
        let small = dir.path().join("small");
        std::fs::create_dir(&small).unwrap();
        let err = extract_files(&store, &sha, &small, 2, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("more than 2 files"), "{err}");
        assert!(extract_files(&store, "../x", &dest, 10, 10).is_err());
    }
}
