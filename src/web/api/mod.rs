//! The JSON API under `/api/v1`, GitHub/Gitea-shaped. Authentication is a
//! token (`Authorization: token T` or `Bearer T`) or HTTP Basic; errors are
//! `{"message": "..."}` (see `web::error`).

use axum::Router;

use doc::Api;

use super::AppState;

mod actions;
mod code;
mod collaborators;
mod deployments;
mod doc;
mod hooks;
mod issues;
mod notifications;
mod paging;
mod pulls;
pub mod releases;
mod repository;
mod statuses;
mod users;

use collaborators::*;
pub use paging::*;
use repository::*;

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
