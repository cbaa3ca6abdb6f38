//! The issue tracker's pages: the list with filters and search, a new issue,
//! one issue with its timeline and the forms that change it, labels,
//! milestones (sprints) and the board. Reading needs read access to the
//! repository; the rules of who may change what are in `issues`.

mod board;
mod list;
mod planning;
pub(crate) mod view;

use axum::Router;
use axum::routing::{get, post};

use super::AppState;
use crate::db::issues::Label;

pub use list::ListQuery;
pub(crate) use list::pulls as pulls_list;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{owner}/{repo}/issues", get(list::handle))
        .route("/{owner}/{repo}/issues/new", get(view::new_form).post(view::create))
        .route("/{owner}/{repo}/issues/{number}", get(view::handle))
        .route("/{owner}/{repo}/issues/{number}/edit", post(view::edit))
        .route("/{owner}/{repo}/issues/{number}/state", post(view::set_state))
        .route("/{owner}/{repo}/issues/{number}/comments", post(view::add_comment))
        .route(
            "/{owner}/{repo}/issues/{number}/comments/{comment}/edit",
            post(view::edit_comment),
        )
        .route(
            "/{owner}/{repo}/issues/{number}/comments/{comment}/delete",
            post(view::delete_comment),
        )
        .route("/{owner}/{repo}/issues/{number}/meta", post(view::update_sidebar))
        .route(
            "/{owner}/{repo}/labels",
            get(planning::labels).post(planning::create_label),
        )
        .route("/{owner}/{repo}/labels/{name}/delete", post(planning::delete_label))
        .route(
            "/{owner}/{repo}/milestones",
            get(planning::milestones).post(planning::create_milestone),
        )
        .route("/{owner}/{repo}/milestones/{id}/state", post(planning::milestone_state))
        .route("/{owner}/{repo}/board", get(board::handle).post(board::move_issue))
}

/// Black or white text, whichever reads better on a label's colour.
pub fn label_text_color(label: &Label) -> &'static str {
    let hex = |i: usize| u32::from_str_radix(label.color.get(i..i + 2).unwrap_or("80"), 16).unwrap_or(128);
    let luma = 299 * hex(0) + 587 * hex(2) + 114 * hex(4);
    if luma > 150_000 { "#111111" } else { "#ffffff" }
}
