//! The issue tracker's API: issues, comments, labels and milestones, in
//! GitHub's shapes. Lists are arrays paged with `?page=&per_page=`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Page, Paged, link_header};
use crate::db::issues::{self as stored, Comment, Issue, Label, Milestone};
use crate::db::repos::Repo;
use crate::error::{Error, Result};
use crate::issues::{self, Change, Extras};
use crate::web::access::{Read, RepoAccess};
use crate::web::auth::SignedIn;
use crate::web::issues::ListQuery;
use crate::web::repos::site;
use crate::web::{AppState, rfc3339};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/repos/{owner}/{repo}/issues", get(list).post(create))
        .route(
            "/api/v1/repos/{owner}/{repo}/issues/{number}",
            get(get_one).patch(update),
        )
        .route(
            "/api/v1/repos/{owner}/{repo}/issues/{number}/comments",
            get(comments).post(add_comment),
        )
        .route("/api/v1/repos/{owner}/{repo}/labels", get(labels).post(create_label))
        .route(
            "/api/v1/repos/{owner}/{repo}/milestones",
            get(milestones).post(create_milestone),
        )
}

fn label_json(l: &Label) -> Value {
    json!({ "id": l.id, "name": l.name, "color": l.color, "description": l.description })
}

fn milestone_json(m: &Milestone) -> Value {
    json!({
        "id": m.id, "number": m.number, "title": m.title, "description": m.description, "state": m.state,
        "start_on": m.start_on, "due_on": m.due_on,
        "open_issues": m.open_issues, "closed_issues": m.closed_issues,
    })
}

fn issue_json((html_base, api): &(String, String), i: &Issue) -> Value {
    let mut out = json!({
        "id": i.id,
        "number": i.number,
        "title": i.title,
        "body": i.body,
        "state": i.state,
        "state_reason": i.close_reason,
        "user": { "login": i.author },
        "labels": i.labels.iter().map(label_json).collect::<Vec<_>>(),
        "assignees": i.assignees.iter().map(|a| json!({ "login": a })).collect::<Vec<_>>(),
        "milestone": i.milestone.as_ref().map(|(id, title)| json!({ "id": id, "title": title })),
        "column": i.column,
        "comments": i.comments,
        "created_at": rfc3339(i.created_at),
        "updated_at": rfc3339(i.updated_at),
        "closed_at": i.closed_at.map(rfc3339),
        "html_url": format!("{html_base}/issues/{}", i.number),
    });
    // As GitHub's issues API: a pull request is listed with a pointer to it.
    if i.is_pull {
        out["pull_request"] = json!({
            "url": format!("{api}/pulls/{}", i.number),
            "html_url": format!("{html_base}/pulls/{}", i.number),
            "diff_url": format!("{html_base}/pulls/{}.diff", i.number),
            "patch_url": format!("{html_base}/pulls/{}.patch", i.number),
        });
        out["html_url"] = json!(format!("{html_base}/pulls/{}", i.number));
    }
    out
}

fn comment_json(c: &Comment) -> Value {
    json!({
        "id": c.id, "body": c.body, "user": { "login": c.author },
        "created_at": rfc3339(c.created_at), "updated_at": rfc3339(c.updated_at),
    })
}

/// The repository's page and API addresses, as the client reached us.
fn html_base(state: &AppState, headers: &HeaderMap, repo: &Repo) -> (String, String) {
    super::repo_urls(state, headers, repo)
}

#[derive(Deserialize)]
pub struct NumberPath {
    number: crate::db::issues::IssueNumber,
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    access: RepoAccess<Read>,
    Query(query): Query<ListQuery>,
) -> Result<Paged> {
    let filter = query.filter(30)?;
    let id = access.repo.id;
    let (issues, more) = state.db.read(move |c| stored::list(c, id, &filter)).await?;
    let base = html_base(&state, &headers, &access.repo);
    let (page, per_page) = (query.page.unwrap_or(1) as usize, query.per_page.unwrap_or(30) as usize);
    Ok(Paged {
        items: issues.iter().map(|i| issue_json(&base, i)).collect(),
        link: link_header(site(&state, &headers).base(), &uri, page, per_page, more, None),
    })
}

async fn get_one(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
) -> Result<Json<Value>> {
    let issue = issues::get(&state.db, &access.repo, number).await?;
    Ok(Json(issue_json(&html_base(&state, &headers, &access.repo), &issue)))
}

/// A field given as a name or as `{"name": ...}`/`{"login": ...}` objects.
#[derive(Deserialize)]
#[serde(untagged)]
enum Named {
    Name(String),
    Object {
        #[serde(alias = "login", alias = "title")]
        name: String,
    },
}

impl Named {
    fn into_name(self) -> String {
        match self {
            Named::Name(n) | Named::Object { name: n } => n,
        }
    }
}

fn names(list: Option<Vec<Named>>) -> Option<Vec<String>> {
    list.map(|l| l.into_iter().map(Named::into_name).collect())
}

#[derive(Deserialize)]
struct CreateIssue {
    title: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    labels: Option<Vec<Named>>,
    #[serde(default)]
    milestone: Option<Named>,
    #[serde(default)]
    assignees: Option<Vec<Named>>,
}

async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Json(body): Json<CreateIssue>,
) -> Result<Response> {
    let extras = Extras {
        labels: names(body.labels).unwrap_or_default(),
        milestone: body.milestone.map(Named::into_name),
        assignees: names(body.assignees).unwrap_or_default(),
    };
    let text = body.body.unwrap_or_default();
    let number = issues::create(
        &state.db,
        &access.repo,
        &user,
        access.access,
        &body.title,
        &text,
        extras,
    )
    .await?;
    let issue = issues::get(&state.db, &access.repo, number).await?;
    Ok((
        StatusCode::CREATED,
        Json(issue_json(&html_base(&state, &headers, &access.repo), &issue)),
    )
        .into_response())
}

#[derive(Deserialize)]
struct PatchIssue {
    title: Option<String>,
    body: Option<String>,
    state: Option<String>,
    state_reason: Option<String>,
    labels: Option<Vec<Named>>,
    /// `null` is not told apart from absent; an empty string removes it.
    milestone: Option<Named>,
    assignees: Option<Vec<Named>>,
    column: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Json(body): Json<PatchIssue>,
) -> Result<Json<Value>> {
    let change = Change {
        title: body.title,
        body: body.body,
        state: body.state,
        reason: body.state_reason,
        labels: names(body.labels),
        milestone: body.milestone.map(Named::into_name),
        assignees: names(body.assignees),
        column: body.column,
        ..Default::default()
    };
    issues::update(&state.db, &access.repo, &user, access.access, number, change).await?;
    let issue = issues::get(&state.db, &access.repo, number).await?;
    Ok(Json(issue_json(&html_base(&state, &headers, &access.repo), &issue)))
}

async fn comments(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Query(page): Query<Page>,
) -> Result<Paged> {
    let repo_id = access.repo.id;
    let list = state
        .db
        .read(move |c| {
            let issue = stored::by_number(c, repo_id, number)?.ok_or(Error::NotFound)?;
            stored::comments(c, issue.id)
        })
        .await?;
    page.slice(
        list.iter().map(comment_json).collect(),
        site(&state, &headers).base(),
        &uri,
    )
}

#[derive(Deserialize)]
struct NewComment {
    body: String,
}

async fn add_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Json(body): Json<NewComment>,
) -> Result<Response> {
    let id = issues::comment(&state.db, &access.repo, &user, number, &body.body).await?;
    let repo_id = access.repo.id;
    let comment = state
        .db
        .read(move |c| {
            let issue = stored::by_number(c, repo_id, number)?.ok_or(Error::NotFound)?;
            stored::comment(c, issue.id, id)
        })
        .await?
        .ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(comment_json(&comment))).into_response())
}

async fn labels(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    access: RepoAccess<Read>,
    Query(page): Query<Page>,
) -> Result<Paged> {
    let id = access.repo.id;
    let list = state.db.read(move |c| stored::labels(c, id)).await?;
    page.slice(
        list.iter().map(label_json).collect(),
        site(&state, &headers).base(),
        &uri,
    )
}

#[derive(Deserialize)]
struct NewLabel {
    name: String,
    color: String,
    #[serde(default)]
    description: String,
}

async fn create_label(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    access: RepoAccess<Read>,
    Json(body): Json<NewLabel>,
) -> Result<Response> {
    let label = issues::create_label(
        &state.db,
        &access.repo,
        access.access,
        &body.name,
        &body.color,
        &body.description,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(label_json(&label))).into_response())
}

async fn milestones(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    access: RepoAccess<Read>,
    Query(page): Query<Page>,
) -> Result<Paged> {
    let id = access.repo.id;
    let list = state.db.read(move |c| stored::milestones(c, id)).await?;
    page.slice(
        list.iter().map(milestone_json).collect(),
        site(&state, &headers).base(),
        &uri,
    )
}

#[derive(Deserialize)]
struct NewMilestone {
    title: String,
    #[serde(default)]
    description: String,
    start_on: Option<String>,
    due_on: Option<String>,
}

async fn create_milestone(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    access: RepoAccess<Read>,
    Json(body): Json<NewMilestone>,
) -> Result<Response> {
    let id = issues::create_milestone(
        &state.db,
        &access.repo,
        access.access,
        &body.title,
        &body.description,
        body.start_on.as_deref(),
        body.due_on.as_deref(),
    )
    .await?;
    let repo_id = access.repo.id;
    let m = state
        .db
        .read(move |c| stored::milestone_by_id(c, repo_id, id))
        .await?
        .ok_or(Error::NotFound)?;
    Ok((StatusCode::CREATED, Json(milestone_json(&m))).into_response())
}
