//! `/`: the start page — a welcome for visitors, the repositories of a
//! signed-in user — and `/healthz`.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::{AppState, Nav};
use crate::db;
use crate::db::repos::Repo;
use crate::error::Result;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(handle))
        .route("/healthz", get(|| async { "ok" }))
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct View {
    nav: Nav,
    repos: Vec<Repo>,
    shared: Vec<Repo>,
}

async fn handle(State(state): State<AppState>, nav: Nav) -> Result<View> {
    let (repos, shared) = match &nav.user {
        Some(user) => {
            let id = user.id;
            state
                .db
                .read(move |c| Ok((db::repos::by_owner(c, id)?, db::repos::shared_with(c, id)?)))
                .await?
        }
        None => (Vec::new(), Vec::new()),
    };
    Ok(View { nav, repos, shared })
}
