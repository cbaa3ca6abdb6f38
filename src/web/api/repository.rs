//! The API's root, and repositories: create one, get one.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::db;
use crate::db::repos::Repo;
use crate::db::users::User;
use crate::error::Result;
use crate::repos;
use crate::web::access::{Read, RepoAccess};
use crate::web::auth::SignedIn;
use crate::web::repos::clone_url;
use crate::web::{AppState, rfc3339};

/// `GET /api/v1/` (and `/api/v3/`): the API's root, GitHub's map of where
/// things are.
pub(super) async fn root(State(state): State<AppState>, headers: HeaderMap) -> Json<Value> {
    let base = crate::web::repos::site(&state, &headers).base().to_string();
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
pub(super) fn repo_urls(state: &AppState, headers: &HeaderMap, repo: &Repo) -> (String, String) {
    let html = clone_url(state, headers, repo).trim_end_matches(".git").to_string();
    let api = html.replacen(&repo.url(), &format!("/api/v1/repos{}", repo.url()), 1);
    (html, api)
}

pub(super) fn user_json(user: &User) -> Value {
    json!({
        "id": user.id.0,
        "login": user.name,
        "username": user.name,
        "is_admin": user.is_admin,
        "created_at": rfc3339(user.created_at),
    })
}

#[derive(Deserialize)]
pub(super) struct CreateRepo {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    private: Option<bool>,
}

pub(super) async fn create_repo(
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
pub(super) async fn full_repo_json(state: &AppState, headers: &HeaderMap, repo: Repo) -> Result<Value> {
    let site = crate::web::repos::site(state, headers);
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

pub(super) async fn get_repo(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
) -> Result<Json<Value>> {
    Ok(Json(full_repo_json(&state, &headers, access.repo).await?))
}
