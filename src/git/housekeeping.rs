//! Background repacking. After a push, `git gc --auto` looks at the pile of
//! loose objects and packs and, when there are too many, repacks into one pack
//! with a reachability bitmap, so clones keep reusing a single pack. It runs
//! off the request path, one repository at a time, never blocking a push or a
//! clone; git's own locking makes it safe beside them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use super::GitCommand;

/// `git gc --auto`, with thresholds for a server: past 256 loose objects (as
/// gc estimates them; git's default of 6700 suits workstations) or 4 packs,
/// the repository is repacked, with a reachability bitmap, in the foreground
/// of this background task.
const GC_AUTO: &[&str] = &[
    "-c",
    "gc.auto=256",
    "-c",
    "gc.autoPackLimit=4",
    "-c",
    "gc.autoDetach=false",
    "-c",
    "repack.writeBitmaps=true",
    "gc",
    "--auto",
    "--quiet",
];
/// Packs smaller than this are cheap to count without a bitmap.
const BITMAP_MIN_PACK_BYTES: u64 = 1 << 20;

pub struct Housekeeper {
    git: GitCommand,
    /// Repositories with a run queued or in progress.
    pending: Mutex<HashSet<PathBuf>>,
    /// One repack at a time, so housekeeping never takes both cores.
    slots: Semaphore,
}

impl Housekeeper {
    pub fn new(git: GitCommand) -> Arc<Housekeeper> {
        Arc::new(Housekeeper {
            git,
            pending: Mutex::new(HashSet::new()),
            slots: Semaphore::new(1),
        })
    }

    /// Schedules `git gc --auto` for `repo` unless one is already queued.
    pub fn after_push(self: &Arc<Self>, repo: PathBuf) {
        if !crate::sync::lock(&self.pending).insert(repo.clone()) {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let _slot = this.slots.acquire().await;
            crate::sync::lock(&this.pending).remove(&repo);
            this.run(&repo, GC_AUTO).await;
            // A repository that arrived in one big push has a single pack but
            // no bitmap, which `gc --auto` sees no reason to write: without it
            // every clone counts all objects again.
            if !has_bitmap(&repo) && pack_bytes(&repo) > BITMAP_MIN_PACK_BYTES {
                this.run(&repo, &["repack", "-a", "-d", "-q", "--write-bitmap-index"])
                    .await;
            }
        });
    }

    async fn run(&self, repo: &Path, args: &[&str]) {
        let mut cmd = self.git.tokio_command();
        cmd.arg("--git-dir")
            .arg(repo)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match cmd.output().await {
            Ok(out) if out.status.success() => {}
            Ok(out) => tracing::warn!(
                "git {} in {} failed: {}",
                args.join(" "),
                repo.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => tracing::warn!("could not run git in {}: {e}", repo.display()),
        }
    }
}

fn pack_files(repo: &Path) -> impl Iterator<Item = std::fs::DirEntry> {
    std::fs::read_dir(repo.join("objects/pack"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
}

fn has_bitmap(repo: &Path) -> bool {
    pack_files(repo).any(|e| e.file_name().to_string_lossy().ends_with(".bitmap"))
}

fn pack_bytes(repo: &Path) -> u64 {
    pack_files(repo)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pack"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}
