//! `hearth job-helper`: what a built-in step does with a job's files,
//! run where they are — inside the job's sandbox, as the job's user, so
//! that it can reach only what the job itself can (a link to the data
//! directory leads nowhere there). The server starts it (`ci::helper`),
//! feeds it an archive on stdin or takes one from stdout, and reads its
//! result, the last line of stderr, as JSON: `{"ok": {...}}` or
//! `{"error": "..."}`; lines before it are `{"note": "..."}`. It still
//! applies the path rule (`paths`) itself, so that what a workflow names
//! is refused with the same words everywhere.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use sha2::{Digest, Sha256};

use super::paths::{Outside, artifact_root, matching_files, open_regular, read_capped, relative, within};

/// The job helper's operations (`hearth job-helper …`). Each takes the
/// workspace as the job sees it; what it makes goes to stdout, and its
/// last line on stderr is its result as JSON.
#[derive(Debug, Subcommand)]
pub enum Op {
    /// Packs the files `patterns` match into a .tar.gz on stdout.
    Pack {
        #[arg(long)]
        workspace: PathBuf,
        /// GitHub's `path:` lines (globs; `!` excludes).
        #[arg(long)]
        patterns: String,
        /// Paths in the archive start where upload-artifact starts them
        /// (`path: dist/` keeps dist's files at the top), not at the workspace.
        #[arg(long)]
        artifact_root: bool,
        #[arg(long)]
        max_files: usize,
        /// The most bytes the files may have together.
        #[arg(long)]
        max_bytes: u64,
        /// The largest file.
        #[arg(long)]
        max_file_bytes: u64,
        /// A larger file is left out with a note, rather than an error.
        #[arg(long)]
        skip_large: bool,
    },
    /// Unpacks a .tar.gz from stdin into a folder of the workspace.
    Unpack {
        #[arg(long)]
        workspace: PathBuf,
        #[arg(long)]
        dest: String,
        /// What is at `dest` goes first (a checkout's `clean`).
        #[arg(long)]
        replace: bool,
    },
    /// Writes the first of `paths` that exists to stdout.
    Read {
        #[arg(long)]
        workspace: PathBuf,
        #[arg(long)]
        max_bytes: u64,
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// `hashFiles()` of `patterns`.
    Hash {
        #[arg(long)]
        workspace: PathBuf,
        patterns: Vec<String>,
    },
    /// Runs `argv` in `cwd` (a step's `working-directory`).
    Exec {
        #[arg(long)]
        workspace: PathBuf,
        #[arg(long)]
        cwd: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        argv: Vec<std::ffi::OsString>,
    },
}

/// Runs one operation; the exit status says whether it succeeded.
pub fn main(op: Op) -> ExitCode {
    // Files the helper makes are the job's, made as a job's are.
    // SAFETY: umask(2) only sets this process's file mode mask.
    unsafe { libc::umask(0o022) };
    let is_exec = matches!(op, Op::Exec { .. });
    let result = workspace_of(&op).and_then(|()| match op {
        Op::Pack {
            workspace,
            patterns,
            artifact_root,
            max_files,
            max_bytes,
            max_file_bytes,
            skip_large,
        } => {
            let limits = Limits {
                files: max_files,
                bytes: max_bytes,
                file_bytes: max_file_bytes,
                skip_large,
            };
            pack(&workspace, &patterns, artifact_root, &limits, std::io::stdout().lock())
        }
        Op::Unpack {
            workspace,
            dest,
            replace,
        } => unpack(&workspace, &dest, replace, std::io::stdin().lock()),
        Op::Read {
            workspace,
            max_bytes,
            paths,
        } => read(&workspace, &paths, max_bytes, std::io::stdout().lock()),
        Op::Hash { workspace, patterns } => hash(&workspace, &patterns),
        Op::Exec { workspace, cwd, argv } => exec(&workspace, &cwd, &argv),
    });
    match result {
        Ok(ok) => {
            eprintln!("{}", serde_json::json!({ "ok": ok }));
            ExitCode::SUCCESS
        }
        // `exec` is a step's first process: its words go to the step's log as they are.
        Err(why) if is_exec => {
            eprintln!("Hearth: {why}");
            ExitCode::FAILURE
        }
        Err(why) => {
            eprintln!("{}", serde_json::json!({ "error": why }));
            ExitCode::from(2)
        }
    }
}

/// Whether the workspace is still a folder: a step may have replaced it
/// (with a link to somewhere else, say).
fn workspace_of(op: &Op) -> Result<(), String> {
    let workspace = match op {
        Op::Pack { workspace, .. }
        | Op::Unpack { workspace, .. }
        | Op::Read { workspace, .. }
        | Op::Hash { workspace, .. }
        | Op::Exec { workspace, .. } => workspace,
    };
    match std::fs::symlink_metadata(workspace) {
        Ok(m) if m.is_dir() => Ok(()),
        _ => Err("the workspace is not a folder any more (a step removed it or put something else there)".into()),
    }
}

fn note(text: &str) {
    eprintln!("{}", serde_json::json!({ "note": text }));
}

/// What `pack` may take.
pub struct Limits {
    pub files: usize,
    pub bytes: u64,
    pub file_bytes: u64,
    /// A file over `file_bytes` is left out with a note, not an error.
    pub skip_large: bool,
}

/// `path`, opened as `paths::open_regular` opens it; not finding it is an error too.
fn open_file(path: &Path, name: &str) -> Result<(std::fs::File, u64), String> {
    open_regular(path, name)?.ok_or_else(|| format!("{name}: No such file or directory (os error 2)"))
}

/// Packs the files `patterns` match into a .tar.gz written to `out`.
pub fn pack(
    workspace: &Path,
    patterns: &str,
    from_artifact_root: bool,
    limits: &Limits,
    out: impl Write,
) -> Result<serde_json::Value, String> {
    let files = matching_files(workspace, patterns)?;
    if files.len() > limits.files {
        return Err(format!(
            "{} files match; at most {} can be kept",
            files.len(),
            limits.files
        ));
    }
    let root = match from_artifact_root {
        true => artifact_root(patterns, &files),
        false => PathBuf::new(),
    };
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(out, flate2::Compression::fast()));
    let (mut total, mut packed) = (0u64, 0usize);
    for rel in &files {
        let shown = rel.display().to_string();
        // Each file checked again as it is opened: what the walk saw may have changed.
        let parent = rel.parent().unwrap_or(Path::new(""));
        within(workspace, parent).map_err(|why| format!("{shown}: {why}"))?;
        let (file, len) = open_file(&workspace.join(rel), &shown)?;
        if len > limits.file_bytes {
            let why = format!(
                "{shown} is larger than {}",
                crate::ci::artifacts::size_text(limits.file_bytes)
            );
            match limits.skip_large {
                true => {
                    note(&format!("{why}; left out"));
                    continue;
                }
                false => return Err(why),
            }
        }
        total += len;
        if total > limits.bytes {
            return Err(format!(
                "the files are larger than {} together",
                crate::ci::artifacts::size_text(limits.bytes)
            ));
        }
        let meta = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
        header.set_size(len);
        let name = rel.strip_prefix(&root).unwrap_or(rel);
        tar.append_data(&mut header, name, file.take(len))
            .map_err(|e| format!("{shown}: {e}"))?;
        packed += 1;
    }
    let mut out = tar
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| format!("writing the archive: {e}"))?;
    out.flush().map_err(|e| format!("writing the archive: {e}"))?;
    Ok(serde_json::json!({ "files": packed, "bytes": total }))
}

/// Unpacks the .tar.gz `input` into the folder `dest` of the workspace
/// (made if missing); with `replace`, what was at `dest` goes first (a
/// link there is removed, never followed).
pub fn unpack(workspace: &Path, dest: &str, replace: bool, input: impl Read) -> Result<serde_json::Value, String> {
    let rel = relative(dest, workspace)?;
    let shown = |e: std::io::Error| format!("{dest}: {e}");
    // Replaced, `dest` itself goes whatever it is (a link as a link): only
    // the way to it is checked.
    let checked = match replace {
        true => rel.parent().unwrap_or(Path::new("")),
        false => &rel,
    };
    within(workspace, checked).map_err(|why| format!("{dest}: {why}"))?;
    let at = workspace.join(&rel);
    if replace && rel.as_os_str().is_empty() {
        clear(&at).map_err(shown)?;
    } else if replace {
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => clear(&at).map_err(shown)?,
            Ok(_) => std::fs::remove_file(&at).map_err(shown)?,
            Err(_) => {}
        }
    }
    std::fs::create_dir_all(&at).map_err(shown)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(input));
    archive.set_preserve_mtime(true);
    let mut written = 0usize;
    for entry in archive.entries().map_err(|e| format!("the archive: {e}"))? {
        let mut entry = entry.map_err(|e| format!("the archive: {e}"))?;
        let is_file = entry.header().entry_type().is_file();
        // Paths that would climb out are refused by the tar reader.
        if entry.unpack_in(&at).map_err(|e| format!("the archive: {e}"))? && is_file {
            written += 1;
        }
    }
    Ok(serde_json::json!({ "files": written }))
}

/// Empties folder `dir`: links in it are removed as links.
fn clear(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        match entry.file_type()?.is_dir() {
            true => std::fs::remove_dir_all(entry.path())?,
            false => std::fs::remove_file(entry.path())?,
        }
    }
    Ok(())
}

/// Writes the first of `paths` (a file of the workspace) that exists to
/// `out`, at most `cap` bytes of it (a larger one is an error); which it
/// was, or `null` when none exists.
pub fn read(workspace: &Path, paths: &[String], cap: u64, mut out: impl Write) -> Result<serde_json::Value, String> {
    for path in paths {
        let rel = relative(path, workspace)?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        if let Err(why) = within(workspace, parent) {
            return Err(format!("{path}: {why}"));
        }
        if let Some((file, len)) = open_regular(&workspace.join(&rel), path)? {
            let bytes = read_capped(file, len, cap, path)?;
            out.write_all(&bytes).map_err(|e| format!("{path}: {e}"))?;
            out.flush().map_err(|e| format!("{path}: {e}"))?;
            return Ok(serde_json::json!({ "path": path }));
        }
    }
    // None of them is there: no error of its own, the caller says what it missed.
    Ok(serde_json::json!({ "path": null }))
}

/// The most bytes `hashFiles()` reads (a 20 GB sparse file is refused, not hashed).
pub const MAX_HASH_BYTES: u64 = 4 << 30;

/// `hashFiles()`: the SHA-256 of the SHA-256 of each file matching the
/// patterns, in path order; "" when none match.
pub fn hash(workspace: &Path, patterns: &[String]) -> Result<serde_json::Value, String> {
    let files = matching_files(workspace, &patterns.join("\n"))?;
    if files.is_empty() {
        return Ok(serde_json::json!({ "hash": "" }));
    }
    let mut all = Sha256::new();
    let mut total = 0u64;
    for f in files {
        let Ok((file, len)) = open_file(&workspace.join(&f), "") else {
            continue;
        };
        total += len;
        if total > MAX_HASH_BYTES {
            return Err(format!(
                "hashFiles: the files are larger than {} together",
                crate::ci::artifacts::size_text(MAX_HASH_BYTES)
            ));
        }
        // Streamed: a large file is not read into memory whole.
        let mut one = Sha256::new();
        if std::io::copy(&mut file.take(len), &mut one).is_ok() {
            all.update(one.finalize());
        }
    }
    Ok(serde_json::json!({ "hash": crate::ci::artifacts::hex(&all.finalize()) }))
}

/// Runs `argv` in the folder `cwd` of the workspace, which it may not
/// leave (by `..`, or through a symbolic link out of it); it must be a
/// folder. Returns only when it cannot start.
pub fn exec(workspace: &Path, cwd: &str, argv: &[std::ffi::OsString]) -> Result<serde_json::Value, String> {
    use std::os::unix::process::CommandExt;
    let rel = relative(cwd, workspace).map_err(|why| format!("working-directory {why}"))?;
    let dir = within(workspace, &rel).map_err(|why| match why {
        Outside::Climbs => format!("working-directory {cwd:?} leaves the workspace"),
        Outside::ThroughLink => format!("working-directory {cwd:?} leaves the workspace (through a symbolic link)"),
        Outside::File | Outside::Io(_) => format!("working-directory {cwd:?}: {why}"),
    })?;
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("working-directory {cwd:?} is not a folder")),
        Err(_) => return Err(format!("working-directory {cwd:?} does not exist")),
    }
    let Some((program, args)) = argv.split_first() else {
        return Err("nothing to run".into());
    };
    let e = std::process::Command::new(program).args(args).current_dir(&dir).exec();
    Err(format!("could not start {}: {e}", program.to_string_lossy()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            files: 1000,
            bytes: 1 << 30,
            file_bytes: 1 << 30,
            skip_large: false,
        }
    }

    #[test]
    fn files_pack_and_unpack_within_the_workspace() {
        let dir = tempfile::TempDir::new().unwrap();
        let ws = dir.path();
        for f in ["dist/app", "dist/lib/a.so", "README.md"] {
            std::fs::create_dir_all(ws.join(f).parent().unwrap()).unwrap();
            std::fs::write(ws.join(f), f).unwrap();
        }
        let mut archive = Vec::new();
        let done = pack(ws, "dist", false, &limits(), &mut archive).unwrap();
        assert_eq!(done["files"], 2);
        let mut again = Vec::new();
        pack(ws, "dist", false, &limits(), &mut again).unwrap();
        assert_eq!(archive, again, "same files, same archive");
        assert_eq!(unpack(ws, "out", false, &archive[..]).unwrap()["files"], 2);
        assert_eq!(
            std::fs::read_to_string(ws.join("out/dist/lib/a.so")).unwrap(),
            "dist/lib/a.so"
        );
        // Never through a link out of the workspace, nor up out of it.
        let outside = tempfile::TempDir::new().unwrap();
        std::os::unix::fs::symlink(outside.path(), ws.join("link")).unwrap();
        let err = unpack(ws, "link/deeper", false, &archive[..]).unwrap_err();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(unpack(ws, "../up", false, &archive[..]).is_err());
        assert!(unpack(ws, "/etc", false, &archive[..]).is_err());
        // Replacing a link removes the link, not what it points to.
        std::fs::write(outside.path().join("keep"), "x").unwrap();
        assert_eq!(unpack(ws, "link", true, &archive[..]).unwrap()["files"], 2);
        assert!(ws.join("link").is_dir() && !ws.join("link").is_symlink());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
        // Limits.
        let tight = Limits {
            file_bytes: 4,
            ..limits()
        };
        assert!(
            pack(ws, "dist", false, &tight, std::io::sink())
                .unwrap_err()
                .contains("larger than")
        );
        let skip = Limits {
            skip_large: true,
            ..tight
        };
        assert_eq!(pack(ws, "dist", false, &skip, std::io::sink()).unwrap()["files"], 0);
    }

    #[test]
    fn a_file_is_read_only_from_the_workspace() {
        let dir = tempfile::TempDir::new().unwrap();
        let ws = dir.path();
        std::fs::write(ws.join("notes.md"), "hello").unwrap();
        let mut out = Vec::new();
        read(ws, &["notes.md".into()], 100, &mut out).unwrap();
        assert_eq!(out, b"hello");
        assert!(read(ws, &["/proc/self/environ".into()], 100, std::io::sink()).is_err());
        assert!(read(ws, &["../x".into()], 100, std::io::sink()).is_err());
        std::os::unix::fs::symlink("/etc/passwd", ws.join("pw")).unwrap();
        assert!(
            read(ws, &["pw".into()], 1 << 20, std::io::sink())
                .unwrap_err()
                .contains("symbolic link")
        );
        std::os::unix::fs::symlink("/etc", ws.join("etc")).unwrap();
        let err = read(ws, &["etc/passwd".into()], 1 << 20, std::io::sink()).unwrap_err();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(
            read(ws, &["notes.md".into()], 2, std::io::sink())
                .unwrap_err()
                .contains("larger")
        );
        assert_eq!(
            read(ws, &["a.yml".into(), "notes.md".into()], 100, std::io::sink()).unwrap()["path"],
            "notes.md"
        );
    }
}
