//! The issue tracker's API: issues, comments, labels and milestones, in
//! GitHub's shapes. Lists are arrays paged with `?page=&per_page=`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use std::collections::HashMap;

use super::doc::Api;
use super::{Page, Paged, link_header, one_of};
use crate::db::issues::{self as stored, Comment, Filter, Issue, Milestone, Sort};
use crate::db::repos::Repo;
use crate::db::users::User;
use crate::error::{Error, Result};
use crate::github::{self, People, Site};
use crate::issues::{self, Change, Extras};
use crate::web::AppState;
use crate::web::access::{Read, RepoAccess};
use crate::web::auth::SignedIn;
use crate::web::issues::ListQuery;
use crate::web::repos::site;

pub fn routes() -> Api {
    Api::new("issues")
        .get(
            "/api/v1/repos/{owner}/{repo}/issues",
            "List issues and pull requests (state, labels, milestone, assignee, creator, sort, direction, since)",
            list,
        )
        .post("/api/v1/repos/{owner}/{repo}/issues", "Open an issue", create)
        .get("/api/v1/repos/{owner}/{repo}/issues/{number}", "Get an issue", get_one)
        .patch(
            "/api/v1/repos/{owner}/{repo}/issues/{number}",
            "Change an issue (title, body, state, labels, milestone, assignees)",
            update,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/issues/{number}/comments",
            "List an issue's comments",
            comments,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/issues/{number}/comments",
            "Comment on an issue",
            add_comment,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/issues/comments/{comment_id}",
            "Get an issue comment",
            one_comment,
        )
        .patch(
            "/api/v1/repos/{owner}/{repo}/issues/comments/{comment_id}",
            "Edit an issue comment (its author, or a writer)",
            edit_comment,
        )
        .delete(
            "/api/v1/repos/{owner}/{repo}/issues/comments/{comment_id}",
            "Delete an issue comment (its author, or a writer)",
            delete_comment,
        )
        .get("/api/v1/repos/{owner}/{repo}/labels", "List labels", labels)
        .post("/api/v1/repos/{owner}/{repo}/labels", "Create a label", create_label)
        .get("/api/v1/repos/{owner}/{repo}/labels/{name}", "Get a label", one_label)
        .get(
            "/api/v1/repos/{owner}/{repo}/milestones",
            "List milestones (state, sort, direction)",
            milestones,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/milestones",
            "Create a milestone",
            create_milestone,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/milestones/{number}",
            "Get a milestone by number",
            one_milestone,
        )
}

/// The issues in GitHub's shape (`issue`), with Hearth's board `column`.
fn issues_json(conn: &rusqlite::Connection, site: &Site, repo: &Repo, list: &[Issue]) -> Result<Vec<Value>> {
    let people = People::load(
        conn,
        list.iter()
            .flat_map(|i| std::iter::once(i.author.as_str()).chain(i.assignees.iter().map(String::as_str)))
            .chain(std::iter::once(repo.owner.as_str())),
    )?;
    let mut milestones: HashMap<i64, Option<Milestone>> = HashMap::new();
    let mut associations: HashMap<String, &'static str> = HashMap::new();
    let mut out = Vec::with_capacity(list.len());
    for i in list {
        let milestone = match &i.milestone {
            Some((id, _)) => {
                if !milestones.contains_key(id) {
                    milestones.insert(*id, stored::milestone_by_id(conn, repo.id, *id)?);
                }
                milestones[id].as_ref()
            }
            None => None,
        };
        if !associations.contains_key(&i.author) {
            associations.insert(i.author.clone(), github::association(conn, repo, &i.author)?);
        }
        let mut json = github::issue(
            site,
            repo,
            &github::IssueParts {
                issue: i,
                milestone,
                people: &people,
                association: associations[&i.author],
            },
        );
        json["column"] = json!(i.column);
        out.push(json);
    }
    Ok(out)
}

/// Issue `number` of `repo` in GitHub's shape.
async fn issue_json(state: &AppState, headers: &HeaderMap, repo: &Repo, number: stored::IssueNumber) -> Result<Value> {
    let issue = issues::get(&state.db, repo, number).await?;
    let (site, repo) = (site(state, headers), repo.clone());
    state
        .db
        .read(move |c| Ok(issues_json(c, &site, &repo, std::slice::from_ref(&issue))?.remove(0)))
        .await
}

/// The comments of issue `i` in GitHub's shape.
fn comments_json(
    conn: &rusqlite::Connection,
    site: &Site,
    repo: &Repo,
    i: &Issue,
    list: &[Comment],
) -> Result<Vec<Value>> {
    let people = People::load(conn, list.iter().map(|c| c.author.as_str()))?;
    let mut out = Vec::with_capacity(list.len());
    for c in list {
        let association = github::association(conn, repo, &c.author)?;
        out.push(github::issue_comment(site, repo, i, c, &people, association));
    }
    Ok(out)
}

/// A milestone in GitHub's shape, with the day it starts (Hearth's `start_on`).
fn milestone_json(conn: &rusqlite::Connection, site: &Site, repo: &Repo, m: &Milestone) -> Result<Value> {
    let people = People::load(conn, [repo.owner.as_str()])?;
    let mut json = github::milestone(site, repo, m, &people.user(site, &repo.owner));
    json["start_on"] = json!(m.start_on);
    Ok(json)
}

#[derive(Deserialize)]
pub struct NumberPath {
    number: crate::db::issues::IssueNumber,
}

/// GitHub's filters of `GET …/issues` (and Hearth's page's names: `author`,
/// `q`, a milestone's title, `sort=newest|oldest`).
#[derive(Deserialize)]
struct IssueQuery {
    state: Option<String>,
    labels: Option<String>,
    milestone: Option<String>,
    assignee: Option<String>,
    creator: Option<String>,
    author: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    direction: Option<String>,
    since: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

impl IssueQuery {
    /// The filter, or a 422 that says which value is wrong.
    fn filter(self, conn: &rusqlite::Connection, repo: &Repo) -> Result<Filter> {
        let unprocessable = |e: Error| match e {
            Error::Invalid(m) => Error::Unprocessable(m),
            other => other,
        };
        let ascending = one_of("direction", self.direction.as_deref(), &["asc", "desc"], "desc")? == "asc";
        let sort = match (self.sort.as_deref().unwrap_or("created"), ascending) {
            ("created" | "newest", false) => Sort::Newest,
            ("created" | "newest", true) | ("oldest", _) => Sort::Oldest,
            ("updated", false) => Sort::Updated,
            ("updated", true) => Sort::UpdatedAscending,
            ("comments", false) => Sort::Comments,
            ("comments", true) => Sort::CommentsAscending,
            (other, _) => {
                return Err(Error::Unprocessable(format!(
                    "sort is created, updated or comments, not {other:?}"
                )));
            }
        };
        if let (Some(a), Some(b)) = (&self.creator, &self.author)
            && !a.eq_ignore_ascii_case(b)
        {
            return Err(Error::Unprocessable("creator and author name different people".into()));
        }
        let since = super::notifications::time_param("since", self.since.as_deref())?;
        let (milestone, milestone_number) = match self.milestone.as_deref().map(str::trim) {
            None | Some("") => (None, None),
            Some(m @ ("*" | "none")) => (Some(m.to_string()), None),
            Some(m) if m.bytes().all(|b| b.is_ascii_digit()) => {
                let n: i64 = m
                    .parse()
                    .map_err(|_| Error::Unprocessable(format!("there is no milestone {m}")))?;
                if stored::milestone_by_number(conn, repo.id, n)?.is_none() {
                    return Err(Error::Unprocessable(format!("there is no milestone number {n}")));
                }
                (None, Some(n))
            }
            Some(title) => {
                if stored::milestone_by_title(conn, repo.id, title)?.is_none() {
                    return Err(Error::Unprocessable(format!(
                        "milestone is a number, * or none (or a title), and there is no milestone {title:?}"
                    )));
                }
                (Some(title.to_string()), None)
            }
        };
        let list = ListQuery {
            state: self.state,
            labels: self.labels,
            milestone: None,
            assignee: self.assignee,
            author: self.creator.or(self.author),
            q: self.q,
            sort: None,
            page: self.page,
            per_page: self.per_page,
        };
        let mut filter = list.filter(30).map_err(unprocessable)?;
        filter.sort = sort;
        filter.since = since;
        filter.milestone = milestone;
        filter.milestone_number = milestone_number;
        Ok(filter)
    }
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    access: RepoAccess<Read>,
    Query(query): Query<IssueQuery>,
) -> Result<Paged> {
    let (page, per_page) = (query.page.unwrap_or(1) as usize, query.per_page.unwrap_or(30) as usize);
    let (site, repo) = (site(&state, &headers), access.repo.clone());
    let (items, more) = {
        let site = site.clone();
        state
            .db
            .read(move |c| {
                let filter = query.filter(c, &repo)?;
                let (issues, more) = stored::list(c, repo.id, &filter)?;
                Ok((issues_json(c, &site, &repo, &issues)?, more))
            })
            .await?
    };
    Ok(Paged {
        items,
        link: link_header(site.base(), &uri, page, per_page, more, None),
    })
}

async fn get_one(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
) -> Result<Json<Value>> {
    Ok(Json(issue_json(&state, &headers, &access.repo, number).await?))
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

/// A milestone as the API names it: its number (GitHub's way), or its
/// title (Hearth's).
#[derive(Deserialize)]
#[serde(untagged)]
enum MilestoneArg {
    Number(i64),
    Named(Named),
}

/// A field that may be absent (`None`), `null` (`Some(None)`) or a value.
fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The title of the milestone `arg` names; `Some("")` for `null` (none).
async fn milestone_title(state: &AppState, repo: &Repo, arg: Option<Option<MilestoneArg>>) -> Result<Option<String>> {
    match arg {
        None => Ok(None),
        Some(None) => Ok(Some(String::new())),
        Some(Some(MilestoneArg::Named(n))) => Ok(Some(n.into_name())),
        Some(Some(MilestoneArg::Number(n))) => {
            let id = repo.id;
            let m = state.db.read(move |c| stored::milestone_by_number(c, id, n)).await?;
            match m {
                Some(m) => Ok(Some(m.title)),
                None => Err(Error::Unprocessable(format!("there is no milestone number {n}"))),
            }
        }
    }
}

#[derive(Deserialize)]
struct CreateIssue {
    title: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    labels: Option<Vec<Named>>,
    #[serde(default, deserialize_with = "present")]
    milestone: Option<Option<MilestoneArg>>,
    #[serde(default)]
    assignee: Option<Named>,
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
    let mut assignees = names(body.assignees).unwrap_or_default();
    assignees.extend(body.assignee.map(Named::into_name));
    let extras = Extras {
        labels: names(body.labels).unwrap_or_default(),
        milestone: milestone_title(&state, &access.repo, body.milestone)
            .await?
            .filter(|t| !t.is_empty()),
        assignees,
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
    let json = issue_json(&state, &headers, &access.repo, number).await?;
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

#[derive(Deserialize)]
struct PatchIssue {
    title: Option<String>,
    body: Option<String>,
    state: Option<String>,
    state_reason: Option<String>,
    labels: Option<Vec<Named>>,
    /// A number or a title; `null` (or an empty title) removes it.
    #[serde(default, deserialize_with = "present")]
    milestone: Option<Option<MilestoneArg>>,
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
        milestone: milestone_title(&state, &access.repo, body.milestone).await?,
        assignees: names(body.assignees),
        column: body.column,
        ..Default::default()
    };
    issues::update(&state.db, &access.repo, &user, access.access, number, change).await?;
    Ok(Json(issue_json(&state, &headers, &access.repo, number).await?))
}

async fn comments(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Query(page): Query<Page>,
) -> Result<Paged> {
    let (site, repo) = (site(&state, &headers), access.repo.clone());
    let (skip, take) = page.window()?;
    let (items, total) = {
        let site = site.clone();
        state
            .db
            .read(move |c| {
                let issue = stored::by_number(c, repo.id, number)?.ok_or(Error::NotFound)?;
                let list = stored::comments(c, issue.id, take as u32, skip as u32)?;
                Ok((comments_json(c, &site, &repo, &issue, &list)?, issue.comments as usize))
            })
            .await?
    };
    Ok(Paged {
        link: page.links(site.base(), &uri, skip + items.len() < total, Some(total)),
        items,
    })
}

#[derive(Deserialize)]
struct NewComment {
    body: String,
}

async fn add_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Json(body): Json<NewComment>,
) -> Result<Response> {
    let id = issues::comment(&state.db, &access.repo, &user, number, &body.body).await?;
    let comment = comment_json(&state, &headers, &access.repo, id).await?;
    Ok((StatusCode::CREATED, Json(comment)).into_response())
}

#[derive(Deserialize)]
struct CommentPath {
    comment_id: i64,
}

/// Comment `id` of the repository in GitHub's shape.
async fn comment_json(state: &AppState, headers: &HeaderMap, repo: &Repo, id: i64) -> Result<Value> {
    let (site, repo) = (site(state, headers), repo.clone());
    state
        .db
        .read(move |c| {
            let number = stored::number_of_comment(c, repo.id, id)?.ok_or(Error::NotFound)?;
            let issue = stored::by_number(c, repo.id, number)?.ok_or(Error::NotFound)?;
            let comment = stored::comment(c, issue.id, id)?.ok_or(Error::NotFound)?;
            Ok(comments_json(c, &site, &repo, &issue, std::slice::from_ref(&comment))?.remove(0))
        })
        .await
}

async fn one_comment(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(CommentPath { comment_id }): Path<CommentPath>,
) -> Result<Json<Value>> {
    Ok(Json(comment_json(&state, &headers, &access.repo, comment_id).await?))
}

/// Changes (`Some`) or deletes (`None`) comment `id` of the repository.
async fn change_comment(
    state: &AppState,
    user: &User,
    access: &RepoAccess<Read>,
    id: i64,
    body: Option<&str>,
) -> Result<()> {
    let repo_id = access.repo.id;
    let number = state
        .db
        .read(move |c| stored::number_of_comment(c, repo_id, id))
        .await?
        .ok_or(Error::NotFound)?;
    issues::change_comment(&state.db, &access.repo, user, access.access, number, id, body).await
}

async fn edit_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(CommentPath { comment_id }): Path<CommentPath>,
    Json(body): Json<NewComment>,
) -> Result<Json<Value>> {
    change_comment(&state, &user, &access, comment_id, Some(&body.body)).await?;
    Ok(Json(comment_json(&state, &headers, &access.repo, comment_id).await?))
}

async fn delete_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    access: RepoAccess<Read>,
    Path(CommentPath { comment_id }): Path<CommentPath>,
) -> Result<StatusCode> {
    change_comment(&state, &user, &access, comment_id, None).await?;
    Ok(StatusCode::NO_CONTENT)
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
    let site = site(&state, &headers);
    page.slice(
        list.iter().map(|l| github::label(&site, &access.repo, l)).collect(),
        site.base(),
        &uri,
    )
}

async fn one_label(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, name)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    let id = access.repo.id;
    let label = state
        .db
        .read(move |c| stored::label_by_name(c, id, &name))
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(github::label(&site(&state, &headers), &access.repo, &label)))
}

#[derive(Deserialize)]
struct NewLabel {
    name: String,
    color: String,
    #[serde(default)]
    description: Option<String>,
}

async fn create_label(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Json(body): Json<NewLabel>,
) -> Result<Response> {
    let label = issues::create_label(
        &state.db,
        &access.repo,
        access.access,
        &body.name,
        &body.color,
        body.description.as_deref().unwrap_or(""),
    )
    .await?;
    let json = github::label(&site(&state, &headers), &access.repo, &label);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// GitHub's filters of `GET …/milestones`.
#[derive(Deserialize)]
struct MilestoneQuery {
    state: Option<String>,
    sort: Option<String>,
    direction: Option<String>,
}

async fn milestones(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    access: RepoAccess<Read>,
    Query(query): Query<MilestoneQuery>,
    Query(page): Query<Page>,
) -> Result<Paged> {
    let wanted = Some(one_of(
        "state",
        query.state.as_deref(),
        &["open", "closed", "all"],
        "open",
    )?)
    .filter(|s| *s != "all");
    let by_completeness =
        one_of("sort", query.sort.as_deref(), &["due_on", "completeness"], "due_on")? == "completeness";
    let descending = one_of("direction", query.direction.as_deref(), &["asc", "desc"], "asc")? == "desc";
    let (site, repo) = (site(&state, &headers), access.repo.clone());
    let all = {
        let site = site.clone();
        state
            .db
            .read(move |c| {
                let mut list: Vec<Milestone> = stored::milestones(c, repo.id)?
                    .into_iter()
                    .filter(|m| wanted.is_none_or(|w| m.state == w))
                    .collect();
                if by_completeness {
                    let done = |m: &Milestone| m.closed_issues * 1000 / (m.open_issues + m.closed_issues).max(1);
                    list.sort_by_key(done);
                }
                if descending {
                    list.reverse();
                }
                list.iter().map(|m| milestone_json(c, &site, &repo, m)).collect()
            })
            .await?
    };
    page.slice(all, site.base(), &uri)
}

async fn one_milestone(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, number)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    let n: i64 = number.parse().map_err(|_| Error::NotFound)?;
    let (site, repo) = (site(&state, &headers), access.repo.clone());
    Ok(Json(
        state
            .db
            .read(move |c| {
                let m = stored::milestone_by_number(c, repo.id, n)?.ok_or(Error::NotFound)?;
                milestone_json(c, &site, &repo, &m)
            })
            .await?,
    ))
}

#[derive(Deserialize)]
struct NewMilestone {
    title: String,
    #[serde(default)]
    description: Option<String>,
    start_on: Option<String>,
    due_on: Option<String>,
}

async fn create_milestone(
    State(state): State<AppState>,
    SignedIn(_): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Json(body): Json<NewMilestone>,
) -> Result<Response> {
    // GitHub takes a due date as a timestamp; Hearth keeps the day.
    let day = |d: Option<String>| d.map(|d| d.get(..10).map(str::to_string).unwrap_or(d));
    let id = issues::create_milestone(
        &state.db,
        &access.repo,
        access.access,
        &body.title,
        body.description.as_deref().unwrap_or(""),
        day(body.start_on).as_deref(),
        day(body.due_on).as_deref(),
    )
    .await?;
    let (site, repo) = (site(&state, &headers), access.repo.clone());
    let json = state
        .db
        .read(move |c| {
            let m = stored::milestone_by_id(c, repo.id, id)?.ok_or(Error::NotFound)?;
            milestone_json(c, &site, &repo, &m)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json)).into_response())
}
