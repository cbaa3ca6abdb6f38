//! `/{owner}/{repo}/blob/{ref}/{path}`: one file, highlighted on the server
//! with line anchors (`#L10`), Markdown rendered (with a source toggle),
//! images inline, binary or very large files as a download link.
//! `/{owner}/{repo}/raw/{ref}/{path}`: the bytes, never as anything a
//! browser would run.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::tree::{LatestCommit, Switcher, TailParams, size};
use super::{conditional, crumbs, etag, resolve, url_path, with_repo};
use crate::error::{Context, Error, Result};
use crate::git::read::{self, EntryKind, Found};
use crate::markup;
use crate::web::access::{Read, RepoAccess};
use crate::web::repos::{RepoHeader, Tab};
use crate::web::{AppState, Nav};

/// Files over this size are offered as a download only.
const SHOW_MAX_BYTES: u64 = 1 << 20;

/// Raster images a browser shows and cannot run, by extension.
fn image_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "ico" => "image/x-icon",
        _ => return None,
    })
}

#[derive(Deserialize)]
pub struct BlobQuery {
    /// `?plain=1` shows a Markdown file's source.
    plain: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "code/blob.html")]
struct View {
    nav: Nav,
    header: RepoHeader,
    rev: String,
    rev_url: String,
    path: String,
    path_url: String,
    crumbs: Vec<(String, String)>,
    switcher: Switcher,
    latest: LatestCommit,
    size: String,
    markdown: bool,
    plain: bool,
    body: Arc<str>,
}

enum Content {
    Markdown(String),
    Image,
    Download { reason: &'static str },
    Code { lines: usize, html: String },
}

#[derive(Template)]
#[template(path = "code/blob_body.html")]
struct BlobBody {
    raw_url: String,
    name: String,
    content: Content,
}

fn render_body(
    repo: &gix::Repository,
    base: &str,
    rev: &str,
    path: &str,
    id: gix::ObjectId,
    size: u64,
    plain: bool,
) -> Result<String> {
    let name = path.rsplit('/').next().unwrap_or(path).to_string();
    let raw_url = format!("{base}/raw/{}/{}", url_path(rev), url_path(path));
    let content = if image_type(&name).is_some() {
        Content::Image
    } else if size > SHOW_MAX_BYTES {
        Content::Download {
            reason: "This file is too large to show",
        }
    } else {
        let data = read::blob_data(repo, id)?;
        if read::is_binary(&data) {
            Content::Download {
                reason: "This is a binary file",
            }
        } else {
            let text = String::from_utf8_lossy(&data);
            if crate::markup::is_markdown(&name) && !plain {
                let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                let links = super::markdown_links(base, rev, dir);
                Content::Markdown(markup::markdown(&text, Some(&links)))
            } else {
                let lines = text.lines().count().max(1);
                Content::Code {
                    lines,
                    html: markup::highlight(&name, &text),
                }
            }
        }
    };
    BlobBody { raw_url, name, content }.render().context("template")
}

pub async fn handle(
    State(state): State<AppState>,
    nav: Nav,
    headers: HeaderMap,
    Path(TailParams { rest }): Path<TailParams>,
    Query(query): Query<BlobQuery>,
    access: RepoAccess<Read>,
) -> Result<Response> {
    let plain = query.plain.is_some_and(|p| p != "0");
    let base = access.repo.url();
    let pages = state.pages.clone();
    let repo_id = access.repo.id.0;
    let found = with_repo(&state, &access, move |repo, refs| {
        let r = resolve(repo, refs, &rest)?;
        let (id, bytes, kind) = match read::lookup(repo, r.commit, &r.path)? {
            Some(Found::File { id, size, kind }) => (id, size, kind),
            Some(Found::Dir(_)) => return Ok(Err(format!("{base}/tree/{}/{}", url_path(&r.rev), url_path(&r.path)))),
            None => return Err(Error::NotFound),
        };
        let key = format!("blob:{repo_id}:{}:{}:{}:{plain}", r.commit, r.rev, r.path);
        let body = pages.fragment(key.clone(), || {
            if kind == EntryKind::Symlink {
                let target = String::from_utf8_lossy(&read::blob_data(repo, id)?).into_owned();
                return Ok(format!(
                    "<p class=\"card\">Symbolic link to <code>{}</code></p>",
                    markup::escape(&target)
                ));
            }
            render_body(repo, &base, &r.rev, &r.path, id, bytes, plain)
        })?;
        let latest = LatestCommit::new(&read::commit_info(repo, r.commit)?);
        Ok(Ok((
            r.clone(),
            Switcher::new(&base, refs, &r.rev, &r.path),
            latest,
            body,
            key,
            bytes,
        )))
    })
    .await?;
    let (resolved, switcher, latest, body, key, bytes) = match found {
        Ok(found) => found,
        Err(tree_url) => return Ok(Redirect::to(&tree_url).into_response()),
    };
    let tag = resolved.by_id.then(|| etag(&key, &nav));
    let view = View {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Code),
        crumbs: crumbs(&resolved.path),
        rev_url: url_path(&resolved.rev),
        path_url: url_path(&resolved.path),
        markdown: crate::markup::is_markdown(&resolved.path),
        rev: resolved.rev,
        path: resolved.path,
        switcher,
        latest,
        size: size(bytes),
        plain,
        body,
    };
    Ok(conditional(&headers, tag, view))
}

/// Blobs up to this size are served from memory; larger ones stream from
/// `git cat-file` (gix cannot stream an object yet), at most
/// `LARGE_STREAMS` at once, so no answer holds a whole large blob.
const IN_MEMORY_MAX_BYTES: u64 = 1 << 20;
static LARGE_STREAMS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

/// A blob as `/raw/` serves it: in memory, or only its id and size.
enum RawBlob {
    Small(Vec<u8>),
    Large(gix::ObjectId, u64),
}

pub async fn raw(
    State(state): State<AppState>,
    Path(TailParams { rest }): Path<TailParams>,
    access: RepoAccess<Read>,
) -> Result<Response> {
    let (name, blob) = with_repo(&state, &access, move |repo, refs| {
        let r = resolve(repo, refs, &rest)?;
        match read::lookup(repo, r.commit, &r.path)? {
            Some(Found::File { id, size, .. }) => {
                let name = r.path.rsplit('/').next().unwrap_or("").to_string();
                let blob = if size <= IN_MEMORY_MAX_BYTES {
                    RawBlob::Small(read::blob_data(repo, id)?)
                } else {
                    RawBlob::Large(id, size)
                };
                Ok((name, blob))
            }
            _ => Err(Error::NotFound),
        }
    })
    .await?;
    let (head, length, body) = match blob {
        RawBlob::Small(data) => (
            data[..data.len().min(8000)].to_vec(),
            data.len() as u64,
            Body::from(data),
        ),
        RawBlob::Large(id, size) => {
            let (head, body) = stream_blob(&state, &access, id).await?;
            (head, size, body)
        }
    };
    let (content_type, attachment) = match image_type(&name) {
        Some(t) => (t, false),
        None if read::is_binary(&head) => ("application/octet-stream", true),
        // Text of any kind (HTML, SVG, scripts included) is shown as text.
        None => ("text/plain; charset=utf-8", false),
    };
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    if attachment {
        let safe: String = name
            .chars()
            .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
            .collect();
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

/// Blob `id` as a stream from `git cat-file blob` (cleared environment,
/// killed and reaped when the answer ends or its client goes), and its
/// first bytes, by which it is told binary or text.
async fn stream_blob(state: &AppState, access: &RepoAccess<Read>, id: gix::ObjectId) -> Result<(Vec<u8>, Body)> {
    use tokio::io::AsyncReadExt;
    let permit = LARGE_STREAMS.try_acquire().map_err(|_| Error::Busy {
        message: "too many large files are being downloaded at once; try again in a moment".into(),
        retry_after: 2,
    })?;
    let mut child = state
        .git
        .tokio_command()
        .arg("--git-dir")
        .arg(&access.path)
        .args(["cat-file", "blob"])
        .arg(id.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting git cat-file")?;
    let mut out = child
        .stdout
        .take()
        .ok_or_else(|| Error::internal("git cat-file has no output"))?;
    let mut head = Vec::with_capacity(8000);
    (&mut out)
        .take(8000)
        .read_to_end(&mut head)
        .await
        .context("reading a blob")?;
    let rest = tokio_util::io::ReaderStream::new(std::io::Cursor::new(head.clone()).chain(out));
    // The child and the permit live as long as the stream.
    let held = (child, permit);
    let stream = futures_util::StreamExt::map(rest, move |chunk| {
        let _ = &held;
        chunk
    });
    Ok((head, Body::from_stream(stream)))
}
