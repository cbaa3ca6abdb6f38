//! Files of a workspace packed for artifacts and caches: a `.tar.gz` stored
//! once by the SHA-256 of its bytes as `{store}/{sha256}`, and unpacked
//! into another job's workspace. Blocking; call from `spawn_blocking`.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::workflow::glob;

/// What `path:` matched: files relative to the workspace, sorted.
pub fn matching_files(workspace: &Path, patterns: &str) -> Result<Vec<PathBuf>, String> {
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for line in patterns.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (list, p) = match line.strip_prefix('!') {
            Some(p) => (&mut exclude, p),
            None => (&mut include, line),
        };
        if p.starts_with('~') {
            return Err(format!(
                "{p}: only files of the workspace can be kept (not the home folder)"
            ));
        }
        let p = p.strip_prefix("./").unwrap_or(p);
        let p = match Path::new(p).strip_prefix(workspace) {
            Ok(inside) => inside.display().to_string(),
            Err(_) if p.starts_with('/') => return Err(format!("{p}: the path is outside the workspace")),
            Err(_) => p.to_string(),
        };
        if Path::new(&p).components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(format!("{p}: the path leaves the workspace"));
        }
        list.push(p.trim_end_matches('/').to_string());
    }
    let all = walk(workspace);
    // `**/` matches no folder too.
    let matches = |pattern: &str, path: &str| {
        glob(pattern, path) || pattern.strip_prefix("**/").is_some_and(|rest| glob(rest, path))
    };
    // A pattern matches a file, or every file under a folder it matches.
    let hit = |pattern: &str, file: &str| {
        pattern.is_empty()
            || pattern == "."
            || matches(pattern, file)
            || file
                .char_indices()
                .filter(|(_, c)| *c == '/')
                .any(|(i, _)| matches(pattern, &file[..i]))
    };
    Ok(all
        .into_iter()
        .filter(|f| {
            let f = f.to_string_lossy();
            include.iter().any(|p| hit(p, &f)) && !exclude.iter().any(|p| hit(p, &f))
        })
        .collect())
}

/// Every regular file under `root`, relative, sorted; symbolic links are
/// not followed.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            let path = rel.join(e.file_name());
            if kind.is_dir() {
                todo.push(path);
            } else if kind.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Writes through to a file while hashing what is written.
struct Hashing {
    file: std::fs::File,
    hash: Sha256,
    size: u64,
}

impl Write for Hashing {
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

/// The folder an artifact's paths are taken from, as GitHub's
/// upload-artifact takes them: for one file named as it is, its folder;
/// else the deepest folder common to every pattern's search path (what
/// comes before its first wildcard). `path: dist/` makes `dist`'s files the
/// artifact's top level. `files` are what the patterns matched.
pub fn artifact_root(patterns: &str, files: &[PathBuf]) -> PathBuf {
    let search: Vec<PathBuf> = patterns
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('!'))
        .map(|p| {
            let p = p.strip_prefix("./").unwrap_or(p).trim_end_matches('/');
            Path::new(p)
                .components()
                .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
                .collect()
        })
        .collect();
    if let ([only], [file]) = (search.as_slice(), files)
        && only == file
    {
        return file.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    let mut common: Option<PathBuf> = None;
    for path in &search {
        common = Some(match common {
            None => path.clone(),
            Some(c) => c
                .components()
                .zip(path.components())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect(),
        });
    }
    let root = common.unwrap_or_default();
    // A root that is itself a matched file (the same file named twice) is its folder.
    if files.contains(&root) {
        return root.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    root
}

/// Copies the job's file `path` into the store as it is (a release
/// asset), streamed and hashed; returns its SHA-256 and size. A symbolic
/// link, anything but a regular file, or a file over `cap` bytes is refused.
pub fn store_file(store: &Path, path: &Path, cap: u64) -> Result<(String, u64), String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let name = path.display();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => format!("{name} is a symbolic link"),
            _ => format!("{name}: {e}"),
        })?;
    let meta = file.metadata().map_err(|e| format!("{name}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{name} is not a regular file"));
    }
    if meta.len() > cap {
        return Err(format!("{name} is larger than {} MiB", cap >> 20));
    }
    std::fs::create_dir_all(store).map_err(|e| e.to_string())?;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
    let tmp = store.join(format!("tmp-{}", hex(&nonce)));
    let copied = (|| {
        let mut out = Hashing {
            file: std::fs::File::create(&tmp)?,
            hash: Sha256::new(),
            size: 0,
        };
        std::io::copy(&mut file.take(cap + 1), &mut out)?;
        out.file.sync_all()?;
        Ok::<_, std::io::Error>(out)
    })();
    let out = match copied {
        Ok(out) if out.size <= cap => out,
        Ok(_) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("{name} is larger than {} MiB", cap >> 20));
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("{name}: {e}"));
        }
    };
    let sha = hex(&out.hash.finalize());
    std::fs::rename(&tmp, store.join(&sha)).map_err(|e| e.to_string())?;
    Ok((sha, out.size))
}

/// Packs `files` of `workspace` into the store; returns the archive's
/// SHA-256 and size.
pub fn pack(store: &Path, workspace: &Path, files: &[PathBuf]) -> std::io::Result<(String, u64)> {
    pack_under(store, workspace, files, Path::new(""))
}

/// Packs `files` of `workspace` as paths relative to `root` (a folder all
/// of them are in).
pub fn pack_under(store: &Path, workspace: &Path, files: &[PathBuf], root: &Path) -> std::io::Result<(String, u64)> {
    std::fs::create_dir_all(store)?;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = store.join(format!("tmp-{}", hex(&nonce)));
    let result = (|| {
        let out = Hashing {
            file: std::fs::File::create(&tmp)?,
            hash: Sha256::new(),
            size: 0,
        };
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(out, flate2::Compression::fast()));
        tar.mode(tar::HeaderMode::Deterministic);
        for rel in files {
            let name = rel.strip_prefix(root).unwrap_or(rel);
            tar.append_path_with_name(workspace.join(rel), name)?;
        }
        let mut out = tar.into_inner()?.finish()?;
        out.flush()?;
        out.file.sync_all()?;
        let sha = hex(&out.hash.finalize());
        std::fs::rename(&tmp, store.join(&sha))?;
        Ok((sha, out.size))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Unpacks stored archive `sha` into the folder `rel` of `workspace`;
/// returns how many files it held. `rel` may not leave the workspace, by
/// `..` or through a symbolic link the job made (`out -> /etc`); paths in
/// the archive that would leave it are refused by the tar reader. What is
/// written belongs to `owner` (the job's user), when given.
pub fn unpack(
    store: &Path,
    sha: &str,
    workspace: &Path,
    rel: &Path,
    owner: Option<(u32, u32)>,
) -> std::io::Result<usize> {
    if !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(std::io::Error::other("not an archive id"));
    }
    let dest = within(workspace, rel).map_err(|why| std::io::Error::other(format!("{}: {why}", rel.display())))?;
    std::fs::create_dir_all(&dest)?;
    let file = std::fs::File::open(store.join(sha))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive.set_preserve_mtime(true);
    let mut written = std::collections::BTreeSet::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        if entry.unpack_in(&dest)? {
            written.insert(path);
        }
    }
    if let Some((uid, gid)) = owner {
        // Each file, and every folder from the workspace down to it.
        let mut folders = std::collections::BTreeSet::new();
        for path in &written {
            let full = dest.join(path);
            std::os::unix::fs::lchown(&full, Some(uid), Some(gid))?;
            let mut up = full.parent();
            while let Some(dir) = up
                && dir.starts_with(workspace)
                && dir != workspace
                && folders.insert(dir.to_path_buf())
            {
                up = dir.parent();
            }
        }
        for dir in folders {
            std::os::unix::fs::lchown(&dir, Some(uid), Some(gid))?;
        }
    }
    Ok(written.len())
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
    use std::io::Read;
    if !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(std::io::Error::other("not an archive id"));
    }
    let file = std::fs::File::open(store.join(sha))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut files = std::collections::BTreeSet::new();
    let mut found = None;
    for entry in archive.entries()? {
        let mut entry = entry?;
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

/// Why a path given by a workflow is not one inside the workspace.
#[derive(Debug)]
pub enum Outside {
    /// It climbs out with `..` (or starts at `/`).
    Climbs,
    /// A symbolic link on the way points out of the workspace.
    ThroughLink,
    /// A file stands where a folder would be.
    File,
    /// The workspace itself could not be read.
    Io(std::io::Error),
}

impl std::fmt::Display for Outside {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outside::Climbs => f.write_str("the path leaves the workspace"),
            Outside::ThroughLink => f.write_str("the path leaves the workspace through a symbolic link"),
            Outside::File => f.write_str("that is a file, not a folder"),
            Outside::Io(e) => e.fmt(f),
        }
    }
}

/// `workspace/rel`, where `rel` is a relative path that neither climbs out
/// with `..` nor passes through a symbolic link pointing out of the
/// workspace. What does not exist yet is fine (it is made as new folders).
pub fn within(workspace: &Path, rel: &Path) -> Result<PathBuf, Outside> {
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(Outside::Climbs);
    }
    let base = std::fs::canonicalize(workspace).map_err(Outside::Io)?;
    let mut at = workspace.to_path_buf();
    for part in rel.components() {
        let Component::Normal(name) = part else { continue };
        at.push(name);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                if !std::fs::canonicalize(&at).is_ok_and(|real| real.starts_with(&base)) {
                    return Err(Outside::ThroughLink);
                }
            }
            Ok(m) if !m.is_dir() => return Err(Outside::File),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(workspace.join(rel))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod root_tests {
    use super::artifact_root;
    use std::path::PathBuf;

    fn root(patterns: &str, files: &[&str]) -> String {
        let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
        artifact_root(patterns, &files).display().to_string()
    }

    #[test]
    fn artifact_paths_start_where_github_starts_them() {
        // One file: its folder.
        assert_eq!(root("dist/app.tar.gz", &["dist/app.tar.gz"]), "dist");
        assert_eq!(root("app.txt", &["app.txt"]), "");
        // A folder: its contents.
        assert_eq!(root("dist/", &["dist/a", "dist/sub/b"]), "dist");
        assert_eq!(root("./dist", &["dist/a"]), "dist");
        // Wildcards: what comes before them.
        assert_eq!(root("out/bin/*.so", &["out/bin/a.so", "out/bin/b.so"]), "out/bin");
        assert_eq!(root("out/**/report.xml", &["out/x/report.xml"]), "out");
        // Several patterns: what they have in common.
        assert_eq!(
            root(
                "app/appspec.yml\napp/hooks\n!app/hooks/skip",
                &["app/appspec.yml", "app/hooks/a.sh"]
            ),
            "app"
        );
        assert_eq!(
            root(
                "appspec.yml\nhooks\nversion.txt",
                &["appspec.yml", "hooks/a.sh", "version.txt"]
            ),
            ""
        );
        assert_eq!(root("a/x.txt\na/x.txt", &["a/x.txt"]), "a");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_pick_files_folders_and_globs() {
        let dir = tempfile::TempDir::new().unwrap();
        let ws = dir.path();
        for f in [
            "dist/app",
            "dist/lib/a.so",
            "dist/lib/b.txt",
            "logs/x.log",
            "README.md",
            "src/main.rs",
        ] {
            std::fs::create_dir_all(ws.join(f).parent().unwrap()).unwrap();
            std::fs::write(ws.join(f), f).unwrap();
        }
        let names = |p: &str| -> Vec<String> {
            matching_files(ws, p)
                .unwrap()
                .iter()
                .map(|f| f.display().to_string())
                .collect()
        };
        assert_eq!(names("dist"), ["dist/app", "dist/lib/a.so", "dist/lib/b.txt"]);
        assert_eq!(names("dist/\n!dist/lib/*.txt"), ["dist/app", "dist/lib/a.so"]);
        assert_eq!(names("**/*.log\nREADME.md"), ["README.md", "logs/x.log"]);
        assert_eq!(names("**/README.md"), ["README.md"]);
        assert_eq!(names("./src/main.rs"), ["src/main.rs"]);
        assert!(names("nothing").is_empty());
        assert!(matching_files(ws, "../etc").is_err());
        assert!(matching_files(ws, "/etc/passwd").is_err());
        assert!(matching_files(ws, "~/.cargo").is_err());

        let store = ws.join(".store");
        let files = matching_files(ws, "dist").unwrap();
        let (sha, size) = pack(&store, ws, &files).unwrap();
        assert!(size > 0 && sha.len() == 64);
        assert_eq!(pack(&store, ws, &files).unwrap().0, sha, "same files, same archive");
        let out = ws.join("out");
        assert_eq!(unpack(&store, &sha, ws, Path::new("out"), None).unwrap(), 3);
        assert_eq!(
            std::fs::read_to_string(out.join("dist/lib/a.so")).unwrap(),
            "dist/lib/a.so"
        );
        assert!(unpack(&store, "../x", ws, Path::new("out"), None).is_err());
        // Never through a link out of the workspace, nor up out of it.
        let outside = tempfile::TempDir::new().unwrap();
        std::os::unix::fs::symlink(outside.path(), ws.join("link")).unwrap();
        let err = unpack(&store, &sha, ws, Path::new("link/deeper"), None).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(unpack(&store, &sha, ws, Path::new("../up"), None).is_err());
        assert!(matches!(within(ws, Path::new("new/../../up")), Err(Outside::Climbs)));
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
