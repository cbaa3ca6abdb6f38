//! HTTP: the router, the shared state, and one module per page or area.
//! `router()` is what the binary serves and what tests exercise. Handlers
//! hold no SQL: they call into `accounts`, `repos`, `issues`, `ci`, `git`
//! and the functions of `db`. Nothing below `web` imports it; rendered
//! HTML is kept here too (`page_cache`).

mod access;
mod accounts;
mod admin;
mod api;
mod app;
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

use axum::Router;
use axum::middleware;

pub use crate::time::ago;
pub use app::AppState;
pub use auth::{Nav, Viewer};

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

pub use crate::time::rfc3339;
