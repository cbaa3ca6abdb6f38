//! Planning: `/{owner}/{repo}/labels` and `/{owner}/{repo}/milestones`,
//! lists for everyone who can read, forms for those who can push.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::db::issues::{self as stored, Label, Milestone};
use crate::error::{Error, Result};
use crate::issues;
use crate::repos::Access;
use crate::web::access::{Read, RepoAccess, Write};
use crate::web::accounts::capitalize;
use crate::web::auth::{CsrfForm, NoFields};
use crate::web::repos::{RepoHeader, Tab};
use crate::web::{AppState, Nav};

#[derive(Template, WebTemplate)]
#[template(path = "issues/labels.html")]
pub struct LabelsView {
    nav: Nav,
    header: RepoHeader,
    can_write: bool,
    labels: Vec<Label>,
    error: Option<String>,
}

async fn labels_view(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Read>,
    error: Option<String>,
) -> Result<LabelsView> {
    let id = access.repo.id;
    let labels = state.db.read(move |c| stored::labels(c, id)).await?;
    Ok(LabelsView {
        nav,
        can_write: access.access >= Access::Write,
        header: RepoHeader::new(access.repo, access.access, Tab::Issues),
        labels,
        error,
    })
}

pub async fn labels(State(state): State<AppState>, nav: Nav, access: RepoAccess<Read>) -> Result<LabelsView> {
    labels_view(&state, nav, access, None).await
}

#[derive(Deserialize)]
pub struct LabelForm {
    name: String,
    color: String,
    #[serde(default)]
    description: String,
}

/// Shows the page again with the message of a mistake in its form.
fn reshow<V: IntoResponse>(e: &Error, view: V) -> Response {
    (crate::web::error::status_of(e), view).into_response()
}

pub async fn create_label(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    CsrfForm(form): CsrfForm<LabelForm>,
) -> Result<Response> {
    match issues::create_label(
        &state.db,
        &access.repo,
        access.access,
        &form.name,
        &form.color,
        &form.description,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("{}/labels", access.repo.url())).into_response()),
        Err(e @ (Error::Invalid(_) | Error::Exists(_))) => {
            let message = capitalize(&e.to_string());
            Ok(reshow(&e, labels_view(&state, nav, access, Some(message)).await?))
        }
        Err(e) => Err(e),
    }
}

pub async fn delete_label(
    State(state): State<AppState>,
    Path((_, _, name)): Path<(String, String, String)>,
    access: RepoAccess<Write>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Redirect> {
    let id = access.repo.id;
    if !state.db.write(move |tx| stored::delete_label(tx, id, &name)).await? {
        return Err(Error::NotFound);
    }
    Ok(Redirect::to(&format!(
        "/{}/{}/labels",
        access.repo.owner, access.repo.name
    )))
}

#[derive(Template, WebTemplate)]
#[template(path = "issues/milestones.html")]
pub struct MilestonesView {
    nav: Nav,
    header: RepoHeader,
    can_write: bool,
    milestones: Vec<Milestone>,
    error: Option<String>,
}

async fn milestones_view(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Read>,
    error: Option<String>,
) -> Result<MilestonesView> {
    let id = access.repo.id;
    let milestones = state.db.read(move |c| stored::milestones(c, id)).await?;
    Ok(MilestonesView {
        nav,
        can_write: access.access >= Access::Write,
        header: RepoHeader::new(access.repo, access.access, Tab::Issues),
        milestones,
        error,
    })
}

pub async fn milestones(State(state): State<AppState>, nav: Nav, access: RepoAccess<Read>) -> Result<MilestonesView> {
    milestones_view(&state, nav, access, None).await
}

#[derive(Deserialize)]
pub struct MilestoneForm {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    start_on: String,
    #[serde(default)]
    due_on: String,
}

pub async fn create_milestone(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    CsrfForm(form): CsrfForm<MilestoneForm>,
) -> Result<Response> {
    let created = issues::create_milestone(
        &state.db,
        &access.repo,
        access.access,
        &form.title,
        &form.description,
        Some(&form.start_on),
        Some(&form.due_on),
    )
    .await;
    match created {
        Ok(_) => Ok(Redirect::to(&format!("{}/milestones", access.repo.url())).into_response()),
        Err(e @ (Error::Invalid(_) | Error::Exists(_) | Error::TooLarge(_))) => {
            let message = capitalize(&e.to_string());
            Ok(reshow(&e, milestones_view(&state, nav, access, Some(message)).await?))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct MilestoneStateForm {
    state: String,
}

pub async fn milestone_state(
    State(state): State<AppState>,
    Path((_, _, id)): Path<(String, String, i64)>,
    access: RepoAccess<Write>,
    CsrfForm(form): CsrfForm<MilestoneStateForm>,
) -> Result<Redirect> {
    if form.state != "open" && form.state != "closed" {
        return Err(Error::invalid("state must be open or closed"));
    }
    let repo_id = access.repo.id;
    if !state
        .db
        .write(move |tx| stored::set_milestone_state(tx, repo_id, id, &form.state))
        .await?
    {
        return Err(Error::NotFound);
    }
    Ok(Redirect::to(&format!(
        "/{}/{}/milestones",
        access.repo.owner, access.repo.name
    )))
}
