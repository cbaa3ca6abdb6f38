//! CI pages: the runs list, a run, a job with its live log, the badge,
//! starting a workflow by hand, and the repository's secrets; and the status
//! icons other pages show beside commits.

mod badge;
mod dispatch;
mod docs;
mod environment_settings;
mod environments;
mod job;
mod list;
mod lookup;
mod pipeline;
mod reach;
mod releases;
mod secrets;
mod status;
mod view;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;

use super::access::{Read, RepoAccess, Write};
use super::auth::{CsrfForm, NoFields};
use super::{AppState, Nav, ago};
use crate::ci::workflow::InputKind;
use crate::db::repos::Repo;
use crate::db::runs::{self, Job, JobId, Run, RunNumber, Step};
use crate::error::{Error, Result};
use crate::repos::Access;
use crate::state::{self, Conclusion, Status};
use crate::web::repos::{RepoHeader, Tab};
use lookup::*;
pub use reach::{CommitReach, reach};
pub use status::*;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{owner}/{repo}/runs", get(list::list))
        .route("/{owner}/{repo}/runs/{number}", get(view::view))
        .route("/{owner}/{repo}/runs/{number}/jobs/{job}", get(job::job))
        .route("/{owner}/{repo}/runs/{number}/jobs/{job}/stream", get(job::job_stream))
        .route("/{owner}/{repo}/runs/{number}/artifacts/{name}", get(view::artifact))
        .route("/{owner}/{repo}/badge.svg", get(badge::badge_svg))
        .route(
            "/{owner}/{repo}/runs/{number}/cancel",
            axum::routing::post(view::cancel),
        )
        .route(
            "/{owner}/{repo}/runs/dispatch",
            get(dispatch::dispatch_page).post(dispatch::dispatch),
        )
        .route(
            "/{owner}/{repo}/settings/secrets",
            get(secrets::secrets_page).post(secrets::add_secret),
        )
        .route(
            "/{owner}/{repo}/settings/secrets/{name}/delete",
            axum::routing::post(secrets::delete_secret),
        )
        .route("/{owner}/{repo}/runs/{number}/rerun", axum::routing::post(view::rerun))
        .route(
            "/{owner}/{repo}/runs/{number}/review",
            axum::routing::post(view::review),
        )
        .route("/{owner}/{repo}/environments", get(environments::environments_page))
        .route("/{owner}/{repo}/pipeline", get(pipeline::pipeline_page))
        .route("/{owner}/{repo}/deployments/{id}", get(environments::deployment_page))
        .route("/{owner}/{repo}/releases", get(releases::releases_page))
        .route("/{owner}/{repo}/releases/tag/{*tag}", get(releases::release_page))
        .route("/{owner}/{repo}/releases/{tag}", get(releases::release_page))
        .route("/{owner}/{repo}/docs", get(docs::docs_root))
        .route("/{owner}/{repo}/docs/", get(docs::docs_index))
        .route("/{owner}/{repo}/docs/{*path}", get(docs::docs_file))
        .route("/{owner}/{repo}/releases/download/{*rest}", get(releases::download))
        .route(
            "/{owner}/{repo}/deployments/{id}/redeploy",
            axum::routing::post(environments::redeploy),
        )
        .route(
            "/{owner}/{repo}/settings/environments",
            get(environment_settings::settings_page).post(environment_settings::add_environment),
        )
        .route(
            "/{owner}/{repo}/settings/environments/{name}",
            axum::routing::post(environment_settings::save_environment),
        )
        .route(
            "/{owner}/{repo}/settings/environments/{name}/secrets",
            axum::routing::post(environment_settings::put_secret),
        )
        .route(
            "/{owner}/{repo}/settings/environments/{name}/secrets/{secret}/delete",
            axum::routing::post(environment_settings::delete_secret),
        )
        .route(
            "/{owner}/{repo}/settings/environments/{name}/variables",
            axum::routing::post(environment_settings::put_variable),
        )
        .route(
            "/{owner}/{repo}/settings/environments/{name}/variables/{variable}/delete",
            axum::routing::post(environment_settings::delete_variable),
        )
}
