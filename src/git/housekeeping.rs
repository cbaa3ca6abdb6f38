//! Background repacking. After a push, `git gc --auto` looks at the pile of
//! loose objects and packs and, when there are too many, repacks into one pack
//! with a reachability bitmap, so clones keep reusing a single pack. It runs
//! off the request path, one repository at a time, never blocking a push or a
//! clone; git's own locking makes it safe beside them.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use super::GitCommand;

/// Loose objects (as `gc --auto` estimates them) above which a repository is
/// repacked. Git's own default, 6700, suits workstations; a server wants
/// clones to find a single pack.
const LOOSE_OBJECT_LIMIT: u32 = 256;
/// Packs above which all packs are consolidated into one.
const PACK_LIMIT: u32 = 4;

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
        if !self
            .pending
            .lock()
            .expect("housekeeping set poisoned")
            .insert(repo.clone())
        {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let _slot = this.slots.acquire().await;
            this.pending.lock().expect("housekeeping set poisoned").remove(&repo);
            let mut cmd = this.git.tokio_command();
            cmd.arg("--git-dir")
                .arg(&repo)
                .args([
                    "-c",
                    &format!("gc.auto={LOOSE_OBJECT_LIMIT}"),
                    "-c",
                    &format!("gc.autoPackLimit={PACK_LIMIT}"),
                    "-c",
                    "gc.autoDetach=false",
                    "-c",
                    "repack.writeBitmaps=true",
                    "gc",
                    "--auto",
                    "--quiet",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            match cmd.output().await {
                Ok(out) if out.status.success() => {}
                Ok(out) => tracing::warn!(
                    "git gc --auto in {} failed: {}",
                    repo.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                Err(e) => tracing::warn!("could not run git gc in {}: {e}", repo.display()),
            }
        });
    }
}
