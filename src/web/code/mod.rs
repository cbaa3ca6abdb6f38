//! The code pages of a repository, read with gix: home, tree, blob, raw,
//! history, a commit and its diff, branches and tags. The expensive part of
//! each page (listing, highlighting, diffing) is rendered once per commit
//! and kept in the `RepoCache`; the layout around it is rendered per request.
//! Pages reached by a commit id never change: they carry a strong ETag.

mod blob;
pub(crate) mod commit;
mod commits;
mod refs;
pub(crate) mod tree;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{AppState, Nav};
use crate::error::{Error, Result};
use crate::git::read::{self, RefEntry, Resolved};

use super::access::{Read, RepoAccess};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{owner}/{repo}", get(tree::home))
        .route("/{owner}/{repo}/tree/{*rest}", get(tree::handle))
        .route("/{owner}/{repo}/blob/{*rest}", get(blob::handle))
        .route("/{owner}/{repo}/raw/{*rest}", get(blob::raw))
        .route("/{owner}/{repo}/commits", get(commits::default_branch))
        .route("/{owner}/{repo}/commits/{*rest}", get(commits::handle))
        .route("/{owner}/{repo}/commit/{sha}", get(commit::handle))
        .route("/{owner}/{repo}/branches", get(refs::branches))
        .route("/{owner}/{repo}/tags", get(refs::tags))
}

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

/// A strong ETag for a page reached by commit id: the same for the same
/// content and the same viewer (the layout shows who is signed in).
pub fn etag(key: &str, nav: &Nav) -> String {
    let who = nav.user.as_ref().map(|u| u.id.0).unwrap_or(0);
    // Anonymous readers share one version of a page (it has no form of theirs).
    let csrf = if nav.user.is_some() { nav.csrf() } else { "" };
    let digest = crate::accounts::sha256_hex(&format!("{key}\n{who}\n{csrf}\n{}", nav.unread));
    format!("\"{}\"", &digest[..32])
}

/// 304 when the client has this version already; otherwise the page with its ETag.
pub fn conditional(headers: &HeaderMap, etag: Option<String>, page: impl IntoResponse) -> Response {
    let Some(tag) = etag else { return page.into_response() };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        page.into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// `a/b/c` → [("a", "a"), ("b", "a/b"), ("c", "a/b/c")] for breadcrumbs,
/// the second of each pair ready for a URL.
pub fn crumbs(path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut acc = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if !acc.is_empty() {
            acc.push('/');
        }
        acc.push_str(seg);
        out.push((seg.to_string(), url_path(&acc)));
    }
    out
}

/// Percent-encodes a ref or path for use in a URL, keeping `/`.
pub fn url_path(text: &str) -> String {
    super::auth::url_encode(text)
}

/// Where relative links and images of a Markdown file in folder `dir`
/// (empty for the root) point, at `rev`.
pub fn markdown_links(base: &str, rev: &str, dir: &str) -> crate::markup::Links {
    let dir = if dir.is_empty() {
        String::new()
    } else {
        format!("/{}", url_path(dir))
    };
    crate::markup::Links {
        blob_dir: format!("{base}/blob/{}{dir}", url_path(rev)),
        raw_dir: format!("{base}/raw/{}{dir}", url_path(rev)),
    }
}

/// `2026-01-01 12:00 UTC`, for a `<time>` element (hearth.js shows it relative).
pub fn date(ts: i64) -> String {
    let full = super::rfc3339(ts);
    format!("{} {} UTC", &full[..10], &full[11..16])
}
