//! `/{owner}/{repo}` and `/{owner}/{repo}/tree/{ref}/{path}`: a folder's
//! entries (folders first, files with their sizes) and its README below.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{conditional, crumbs, date, default_ref, etag, resolve, url_path, with_repo};
use crate::error::{Context, Error, Result};
use crate::git::read::{self, EntryKind, Found, RefEntry, TreeEntry};
use crate::markup;
use crate::repos::Access;
use crate::web::access::{Read, RepoAccess};
use crate::web::repos::clone_url;
use crate::web::repos::{RepoHeader, Tab};
use crate::web::runs::{CiStatus, statuses};
use crate::web::{AppState, Nav};

/// Files whose content is shown below a folder's listing, in this order.
const README_NAMES: &[&str] = &[
    "README.md",
    "README.markdown",
    "readme.md",
    "README",
    "README.txt",
    "Readme.md",
];
/// The switcher lists at most this many branches and tags each.
const SWITCHER_MAX: usize = 100;

#[derive(Deserialize)]
pub struct TailParams {
    pub rest: String,
}

/// The branch and tag menu: names with the URL of the same path on each.
pub struct Switcher {
    pub current: String,
    pub branches: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
}

impl Switcher {
    pub fn new(base: &str, refs: &[RefEntry], current: &str, path: &str) -> Switcher {
        let suffix = if path.is_empty() {
            String::new()
        } else {
            format!("/{}", url_path(path))
        };
        let pick = |tag: bool| {
            refs.iter()
                .filter(|r| r.is_tag == tag)
                .take(SWITCHER_MAX)
                .map(|r| (r.name.clone(), format!("{base}/tree/{}{suffix}", url_path(&r.name))))
                .collect()
        };
        Switcher {
            current: current.to_string(),
            branches: pick(false),
            tags: pick(true),
        }
    }
}

pub struct LatestCommit {
    pub id: String,
    pub short: String,
    pub summary: String,
    pub author: String,
    pub date: String,
    pub datetime: String,
}

impl LatestCommit {
    pub fn new(c: &read::CommitInfo) -> LatestCommit {
        LatestCommit {
            id: c.id.to_string(),
            short: c.id.to_string()[..10].to_string(),
            summary: c.summary().to_string(),
            author: c.author.name.clone(),
            date: date(c.committer.time),
            datetime: crate::web::rfc3339(c.committer.time),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "code/tree.html")]
struct View {
    nav: Nav,
    header: RepoHeader,
    /// Set on the repository's home page.
    home: Option<Home>,
    rev: String,
    rev_url: String,
    path: String,
    path_url: String,
    crumbs: Vec<(String, String)>,
    switcher: Switcher,
    latest: LatestCommit,
    /// CI status of the latest commit.
    ci: Option<CiStatus>,
    body: Arc<str>,
}

struct Home {
    clone_url: String,
    branches: usize,
    tags: usize,
    /// Each environment and the commit it runs now (and since when).
    environments: Vec<(String, String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "code/empty.html")]
struct EmptyView {
    nav: Nav,
    header: RepoHeader,
    can_write: bool,
    clone_url: String,
}

#[derive(Template)]
#[template(path = "code/tree_body.html")]
struct Body<'a> {
    /// The link to the parent folder, below the root.
    parent: Option<String>,
    /// Each entry with its link.
    entries: Vec<(&'a TreeEntry, String)>,
    readme: Option<(String, String)>,
}

/// "1.2 KiB"
pub fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", bytes as f64 / 1_073_741_824.0),
    }
}

fn render_body(repo: &gix::Repository, base: &str, rev: &str, path: &str, entries: &[TreeEntry]) -> Result<String> {
    let readme = README_NAMES
        .iter()
        .find_map(|n| entries.iter().find(|e| e.kind == EntryKind::File && e.name == *n))
        .filter(|e| e.size.unwrap_or(0) <= 1 << 20)
        .map(|e| -> Result<(String, String)> {
            let data = read::blob_data(repo, e.id)?;
            let text = String::from_utf8_lossy(&data);
            let html = if crate::markup::is_markdown(&e.name) {
                let links = super::markdown_links(base, rev, path);
                markup::markdown(&text, Some(&links))
            } else {
                format!("<pre class=\"plain\">{}</pre>", markup::escape(&text))
            };
            Ok((e.name.clone(), html))
        })
        .transpose()?;
    let tree_url = format!("{base}/tree/{}", url_path(rev));
    let parent = (!path.is_empty()).then(|| match path.rsplit_once('/') {
        Some((up, _)) => format!("{tree_url}/{}", url_path(up)),
        None => tree_url.clone(),
    });
    let entries = entries
        .iter()
        .map(|e| {
            let kind = if e.kind == EntryKind::Dir { "tree" } else { "blob" };
            let full = if path.is_empty() {
                e.name.clone()
            } else {
                format!("{path}/{}", e.name)
            };
            (e, format!("{base}/{kind}/{}/{}", url_path(rev), url_path(&full)))
        })
        .collect();
    Body {
        parent,
        entries,
        readme,
    }
    .render()
    .context("template")
}

pub async fn home(
    State(state): State<AppState>,
    nav: Nav,
    headers: HeaderMap,
    Path((_, name)): Path<(String, String)>,
    access: RepoAccess<Read>,
) -> Result<Response> {
    if name.ends_with(".git") {
        return Ok(Redirect::permanent(&access.repo.url()).into_response());
    }
    let default_branch = access.repo.default_branch.clone();
    let start = with_repo(&state, &access, move |_, refs| {
        Ok(default_ref(refs, &default_branch).map(|r| {
            (
                r.name.clone(),
                refs.iter().filter(|r| !r.is_tag).count(),
                refs.iter().filter(|r| r.is_tag).count(),
            )
        }))
    })
    .await?;
    let url = clone_url(&state, &headers, &access.repo);
    let Some((rev, branches, tags)) = start else {
        return Ok(EmptyView {
            nav,
            can_write: access.access >= Access::Write,
            header: RepoHeader::new(access.repo, access.access, Tab::Code)
                .with_watch(&state, access.viewer.as_ref())
                .await?,
            clone_url: url,
        }
        .into_response());
    };
    let repo_id = access.repo.id;
    let environments = state
        .db
        .read(move |c| {
            let mut out = Vec::new();
            for e in crate::db::environments::list_in_order(c, repo_id)? {
                if let Some(d) = crate::db::environments::current(c, e.id)? {
                    out.push((e.name, d.sha, crate::web::ago(d.updated_at)));
                }
            }
            Ok(out)
        })
        .await?;
    let home = Home {
        clone_url: url,
        branches,
        tags,
        environments,
    };
    page(&state, nav, &headers, access, rev, Some(home)).await
}

pub async fn handle(
    State(state): State<AppState>,
    nav: Nav,
    headers: HeaderMap,
    Path(TailParams { rest }): Path<TailParams>,
    access: RepoAccess<Read>,
) -> Result<Response> {
    page(&state, nav, &headers, access, rest, None).await
}

async fn page(
    state: &AppState,
    nav: Nav,
    headers: &HeaderMap,
    access: RepoAccess<Read>,
    tail: String,
    home: Option<Home>,
) -> Result<Response> {
    let base = access.repo.url();
    let switch_base = base.clone();
    let pages = state.pages.clone();
    let repo_id = access.repo.id.0;
    let (resolved, switcher, latest, body, key) = with_repo(state, &access, move |repo, refs| {
        let r = resolve(repo, refs, &tail)?;
        let key = format!("tree:{repo_id}:{}:{}:{}", r.commit, r.rev, r.path);
        let body = pages.fragment(key.clone(), || match read::lookup(repo, r.commit, &r.path)? {
            Some(Found::Dir(entries)) => render_body(repo, &base, &r.rev, &r.path, &entries),
            _ => Err(Error::NotFound),
        })?;
        let latest = LatestCommit::new(&read::commit_info(repo, r.commit)?);
        Ok((
            r.clone(),
            Switcher::new(&switch_base, refs, &r.rev, &r.path),
            latest,
            body,
            key,
        ))
    })
    .await?;
    let (repo_row, sha) = (access.repo.clone(), resolved.commit.to_string());
    let ci = state
        .db
        .read(move |c| Ok(statuses(c, &repo_row, std::slice::from_ref(&sha))?.remove(&sha)))
        .await?;
    let tag = resolved
        .by_id
        .then(|| etag(&format!("{key}:{}", ci.as_ref().map(|s| s.word).unwrap_or("")), &nav));
    let header = RepoHeader::new(access.repo, access.access, Tab::Code);
    let header = match &home {
        Some(_) => header.with_watch(state, access.viewer.as_ref()).await?,
        None => header,
    };
    let view = View {
        ci,
        nav,
        header,
        home,
        crumbs: crumbs(&resolved.path),
        rev_url: url_path(&resolved.rev),
        rev: resolved.rev,
        path_url: url_path(&resolved.path),
        path: resolved.path,
        switcher,
        latest,
        body,
    };
    Ok(conditional(headers, tag, view))
}
