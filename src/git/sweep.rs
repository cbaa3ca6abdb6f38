//! What interrupted git work leaves in a bare repository: the quarantine
//! of a push whose client vanished (`objects/tmp_objdir-incoming-*`, kept
//! for ever by a receive-pack that was killed before it cleaned up), and,
//! after a crash, temporary packs and stale `*.lock` files that would make
//! the next update of that ref fail. Removed after every push (the
//! quarantine only: other git work may hold locks then) and at start-up,
//! when no git process of the server runs (everything).

use std::path::{Path, PathBuf};

/// What a sweep removed, as paths relative to the repository.
pub type Removed = Vec<String>;

/// Removes the quarantine directories receive-pack left. Call with the
/// repository's push lock held and its receive-pack reaped.
pub fn after_push(repo: &Path) -> Removed {
    let mut removed = Vec::new();
    for path in entries(&repo.join("objects")) {
        if name_of(&path).starts_with("tmp_objdir-incoming-") && remove(&path) {
            removed.push(relative(repo, &path));
        }
    }
    removed
}

/// Everything interrupted work left: quarantines, temporary objects and
/// packs, and `*.lock` files at the top, under `refs/` and in `objects/info`.
/// Only for start-up, when no git process works on the repository.
pub fn at_start(repo: &Path) -> Removed {
    let mut removed = after_push(repo);
    let objects = repo.join("objects");
    for dir in [objects.clone(), objects.join("pack")] {
        for path in entries(&dir) {
            let name = name_of(&path);
            if (name.starts_with("tmp_") || name.starts_with(".tmp-")) && remove(&path) {
                removed.push(relative(repo, &path));
            }
        }
    }
    let mut locks = Vec::new();
    for dir in [repo.to_path_buf(), objects.join("info")] {
        locks.extend(entries(&dir).into_iter().filter(|p| p.is_file()));
    }
    walk_files(&repo.join("refs"), &mut locks, 0);
    for path in locks {
        if name_of(&path).ends_with(".lock") && remove(&path) {
            removed.push(relative(repo, &path));
        }
    }
    removed
}

/// Folders below which refs nest at most (refs/heads/a/b/c...).
const MAX_DEPTH: usize = 64;

fn walk_files(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    for path in entries(dir) {
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => walk_files(&path, out, depth + 1),
            Ok(m) if m.is_file() => out.push(path),
            _ => {}
        }
    }
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(list) => list.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn relative(repo: &Path, path: &Path) -> String {
    path.strip_prefix(repo).unwrap_or(path).display().to_string()
}

/// Removes a file or a folder (never following a link); whether it went.
fn remove(path: &Path) -> bool {
    let gone = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match gone {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("could not remove {}: {e}", path.display());
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_takes_what_interrupted_work_left_and_nothing_else() {
        let dir = tempfile::TempDir::new().unwrap();
        let repo = dir.path();
        for d in [
            "objects/pack",
            "objects/info",
            "objects/ab",
            "objects/tmp_objdir-incoming-x1/pack",
            "refs/heads/feature",
            "refs/tags",
        ] {
            std::fs::create_dir_all(repo.join(d)).unwrap();
        }
        for f in [
            "HEAD",
            "config",
            "packed-refs.lock",
            "objects/ab/cdef",
            "objects/pack/pack-1.pack",
            "objects/pack/tmp_pack_XY",
            "objects/tmp_objdir-incoming-x1/pack/tmp_pack_1",
            "refs/heads/main",
            "refs/heads/main.lock",
            "refs/heads/feature/a.lock",
            "refs/tags/v1",
        ] {
            std::fs::write(repo.join(f), "x").unwrap();
        }
        assert_eq!(after_push(repo), ["objects/tmp_objdir-incoming-x1"]);
        let mut removed = at_start(repo);
        removed.sort();
        assert_eq!(
            removed,
            [
                "objects/pack/tmp_pack_XY",
                "packed-refs.lock",
                "refs/heads/feature/a.lock",
                "refs/heads/main.lock",
            ]
        );
        for kept in [
            "HEAD",
            "config",
            "objects/ab/cdef",
            "objects/pack/pack-1.pack",
            "refs/heads/main",
            "refs/tags/v1",
        ] {
            assert!(repo.join(kept).exists(), "{kept} stays");
        }
    }
}
