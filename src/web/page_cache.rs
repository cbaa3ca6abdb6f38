//! Rendered fragments of pages reached through a commit id (a tree, a
//! blob, a commit, a history page): they never change, so they are never
//! dropped, only evicted, the least recently used first, to stay within
//! a budget of bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::Result;

/// Bytes of rendered fragments kept.
const BUDGET: usize = 24 << 20;

#[derive(Default)]
pub struct PageCache {
    fragments: Mutex<Fragments>,
}

#[derive(Default)]
struct Fragments {
    map: HashMap<String, (Arc<str>, u64)>,
    bytes: usize,
    clock: u64,
}

impl PageCache {
    /// The fragment under `key`, or `render`ed now and kept.
    pub fn fragment(&self, key: String, render: impl FnOnce() -> Result<String>) -> Result<Arc<str>> {
        if let Some(hit) = self.get(&key) {
            return Ok(hit);
        }
        let html: Arc<str> = render()?.into();
        self.put(key, html.clone());
        Ok(html)
    }

    fn fragments(&self) -> std::sync::MutexGuard<'_, Fragments> {
        crate::sync::lock(&self.fragments)
    }

    /// The fragment under `key`, if it was rendered already.
    pub fn get(&self, key: &str) -> Option<Arc<str>> {
        let mut f = self.fragments();
        f.clock += 1;
        let now = f.clock;
        let entry = f.map.get_mut(key)?;
        entry.1 = now;
        Some(entry.0.clone())
    }

    fn put(&self, key: String, html: Arc<str>) {
        let mut f = self.fragments();
        f.clock += 1;
        let now = f.clock;
        f.bytes += html.len() + key.len();
        if let Some((old, _)) = f.map.insert(key.clone(), (html, now)) {
            f.bytes -= old.len() + key.len();
        }
        if f.bytes > BUDGET {
            // Evict the least recently used quarter-budget's worth.
            let mut by_age: Vec<(u64, String)> = f.map.iter().map(|(k, (_, t))| (*t, k.clone())).collect();
            by_age.sort_unstable();
            for (_, k) in by_age {
                if f.bytes <= BUDGET * 3 / 4 {
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
    use super::*;

    #[test]
    fn fragments_stay_within_budget() {
        let cache = PageCache::default();
        let big: Arc<str> = "x".repeat(1 << 20).into();
        for i in 0..100 {
            cache.put(format!("k{i}"), big.clone());
        }
        let bytes = cache.fragments().bytes;
        assert!(bytes <= BUDGET, "{bytes}");
        assert!(cache.get("k99").is_some(), "the newest stays");
        assert!(cache.get("k0").is_none(), "the oldest went");
        let again = cache
            .fragment("k99".into(), || panic!("a hit renders nothing"))
            .unwrap();
        assert_eq!(again.len(), 1 << 20);
    }
}
