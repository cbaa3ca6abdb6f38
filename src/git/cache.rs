//! Hot data for the pages, kept small and bounded: open repository handles,
//! each repository's branches and tags (dropped when a push lands), and
//! rendered fragments of pages reached through a commit id, which never
//! change and so never need dropping, only evicting.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::read::{self, RefEntry};
use crate::error::{Context, Result};

/// Bytes of rendered fragments kept.
const FRAGMENT_BUDGET: usize = 24 << 20;

#[derive(Default)]
pub struct RepoCache {
    handles: Mutex<HashMap<PathBuf, gix::ThreadSafeRepository>>,
    refs: Mutex<HashMap<PathBuf, Arc<Vec<RefEntry>>>>,
    fragments: Mutex<Fragments>,
}

#[derive(Default)]
struct Fragments {
    map: HashMap<String, (Arc<str>, u64)>,
    bytes: usize,
    clock: u64,
}

impl RepoCache {
    /// A handle on the repository at `path` (blocking: opens it on a miss).
    pub fn repo(&self, path: &Path) -> Result<gix::Repository> {
        if let Some(r) = self.handles.lock().expect("cache poisoned").get(path) {
            return Ok(r.to_thread_local());
        }
        let opened = gix::open_opts(path, gix::open::Options::isolated())
            .with_context(|| format!("could not open repository {}", path.display()))?
            .into_sync();
        let local = opened.to_thread_local();
        self.handles
            .lock()
            .expect("cache poisoned")
            .insert(path.to_path_buf(), opened);
        Ok(local)
    }

    /// Branches and tags of the repository (blocking on a miss).
    pub fn refs(&self, path: &Path, repo: &gix::Repository) -> Result<Arc<Vec<RefEntry>>> {
        if let Some(r) = self.refs.lock().expect("cache poisoned").get(path) {
            return Ok(r.clone());
        }
        let refs = Arc::new(read::refs(repo)?);
        self.refs
            .lock()
            .expect("cache poisoned")
            .insert(path.to_path_buf(), refs.clone());
        Ok(refs)
    }

    /// Forgets what a push may have changed.
    pub fn invalidate(&self, path: &Path) {
        self.refs.lock().expect("cache poisoned").remove(path);
        self.handles.lock().expect("cache poisoned").remove(path);
    }

    pub fn fragment(&self, key: &str) -> Option<Arc<str>> {
        let mut f = self.fragments.lock().expect("cache poisoned");
        f.clock += 1;
        let now = f.clock;
        let entry = f.map.get_mut(key)?;
        entry.1 = now;
        Some(entry.0.clone())
    }

    pub fn put_fragment(&self, key: String, html: Arc<str>) {
        let mut f = self.fragments.lock().expect("cache poisoned");
        f.clock += 1;
        let now = f.clock;
        f.bytes += html.len() + key.len();
        if let Some((old, _)) = f.map.insert(key.clone(), (html, now)) {
            f.bytes -= old.len() + key.len();
        }
        if f.bytes > FRAGMENT_BUDGET {
            // Evict the least recently used quarter-budget's worth.
            let mut by_age: Vec<(u64, String)> = f.map.iter().map(|(k, (_, t))| (*t, k.clone())).collect();
            by_age.sort_unstable();
            for (_, k) in by_age {
                if f.bytes <= FRAGMENT_BUDGET * 3 / 4 {
                    break;
                }
                if let Some((v, _)) = f.map.remove(&k) {
                    f.bytes -= v.len() + k.len();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fragments_stay_within_budget() {
        let cache = super::RepoCache::default();
        let big: std::sync::Arc<str> = "x".repeat(1 << 20).into();
        for i in 0..100 {
            cache.put_fragment(format!("k{i}"), big.clone());
        }
        let bytes = cache.fragments.lock().unwrap().bytes;
        assert!(bytes <= super::FRAGMENT_BUDGET, "{bytes}");
        assert!(cache.fragment("k99").is_some(), "the newest stays");
        assert!(cache.fragment("k0").is_none(), "the oldest went");
    }
}
