//! The JSON API under `/api/v1`, GitHub/Gitea-shaped. Authentication is a
//! token (`Authorization: token T` or `Bearer T`) or HTTP Basic; errors are
//! `{"message": "..."}` (see `web::error`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};

use doc::Api;
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::{Admin, Read, RepoAccess, Write};
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
mod code;
mod deployments;
mod doc;
mod hooks;
mod issues;
mod notifications;
mod pulls;
pub mod releases;
mod statuses;
mod users;

pub fn routes() -> Router<AppState> {
    Api::new("repos")
        .get("/api/v1", "The API's root: where things are", root)
        .alias("/api/v1/", root)
        .get("/api/v1/repos/{owner}/{repo}", "Get a repository", get_repo)
        .get(
            "/api/v1/repos/{owner}/{repo}/collaborators",
            "List collaborators",
            list_collaborators,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/collaborators/{user}",
            "Whether someone is a collaborator (204, else 404)",
            is_collaborator,
        )
        .put(
            "/api/v1/repos/{owner}/{repo}/collaborators/{user}",
            "Add a collaborator (permission: pull or push)",
            put_collaborator,
        )
        .delete(
            "/api/v1/repos/{owner}/{repo}/collaborators/{user}",
            "Remove a collaborator",
            delete_collaborator,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/collaborators/{user}/permission",
            "Someone's permission: admin, write, read or none",
            collaborator_permission,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/insights",
            "Delivery insights: DORA measures, workflows, flaky tests (days)",
            super::insights::api,
        )
        .merge(users::routes())
        .merge(issues::routes())
        .merge(pulls::routes())
        .merge(code::routes())
        .merge(actions::routes())
        .merge(deployments::routes())
        .merge(releases::routes())
        .merge(hooks::routes())
        .merge(statuses::routes())
        .merge(notifications::routes())
        .finish()
}

/// A request to `/api/v3/…` as the same request to `/api/v1/…`.
pub fn v3_as_v1(mut request: axum::extract::Request) -> axum::extract::Request {
    let path = request.uri().path();
    if path == "/api/v3" || path.starts_with("/api/v3/") {
        let tail = request
            .uri()
            .path_and_query()
            .map_or("", |p| p.as_str())
            .trim_start_matches("/api/v3");
        let mut parts = request.uri().clone().into_parts();
        if let Ok(p) = format!("/api/v1{tail}").parse() {
            parts.path_and_query = Some(p);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}

/// `GET /api/v1/` (and `/api/v3/`): the API's root, GitHub's map of where
/// things are.
async fn root(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let base = super::repos::site(&state, &headers).base().to_string();
    let api = format!("{base}/api/v1");
    Json(json!({
        "current_user_url": format!("{api}/user"),
        "current_user_repositories_url": format!("{api}/user/repos{{?type,page,per_page,sort}}"),
        "notifications_url": format!("{api}/notifications"),
        "repository_url": format!("{api}/repos/{{owner}}/{{repo}}"),
        "user_url": format!("{api}/users/{{user}}"),
        "user_repositories_url": format!("{api}/users/{{user}}/repos{{?type,page,per_page,sort}}"),
        "issues_url": format!("{api}/repos/{{owner}}/{{repo}}/issues"),
        "hub_url": Value::Null,
    }))
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
    let json = full_repo_json(&state, &headers, repo).await?;
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// A repository in GitHub's full shape, with Hearth's `clone_url` as the
/// client reached us.
async fn full_repo_json(state: &AppState, headers: &HeaderMap, repo: Repo) -> Result<Value> {
    let site = super::repos::site(state, headers);
    let clone = clone_url(state, headers, &repo);
    let mut json = state
        .db
        .read(move |c| {
            let facts = crate::github::RepoFacts::load(c, &repo)?;
            let admin = db::users::by_id(c, repo.owner_id)?.is_some_and(|u| u.is_admin);
            let owner = crate::github::user(&site, repo.owner_id.0, &repo.owner, admin);
            Ok(crate::github::repository(&site, &repo, &owner, &facts))
        })
        .await?;
    json["clone_url"] = json!(clone);
    Ok(json)
}

async fn get_repo(State(state): State<AppState>, headers: HeaderMap, access: RepoAccess<Read>) -> Result<Json<Value>> {
    Ok(Json(full_repo_json(&state, &headers, access.repo).await?))
}

/// A collaborator (`collaborator`): the person, their `permissions` and
/// `role_name`, and Hearth's `permission` word.
fn collaborator_json(site: &crate::github::Site, user: &User, access: crate::repos::Access) -> Value {
    let mut json = crate::github::user(site, user.id.0, &user.name, user.is_admin);
    let (admin, push, pull) = (
        access >= crate::repos::Access::Admin,
        access >= crate::repos::Access::Write,
        access >= crate::repos::Access::Read,
    );
    let role = permission_word(access);
    json["permissions"] = json!({ "admin": admin, "maintain": admin, "push": push, "triage": push, "pull": pull });
    json["role_name"] = json!(role);
    json["permission"] = json!(role);
    json
}

/// GitHub's word for an access level: admin, write, read or none.
fn permission_word(access: crate::repos::Access) -> &'static str {
    match access {
        crate::repos::Access::Admin => "admin",
        crate::repos::Access::Write => "write",
        crate::repos::Access::Read => "read",
        crate::repos::Access::None => "none",
    }
}

async fn list_collaborators(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Admin>,
    axum::extract::Query(page): axum::extract::Query<Page>,
) -> Result<Response> {
    let site = super::repos::site(&state, &headers);
    let repo = access.repo.clone();
    let all = {
        let site = site.clone();
        state
            .db
            .read(move |c| {
                let mut out = Vec::new();
                for collaborator in db::collaborators::list(c, repo.id)? {
                    if let Some(user) = db::users::by_name(c, &collaborator.name)? {
                        out.push(collaborator_json(&site, &user, repos::access(c, &repo, Some(&user))?));
                    }
                }
                Ok(out)
            })
            .await?
    };
    Ok(page.slice(all, site.base(), &uri)?.into_response())
}

/// The person named `name` and their access to `repo`.
async fn access_of(state: &AppState, repo: &Repo, name: String) -> Result<(User, crate::repos::Access)> {
    let repo = repo.clone();
    state
        .db
        .read(move |c| {
            let user = db::users::by_name(c, &name)?.ok_or(Error::NotFound)?;
            let access = repos::access(c, &repo, Some(&user))?;
            Ok((user, access))
        })
        .await
}

/// `GET …/collaborators/{user}`: 204 for someone who may push (as GitHub
/// counts collaborators: the owner too), else 404.
async fn is_collaborator(
    State(state): State<AppState>,
    Path((_, _, name)): Path<(String, String, String)>,
    access: RepoAccess<Write>,
) -> Result<StatusCode> {
    let (user, level) = access_of(&state, &access.repo, name).await?;
    let granted = user.id == access.repo.owner_id
        || state
            .db
            .read(move |c| db::collaborators::permission(c, access.repo.id, user.id))
            .await?
            .is_some();
    if granted && level >= crate::repos::Access::Read {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound)
    }
}

/// `GET …/collaborators/{user}/permission`.
async fn collaborator_permission(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((_, _, name)): Path<(String, String, String)>,
    access: RepoAccess<Write>,
) -> Result<Json<Value>> {
    let (user, level) = access_of(&state, &access.repo, name).await?;
    let site = super::repos::site(&state, &headers);
    let word = permission_word(level);
    Ok(Json(json!({
        "permission": word,
        "role_name": word,
        "user": collaborator_json(&site, &user, level),
    })))
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
    // GitHub's roles, as near as Hearth has them: pull and triage read, push and maintain write.
    let word = match text.as_str() {
        "pull" | "triage" => "read",
        "push" | "maintain" => "write",
        other => other,
    };
    let permission = Permission::parse(word).ok_or_else(|| {
        Error::invalid(format!(
            "permission must be read (pull, triage) or write (push, maintain), not {text:?}: only the owner administers a repository"
        ))
    })?;
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

/// A filter's value, one of `allowed` (`default` when not given); anything
/// else is a 422 that lists what may be given.
pub fn one_of(
    name: &str,
    value: Option<&str>,
    allowed: &[&'static str],
    default: &'static str,
) -> Result<&'static str> {
    match value {
        None => Ok(default),
        Some(v) if let Some(a) = allowed.iter().find(|a| **a == v) => Ok(a),
        Some(v) => Err(Error::Unprocessable(format!(
            "{name} is one of {}, not {v:?}",
            allowed.join(", ")
        ))),
    }
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

    /// One page read with one item more than `window` takes: the extra one
    /// says a next page follows (its `Link` has no `last`).
    pub fn trimmed(&self, mut items: Vec<Value>, base: &str, uri: &axum::http::Uri) -> Result<Paged> {
        let (_, take) = self.window()?;
        let more = items.len() > take;
        items.truncate(take);
        Ok(Paged {
            link: self.links(base, uri, more, None),
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
        // A page beyond any list is an empty one, not an overflow.
        let skip = (page - 1).saturating_mul(per_page).min(u32::MAX as usize);
        Ok((skip, per_page))
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
