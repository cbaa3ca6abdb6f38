//! Pull requests, reviews, review comments and branch protection in
//! GitHub's REST shapes: `/pulls` (list, create, get, update), `…/commits`,
//! `…/files`, `…/merge`, `…/reviews`, `…/requested_reviewers`,
//! `…/comments`, and `/branches/{branch}/protection`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::doc::Api;
use super::{Page, repo_urls};
use crate::db::issues::{self as issue_rows, Filter, IssueNumber, Kind};
use crate::db::protections::{self, Protection};
use crate::db::pulls::{self as stored, Method, Pull, Verdict};
use crate::error::{Error, Result};
use crate::git::read::{self, Status};
use crate::pulls::{self, LineInput, MergeRequest, NewPullRequest, NewReview};
use crate::web::access::{Admin, Read, RepoAccess};
use crate::web::auth::SignedIn;
use crate::web::{AppState, rfc3339};

pub fn routes() -> Api {
    Api::new("pulls")
        .get(
            "/api/v1/repos/{owner}/{repo}/pulls",
            "List pull requests (state, head, base, sort, direction)",
            list,
        )
        .post("/api/v1/repos/{owner}/{repo}/pulls", "Open a pull request", create)
        .get(
            "/api/v1/repos/{owner}/{repo}/pulls/{number}",
            "Get a pull request, its mergeability and checks",
            get_one,
        )
        .patch(
            "/api/v1/repos/{owner}/{repo}/pulls/{number}",
            "Change a pull request (title, body, state, base)",
            update,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/pulls/{number}/commits",
            "List a pull request's commits",
            commits,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/pulls/{number}/files",
            "List a pull request's files with their patches",
            files,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/pulls/{number}/merge",
            "Whether a pull request is merged (204, else 404)",
            is_merged,
        )
        .put(
            "/api/v1/repos/{owner}/{repo}/pulls/{number}/merge",
            "Merge a pull request (merge, squash or rebase)",
            merge,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/pulls/{number}/reviews",
            "List a pull request's reviews",
            reviews,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/pulls/{number}/reviews",
            "Review a pull request (approve, request changes, comment)",
            add_review,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
            "List requested reviewers",
            requested,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
            "Request reviews",
            request,
        )
        .delete(
            "/api/v1/repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
            "Withdraw review requests",
            unrequest,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/pulls/{number}/comments",
            "List a pull request's line comments",
            comments,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/pulls/{number}/comments",
            "Comment on a line (or reply)",
            add_comment,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/branches/{branch}/protection",
            "Get a branch's protection",
            protection,
        )
        .put(
            "/api/v1/repos/{owner}/{repo}/branches/{branch}/protection",
            "Protect a branch (checks, reviews, who may push)",
            put_protection,
        )
        .delete(
            "/api/v1/repos/{owner}/{repo}/branches/{branch}/protection",
            "Remove a branch's protection",
            delete_protection,
        )
}

#[derive(Deserialize)]
struct NumberPath {
    number: IssueNumber,
}

/// A pull request as the API shows it; `full` adds GitHub's sizes and merge state.
async fn pull_json(
    state: &AppState,
    headers: &HeaderMap,
    access: &RepoAccess<Read>,
    pull: &Pull,
    full: bool,
) -> Result<Value> {
    let site = crate::web::repos::site(state, headers);
    let issue = pull.issue.id;
    let (repo, p) = (access.repo.clone(), pull.clone());
    let s = site.clone();
    let (reviewers, line_comments, people, milestone, association, repository) = state
        .db
        .read(move |c| {
            let reviewers = stored::requested_reviewers(c, issue)?;
            let i = &p.issue;
            let names = [repo.owner.as_str(), i.author.as_str()]
                .into_iter()
                .chain(i.assignees.iter().map(String::as_str))
                .chain(reviewers.iter().map(String::as_str))
                .chain(p.merged_by.as_deref());
            let people = crate::github::People::load(c, names)?;
            let milestone = match &i.milestone {
                Some((id, _)) => crate::db::issues::milestone_by_id(c, repo.id, *id)?,
                None => None,
            };
            let association = crate::github::association(c, &repo, &i.author)?;
            let owner = people.user(&s, &repo.owner);
            let repository = crate::github::repository(&s, &repo, &owner, &crate::github::RepoFacts::load(c, &repo)?);
            Ok((
                reviewers,
                stored::line_comments(c, issue)?.len(),
                people,
                milestone,
                association,
                repository,
            ))
        })
        .await?;
    let stats = if full {
        // The sizes of a change are the same for the same two commits: worked out once.
        let key = format!(
            "pullstats:{}:{}:{}",
            access.repo.id.0,
            pull.merge_base.as_deref().unwrap_or(""),
            pull.head_sha
        );
        let (dir, p, pages) = (access.path.clone(), pull.clone(), state.pages.clone());
        let text = crate::error::blocking("pull request task", move || {
            pages.fragment(key, || {
                let s = pulls::stats(&dir, &p)?;
                Ok(format!(
                    "{} {} {} {}",
                    s.commits, s.additions, s.deletions, s.changed_files
                ))
            })
        })
        .await??;
        let n: Vec<usize> = text.split(' ').filter_map(|n| n.parse().ok()).collect();
        Some(crate::github::PullStats {
            commits: n.first().copied().unwrap_or(0),
            additions: n.get(1).copied().unwrap_or(0),
            deletions: n.get(2).copied().unwrap_or(0),
            changed_files: n.get(3).copied().unwrap_or(0),
            review_comments: line_comments,
        })
    } else {
        None
    };
    Ok(crate::github::pull_request(
        &site,
        &access.repo,
        &crate::github::PullParts {
            pull,
            people: &people,
            milestone: milestone.as_ref(),
            association,
            reviewers: &reviewers,
            repository: &repository,
            stats: stats.as_ref(),
        },
    ))
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    head: Option<String>,
    base: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Query(q): Query<ListQuery>,
) -> Result<super::Paged> {
    let st = q.state.unwrap_or_else(|| "open".into());
    if !["open", "closed", "all"].contains(&st.as_str()) {
        return Err(Error::Unprocessable(format!(
            "state must be open, closed or all, not {st:?}"
        )));
    }
    let per_page = q.per_page.unwrap_or(30);
    if !(1..=100).contains(&per_page) {
        return Err(Error::Unprocessable("per_page must be between 1 and 100".into()));
    }
    let filter = Filter {
        kind: Kind::Pulls,
        state: st,
        page: q.page.unwrap_or(1).max(1),
        per_page,
        ..Default::default()
    };
    // `head` is `owner:branch` (or a branch) as on GitHub.
    let head = q.head.map(|h| h.rsplit(':').next().unwrap_or(&h).to_string());
    let (id, base) = (access.repo.id, q.base);
    let page = filter.page as usize;
    let (found, more) = state
        .db
        .read(move |c| {
            let (issues, more) = issue_rows::list(c, id, &filter)?;
            Ok((stored::of_issues(c, issues)?, more))
        })
        .await?;
    let mut out = Vec::new();
    for p in found
        .iter()
        .filter(|p| head.as_ref().is_none_or(|h| *h == p.head_ref) && base.as_ref().is_none_or(|b| *b == p.base_ref))
    {
        out.push(pull_json(&state, &headers, &access, p, false).await?);
    }
    let site = crate::web::repos::site(&state, &headers);
    Ok(super::Paged {
        items: out,
        link: super::link_header(site.base(), &uri, page, per_page as usize, more, None),
    })
}

#[derive(Deserialize)]
struct CreateBody {
    title: Option<String>,
    head: String,
    base: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    draft: Option<bool>,
}

async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Json(body): Json<CreateBody>,
) -> Result<Response> {
    let new = NewPullRequest {
        title: body.title.unwrap_or_default(),
        body: body.body.unwrap_or_default(),
        head: body.head.rsplit(':').next().unwrap_or(&body.head).to_string(),
        base: body.base,
        draft: body.draft.unwrap_or(false),
    };
    let number = {
        let _lock = state.push_lock(access.repo.id).lock_owned().await;
        let n = pulls::create(&state.db, &access.path, &access.repo, &user, new).await?;
        state.ci_after_change(&access.repo).await;
        n
    };
    let pull = pulls::get(&state.db, &access.repo, number).await?;
    Ok((
        StatusCode::CREATED,
        Json(pull_json(&state, &headers, &access, &pull, true).await?),
    )
        .into_response())
}

async fn get_one(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
) -> Result<Json<Value>> {
    let pull = pulls::get(&state.db, &access.repo, number).await?;
    Ok(Json(pull_json(&state, &headers, &access, &pull, true).await?))
}

#[derive(Deserialize)]
struct PatchBody {
    title: Option<String>,
    body: Option<String>,
    state: Option<String>,
    base: Option<String>,
    draft: Option<bool>,
}

async fn update(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Json(b): Json<PatchBody>,
) -> Result<Json<Value>> {
    if let Some(s) = &b.state
        && s != "open"
        && s != "closed"
    {
        return Err(Error::Unprocessable(format!("state must be open or closed, not {s:?}")));
    }
    let u = pulls::Update {
        title: b.title,
        body: b.body,
        state: b.state,
        base: b.base,
        draft: b.draft,
    };
    {
        let _lock = state.push_lock(access.repo.id).lock_owned().await;
        pulls::update(&state.db, &access.path, &access.repo, &user, access.access, number, u).await?;
        state.ci_after_change(&access.repo).await;
    }
    let pull = pulls::get(&state.db, &access.repo, number).await?;
    Ok(Json(pull_json(&state, &headers, &access, &pull, true).await?))
}

fn person_json(p: &read::Person) -> Value {
    json!({ "name": p.name, "email": p.email, "date": rfc3339(p.time) })
}

async fn commits(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Query(page): Query<Page>,
) -> Result<super::Paged> {
    let (skip, take) = page.window()?;
    let pull = pulls::get(&state.db, &access.repo, number).await?;
    let (html, api) = repo_urls(&state, &headers, &access.repo);
    let base = pull.merge_base.clone().unwrap_or_else(|| pull.base_sha.clone());
    let head = pull.head_sha.clone();
    let list = crate::web::code::with_repo(&state, &access, move |repo, _| {
        let ids = crate::git::merge::commits_between(repo, &base, &head)?.unwrap_or_default();
        ids.into_iter()
            .skip(skip)
            .take(take + 1)
            .map(|id| {
                let c = read::commit_info(repo, id)?;
                let tree = repo
                    .find_commit(id)
                    .ok()
                    .and_then(|c| c.tree_id().ok())
                    .map(|t| t.to_string());
                Ok(json!({
                    "sha": id.to_string(),
                    "node_id": format!("C_{id}"),
                    "url": format!("{api}/commits/{id}"),
                    "html_url": format!("{html}/commit/{id}"),
                    "commit": {
                        "author": person_json(&c.author),
                        "committer": person_json(&c.committer),
                        "message": c.message,
                        "tree": { "sha": tree },
                        "comment_count": 0,
                    },
                    "author": null,
                    "committer": null,
                    "parents": c.parents.iter().map(|p| json!({ "sha": p.to_string(), "url": format!("{api}/commits/{p}") })).collect::<Vec<_>>(),
                }))
            })
            .collect::<Result<Vec<_>>>()
    })
    .await?;
    page.trimmed(list, crate::web::repos::site(&state, &headers).base(), &uri)
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Added => "added",
        Status::Deleted => "removed",
        Status::Modified => "modified",
        Status::Renamed => "renamed",
        Status::Copied => "copied",
    }
}

async fn files(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Query(page): Query<Page>,
) -> Result<Response> {
    let (skip, take) = page.window()?;
    let pull = pulls::get(&state.db, &access.repo, number).await?;
    let (html, api) = repo_urls(&state, &headers, &access.repo);
    let (old, new) = (pull.merge_base.clone(), pull.head_sha.clone());
    // The same commits and page give the same list: made once, kept in the page cache.
    let key = format!(
        "pullfilesapi:{}:{}:{new}:{skip}:{take}:{html}",
        access.repo.id.0,
        old.as_deref().unwrap_or("")
    );
    let pages = state.pages.clone();
    let text = crate::web::code::with_repo(&state, &access, move |repo, _| {
        pages.fragment(key, || {
            // One more than a page says whether a next one follows.
            let list = file_entries(repo, old.as_deref(), &new, skip, take + 1, &html, &api)?;
            Ok(Value::Array(list).to_string())
        })
    })
    .await?;
    let items: Vec<Value> = serde_json::from_str(&text).map_err(|e| Error::Internal(format!("a cached list: {e}")))?;
    Ok(page
        .trimmed(items, crate::web::repos::site(&state, &headers).base(), &uri)?
        .into_response())
}

/// The files of a diff from `old` to `new` in GitHub's `diff-entry` shape.
fn file_entries(
    repo: &gix::Repository,
    old: Option<&str>,
    new: &str,
    skip: usize,
    take: usize,
    html: &str,
    api: &str,
) -> Result<Vec<Value>> {
    let parse = crate::git::object_id;
    let old = old.map(parse).transpose()?;
    let diff = read::diff_between(repo, old, parse(new)?, pulls::REVIEW_LIMITS)?;
    Ok(diff
        .files
        .iter()
        .skip(skip)
        .take(take)
        .map(|f| {
            let mut patch = String::new();
            for h in &f.hunks {
                patch.push_str(&h.header);
                for l in &h.lines {
                    patch.push('\n');
                    patch.push(l.kind.sign());
                    patch.push_str(&l.text);
                }
                patch.push('\n');
            }
            let sha = f.new_id.or(f.old_id).map(|i| i.to_string());
            let mut entry = json!({
                "sha": sha,
                "filename": f.new_path,
                "status": status_word(f.status),
                "additions": f.additions,
                "deletions": f.deletions,
                "changes": f.additions + f.deletions,
                "blob_url": format!("{html}/blob/{new}/{}", f.new_path),
                "raw_url": format!("{html}/raw/{new}/{}", f.new_path),
                "contents_url": format!("{api}/contents/{}?ref={new}", f.new_path),
            });
            if !f.binary && !f.too_large {
                entry["patch"] = json!(patch.trim_end());
            }
            if f.old_path != f.new_path {
                entry["previous_filename"] = json!(f.old_path);
            }
            entry
        })
        .collect())
}

/// `GET …/merge`: 204 when merged, 404 when not, as on GitHub.
async fn is_merged(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
) -> Result<StatusCode> {
    let pull = pulls::get(&state.db, &access.repo, number).await?;
    if pull.is_merged() {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound)
    }
}

#[derive(Deserialize, Default)]
struct MergeBody {
    commit_title: Option<String>,
    commit_message: Option<String>,
    sha: Option<String>,
    merge_method: Option<String>,
    /// Hearth's own: delete the head branch once merged.
    delete_branch: Option<bool>,
}

async fn merge(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    body: Option<Json<MergeBody>>,
) -> Result<Json<Value>> {
    let b = body.map(|Json(b)| b).unwrap_or_default();
    let text = b.merge_method.unwrap_or_else(|| "merge".into());
    let method = Method::parse(&text)
        .ok_or_else(|| Error::Unprocessable(format!("merge_method must be merge, squash or rebase, not {text:?}")))?;
    let id = access.repo.id;
    let delete = match b.delete_branch {
        Some(d) => d,
        None => {
            state
                .db
                .read(move |c| stored::merge_settings(c, id))
                .await?
                .delete_branch
        }
    };
    let req = MergeRequest {
        method,
        title: b.commit_title,
        message: b.commit_message,
        sha: b.sha,
        // An administrator passes over rules that do not include them, as on GitHub.
        bypass: true,
    };
    let landed = crate::web::pulls::merge_now(&state, &headers, &access, &user, number, req, delete).await?;
    Ok(Json(
        json!({ "sha": landed.sha, "merged": true, "message": "Pull Request successfully merged" }),
    ))
}

fn review_json(html: &str, api: &str, number: IssueNumber, r: &stored::Review) -> Value {
    json!({
        "id": r.id,
        "node_id": format!("PRR_{}", r.id),
        "user": { "login": r.author, "type": "User" },
        "body": r.body,
        "state": r.verdict.as_str(),
        "html_url": format!("{html}/pulls/{number}#review-{}", r.id),
        "pull_request_url": format!("{api}/pulls/{number}"),
        "_links": {
            "html": { "href": format!("{html}/pulls/{number}#review-{}", r.id) },
            "pull_request": { "href": format!("{api}/pulls/{number}") },
        },
        "submitted_at": rfc3339(r.submitted_at),
        "commit_id": r.commit_id,
        "author_association": "CONTRIBUTOR",
    })
}

async fn reviews(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Query(page): Query<Page>,
) -> Result<super::Paged> {
    listed(
        &state,
        &headers,
        &uri,
        &access,
        number,
        page,
        stored::reviews,
        review_json,
    )
    .await
}

/// One page of what `load` finds of pull request `number`, each shown by `shape`.
#[allow(clippy::too_many_arguments)]
async fn listed<T: Send + 'static>(
    state: &AppState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    access: &RepoAccess<Read>,
    number: IssueNumber,
    page: Page,
    load: fn(&rusqlite::Connection, crate::db::issues::IssueId) -> Result<Vec<T>>,
    shape: fn(&str, &str, IssueNumber, &T) -> Value,
) -> Result<super::Paged> {
    let pull = pulls::get(&state.db, &access.repo, number).await?;
    let issue = pull.issue.id;
    let list = state.db.read(move |c| load(c, issue)).await?;
    let (html, api) = repo_urls(state, headers, &access.repo);
    page.slice(
        list.iter().map(|item| shape(&html, &api, number, item)).collect(),
        crate::web::repos::site(state, headers).base(),
        uri,
    )
}

#[derive(Deserialize)]
struct ReviewComment {
    path: String,
    #[serde(default)]
    line: Option<i64>,
    #[serde(default)]
    side: Option<String>,
    body: String,
}

#[derive(Deserialize)]
struct ReviewBody {
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    commit_id: Option<String>,
    #[serde(default)]
    comments: Vec<ReviewComment>,
}

fn line_inputs(list: Vec<ReviewComment>) -> Result<Vec<LineInput>> {
    list.into_iter()
        .map(|c| {
            let line = c
                .line
                .ok_or_else(|| Error::Unprocessable(format!("a comment on {} needs its line", c.path)))?;
            Ok(LineInput {
                path: c.path,
                line,
                side: c.side.unwrap_or_else(|| "RIGHT".into()),
                body: c.body,
            })
        })
        .collect()
}

async fn add_review(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Json(b): Json<ReviewBody>,
) -> Result<Response> {
    // Without an event GitHub keeps a pending review; here it is a comment.
    let verdict = match b.event.as_deref() {
        Some("APPROVE") => Verdict::Approved,
        Some("REQUEST_CHANGES") => Verdict::ChangesRequested,
        Some("COMMENT") | None => Verdict::Commented,
        Some(other) => {
            return Err(Error::Unprocessable(format!(
                "event must be APPROVE, REQUEST_CHANGES or COMMENT, not {other:?}"
            )));
        }
    };
    let review = NewReview {
        verdict,
        body: b.body.unwrap_or_default(),
        comments: line_inputs(b.comments)?,
        commit_id: b.commit_id,
    };
    let id = pulls::review(&state.db, &access.path, &access.repo, &user, number, review).await?;
    let pull = pulls::get(&state.db, &access.repo, number).await?;
    let issue = pull.issue.id;
    let list = state.db.read(move |c| stored::reviews(c, issue)).await?;
    let r = list.iter().find(|r| r.id == id).ok_or(Error::NotFound)?;
    let (html, api) = repo_urls(&state, &headers, &access.repo);
    Ok((StatusCode::OK, Json(review_json(&html, &api, number, r))).into_response())
}

async fn requested(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
) -> Result<Json<Value>> {
    let pull = pulls::get(&state.db, &access.repo, number).await?;
    let issue = pull.issue.id;
    let users = state.db.read(move |c| stored::requested_reviewers(c, issue)).await?;
    Ok(Json(json!({
        "users": users.iter().map(|u| json!({ "login": u, "type": "User" })).collect::<Vec<_>>(),
        "teams": [],
    })))
}

#[derive(Deserialize)]
struct Reviewers {
    #[serde(default)]
    reviewers: Vec<String>,
}

async fn change_reviewers(
    state: &AppState,
    headers: &HeaderMap,
    access: &RepoAccess<Read>,
    user: &crate::db::users::User,
    number: IssueNumber,
    add: Vec<String>,
    remove: Vec<String>,
) -> Result<Value> {
    pulls::request_reviewers(&state.db, &access.repo, user, access.access, number, add, remove).await?;
    let pull = pulls::get(&state.db, &access.repo, number).await?;
    pull_json(state, headers, access, &pull, false).await
}

async fn request(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Json(b): Json<Reviewers>,
) -> Result<Response> {
    let json = change_reviewers(&state, &headers, &access, &user, number, b.reviewers, Vec::new()).await?;
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

async fn unrequest(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Json(b): Json<Reviewers>,
) -> Result<Json<Value>> {
    Ok(Json(
        change_reviewers(&state, &headers, &access, &user, number, Vec::new(), b.reviewers).await?,
    ))
}

fn comment_json(html: &str, api: &str, number: IssueNumber, c: &stored::LineComment) -> Value {
    json!({
        "url": format!("{api}/pulls/comments/{}", c.id),
        "pull_request_review_id": c.review_id,
        "id": c.id,
        "node_id": format!("PRRC_{}", c.id),
        "diff_hunk": c.diff_hunk,
        "path": c.path,
        "commit_id": c.commit_id,
        "original_commit_id": c.commit_id,
        "in_reply_to_id": c.in_reply_to,
        "user": { "login": c.author, "type": "User" },
        "body": c.body,
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
        "html_url": format!("{html}/pulls/{number}/files#r{}", c.id),
        "pull_request_url": format!("{api}/pulls/{number}"),
        "author_association": "CONTRIBUTOR",
        "_links": {
            "self": { "href": format!("{api}/pulls/comments/{}", c.id) },
            "html": { "href": format!("{html}/pulls/{number}/files#r{}", c.id) },
            "pull_request": { "href": format!("{api}/pulls/{number}") },
        },
        "line": c.line,
        "original_line": c.line,
        "side": c.side,
        "start_line": null,
        "start_side": null,
        "subject_type": "line",
    })
}

async fn comments(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Query(page): Query<Page>,
) -> Result<super::Paged> {
    listed(
        &state,
        &headers,
        &uri,
        &access,
        number,
        page,
        stored::line_comments,
        comment_json,
    )
    .await
}

async fn add_comment(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path(NumberPath { number }): Path<NumberPath>,
    Json(c): Json<ReviewComment>,
) -> Result<Response> {
    let input = line_inputs(vec![c])?.remove(0);
    let id = pulls::line_comment(&state.db, &access.path, &access.repo, &user, number, input).await?;
    let pull = pulls::get(&state.db, &access.repo, number).await?;
    let issue = pull.issue.id;
    let list = state.db.read(move |c| stored::line_comments(c, issue)).await?;
    let c = list.iter().find(|c| c.id == id).ok_or(Error::NotFound)?;
    let (html, api) = repo_urls(&state, &headers, &access.repo);
    Ok((StatusCode::CREATED, Json(comment_json(&html, &api, number, c))).into_response())
}

fn protection_json(api: &str, branch: &str, p: &Protection) -> Value {
    let url = format!("{api}/branches/{branch}/protection");
    let users = |names: &[String]| {
        names
            .iter()
            .map(|n| json!({ "login": n, "type": "User" }))
            .collect::<Vec<_>>()
    };
    let mut out = json!({
        "url": url,
        "enforce_admins": { "url": format!("{url}/enforce_admins"), "enabled": p.enforce_admins },
        "allow_force_pushes": { "enabled": p.allow_force_pushes },
        "allow_deletions": { "enabled": p.allow_deletions },
        "required_linear_history": { "enabled": false },
        "required_conversation_resolution": { "enabled": false },
    });
    if p.require_checks {
        out["required_status_checks"] = json!({
            "url": format!("{url}/required_status_checks"),
            "strict": p.strict,
            "contexts": p.required_checks,
            "checks": p.required_checks.iter().map(|c| json!({ "context": c, "app_id": null })).collect::<Vec<_>>(),
            "contexts_url": format!("{url}/required_status_checks/contexts"),
        });
    }
    if p.require_reviews {
        out["required_pull_request_reviews"] = json!({
            "url": format!("{url}/required_pull_request_reviews"),
            "dismiss_stale_reviews": p.dismiss_stale,
            "require_code_owner_reviews": false,
            "required_approving_review_count": p.required_approvals,
            "bypass_pull_request_allowances": { "users": users(&p.bypass_users), "teams": [], "apps": [] },
        });
    }
    if p.restrict_pushes {
        out["restrictions"] = json!({
            "url": format!("{url}/restrictions"),
            "users_url": format!("{url}/restrictions/users"),
            "teams_url": format!("{url}/restrictions/teams"),
            "apps_url": format!("{url}/restrictions/apps"),
            "users": users(&p.push_users),
            "teams": [],
            "apps": [],
        });
    }
    out
}

#[derive(Deserialize)]
struct BranchPath {
    branch: String,
}

async fn protection(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Admin>,
    Path(BranchPath { branch }): Path<BranchPath>,
) -> Result<Response> {
    let (id, b) = (access.repo.id, branch.clone());
    let found = state.db.read(move |c| protections::by_pattern(c, id, &b)).await?;
    let (_, api) = super::repo_urls(&state, &headers, &access.repo);
    match found {
        Some(p) => Ok(Json(protection_json(&api, &branch, &p)).into_response()),
        None => Ok((
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "Branch not protected" })),
        )
            .into_response()),
    }
}

/// GitHub's PUT body: the four parts must be there, each may be null.
#[derive(Deserialize)]
struct ProtectionBody {
    required_status_checks: Option<Checks>,
    enforce_admins: Option<bool>,
    required_pull_request_reviews: Option<Reviews>,
    restrictions: Option<Restrictions>,
    #[serde(default)]
    allow_force_pushes: Option<bool>,
    #[serde(default)]
    allow_deletions: Option<bool>,
}

#[derive(Deserialize)]
struct Checks {
    #[serde(default)]
    strict: bool,
    #[serde(default)]
    contexts: Vec<String>,
    #[serde(default)]
    checks: Vec<CheckName>,
}

#[derive(Deserialize)]
struct CheckName {
    context: String,
}

#[derive(Deserialize)]
struct Reviews {
    #[serde(default)]
    dismiss_stale_reviews: bool,
    #[serde(default)]
    required_approving_review_count: Option<u32>,
    #[serde(default)]
    bypass_pull_request_allowances: Option<Restrictions>,
}

#[derive(Deserialize)]
struct Restrictions {
    #[serde(default)]
    users: Vec<String>,
}

async fn put_protection(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Admin>,
    Path(BranchPath { branch }): Path<BranchPath>,
    Json(body): Json<Value>,
) -> Result<Json<Value>> {
    for key in [
        "required_status_checks",
        "enforce_admins",
        "required_pull_request_reviews",
        "restrictions",
    ] {
        if body.get(key).is_none() {
            return Err(Error::Unprocessable(format!(
                "{key} is missing; give it, or null to leave it off"
            )));
        }
    }
    let b: ProtectionBody =
        serde_json::from_value(body).map_err(|e| Error::Unprocessable(format!("the protection is not valid: {e}")))?;
    let mut rule = Protection {
        pattern: branch.clone(),
        enforce_admins: b.enforce_admins.unwrap_or(false),
        allow_force_pushes: b.allow_force_pushes.unwrap_or(false),
        allow_deletions: b.allow_deletions.unwrap_or(false),
        ..Default::default()
    };
    if let Some(c) = b.required_status_checks {
        rule.require_checks = true;
        rule.strict = c.strict;
        rule.required_checks = c.contexts;
        for name in c.checks.into_iter().map(|c| c.context) {
            if !rule.required_checks.contains(&name) {
                rule.required_checks.push(name);
            }
        }
    }
    if let Some(r) = b.required_pull_request_reviews {
        rule.require_reviews = true;
        rule.dismiss_stale = r.dismiss_stale_reviews;
        rule.required_approvals = r.required_approving_review_count.unwrap_or(1);
        rule.bypass_users = r.bypass_pull_request_allowances.map(|a| a.users).unwrap_or_default();
    }
    if let Some(r) = b.restrictions {
        rule.restrict_pushes = true;
        rule.push_users = r.users;
    }
    crate::web::pulls::keep_rule(&state, access.repo.id, rule).await?;
    let (id, pattern) = (access.repo.id, branch.clone());
    let kept = state
        .db
        .read(move |c| protections::by_pattern(c, id, &pattern))
        .await?
        .ok_or(Error::NotFound)?;
    let (_, api) = super::repo_urls(&state, &headers, &access.repo);
    Ok(Json(protection_json(&api, &branch, &kept)))
}

async fn delete_protection(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path(BranchPath { branch }): Path<BranchPath>,
) -> Result<StatusCode> {
    let id = access.repo.id;
    match state.db.write(move |tx| protections::delete(tx, id, &branch)).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(Error::NotFound),
    }
}
