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

/// Downloads being made at once (like large raw files); the next is told
/// to come back in a moment.
static DOWNLOADS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);
/// A download goes to its client in pieces of about this size.
const CHUNK_BYTES: usize = 64 << 10;

/// A `.patch` or `.diff` as it is made: its text goes to the client a
/// piece at a time (never held whole), cut at a line once it reaches
/// `PATCH_LIMITS`' lines or bytes, with a note saying so. What it wrote is
/// kept for the page cache while it is small.
pub struct Download {
    tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
    chunk: String,
    lines: usize,
    bytes: u64,
    kept: Option<String>,
    /// Cut at the limits, or the client went.
    stopped: bool,
}

impl Download {
    /// Appends `text`, whole lines; false once it stops (the client went,
    /// or the limits cut it here).
    pub fn write(&mut self, text: &str) -> bool {
        if self.stopped {
            return false;
        }
        for line in text.split_inclusive('\n') {
            if self.lines >= PATCH_LIMITS.max_total_lines
                || self.bytes + line.len() as u64 > PATCH_LIMITS.max_total_bytes
            {
                self.push(&cut_note("this download is cut short at its limits"));
                self.stopped = true;
                return false;
            }
            self.lines += 1;
            self.bytes += line.len() as u64;
            self.push(line);
        }
        !self.stopped
    }

    fn push(&mut self, text: &str) {
        if let Some(kept) = &mut self.kept {
            match kept.len() + text.len() <= CACHED_MAX_BYTES {
                true => kept.push_str(text),
                false => self.kept = None,
            }
        }
        self.chunk.push_str(text);
        if self.chunk.len() >= CHUNK_BYTES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        let chunk = bytes::Bytes::from(std::mem::take(&mut self.chunk));
        // A full channel waits for the client; a closed one means it went.
        if self.tx.blocking_send(Ok(chunk)).is_err() {
            self.stopped = true;
            self.kept = None;
        }
    }

    /// Ends the download with `note` (when it was not cut already); the
    /// whole text when it is small enough to keep.
    fn finish(mut self, note: Option<String>) -> Option<String> {
        if let Some(note) = note
            && !self.stopped
        {
            self.push(&note);
        }
        self.flush();
        self.kept.take()
    }
}

/// Commit `id` as `git format-patch` writes it (`as_patch`), or its bare
/// diff, into `out`; false once `out` stopped.
pub fn write_patch(repo: &gix::Repository, id: gix::ObjectId, as_patch: bool, out: &mut Download) -> Result<bool> {
    if as_patch {
        let c = read::commit_info(repo, id)?;
        let mut head = format!(
            "From {id} Mon Sep 17 00:00:00 2001\nFrom: {} <{}>\nDate: {}\nSubject: [PATCH] {}\n\n",
            c.author.name,
            c.author.email,
            rfc3339(c.author.time),
            c.summary()
        );
        if !c.body().is_empty() {
            head.push_str(c.body());
            head.push('\n');
        }
        head.push_str("---\n\n");
        if !out.write(&head) {
            return Ok(false);
        }
    }
    let c = repo.find_commit(id).context("reading a commit")?;
    let parent = c.parent_ids().next().map(|p| p.detach());
    write_diff(repo, parent, id, out)
}

/// What changed from `old` to `new` as `git diff` prints it, into `out`,
/// file by file as each is diffed; false once `out` stopped.
pub fn write_diff(
    repo: &gix::Repository,
    old: Option<gix::ObjectId>,
    new: gix::ObjectId,
    out: &mut Download,
) -> Result<bool> {
    let mut text = String::new();
    let truncated = read::diff_each(repo, old, new, PATCH_LIMITS, &mut |file| {
        text.clear();
        read::file_text(&file, &mut text);
        out.write(&text)
    })?;
    if truncated && !out.stopped {
        return Ok(out.write(&cut_note("this diff is cut short at the download's limits")));
    }
    Ok(!out.stopped)
}

/// Answers with a download `make` writes, streamed as it is made; from
/// the page cache when it was made before (it is made from commit ids,
/// and never changes). `make` may end it with a note.
pub async fn stream_download(
    state: &AppState,
    access: &RepoAccess<Read>,
    key: String,
    make: impl FnOnce(&gix::Repository, &mut Download) -> Result<Option<String>> + Send + 'static,
) -> Result<Response> {
    if let Some(hit) = state.pages.get(&key) {
        return Ok(plain_text(axum::body::Body::from(hit.to_string())));
    }
    let permit = DOWNLOADS.try_acquire().map_err(|_| Error::Busy {
        message: "too many patches and diffs are being made at once; try again in a moment".into(),
        retry_after: 2,
    })?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let (cache, path, pages) = (state.code.clone(), access.path.clone(), state.pages.clone());
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut out = Download {
            tx: tx.clone(),
            chunk: String::new(),
            lines: 0,
            bytes: 0,
            kept: Some(String::new()),
            stopped: false,
        };
        let made = cache.repo(&path).and_then(|repo| make(&repo, &mut out));
        match made {
            Ok(note) => {
                if let Some(whole) = out.finish(note) {
                    let _ = pages.fragment(key, || Ok(whole));
                }
            }
            // The answer has begun: it ends broken, and the log says why.
            Err(e) => {
                tracing::warn!("making a download: {e}");
                let _ = tx.blocking_send(Err(std::io::Error::other("the download could not be made")));
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok(plain_text(axum::body::Body::from_stream(stream)))
}

/// A text download (a patch or a diff), never taken for a page.
pub fn plain_text(body: axum::body::Body) -> Response {
    let mut response = body.into_response();
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
        let id = with_repo(&state, &access, move |repo, _| {
            read::commit_by_hex(repo, &hex)?.ok_or(Error::NotFound)
        })
        .await?;
        let key = format!("{}:{repo_id}:{id}", if as_patch { "patch" } else { "diff" });
        return stream_download(&state, &access, key, move |repo, out| {
            write_patch(repo, id, as_patch, out).map(|_| None)
        })
        .await;
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
