//! `/{owner}/{repo}/commits/{ref}`: paginated history, newest first,
//! optionally of one path (`?path=`) and along first parents only
//! (`?first_parent=1`).

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::tree::TailParams;
use super::{conditional, date, default_ref, etag, resolve, url_path, with_repo};
use crate::error::{Context, Error, Result};
use crate::git::read;
use crate::web::access::{Read, RepoAccess};
use crate::web::repos::{RepoHeader, Tab};
use crate::web::runs::{CiStatus, statuses};
use crate::web::{AppState, Nav, rfc3339};

const PER_PAGE: usize = 50;
/// Pages past this are refused: walking that far is the clone's job.
const MAX_PAGE: usize = 2000;

#[derive(Deserialize, Default)]
pub struct LogQuery {
    page: Option<usize>,
    path: Option<String>,
    first_parent: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "code/commits.html")]
struct View {
    nav: Nav,
    header: RepoHeader,
    rev: String,
    path: String,
    path_url: String,
    first_parent: bool,
    body: Arc<str>,
}

struct Row {
    ci: Option<CiStatus>,
    id: String,
    short: String,
    summary: String,
    author: String,
    date: String,
    datetime: String,
}

#[derive(Template)]
#[template(path = "code/commits_body.html")]
struct Body {
    base: String,
    rows: Vec<Row>,
    newer: Option<String>,
    older: Option<String>,
}

pub async fn default_branch(
    state: State<AppState>,
    nav: Nav,
    headers: HeaderMap,
    query: Query<LogQuery>,
    access: RepoAccess<Read>,
) -> Result<Response> {
    page(state, nav, headers, query, access, None).await
}

pub async fn handle(
    state: State<AppState>,
    nav: Nav,
    headers: HeaderMap,
    Path(TailParams { rest }): Path<TailParams>,
    query: Query<LogQuery>,
    access: RepoAccess<Read>,
) -> Result<Response> {
    page(state, nav, headers, query, access, Some(rest)).await
}

async fn page(
    State(state): State<AppState>,
    nav: Nav,
    headers: HeaderMap,
    Query(query): Query<LogQuery>,
    access: RepoAccess<Read>,
    tail: Option<String>,
) -> Result<Response> {
    let page = query.page.unwrap_or(1);
    if page == 0 || page > MAX_PAGE {
        return Err(Error::invalid(format!("page must be between 1 and {MAX_PAGE}")));
    }
    let first_parent = query.first_parent.as_deref().is_some_and(|v| v != "0");
    let query_path = query.path.unwrap_or_default().trim_matches('/').to_string();
    let base = access.repo.url();
    let default_branch = access.repo.default_branch.clone();
    let pages = state.pages.clone();
    let repo_id = access.repo.id.0;
    let (db, repo_row) = (state.db.clone(), access.repo.clone());
    let ci_id = access.repo.id;
    // Statuses change while runs go on: the cached page keys on their version.
    let ci_version = state.db.read(move |c| crate::db::runs::version(c, ci_id)).await?;
    let (resolved, path, body, key) = with_repo(&state, &access, move |repo, refs| {
        let tail = match tail {
            Some(t) => t,
            None => default_ref(refs, &default_branch)
                .map(|r| r.name.clone())
                .ok_or(Error::NotFound)?,
        };
        let r = resolve(repo, refs, &tail)?;
        let path = if r.path.is_empty() { query_path } else { r.path.clone() };
        let key = format!(
            "log:{repo_id}:{ci_version}:{}:{}:{path}:{page}:{first_parent}",
            r.commit, r.rev
        );
        let body = pages.fragment(key.clone(), || {
            let (commits, more) = read::log(repo, r.commit, &path, first_parent, (page - 1) * PER_PAGE, PER_PAGE)?;
            if commits.is_empty() && page > 1 {
                return Err(Error::NotFound);
            }
            let link = |p: usize| {
                let mut q = format!("?page={p}");
                if !path.is_empty() {
                    q.push_str(&format!("&path={}", url_path(&path)));
                }
                if first_parent {
                    q.push_str("&first_parent=1");
                }
                format!("{base}/commits/{}{q}", url_path(&r.rev))
            };
            let shas: Vec<String> = commits.iter().map(|c| c.id.to_string()).collect();
            let mut ci = db.read_blocking(|c| statuses(c, &repo_row, &shas))?;
            let rows = commits
                .iter()
                .map(|c| Row {
                    ci: ci.remove(&c.id.to_string()),
                    id: c.id.to_string(),
                    short: c.id.to_string()[..10].to_string(),
                    summary: c.summary().to_string(),
                    author: c.author.name.clone(),
                    date: date(c.committer.time),
                    datetime: rfc3339(c.committer.time),
                })
                .collect();
            let body = Body {
                base: base.clone(),
                rows,
                newer: (page > 1).then(|| link(page - 1)),
                older: more.then(|| link(page + 1)),
            };
            body.render().context("template")
        })?;
        Ok((r, path, body, key))
    })
    .await?;
    let tag = resolved.by_id.then(|| etag(&key, &nav));
    let view = View {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Commits),
        rev: resolved.rev,
        path_url: url_path(&path),
        path,
        first_parent,
        body,
    };
    Ok(conditional(&headers, tag, view.into_response()))
}
