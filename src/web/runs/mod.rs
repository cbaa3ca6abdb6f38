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
mod pipeline;
mod reach;
mod releases;
mod secrets;
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
pub use reach::{CommitReach, reach};

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

/// The word and symbol shown for a state: queued, running, success, failure…
pub fn badge(status: Status, conclusion: Option<Conclusion>) -> (&'static str, &'static str) {
    match (status, conclusion) {
        (Status::Queued, _) => (status.as_str(), "○"),
        (Status::Waiting, _) => (status.as_str(), "◷"),
        (Status::InProgress, _) => ("running", "◔"),
        (Status::Completed, Some(c @ Conclusion::Success)) => (c.as_str(), "✓"),
        (Status::Completed, Some(c @ Conclusion::Failure)) => (c.as_str(), "✗"),
        (Status::Completed, Some(c @ Conclusion::Cancelled)) => (c.as_str(), "⊘"),
        (Status::Completed, Some(c @ Conclusion::Skipped)) => (c.as_str(), "–"),
        (Status::Completed, Some(Conclusion::TimedOut)) => ("timed out", "⏱"),
        (Status::Completed, None) => ("unknown", "?"),
    }
}

/// A run status shown beside a commit: word, symbol and the run's page,
/// then what outside systems said of the commit.
pub struct CiStatus {
    pub word: &'static str,
    pub symbol: &'static str,
    pub url: String,
    /// Its runs are not all done.
    pub open: bool,
    /// The test totals of its newest run with test reports: tests, failed.
    pub tests: Option<(u64, u64)>,
    /// The commit has runs here (else only outside statuses).
    pub has_runs: bool,
    /// The newest status of each outside context.
    pub outside: Vec<OutsideStatus>,
}

/// A status an outside system posted (`POST …/statuses/{sha}`).
pub struct OutsideStatus {
    pub context: String,
    pub word: &'static str,
    pub symbol: &'static str,
    pub description: String,
    /// Its `target_url`, or the commit's page.
    pub url: String,
}

fn outside_badge(state: crate::db::statuses::State) -> (&'static str, &'static str) {
    use crate::db::statuses::State;
    match state {
        State::Success => ("success", "✓"),
        State::Failure | State::Error => ("failure", "✗"),
        State::Pending => ("pending", "◔"),
    }
}

impl CiStatus {
    pub fn new(repo: &Repo, status: &runs::CommitStatus) -> CiStatus {
        let (word, symbol) = badge(status.status, status.conclusion);
        CiStatus {
            open: status.status.is_open(),
            word,
            symbol,
            url: format!("{}/runs/{}", repo.url(), status.run_number),
            tests: None,
            has_runs: true,
            outside: Vec::new(),
        }
    }

    /// Adds what outside systems said of `sha`; with no runs, they are the status.
    fn with_outside(mut self, repo: &Repo, sha: &str, said: Vec<crate::db::statuses::Status>) -> CiStatus {
        let commit = format!("{}/commit/{sha}", repo.url());
        if !self.has_runs {
            let (word, symbol) = outside_badge(crate::db::statuses::State::combine(said.iter().map(|s| s.state)));
            (self.word, self.symbol, self.open, self.url) = (word, symbol, word == "pending", commit.clone());
        }
        self.outside = said
            .into_iter()
            .map(|s| {
                let (word, symbol) = outside_badge(s.state);
                OutsideStatus {
                    context: s.context,
                    word,
                    symbol,
                    description: s.description.unwrap_or_default(),
                    url: s.target_url.unwrap_or_else(|| commit.clone()),
                }
            })
            .collect();
        self
    }
}

/// The statuses of `shas` in `repo`, ready to show.
pub fn statuses(
    conn: &rusqlite::Connection,
    repo: &Repo,
    shas: &[String],
) -> Result<std::collections::HashMap<String, CiStatus>> {
    let mut runs = runs::status_by_sha(conn, repo.id, shas)?;
    let mut out = std::collections::HashMap::new();
    for sha in shas {
        let said = crate::db::statuses::latest(conn, repo.id, sha)?;
        let status = match runs.remove(sha) {
            Some(s) => {
                let mut status = CiStatus::new(repo, &s);
                status.tests = crate::db::test_reports::totals_of_commit(conn, repo.id, sha)?;
                status
            }
            None if said.is_empty() => continue,
            None => CiStatus {
                word: "",
                symbol: "",
                url: String::new(),
                open: false,
                tests: None,
                has_runs: false,
                outside: Vec::new(),
            },
        };
        out.insert(sha.clone(), status.with_outside(repo, sha, said));
    }
    Ok(out)
}

fn duration(start: Option<i64>, end: Option<i64>) -> String {
    match (start, end) {
        (Some(s), Some(e)) => format!("{}s", (e - s).max(0)),
        (Some(s), None) => format!("{}s so far", (crate::time::now() - s).max(0)),
        _ => String::new(),
    }
}

/// Run number `number` of `repo`, or 404.
async fn numbered(state: &AppState, repo: &Repo, number: RunNumber) -> Result<Run> {
    let id = repo.id;
    state
        .db
        .read(move |c| runs::by_number(c, id, number))
        .await?
        .ok_or(Error::NotFound)
}

fn to_run(repo: &Repo, number: RunNumber) -> axum::response::Redirect {
    axum::response::Redirect::to(&format!("{}/runs/{number}", repo.url()))
}
