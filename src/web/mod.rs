//! HTTP: the router, the shared state, and one module per page or area.
//! `router()` is what the binary serves and what tests exercise. Handlers
//! hold no SQL: they call into `accounts`, `repos`, `issues`, `ci`, `git`
//! and the functions of `db`. Nothing below `web` imports it; rendered
//! HTML is kept here too (`page_cache`).

mod access;
mod accounts;
mod admin;
mod api;
mod assets;
mod auth;
pub(crate) mod code;
mod error;
mod git_http;
mod home;
mod hooks;
mod insights;
pub(crate) mod issues;
pub mod metrics;
mod notifications;
pub mod page_cache;
pub(crate) mod pulls;
mod repos;
pub(crate) mod runs;
mod security;
mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::middleware;

use crate::ci::scheduler::Ci;
use crate::config::Config;
use crate::db::Db;
use crate::db::repos::RepoId;
use crate::git::GitCommand;
use crate::git::cache::RepoCache;
use crate::git::housekeeping::Housekeeper;

pub use auth::{Nav, Viewer};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub git: GitCommand,
    pub housekeeper: Arc<Housekeeper>,
    /// Open repositories and their refs.
    pub code: Arc<RepoCache>,
    /// Rendered fragments of pages reached through a commit id.
    pub pages: Arc<page_cache::PageCache>,
    /// The CI loop, woken after each push.
    pub ci: Arc<Ci>,
    /// Seals and opens repository secrets.
    pub keys: crate::ci::secrets::Keyring,
    /// Password hashing and the limits on failed sign-ins.
    pub passwords: Arc<crate::accounts::Passwords>,
    /// Webhooks and their delivery task.
    pub hooks: crate::hooks::Hooks,
    /// What `/metrics` counts.
    pub metrics: Arc<metrics::Metrics>,
    push_locks: Arc<Mutex<HashMap<RepoId, Arc<tokio::sync::Mutex<()>>>>>,
}

impl AppState {
    pub fn new(
        config: Config,
        db: Db,
        git: GitCommand,
        ci: Arc<Ci>,
        keys: crate::ci::secrets::Keyring,
        hooks: crate::hooks::Hooks,
    ) -> AppState {
        let housekeeper = Housekeeper::new(git.clone());
        AppState {
            config: Arc::new(config),
            db,
            git,
            housekeeper,
            code: Default::default(),
            pages: Default::default(),
            ci,
            keys,
            passwords: Default::default(),
            hooks,
            metrics: Default::default(),
            push_locks: Default::default(),
        }
    }

    /// The lock that serialises pushes to one repository, so each ref update
    /// is attributed to the push that made it.
    fn push_lock(&self, repo: RepoId) -> Arc<tokio::sync::Mutex<()>> {
        crate::sync::lock(&self.push_locks).entry(repo).or_default().clone()
    }

    /// What a landed push reaches (`push::landed`).
    fn push_server(&self) -> crate::push::Server<'_> {
        crate::push::Server {
            db: &self.db,
            data_dir: &self.config.data_dir,
            code: &self.code,
            housekeeper: &self.housekeeper,
            ci: &self.ci,
            hooks: &self.hooks,
        }
    }

    /// After a pull request was opened, reopened or retargeted: the runs
    /// its event starts are made, and the CI loop woken.
    async fn ci_after_change(&self, repo: &crate::db::repos::Repo) {
        if let Err(e) = crate::ci::trigger::process_pending(&self.db, &self.config.data_dir).await {
            tracing::error!("starting the runs of a pull request of {}: {e}", repo.full_name());
        }
        self.ci.wake();
    }
}

/// Every route of Hearth. The API is also under `/api/v3`, GitHub
/// Enterprise's layout that `gh` and many clients assume: such a request
/// is answered as its `/api/v1` twin.
pub fn router(state: AppState) -> Router {
    use tower::ServiceExt;
    Router::new().fallback_service(routes(state).map_request(api::v3_as_v1))
}

fn routes(state: AppState) -> Router {
    Router::new()
        .merge(home::routes())
        .merge(assets::routes())
        .merge(accounts::routes())
        .merge(admin::routes())
        .merge(tokens::routes())
        .merge(api::routes())
        .merge(git_http::routes())
        .merge(repos::routes())
        .merge(code::routes())
        .merge(issues::routes())
        .merge(pulls::routes())
        .merge(runs::routes())
        .merge(hooks::routes())
        .merge(insights::routes())
        .merge(metrics::routes())
        .merge(notifications::routes())
        .fallback(|| async { crate::error::Error::NotFound })
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(middleware::from_fn_with_state(state.clone(), auth::api_origin))
        .layer(middleware::from_fn_with_state(state.clone(), error::render))
        .layer(middleware::from_fn_with_state(state.clone(), auth::csrf_cookie))
        .layer(middleware::from_fn(security::headers))
        .with_state(state)
}

/// "3 minutes ago", for a Unix time in seconds.
pub fn ago(then: i64) -> String {
    let secs = (crate::time::now() - then).max(0);
    let (n, unit) = match secs {
        0..=59 => return "just now".into(),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        86_400..=2_591_999 => (secs / 86_400, "day"),
        2_592_000..=31_535_999 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

pub use crate::time::rfc3339;
