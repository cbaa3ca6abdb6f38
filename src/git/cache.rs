//! Hot data for reading repositories: open repository handles and each
//! repository's branches and tags (dropped when a push lands). Rendered
//! pages are the web layer's (`web::page_cache`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::read::{self, RefEntry};
use crate::error::{Context, Result};

#[derive(Default)]
pub struct RepoCache {
    handles: Mutex<HashMap<PathBuf, gix::ThreadSafeRepository>>,
    refs: Mutex<HashMap<PathBuf, Arc<Vec<RefEntry>>>>,
}

impl RepoCache {
    /// A handle on the repository at `path` (blocking: opens it on a miss).
    pub fn repo(&self, path: &Path) -> Result<gix::Repository> {
        if let Some(r) = crate::sync::lock(&self.handles).get(path) {
            return Ok(r.to_thread_local());
        }
        let opened = gix::open_opts(path, gix::open::Options::isolated())
            .with_context(|| format!("could not open repository {}", path.display()))?
            .into_sync();
        let local = opened.to_thread_local();
        crate::sync::lock(&self.handles).insert(path.to_path_buf(), opened);
        Ok(local)
    }

    /// Branches and tags of the repository (blocking on a miss).
    pub fn refs(&self, path: &Path, repo: &gix::Repository) -> Result<Arc<Vec<RefEntry>>> {
        if let Some(r) = crate::sync::lock(&self.refs).get(path) {
            return Ok(r.clone());
        }
        let refs = Arc::new(read::refs(repo)?);
        crate::sync::lock(&self.refs).insert(path.to_path_buf(), refs.clone());
        Ok(refs)
    }

    /// Forgets what a push may have changed.
    pub fn invalidate(&self, path: &Path) {
        crate::sync::lock(&self.refs).remove(path);
        crate::sync::lock(&self.handles).remove(path);
    }
}
