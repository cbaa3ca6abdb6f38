//! The one rule for a path a workflow names (`path:`, `body_path:`,
//! `working-directory:`, a local action's folder, `hashFiles()`): it is
//! relative to the workspace, never `..`, `~` or another absolute path, and
//! never through a symbolic link that points out of the workspace. The
//! server applies the words of it (`relative`) to say early what is
//! wrong; the job helper (`inside`) applies all of it where the files are,
//! inside the job's sandbox as the job's user, so that even a path that
//! slipped by could reach only what the job itself can.

use std::path::{Component, Path, PathBuf};

use crate::glob;

/// Opens `path` to read if it is a regular file: never through a link at
/// its end (`O_NOFOLLOW`), never waiting on a FIFO (`O_NONBLOCK`), and then
/// `fstat`: a device or a folder is refused. `None`: there is no such file.
/// `name` is what the errors call it. Blocking.
pub fn open_regular(path: &Path, name: &str) -> Result<Option<(std::fs::File, u64)>, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(format!("{name} is a symbolic link")),
        Err(e) => return Err(format!("{name}: {e}")),
    };
    let meta = file.metadata().map_err(|e| format!("{name}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{name} is not a regular file"));
    }
    Ok(Some((file, meta.len())))
}

/// The bytes of `file` (`len` of them, said `fstat`), when at most `cap`:
/// a larger file, or one that grew while read, is an error saying so.
pub fn read_capped(file: std::fs::File, len: u64, cap: u64, name: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let larger = || format!("{name} is larger than {} KiB", cap >> 10);
    if len > cap {
        return Err(larger());
    }
    let mut out = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("{name}: {e}"))?;
    if out.len() as u64 > cap {
        return Err(larger());
    }
    Ok(out)
}

/// A file a job controls (`$GITHUB_ENV`, `$GITHUB_OUTPUT`… in the runner's
/// folder, which the job cannot change), read only if it is a regular file
/// of at most `cap` bytes (`open_regular`); nothing when there is none.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match open_regular(path, &name)? {
        Some((file, len)) => read_capped(file, len, cap, &name),
        None => Ok(Vec::new()),
    }
}

/// `input` as a path relative to `workspace`: a leading `./`, and the
/// workspace's own absolute path (`${{ github.workspace }}/dist`), are
/// taken off. `..`, `~` (the home folder) and any other absolute path are
/// refused, saying so.
pub fn relative(input: &str, workspace: &Path) -> Result<PathBuf, String> {
    if input.starts_with('~') {
        return Err(format!(
            "{input}: only files of the workspace can be used (not the home folder)"
        ));
    }
    if input.contains('\0') {
        return Err(format!("{input:?}: a path has no NUL character"));
    }
    let p = input.strip_prefix("./").unwrap_or(input);
    let p = match Path::new(p).strip_prefix(workspace) {
        Ok(inside) => inside.to_path_buf(),
        Err(_) if p.starts_with('/') => return Err(format!("{input}: the path is outside the workspace")),
        Err(_) => PathBuf::from(p),
    };
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("{input}: the path leaves the workspace"));
    }
    Ok(p.components().filter(|c| matches!(c, Component::Normal(_))).collect())
}

/// What `path:` matched: files relative to the workspace, sorted.
pub fn matching_files(workspace: &Path, patterns: &str) -> Result<Vec<PathBuf>, String> {
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for line in patterns.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (list, p) = match line.strip_prefix('!') {
            Some(p) => (&mut exclude, p),
            None => (&mut include, line),
        };
        let p = relative(p, workspace)?.display().to_string();
        list.push(p.trim_end_matches('/').to_string());
    }
    let all = walk(workspace)?;
    // `**/` matches no folder too.
    let matches = |pattern: &str, path: &str| {
        glob::matches(pattern, path)
            || pattern
                .strip_prefix("**/")
                .is_some_and(|rest| glob::matches(rest, path))
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

/// The most entries a walk of the workspace looks at.
pub const MAX_WALK: usize = 1_000_000;

/// Every regular file under `root`, relative, sorted; symbolic links are
/// not followed (a link, a FIFO, a device is no file of the workspace).
fn walk(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    let mut seen = 0usize;
    while let Some(rel) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for e in entries.flatten() {
            seen += 1;
            if seen > MAX_WALK {
                return Err(format!(
                    "the workspace has more than {MAX_WALK} entries to look through"
                ));
            }
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
    Ok(out)
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
        assert_eq!(names(&format!("{}/src/main.rs", ws.display())), ["src/main.rs"]);
        assert!(names("nothing").is_empty());
        assert!(matching_files(ws, "../etc").is_err());
        assert!(matching_files(ws, "/etc/passwd").is_err());
        assert!(matching_files(ws, "~/.cargo").is_err());
        // Links are no files of the workspace, and are not followed.
        std::os::unix::fs::symlink("/etc", ws.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", ws.join("dist/passwd")).unwrap();
        assert!(names("etc").is_empty());
        assert!(names("dist/passwd").is_empty());
        assert!(matches!(within(ws, Path::new("etc/deeper")), Err(Outside::ThroughLink)));
        assert!(matches!(within(ws, Path::new("new/../../up")), Err(Outside::Climbs)));
    }

    #[test]
    fn paths_are_relative_to_the_workspace() {
        let ws = Path::new("/home/runner/work/x/x");
        assert_eq!(relative("./a/b/", ws).unwrap(), Path::new("a/b"));
        assert_eq!(relative("/home/runner/work/x/x/dist", ws).unwrap(), Path::new("dist"));
        assert_eq!(relative(".", ws).unwrap(), Path::new(""));
        for bad in [
            "/proc/self/environ",
            "/home/runner/work/x/y",
            "../x",
            "a/../../b",
            "~/.ssh",
            "a\0b",
        ] {
            assert!(relative(bad, ws).is_err(), "{bad}");
        }
    }
}
