//! GitHub's notifications and watching API: `GET`/`PUT /notifications`,
//! `/notifications/threads/{id}`, `…/repos/{o}/{r}/notifications`,
//! `…/repos/{o}/{r}/subscription` and `GET /user/subscriptions`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::doc::Api;
use super::{Page, Paged};
use crate::db;
use crate::db::notifications::{self as stored, Filter, Thread, ThreadId};
use crate::db::repos::{Repo, RepoId};
use crate::error::{Error, Result};
use crate::github::{self, Site};
use crate::web::AppState;
use crate::web::access::{Read, RepoAccess};
use crate::web::auth::SignedIn;
use crate::web::repos::site;

pub fn routes() -> Api {
    Api::new("notifications")
        .get(
            "/api/v1/notifications",
            "List your notifications (all, participating, since, before)",
            list,
        )
        .put("/api/v1/notifications", "Mark your notifications read", mark_all)
        .get("/api/v1/notifications/threads/{id}", "Get a notification", one)
        .patch(
            "/api/v1/notifications/threads/{id}",
            "Mark a notification read",
            mark_one,
        )
        .delete(
            "/api/v1/notifications/threads/{id}",
            "Mark a notification done (remove it)",
            done,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/notifications",
            "List your notifications of a repository",
            list_of_repo,
        )
        .put(
            "/api/v1/repos/{owner}/{repo}/notifications",
            "Mark your notifications of a repository read",
            mark_all_of_repo,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/subscription",
            "Whether you watch a repository",
            subscription,
        )
        .put(
            "/api/v1/repos/{owner}/{repo}/subscription",
            "Watch a repository (or stop: subscribed false)",
            subscribe,
        )
        .delete(
            "/api/v1/repos/{owner}/{repo}/subscription",
            "Stop watching a repository",
            unsubscribe,
        )
        .get("/api/v1/user/subscriptions", "List the repositories you watch", watched)
}

/// GitHub's list filters: `all`, `participating`, `since`, `before`.
#[derive(Deserialize)]
struct Filters {
    all: Option<String>,
    participating: Option<String>,
    since: Option<String>,
    before: Option<String>,
}

fn flag(name: &str, value: Option<&str>) -> Result<bool> {
    Ok(super::one_of(name, value, &["true", "false"], "false")? == "true")
}

/// A time of the API (`since`, `before`, `last_read_at`).
pub fn time_param(name: &str, value: Option<&str>) -> Result<Option<i64>> {
    value
        .map(|v| {
            crate::time::parse_rfc3339(v).ok_or_else(|| {
                Error::Unprocessable(format!(
                    "{name} is a time in ISO 8601 (2026-11-26T06:27:29Z), not {v:?}"
                ))
            })
        })
        .transpose()
}

impl Filters {
    fn filter(&self, repo: Option<RepoId>) -> Result<Filter> {
        Ok(Filter {
            all: flag("all", self.all.as_deref())?,
            participating: flag("participating", self.participating.as_deref())?,
            repo,
            since: time_param("since", self.since.as_deref())?,
            before: time_param("before", self.before.as_deref())?,
        })
    }
}

/// The threads in GitHub's shape: each with its repository.
fn threads_json(
    state: &AppState,
    headers: &HeaderMap,
    conn: &rusqlite::Connection,
    threads: &[Thread],
) -> Result<Vec<Value>> {
    let site = site(state, headers);
    let mut repos: Vec<(RepoId, Repo, Value)> = Vec::new();
    let mut out = Vec::with_capacity(threads.len());
    for t in threads {
        if !repos.iter().any(|(id, _, _)| *id == t.repo_id) {
            let repo = db::repos::by_id(conn, t.repo_id)?.ok_or(Error::NotFound)?;
            let owner = owner_json(conn, &site, &repo)?;
            repos.push((t.repo_id, repo, owner));
        }
        let (_, repo, owner) = repos
            .iter()
            .find(|(id, _, _)| *id == t.repo_id)
            .ok_or(Error::NotFound)?;
        out.push(github::thread(&site, repo, owner, t));
    }
    Ok(out)
}

fn owner_json(conn: &rusqlite::Connection, site: &Site, repo: &Repo) -> Result<Value> {
    let admin = db::users::by_id(conn, repo.owner_id)?.is_some_and(|u| u.is_admin);
    Ok(github::user(site, repo.owner_id.0, &repo.owner, admin))
}

async fn list_threads(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    user: &db::users::User,
    filter: Filter,
    page: &Page,
) -> Result<Response> {
    let (skip, take) = page.window()?;
    let (id, st, h) = (user.id, state.clone(), headers.clone());
    let (items, total) = state
        .db
        .read(move |c| {
            let (threads, total) = stored::list(c, id, &filter, take as u32, skip as u32)?;
            Ok((threads_json(&st, &h, c, &threads)?, total))
        })
        .await?;
    let more = skip + items.len() < total;
    let link = page.links(site(state, headers).base(), uri, more, Some(total));
    Ok(Paged { items, link }.into_response())
}

async fn list(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    uri: Uri,
    Query(filters): Query<Filters>,
    Query(page): Query<Page>,
) -> Result<Response> {
    let filter = filters.filter(None)?;
    list_threads(&state, &headers, &uri, &user, filter, &page).await
}

async fn list_of_repo(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    access: RepoAccess<Read>,
    headers: HeaderMap,
    uri: Uri,
    Query(filters): Query<Filters>,
    Query(page): Query<Page>,
) -> Result<Response> {
    let filter = filters.filter(Some(access.repo.id))?;
    list_threads(&state, &headers, &uri, &user, filter, &page).await
}

/// `PUT /notifications`: `{"last_read_at": …, "read": true}`.
#[derive(Deserialize, Default)]
struct MarkRead {
    last_read_at: Option<String>,
    read: Option<bool>,
}

async fn mark(
    state: &AppState,
    user: &db::users::User,
    repo: Option<RepoId>,
    body: Option<Json<MarkRead>>,
) -> Result<Response> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    if body.read == Some(false) {
        return Err(Error::invalid(
            "marking threads unread is not supported: leave read out or true",
        ));
    }
    let before = time_param("last_read_at", body.last_read_at.as_deref())?.unwrap_or_else(crate::time::now);
    let id = user.id;
    state
        .db
        .write(move |tx| stored::mark_all_read(tx, id, repo, before))
        .await?;
    Ok(StatusCode::RESET_CONTENT.into_response())
}

async fn mark_all(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    body: Option<Json<MarkRead>>,
) -> Result<Response> {
    mark(&state, &user, None, body).await
}

async fn mark_all_of_repo(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    access: RepoAccess<Read>,
    body: Option<Json<MarkRead>>,
) -> Result<Response> {
    mark(&state, &user, Some(access.repo.id), body).await
}

fn thread_id(text: &str) -> Result<ThreadId> {
    text.parse().map(ThreadId).map_err(|_| Error::NotFound)
}

async fn one(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let (thread, uid, st) = (thread_id(&id)?, user.id, state.clone());
    let item = state
        .db
        .read(move |c| {
            let t = stored::get(c, uid, thread)?.ok_or(Error::NotFound)?;
            Ok(threads_json(&st, &headers, c, &[t])?.remove(0))
        })
        .await?;
    Ok(Json(item))
}

async fn mark_one(State(state): State<AppState>, SignedIn(user): SignedIn, Path(id): Path<String>) -> Result<Response> {
    let (thread, uid) = (thread_id(&id)?, user.id);
    if !state.db.write(move |tx| stored::mark_read(tx, uid, thread)).await? {
        return Err(Error::NotFound);
    }
    Ok(StatusCode::RESET_CONTENT.into_response())
}

async fn done(State(state): State<AppState>, SignedIn(user): SignedIn, Path(id): Path<String>) -> Result<StatusCode> {
    let (thread, uid) = (thread_id(&id)?, user.id);
    if !state.db.write(move |tx| stored::remove(tx, uid, thread)).await? {
        return Err(Error::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn subscription(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
) -> Result<Json<Value>> {
    let (uid, repo) = (user.id, access.repo.id);
    let since = state.db.read(move |c| stored::watching(c, uid, repo)).await?;
    // GitHub answers 404 for a repository one does not watch.
    let since = since.ok_or(Error::NotFound)?;
    Ok(Json(github::subscription(
        &site(&state, &headers),
        &access.repo,
        Some(since),
        false,
    )))
}

#[derive(Deserialize, Default)]
struct Subscribe {
    subscribed: Option<bool>,
    ignored: Option<bool>,
}

async fn subscribe(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    body: Option<Json<Subscribe>>,
) -> Result<Json<Value>> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let on = body.subscribed.unwrap_or(true) && !body.ignored.unwrap_or(false);
    let (uid, repo) = (user.id, access.repo.id);
    let since = state
        .db
        .write(move |tx| {
            stored::set_watching(tx, uid, repo, on)?;
            stored::watching(tx, uid, repo)
        })
        .await?;
    let ignored = body.ignored.unwrap_or(false);
    Ok(Json(github::subscription(
        &site(&state, &headers),
        &access.repo,
        since,
        ignored,
    )))
}

async fn unsubscribe(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    access: RepoAccess<Read>,
) -> Result<StatusCode> {
    let (uid, repo) = (user.id, access.repo.id);
    state
        .db
        .write(move |tx| stored::set_watching(tx, uid, repo, false))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn watched(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    uri: Uri,
    Query(page): Query<Page>,
) -> Result<Response> {
    let (uid, st, h) = (user.id, state.clone(), headers.clone());
    let all = state
        .db
        .read(move |c| {
            let site = site(&st, &h);
            let mut out = Vec::new();
            for id in stored::watched(c, uid)? {
                if let Some(repo) = db::repos::by_id(c, id)? {
                    let owner = owner_json(c, &site, &repo)?;
                    out.push(github::repository_lite(&site, &repo, &owner));
                }
            }
            Ok(out)
        })
        .await?;
    Ok(page.slice(all, site(&state, &headers).base(), &uri)?.into_response())
}
