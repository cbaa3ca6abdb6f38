//! A new pull request: comparing two branches, and the form that opens one.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::diff::*;
use crate::db::issues::IssueNumber;
use crate::db::pulls::{self as stored};
use crate::error::{Error, Result};
use crate::git::read::{self, FileDiff, Line, Status};
use crate::pulls::{self, NewPullRequest};
use crate::web::access::{Read, RepoAccess};
use crate::web::accounts::capitalize;
use crate::web::auth::{CsrfForm, SignedIn, url_encode};
use crate::web::repos::{RepoHeader, Tab};
use crate::web::{AppState, Nav};

#[derive(Deserialize, Default)]
pub struct CompareQuery {
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    head: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pulls/new.html")]
pub(super) struct NewView {
    nav: Nav,
    header: RepoHeader,
    branches: Vec<String>,
    base_branch: String,
    head_branch: String,
    title: String,
    body: String,
    error: Option<String>,
    commits: Vec<CommitRow>,
    /// The comparison, once both branches are chosen and differ.
    files: Vec<FileDiff>,
    additions: usize,
    deletions: usize,
    truncated: bool,
    base: String,
    rev: String,
    diff_link: String,
    /// An open pull request for these branches already.
    existing: Option<IssueNumber>,
}

impl NewView {
    fn notes(&self, _path: &str, _line: &Line) -> &[Note] {
        &[]
    }
}

async fn new_view(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Read>,
    q: CompareQuery,
    title: String,
    body: String,
    error: Option<String>,
) -> Result<NewView> {
    let branches = branches(state, &access).await?;
    let base_branch = q
        .base
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| access.repo.default_branch.clone());
    let head_branch = q.head.unwrap_or_default();
    let (mut commits, mut diff, mut existing) = (Vec::new(), None, None);
    let tips = crate::web::code::with_repo(state, &access, {
        let (b, h) = (base_branch.clone(), head_branch.clone());
        move |_, refs| {
            let find = |name: &str| {
                refs.iter()
                    .find(|r| !r.is_tag && r.name == name)
                    .map(|r| r.commit.to_string())
            };
            Ok((find(&b), find(&h)))
        }
    })
    .await?;
    if let (Some(base), Some(head)) = tips
        && base_branch != head_branch
    {
        let mb = crate::web::code::with_repo(state, &access, {
            let (b, h) = (base.clone(), head.clone());
            move |repo, _| crate::git::merge::merge_base(repo, &b, &h)
        })
        .await?
        .map(|m| m.to_string());
        commits = commit_list(state, &access, base.clone(), head.clone()).await?;
        if !commits.is_empty() {
            diff = Some(Diff::of(diff_of(state, &access, mb, head).await?, Vec::new()));
        }
        let (id, h, b) = (access.repo.id, head_branch.clone(), base_branch.clone());
        existing = state.db.read(move |c| stored::open_between(c, id, &h, &b)).await?;
    }
    let title = if title.is_empty() {
        commits.last().map(|c| c.summary.clone()).unwrap_or_default()
    } else {
        title
    };
    let diff = diff.unwrap_or(Diff::of(
        read::CommitDiff {
            files: Vec::new(),
            truncated: false,
        },
        Vec::new(),
    ));
    let base = access.repo.url();
    Ok(NewView {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Pulls),
        rev: head_branch.clone(),
        diff_link: format!(
            "{base}/pulls/new?base={}&head={}",
            url_encode(&base_branch),
            url_encode(&head_branch)
        ),
        base,
        branches,
        base_branch,
        head_branch,
        title,
        body,
        error,
        commits,
        files: diff.files,
        additions: diff.additions,
        deletions: diff.deletions,
        truncated: diff.truncated,
        existing,
    })
}

pub(super) async fn new_form(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Query(q): Query<CompareQuery>,
) -> Result<NewView> {
    new_view(&state, nav, access, q, String::new(), String::new(), None).await
}

#[derive(Deserialize)]
pub(super) struct NewForm {
    base: String,
    head: String,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    draft: Option<String>,
}

/// A form's mistake shows the form again with the message and the right status.
pub(super) fn form_error(e: &Error) -> Option<StatusCode> {
    match e {
        Error::Invalid(_)
        | Error::Unprocessable(_)
        | Error::TooLarge(_)
        | Error::NotMergeable(_)
        | Error::WrongState(_) => Some(crate::web::error::status_of(e)),
        _ => None,
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    CsrfForm(form): CsrfForm<NewForm>,
) -> Result<Response> {
    let new = NewPullRequest {
        title: form.title.clone(),
        body: form.body.clone(),
        head: form.head.clone(),
        base: form.base.clone(),
        draft: form.draft.is_some(),
    };
    let created = {
        let _lock = state.push_lock(access.repo.id).lock_owned().await;
        let made = pulls::create(&state.db, &access.path, &access.repo, &user, new).await;
        if made.is_ok() {
            state.ci_after_change(&access.repo).await;
        }
        made
    };
    match created {
        Ok(n) => Ok(Redirect::to(&pull_url(&access.repo, n)).into_response()),
        Err(e) => match form_error(&e) {
            Some(status) => {
                let q = CompareQuery {
                    base: Some(form.base),
                    head: Some(form.head),
                };
                let view = new_view(
                    &state,
                    nav,
                    access,
                    q,
                    form.title,
                    form.body,
                    Some(capitalize(&e.to_string())),
                )
                .await?;
                Ok((status, view).into_response())
            }
            None => Err(e),
        },
    }
}
