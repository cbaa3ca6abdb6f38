//! `/{owner}/{repo}/commit/{sha}`: a commit's message, parents, author and
//! committer, and its diff against the first parent, per file with counts;
//! renames, additions, deletions and binary files marked; very large diffs
//! cut short with a link to the whole patch (`{sha}.patch`, `{sha}.diff`).

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{conditional, date, etag, with_repo};
use crate::error::{Context, Error, Result};
use crate::git::read::{self, CommitInfo, FileDiff, Line, Status};
use crate::web::access::{Read, RepoAccess};
use crate::web::repos::{RepoHeader, Tab};
use crate::web::{AppState, Nav, rfc3339};

/// What the page shows of a diff; the rest is in the patch.
const PAGE_LIMITS: read::Limits = read::Limits {
    max_files: 300,
    max_file_lines: 3000,
    max_total_lines: 20_000,
    max_blob_bytes: 4 << 20,
    max_total_bytes: 32 << 20,
};
/// What a `.patch` or `.diff` download (of a commit or a pull request)
/// holds at most; where it stops, its last line says so.
pub const PATCH_LIMITS: read::Limits = read::Limits {
    max_files: 3000,
    max_file_lines: 100_000,
    max_total_lines: 300_000,
    max_blob_bytes: 16 << 20,
    max_total_bytes: 64 << 20,
};
/// Commits in a pull request's `.patch`, at most.
pub const PATCH_MAX_COMMITS: usize = 250;
/// Downloads up to this size are kept in the page cache (they are made
/// from commit ids, and never change).
const CACHED_MAX_BYTES: usize = 1 << 20;

/// The last line of a download cut short: why, and where the whole is.
pub fn cut_note(what: &str) -> String {
    format!("\n# Hearth: {what}; the whole change is in the repository (git diff, git format-patch).\n")
}

#[derive(Template, WebTemplate)]
#[template(path = "code/commit.html")]
struct View {
    nav: Nav,
    header: RepoHeader,
    id: String,
    summary: String,
    body: Arc<str>,
}

#[derive(Template)]
#[template(path = "code/commit_body.html")]
struct Body<'a> {
    base: &'a str,
    commit: &'a CommitInfo,
    /// What the files' links and the whole diff's link are at.
    rev: String,
    diff_link: String,
    author_date: String,
    author_datetime: String,
    committer_date: String,
    same_committer: bool,
    files: &'a [FileDiff],
    additions: usize,
    deletions: usize,
    truncated: bool,
}

impl Body<'_> {
    /// Line comments are shown on pull requests' diffs only.
    fn notes(&self, _path: &str, _line: &Line) -> &[crate::web::pulls::Note] {
        &[]
    }
}

/// Commit `id` as `git format-patch` writes it (`as_patch`), or its bare diff.
pub fn patch_text(repo: &gix::Repository, id: gix::ObjectId, as_patch: bool) -> Result<String> {
    let diff = read::diff(repo, id, PATCH_LIMITS)?;
    let mut text = String::new();
    if as_patch {
        let c = read::commit_info(repo, id)?;
        text.push_str(&format!(
            "From {id} Mon Sep 17 00:00:00 2001\nFrom: {} <{}>\nDate: {}\nSubject: [PATCH] {}\n\n",
            c.author.name,
            c.author.email,
            rfc3339(c.author.time),
            c.summary()
        ));
        if !c.body().is_empty() {
            text.push_str(c.body());
            text.push('\n');
        }
        text.push_str("---\n\n");
    }
    text.push_str(&diff_text(&diff));
    Ok(text)
}

/// A diff as `git diff` prints it, with a note at the end when it was cut.
pub fn diff_text(diff: &read::CommitDiff) -> String {
    let mut text = read::unified_text(diff);
    if diff.truncated {
        text.push_str(&cut_note("this diff is cut short at the download's limits"));
    }
    text
}

/// A download made from commit ids, from the page cache when it was made
/// before (and small enough to keep).
pub fn cached_download(
    pages: &crate::web::page_cache::PageCache,
    key: String,
    make: impl FnOnce() -> Result<String>,
) -> Result<Arc<str>> {
    if let Some(hit) = pages.get(&key) {
        return Ok(hit);
    }
    let text = make()?;
    if text.len() <= CACHED_MAX_BYTES {
        return pages.fragment(key, || Ok(text));
    }
    Ok(text.into())
}

/// A text download (a patch or a diff), never taken for a page.
pub fn plain_text(text: Arc<str>) -> Response {
    let mut response = axum::body::Body::from(text.to_string()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

pub async fn handle(
    State(state): State<AppState>,
    nav: Nav,
    headers: HeaderMap,
    Path((_, _, sha)): Path<(String, String, String)>,
    access: RepoAccess<Read>,
) -> Result<Response> {
    let (hex, download) = match sha.rsplit_once('.') {
        Some((hex, "patch")) => (hex.to_string(), Some(true)),
        Some((hex, "diff")) => (hex.to_string(), Some(false)),
        Some(_) => return Err(Error::NotFound),
        None => (sha.clone(), None),
    };
    let base = access.repo.url();
    let pages = state.pages.clone();
    let repo_id = access.repo.id.0;
    if let Some(as_patch) = download {
        let text = with_repo(&state, &access, move |repo, _| {
            let id = read::commit_by_hex(repo, &hex)?.ok_or(Error::NotFound)?;
            let key = format!("{}:{repo_id}:{id}", if as_patch { "patch" } else { "diff" });
            cached_download(&pages, key, || patch_text(repo, id, as_patch))
        })
        .await?;
        return Ok(plain_text(text));
    }
    let full_id = sha.len() == 40;
    let (id, summary, body, key) = with_repo(&state, &access, move |repo, _| {
        let id = read::commit_by_hex(repo, &hex)?.ok_or(Error::NotFound)?;
        let commit = read::commit_info(repo, id)?;
        let key = format!("commit:{repo_id}:{id}");
        let body = pages.fragment(key.clone(), || {
            let diff = read::diff(repo, id, PAGE_LIMITS)?;
            Body {
                base: &base,
                rev: id.to_string(),
                diff_link: format!("{base}/commit/{id}.diff"),
                author_date: date(commit.author.time),
                author_datetime: rfc3339(commit.author.time),
                committer_date: date(commit.committer.time),
                same_committer: commit.author.name == commit.committer.name
                    && commit.author.email == commit.committer.email,
                additions: diff.files.iter().map(|f| f.additions).sum(),
                deletions: diff.files.iter().map(|f| f.deletions).sum(),
                files: &diff.files,
                truncated: diff.truncated,
                commit: &commit,
            }
            .render()
            .context("template")
        })?;
        Ok((id, commit.summary().to_string(), body, key))
    })
    .await?;
    let tag = full_id.then(|| etag(&key, &nav));
    let view = View {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Commits),
        id: id.to_string(),
        summary,
        body,
    };
    Ok(conditional(&headers, tag, view))
}
