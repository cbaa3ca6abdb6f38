//! The JSON API under `/api/v1`, GitHub/Gitea-shaped. Authentication is a
//! token (`Authorization: token T` or `Bearer T`) or HTTP Basic; errors are
//! `{"message": "..."}` (see `web::error`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::{Admin, Read, RepoAccess};
use super::auth::SignedIn;
use super::repos::clone_url;
use super::{AppState, rfc3339};
use crate::db;
use crate::db::collaborators::Permission;
use crate::db::repos::Repo;
use crate::db::users::User;
use crate::error::{Error, Result};
use crate::repos;

mod actions;
mod deployments;
mod hooks;
mod issues;
mod pulls;
pub mod releases;
mod statuses;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(issues::routes())
        .merge(pulls::routes())
        .merge(actions::routes())
        .merge(deployments::routes())
        .merge(releases::routes())
        .merge(hooks::routes())
        .merge(statuses::routes())
        .route("/api/v1/user", get(current_user))
        .route("/api/v1/user/repos", post(create_repo))
        .route("/api/v1/repos/{owner}/{repo}", get(get_repo))
        .route("/api/v1/repos/{owner}/{repo}/collaborators", get(list_collaborators))
        .route(
            "/api/v1/repos/{owner}/{repo}/collaborators/{user}",
            put(put_collaborator).delete(delete_collaborator),
        )
}

/// A repository's page and API addresses, as the client reached us.
fn repo_urls(state: &AppState, headers: &HeaderMap, repo: &Repo) -> (String, String) {
    let html = clone_url(state, headers, repo).trim_end_matches(".git").to_string();
    let api = html.replacen(&repo.url(), &format!("/api/v1/repos{}", repo.url()), 1);
    (html, api)
}

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id.0,
        "login": user.name,
        "username": user.name,
        "is_admin": user.is_admin,
        "created_at": rfc3339(user.created_at),
    })
}

fn repo_json(state: &AppState, headers: &HeaderMap, repo: &Repo) -> Value {
    let clone_url = clone_url(state, headers, repo);
    let html_url = clone_url.trim_end_matches(".git").to_string();
    json!({
        "id": repo.id.0,
        "name": repo.name,
        "full_name": repo.full_name(),
        "owner": { "id": repo.owner_id.0, "login": repo.owner },
        "description": repo.description,
        "private": repo.is_private,
        "default_branch": repo.default_branch,
        "clone_url": clone_url,
        "html_url": html_url,
        "created_at": rfc3339(repo.created_at),
    })
}

async fn current_user(SignedIn(user): SignedIn) -> Json<Value> {
    Json(user_json(&user))
}

#[derive(Deserialize)]
struct CreateRepo {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    private: Option<bool>,
}

async fn create_repo(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    Json(body): Json<CreateRepo>,
) -> Result<Response> {
    let description = body.description.unwrap_or_default();
    let repo = repos::create(
        &state.db,
        &state.config.data_dir,
        &user,
        &body.name,
        &description,
        body.private.unwrap_or(false),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(repo_json(&state, &headers, &repo))).into_response())
}

async fn get_repo(State(state): State<AppState>, headers: HeaderMap, access: RepoAccess<Read>) -> Json<Value> {
    Json(repo_json(&state, &headers, &access.repo))
}

async fn list_collaborators(State(state): State<AppState>, access: RepoAccess<Admin>) -> Result<Json<Value>> {
    let id = access.repo.id;
    let list = state.db.read(move |c| db::collaborators::list(c, id)).await?;
    Ok(Json(Value::Array(
        list.iter()
            .map(|c| json!({ "login": c.name, "permission": c.permission.as_str() }))
            .collect(),
    )))
}

#[derive(Deserialize)]
struct PutCollaborator {
    #[serde(default)]
    permission: Option<String>,
}

async fn put_collaborator(
    State(state): State<AppState>,
    Path((_, _, user)): Path<(String, String, String)>,
    access: RepoAccess<Admin>,
    body: Option<Json<PutCollaborator>>,
) -> Result<StatusCode> {
    let text = body.and_then(|Json(b)| b.permission).unwrap_or_else(|| "write".into());
    let permission = Permission::parse(&text)
        .ok_or_else(|| Error::invalid(format!("permission must be read or write, not {text:?}")))?;
    repos::add_collaborator(&state.db, &access.repo, &user, permission).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_collaborator(
    State(state): State<AppState>,
    Path((_, _, user)): Path<(String, String, String)>,
    access: RepoAccess<Admin>,
) -> Result<StatusCode> {
    repos::remove_collaborator(&state.db, &access.repo, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?page=&per_page=` of the API's lists: pages from 1, 1 to 100 per page
/// (30 when not given).
#[derive(Deserialize)]
pub struct Page {
    page: Option<usize>,
    per_page: Option<usize>,
}

impl Page {
    /// GitHub's `Link` header for this page of the list at `uri` (as the
    /// client asked for it, on `base`): `next` when there is `more`, `last`
    /// when the `total` is known, `prev` and `first` after the first page.
    pub fn links(&self, base: &str, uri: &axum::http::Uri, more: bool, total: Option<usize>) -> Option<String> {
        let per_page = self.per_page.unwrap_or(30).clamp(1, 100);
        let page = self.page.unwrap_or(1).max(1);
        link_header(base, uri, page, per_page, more, total)
    }

    /// Items `skip..skip+take` of `all`, with the `Link` header of this page.
    pub fn slice(&self, all: Vec<Value>, base: &str, uri: &axum::http::Uri) -> Result<Paged> {
        let (skip, take) = self.window()?;
        let total = all.len();
        let items: Vec<Value> = all.into_iter().skip(skip).take(take).collect();
        Ok(Paged {
            link: self.links(base, uri, skip + items.len() < total, Some(total)),
            items,
        })
    }

    /// How many items to skip and to take.
    pub fn window(&self) -> Result<(usize, usize)> {
        let per_page = self.per_page.unwrap_or(30);
        let page = self.page.unwrap_or(1);
        if !(1..=100).contains(&per_page) || page == 0 {
            return Err(Error::invalid("page must be 1 or more and per_page between 1 and 100"));
        }
        Ok(((page - 1) * per_page, per_page))
    }
}

/// GitHub's `Link` header of page `page` of a list at `uri`.
pub fn link_header(
    base: &str,
    uri: &axum::http::Uri,
    page: usize,
    per_page: usize,
    more: bool,
    total: Option<usize>,
) -> Option<String> {
    let last = total.map(|t| t.div_ceil(per_page).max(1));
    let at = |n: usize| {
        let mut query: Vec<String> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("page=") && !p.starts_with("per_page="))
            .map(str::to_string)
            .collect();
        query.push(format!("per_page={per_page}"));
        query.push(format!("page={n}"));
        format!("<{base}{}?{}>", uri.path(), query.join("&"))
    };
    let mut links = Vec::new();
    if more {
        links.push(format!("{}; rel=\"next\"", at(page + 1)));
    }
    if let Some(last) = last
        && (more || page < last)
    {
        links.push(format!("{}; rel=\"last\"", at(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", at(page - 1)));
        links.push(format!("{}; rel=\"first\"", at(1)));
    }
    (!links.is_empty()).then(|| links.join(", "))
}

/// One page of a list: a JSON array, and its `Link` header.
pub struct Paged {
    pub items: Vec<Value>,
    pub link: Option<String>,
}

impl IntoResponse for Paged {
    fn into_response(self) -> Response {
        with_link(Json(Value::Array(self.items)).into_response(), self.link)
    }
}

/// `response` with the `Link` header `link`, if any.
pub fn with_link(mut response: Response, link: Option<String>) -> Response {
    if let Some(link) = link.and_then(|l| axum::http::HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(axum::http::header::LINK, link);
    }
    response
}
