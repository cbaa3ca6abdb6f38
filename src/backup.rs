//! `hearth backup OUT`: a consistent snapshot of a data directory, taken
//! while the server runs. The database is copied first with SQLite's
//! `VACUUM INTO` (one transaction's view); then each repository, its refs
//! before its objects, so every ref copied names objects that are copied
//! too (git writes objects before it moves a ref); then the secrets key,
//! job logs and artifacts. Pushes that land after the database was copied
//! are in the repositories but not in the push log: the server records
//! them when it starts on the copy, as after a crash. Restore by starting
//! the server with `--data OUT`.

use std::path::{Path, PathBuf};

use crate::data_dir::DataDir;
use crate::error::{Error, Result};

/// What a backup holds.
#[derive(Debug, Default)]
pub struct Summary {
    pub repositories: usize,
    pub files: usize,
    pub bytes: u64,
}

pub fn backup(data: &DataDir, out: &DataDir) -> Result<Summary> {
    let db = data.database();
    if !db.is_file() {
        return Err(Error::invalid(format!(
            "{} is not a Hearth data directory (it has no hearth.db)",
            data.root().display()
        )));
    }
    let (data_root, out_root) = (data.root(), out.root());
    let is_empty_dir = |p: &Path| std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_none());
    if out_root.exists() && !is_empty_dir(out_root) {
        return Err(Error::invalid(format!(
            "{} exists and is not empty: back up into a new folder",
            out_root.display()
        )));
    }
    std::fs::create_dir_all(out_root)?;
    let mut summary = Summary::default();

    // The database, as one transaction sees it.
    let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let target = out.database();
    conn.execute("VACUUM INTO ?1", [target.to_string_lossy()])?;
    drop(conn);
    count(&target, &mut summary);

    // Each repository: refs first, then objects.
    for owner in read_dir(&data.repos())? {
        for repo in read_dir(&owner)? {
            if repo.extension().is_some_and(|e| e == "git") {
                let rel = repo.strip_prefix(data_root).expect("under the data directory");
                copy_repository(&repo, &out_root.join(rel), &mut summary)?;
                summary.repositories += 1;
            }
        }
    }
    std::fs::create_dir_all(out.repos())?;

    // The key that opens the secrets, job logs and summaries, artifacts.
    let key = data.secrets_key();
    if key.is_file() {
        copy_file(&key, &out.secrets_key(), &mut summary)?;
    }
    for (from, to) in [(data.runs(), out.runs()), (data.artifacts(), out.artifacts())] {
        copy_tree(&from, &to, &[], &mut summary)?;
    }
    Ok(summary)
}

/// Copies a bare repository: everything but `objects/`, then `objects/`;
/// then checks that every ref of the copy names an object it holds, and
/// copies the objects again if one moved (a `git gc` packing them meanwhile).
fn copy_repository(from: &Path, to: &Path, summary: &mut Summary) -> Result<()> {
    copy_tree(from, to, &["objects"], summary)?;
    for _ in 0..3 {
        copy_tree(&from.join("objects"), &to.join("objects"), &[], summary)?;
        if missing_objects(to)?.is_empty() {
            return Ok(());
        }
    }
    Err(Error::internal(format!(
        "{}: refs name objects that could not be copied: {:?}",
        from.display(),
        missing_objects(to)?
    )))
}

/// The refs of the repository at `dir` whose objects it does not have.
fn missing_objects(dir: &Path) -> Result<Vec<String>> {
    let refs = crate::git::list_refs(dir)?;
    let repo = crate::git::open(dir)?;
    Ok(refs
        .into_iter()
        .filter(|(_, id)| gix::ObjectId::from_hex(id.as_bytes()).map_or(true, |id| !repo.has_object(id)))
        .map(|(name, _)| name)
        .collect())
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut out: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            out.sort();
            Ok(out)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Copies the files under `from` to `to` (not the top-level names in
/// `skip`); files that vanish meanwhile (a pack replaced by gc) are passed by.
fn copy_tree(from: &Path, to: &Path, skip: &[&str], summary: &mut Summary) -> Result<()> {
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        for path in read_dir(&from.join(&rel))? {
            let name = path.file_name().expect("an entry has a name").to_owned();
            if rel.as_os_str().is_empty() && skip.iter().any(|s| name == *s) {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                todo.push(rel.join(&name));
            } else if meta.is_file() {
                // Files being written (git's temporary packs, locks) are not part of the state.
                let n = name.to_string_lossy();
                if n.starts_with("tmp_") || n.ends_with(".lock") {
                    continue;
                }
                copy_file(&path, &to.join(&rel).join(&name), summary)?;
            }
        }
    }
    Ok(())
}

fn copy_file(from: &Path, to: &Path, summary: &mut Summary) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::copy(from, to) {
        Ok(n) => {
            summary.files += 1;
            summary.bytes += n;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn count(path: &Path, summary: &mut Summary) {
    if let Ok(meta) = std::fs::metadata(path) {
        summary.files += 1;
        summary.bytes += meta.len();
    }
}
