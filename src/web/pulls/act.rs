//! The forms that act on a pull request: review, merge, close or reopen,
//! and ask for reviews.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::diff::*;
use super::new::*;
use super::view::*;
use crate::db::issues::IssueNumber;
use crate::db::pulls::{Method, Verdict};
use crate::db::users::User;
use crate::error::{Error, Result};
use crate::pulls::{self, LineInput, MergeRequest, NewReview};
use crate::web::access::{Read, RepoAccess};
use crate::web::accounts::capitalize;
use crate::web::auth::{CsrfForm, SignedIn};
use crate::web::repos::clone_url;
use crate::web::{AppState, Nav};

#[derive(Deserialize)]
pub(super) struct ReviewForm {
    #[serde(default)]
    event: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    line: String,
    #[serde(default)]
    side: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    commit_id: String,
}

pub(super) async fn submit_review(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(PullPath { number }): Path<PullPath>,
    CsrfForm(form): CsrfForm<ReviewForm>,
) -> Result<Response> {
    let verdict = match form.event.as_str() {
        "APPROVE" | "approve" => Verdict::Approved,
        "REQUEST_CHANGES" | "request_changes" => Verdict::ChangesRequested,
        _ => Verdict::Commented,
    };
    let mut comments = Vec::new();
    if !form.comment.trim().is_empty() || !form.path.is_empty() {
        let line = form
            .line
            .trim()
            .parse::<i64>()
            .map_err(|_| Error::Unprocessable(format!("{:?} is not a line number", form.line)));
        match line {
            Ok(line) => comments.push(LineInput {
                path: form.path.clone(),
                line,
                side: if form.side.is_empty() {
                    "RIGHT".into()
                } else {
                    form.side.clone()
                },
                body: form.comment.clone(),
            }),
            Err(e) => return shown_on(&state, nav, access, number, e, Back::Files).await,
        }
    }
    let review = NewReview {
        verdict,
        body: form.body,
        comments,
        commit_id: Some(form.commit_id).filter(|c| !c.is_empty()),
    };
    match pulls::review(&state.db, &access.path, &access.repo, &user, number, review).await {
        Ok(_) => Ok(Redirect::to(&pull_url(&access.repo, number)).into_response()),
        Err(e) => shown_on(&state, nav, access, number, e, Back::Files).await,
    }
}

/// Which page a form's mistake is shown on.
#[derive(Clone, Copy)]
pub(super) enum Back {
    Conversation,
    Files,
}

/// A form's mistake: the page again with the message and the right status.
async fn shown_on(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Read>,
    number: IssueNumber,
    e: Error,
    back: Back,
) -> Result<Response> {
    let Some(status) = form_error(&e) else { return Err(e) };
    let message = Some(capitalize(&e.to_string()));
    Ok(match back {
        Back::Conversation => (status, view(state, nav, access, number, None, message).await?).into_response(),
        Back::Files => (status, files_view(state, nav, access, number, message).await?).into_response(),
    })
}

#[derive(Deserialize)]
pub(super) struct MergeForm {
    #[serde(default)]
    method: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    sha: String,
    #[serde(default)]
    delete_branch: Option<String>,
    #[serde(default)]
    bypass: Option<String>,
}

/// Merges as `user` under the push lock, then records it like a push and
/// deletes the head branch when asked.
pub(crate) async fn merge_now(
    state: &AppState,
    headers: &HeaderMap,
    access: &RepoAccess<Read>,
    user: &User,
    number: IssueNumber,
    req: MergeRequest,
    delete_branch: bool,
) -> Result<pulls::Landed> {
    let _lock = state.push_lock(access.repo.id).lock_owned().await;
    let base = clone_url(state, headers, &access.repo)
        .trim_end_matches(".git")
        .to_string();
    let landed = pulls::merge(&state.db, &access.path, &access.repo, user, access.access, number, req).await?;
    let landing = crate::push::Landing::by_server(&access.repo, &access.path, user, &base);
    crate::push::landed(&state.push_server(), &landing).await;
    if delete_branch && landed.head_ref != access.repo.default_branch {
        pulls::delete_head(&state.db, &access.path, &access.repo, user, &landed).await?;
        crate::push::landed(&state.push_server(), &landing).await;
    }
    Ok(landed)
}

pub(super) async fn merge(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(PullPath { number }): Path<PullPath>,
    CsrfForm(form): CsrfForm<MergeForm>,
) -> Result<Response> {
    let Some(method) = Method::parse(if form.method.is_empty() { "merge" } else { &form.method }) else {
        let e = Error::Unprocessable(format!(
            "{:?} is not a way of merging (merge, squash or rebase)",
            form.method
        ));
        return shown_on(&state, nav, access, number, e, Back::Conversation).await;
    };
    let req = MergeRequest {
        method,
        title: Some(form.title).filter(|t| !t.trim().is_empty()),
        message: Some(form.message).filter(|m| !m.trim().is_empty()),
        sha: Some(form.sha).filter(|s| !s.is_empty()),
        bypass: form.bypass.is_some(),
    };
    match merge_now(
        &state,
        &headers,
        &access,
        &user,
        number,
        req,
        form.delete_branch.is_some(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&pull_url(&access.repo, number)).into_response()),
        Err(e) => shown_on(&state, nav, access, number, e, Back::Conversation).await,
    }
}

#[derive(Deserialize)]
pub(super) struct StateForm {
    /// close, reopen, draft or ready.
    action: String,
}

pub(super) async fn set_state(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(PullPath { number }): Path<PullPath>,
    CsrfForm(form): CsrfForm<StateForm>,
) -> Result<Response> {
    let u = match form.action.as_str() {
        "close" => pulls::Update {
            state: Some("closed".into()),
            ..Default::default()
        },
        "reopen" => pulls::Update {
            state: Some("open".into()),
            ..Default::default()
        },
        "draft" => pulls::Update {
            draft: Some(true),
            ..Default::default()
        },
        "ready" => pulls::Update {
            draft: Some(false),
            ..Default::default()
        },
        other => {
            let e = Error::Unprocessable(format!("{other:?} is not close, reopen, draft or ready"));
            return shown_on(&state, nav, access, number, e, Back::Conversation).await;
        }
    };
    let result = {
        let _lock = state.push_lock(access.repo.id).lock_owned().await;
        let done = pulls::update(&state.db, &access.path, &access.repo, &user, access.access, number, u).await;
        if done.is_ok() {
            state.ci_after_change(&access.repo).await;
        }
        done
    };
    match result {
        Ok(()) => Ok(Redirect::to(&pull_url(&access.repo, number)).into_response()),
        Err(e) => shown_on(&state, nav, access, number, e, Back::Conversation).await,
    }
}

#[derive(Deserialize)]
pub(super) struct ReviewersForm {
    #[serde(default)]
    add: String,
    #[serde(default)]
    remove: String,
}

fn name_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub(super) async fn reviewers(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(PullPath { number }): Path<PullPath>,
    CsrfForm(form): CsrfForm<ReviewersForm>,
) -> Result<Response> {
    let result = pulls::request_reviewers(
        &state.db,
        &access.repo,
        &user,
        access.access,
        number,
        name_list(&form.add),
        name_list(&form.remove),
    )
    .await;
    match result {
        Ok(()) => Ok(Redirect::to(&pull_url(&access.repo, number)).into_response()),
        Err(e) => shown_on(&state, nav, access, number, e, Back::Conversation).await,
    }
}
