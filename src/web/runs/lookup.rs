//! A run by its number in a repository.

use crate::db::repos::Repo;
use crate::db::runs::{self, Run, RunNumber};
use crate::error::{Error, Result};
use crate::web::AppState;

/// Run number `number` of `repo`, or 404.
pub(super) async fn numbered(state: &AppState, repo: &Repo, number: RunNumber) -> Result<Run> {
    let id = repo.id;
    state
        .db
        .read(move |c| runs::by_number(c, id, number))
        .await?
        .ok_or(Error::NotFound)
}

pub(super) fn to_run(repo: &Repo, number: RunNumber) -> axum::response::Redirect {
    axum::response::Redirect::to(&format!("{}/runs/{number}", repo.url()))
}
