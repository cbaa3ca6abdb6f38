//! A repository opened for a page, and a revision in it.

use crate::error::{Error, Result};
use crate::git::read::{self, RefEntry, Resolved};
use crate::web::AppState;
use crate::web::access::{Read, RepoAccess};

/// Runs gix work on the blocking pool with the repository and its refs.
pub async fn with_repo<T, F>(state: &AppState, access: &RepoAccess<Read>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&gix::Repository, &[RefEntry]) -> Result<T> + Send + 'static,
{
    let cache = state.code.clone();
    let path = access.path.clone();
    crate::error::blocking("repository task failed", move || {
        let repo = cache.repo(&path)?;
        let refs = cache.refs(&path, &repo)?;
        f(&repo, &refs)
    })
    .await?
}

/// Resolves a `{ref}/{path}` tail or answers 404.
pub fn resolve(repo: &gix::Repository, refs: &[RefEntry], tail: &str) -> Result<Resolved> {
    read::resolve(repo, refs, tail)?.ok_or(Error::NotFound)
}

/// The default branch, or else the first branch, of a non-empty repository.
pub fn default_ref<'a>(refs: &'a [RefEntry], default_branch: &str) -> Option<&'a RefEntry> {
    refs.iter()
        .find(|r| !r.is_tag && r.name == default_branch)
        .or_else(|| refs.iter().find(|r| !r.is_tag))
        .or_else(|| refs.first())
}
