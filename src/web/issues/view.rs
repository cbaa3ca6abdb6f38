//! `/{owner}/{repo}/issues/{n}`: an issue, its timeline (comments and events
//! in order), the commits that reference it, and the forms that change it;
//! `/issues/new` to open one.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::db::issues::IssueNumber;
use crate::db::issues::{self as stored, Issue, Label};
use crate::db::repos::Repo;
use crate::error::{Error, Result};
use crate::issues::{self, Change};
use crate::markup;
use crate::web::access::{Read, RepoAccess};
use crate::web::accounts::capitalize;
use crate::web::auth::{CsrfForm, NoFields, SignedIn};
use crate::web::code::markdown_links;
use crate::web::repos::{RepoHeader, Tab};
use crate::web::{AppState, Nav, ago};

#[derive(Deserialize)]
pub struct IssuePath {
    number: IssueNumber,
}

#[derive(Deserialize)]
pub struct CommentPath {
    number: IssueNumber,
    comment: i64,
}

fn issue_url(repo: &Repo, number: IssueNumber) -> String {
    format!("{}/issues/{number}", repo.url())
}

/// Markdown of an issue or comment; relative links point into the repository.
pub(crate) fn render(repo: &Repo, text: &str) -> String {
    let base = repo.url();
    markup::markdown(text, Some(&markdown_links(&base, &repo.default_branch, "")))
}

#[derive(Template, WebTemplate)]
#[template(path = "issues/new.html")]
pub struct NewView {
    nav: Nav,
    header: RepoHeader,
    title: String,
    body: String,
    error: Option<String>,
}

pub async fn new_form(SignedIn(_): SignedIn, nav: Nav, access: RepoAccess<Read>) -> NewView {
    NewView {
        nav,
        header: RepoHeader::new(access.repo, access.access, Tab::Issues),
        title: String::new(),
        body: String::new(),
        error: None,
    }
}

#[derive(Deserialize)]
pub struct NewForm {
    title: String,
    #[serde(default)]
    body: String,
}

pub async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    CsrfForm(form): CsrfForm<NewForm>,
) -> Result<Response> {
    let created = issues::create(
        &state.db,
        &access.repo,
        &user,
        access.access,
        &form.title,
        &form.body,
        Default::default(),
    )
    .await;
    match created {
        Ok(number) => Ok(Redirect::to(&issue_url(&access.repo, number)).into_response()),
        Err(e @ (Error::Invalid(_) | Error::TooLarge(_))) => {
            let status = if matches!(e, Error::TooLarge(_)) {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            let view = NewView {
                nav,
                header: RepoHeader::new(access.repo, access.access, Tab::Issues),
                title: form.title,
                body: form.body,
                error: Some(capitalize(&e.to_string())),
            };
            Ok((status, view).into_response())
        }
        Err(e) => Err(e),
    }
}

/// One entry of the timeline.
pub(crate) enum Entry {
    Comment {
        id: i64,
        author: String,
        html: String,
        source: String,
        when: String,
        edited: bool,
        can_change: bool,
    },
    Event {
        actor: String,
        text: String,
        commit: Option<String>,
        when: String,
    },
    /// A pull request's review, with its line comments.
    Review {
        author: String,
        verdict: String,
        html: String,
        when: String,
        notes: Vec<crate::web::pulls::Note>,
    },
}

#[derive(Template, WebTemplate)]
#[template(path = "issues/view.html")]
pub struct View {
    nav: Nav,
    header: RepoHeader,
    can_write: bool,
    can_edit: bool,
    issue: Issue,
    body_html: String,
    opened: String,
    timeline: Vec<Entry>,
    /// The commits that reference it, their runs and where they went.
    commits: Vec<crate::web::runs::CommitReach>,
    labels: Vec<Label>,
    milestones: Vec<String>,
    error: Option<String>,
}

impl View {
    fn has_label(&self, id: &i64) -> bool {
        self.issue.labels.iter().any(|l| l.id == *id)
    }
}

fn event_text(kind: &str, detail: &str) -> (String, bool) {
    let column = |c: &str| match c {
        "in_progress" => "In progress",
        "done" => "Done",
        _ => "To do",
    };
    match kind {
        "closed" if detail == "not_planned" => ("closed this as not planned".into(), false),
        "closed" => ("closed this as completed".into(), false),
        "reopened" => ("reopened this".into(), false),
        "labeled" => (format!("added the label {detail}"), false),
        "unlabeled" => (format!("removed the label {detail}"), false),
        "assigned" => (format!("assigned {detail}"), false),
        "unassigned" => (format!("unassigned {detail}"), false),
        "milestoned" => (format!("added this to the {detail} milestone"), false),
        "demilestoned" => ("removed this from its milestone".into(), false),
        "moved" => (format!("moved this to {} on the board", column(detail)), false),
        "referenced" => ("referenced this issue in commit".into(), true),
        "closed_by_commit" => ("closed this in commit".into(), true),
        "closed_by_pull" => (format!("closed this by merging pull request #{detail}"), false),
        "merged" => ("merged this in commit".into(), true),
        "pushed" => ("pushed the head to".into(), true),
        "base_changed" => (format!("changed the base branch to {detail}"), false),
        "head_ref_deleted" => (format!("deleted the branch {detail}, which closed this"), false),
        "converted_to_draft" => ("marked this as a draft".into(), false),
        "ready_for_review" => ("marked this ready for review".into(), false),
        "review_requested" => (format!("requested a review from {detail}"), false),
        "review_request_removed" => (format!("removed the review request for {detail}"), false),
        other => (other.replace('_', " "), false),
    }
}

async fn view(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Read>,
    number: IssueNumber,
    error: Option<String>,
) -> Result<View> {
    let repo_id = access.repo.id;
    let (issue, comments, events, labels, milestones) = state
        .db
        .read(move |c| {
            let issue = stored::by_number(c, repo_id, number)?.ok_or(Error::NotFound)?;
            let comments = stored::comments(c, issue.id)?;
            let events = stored::events(c, issue.id)?;
            Ok((
                issue,
                comments,
                events,
                stored::labels(c, repo_id)?,
                stored::milestone_titles(c, repo_id)?,
            ))
        })
        .await?;
    let writer = issues::is_writer(access.access);
    let me = nav.user.as_ref();
    let (timeline, commits) = timeline(&access.repo, comments, events, me, writer);
    let commits = crate::web::runs::reach(state, &access, commits).await?;
    let own = me.is_some_and(|u| u.name.eq_ignore_ascii_case(&issue.author));
    Ok(View {
        can_edit: writer || own,
        can_write: writer,
        body_html: render(&access.repo, &issue.body),
        opened: ago(issue.created_at),
        header: RepoHeader::new(access.repo, access.access, Tab::Issues),
        nav,
        issue,
        timeline: timeline.into_iter().map(|(_, _, e)| e).collect(),
        commits,
        labels,
        milestones,
        error,
    })
}

/// The comments and events of an issue or pull request as timeline
/// entries keyed for sorting by time, and the commits that reference it.
pub(crate) fn timeline(
    repo: &Repo,
    comments: Vec<stored::Comment>,
    events: Vec<stored::Event>,
    me: Option<&crate::db::users::User>,
    writer: bool,
) -> (Vec<(i64, usize, Entry)>, Vec<String>) {
    let mut timeline: Vec<(i64, usize, Entry)> = Vec::new();
    for (i, c) in comments.into_iter().enumerate() {
        let can_change = me.is_some_and(|u| u.id == c.author_id) || writer;
        timeline.push((
            c.created_at,
            i,
            Entry::Comment {
                id: c.id,
                html: render(repo, &c.body),
                source: c.body,
                author: c.author,
                when: ago(c.created_at),
                edited: c.updated_at > c.created_at,
                can_change,
            },
        ));
    }
    let mut commits = Vec::new();
    for (i, e) in events.into_iter().enumerate() {
        let (text, is_commit) = event_text(&e.kind, &e.detail);
        if e.kind == "referenced" && !commits.contains(&e.detail) {
            commits.push(e.detail.clone());
        }
        timeline.push((
            e.created_at,
            usize::MAX / 2 + i,
            Entry::Event {
                actor: e.actor.unwrap_or_else(|| "someone".into()),
                text,
                commit: is_commit.then_some(e.detail),
                when: ago(e.created_at),
            },
        ));
    }
    timeline.sort_by_key(|(t, order, _)| (*t, *order));
    (timeline, commits)
}

pub async fn handle(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(IssuePath { number }): Path<IssuePath>,
) -> Result<Response> {
    let page = view(&state, nav, access, number, None).await?;
    if page.issue.is_pull {
        // As on GitHub: a pull request's number under /issues leads to it.
        return Ok(Redirect::to(&format!("{}/pulls/{number}", page.header.repo.url())).into_response());
    }
    Ok(page.into_response())
}

/// Runs a change; a mistake in the form shows the issue again with the message.
async fn apply(
    state: &AppState,
    nav: Nav,
    access: RepoAccess<Read>,
    number: IssueNumber,
    result: Result<()>,
    anchor: &str,
) -> Result<Response> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("{}{anchor}", issue_url(&access.repo, number))).into_response()),
        Err(e @ (Error::Invalid(_) | Error::TooLarge(_))) => {
            let status = if matches!(e, Error::TooLarge(_)) {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            let page = view(state, nav, access, number, Some(capitalize(&e.to_string()))).await?;
            Ok((status, page).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct EditForm {
    title: String,
    #[serde(default)]
    body: String,
}

pub async fn edit(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(IssuePath { number }): Path<IssuePath>,
    CsrfForm(form): CsrfForm<EditForm>,
) -> Result<Response> {
    let change = Change {
        title: Some(form.title),
        body: Some(form.body),
        ..Default::default()
    };
    let result = issues::update(&state.db, &access.repo, &user, access.access, number, change).await;
    apply(&state, nav, access, number, result, "").await
}

#[derive(Deserialize)]
pub struct StateForm {
    state: String,
    #[serde(default)]
    reason: String,
}

pub async fn set_state(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(IssuePath { number }): Path<IssuePath>,
    CsrfForm(form): CsrfForm<StateForm>,
) -> Result<Response> {
    let change = Change {
        state: Some(form.state),
        reason: Some(form.reason),
        ..Default::default()
    };
    let result = issues::update(&state.db, &access.repo, &user, access.access, number, change).await;
    apply(&state, nav, access, number, result, "").await
}

#[derive(Deserialize)]
pub struct CommentForm {
    body: String,
}

pub async fn add_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(IssuePath { number }): Path<IssuePath>,
    CsrfForm(form): CsrfForm<CommentForm>,
) -> Result<Response> {
    let result = issues::comment(&state.db, &access.repo, &user, number, &form.body).await;
    let anchor = result.as_ref().map(|id| format!("#comment-{id}")).unwrap_or_default();
    apply(&state, nav, access, number, result.map(|_| ()), &anchor).await
}

pub async fn edit_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(CommentPath { number, comment }): Path<CommentPath>,
    CsrfForm(form): CsrfForm<CommentForm>,
) -> Result<Response> {
    let result = issues::change_comment(
        &state.db,
        &access.repo,
        &user,
        access.access,
        number,
        comment,
        Some(&form.body),
    )
    .await;
    apply(&state, nav, access, number, result, &format!("#comment-{comment}")).await
}

pub async fn delete_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(CommentPath { number, comment }): Path<CommentPath>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response> {
    let result = issues::change_comment(&state.db, &access.repo, &user, access.access, number, comment, None).await;
    apply(&state, nav, access, number, result, "").await
}

/// The sidebar form: labels as `label:NAME` checkboxes, assignees as a
/// comma-separated list, the milestone and the board column.
pub async fn update_sidebar(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    nav: Nav,
    access: RepoAccess<Read>,
    Path(IssuePath { number }): Path<IssuePath>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<Response> {
    let labels = form
        .keys()
        .filter_map(|k| k.strip_prefix("label:"))
        .map(str::to_string)
        .collect();
    let assignees = form
        .get("assignees")
        .map(|a| {
            a.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let change = Change {
        labels: Some(labels),
        assignees: Some(assignees),
        milestone: Some(form.get("milestone").cloned().unwrap_or_default()),
        column: form.get("column").cloned(),
        ..Default::default()
    };
    let result = issues::update(&state.db, &access.repo, &user, access.access, number, change).await;
    apply(&state, nav, access, number, result, "").await
}
