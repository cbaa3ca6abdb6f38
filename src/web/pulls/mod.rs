//! Pull request pages: the list (`/pulls`, the issue list's machinery), a
//! new pull request comparing two branches, and one pull request's
//! conversation (the issue timeline with its reviews), commits and files
//! changed, with the forms that review, merge, close and ask for reviews.
//! The rules are in `pulls`; a merge is recorded like a push
//! (`push::landed`). Protected branch settings are in `settings`.

mod act;
mod diff;
mod new;
mod settings;
mod view;

pub(crate) use act::merge_now;
pub use diff::Note;
pub(crate) use settings::keep_rule;

use axum::Router;
use axum::routing::{get, post};

use super::AppState;
use act::{merge, reviewers, set_state, submit_review};
use new::{create, new_form};
use view::{commits, conversation, files};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{owner}/{repo}/pulls", get(super::issues::pulls_list))
        .route("/{owner}/{repo}/pulls/new", get(new_form).post(create))
        .route("/{owner}/{repo}/pulls/{number}", get(conversation))
        .route("/{owner}/{repo}/pulls/{number}/commits", get(commits))
        .route("/{owner}/{repo}/pulls/{number}/files", get(files))
        .route("/{owner}/{repo}/pulls/{number}/reviews", post(submit_review))
        .route("/{owner}/{repo}/pulls/{number}/merge", post(merge))
        .route("/{owner}/{repo}/pulls/{number}/state", post(set_state))
        .route("/{owner}/{repo}/pulls/{number}/reviewers", post(reviewers))
        .merge(settings::routes())
}
