//! Commit statuses from outside systems and the checks of a commit, in
//! GitHub's shapes: `POST …/statuses/{sha}`, `GET …/commits/{ref}/statuses`,
//! the combined `GET …/commits/{ref}/status`, and Hearth's own jobs as
//! `GET …/commits/{ref}/check-runs`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Page;
use super::doc::Api;
use crate::db;
use crate::db::statuses::{self as stored, State as Said};
use crate::error::{Error, Result};
use crate::github::{self, People, RepoFacts, Site};
use crate::web::AppState;
use crate::web::access::{Read, RepoAccess, Write};
use crate::web::auth::SignedIn;
use crate::web::repos::site;

pub fn routes() -> Api {
    Api::new("statuses")
        .post(
            "/api/v1/repos/{owner}/{repo}/statuses/{sha}",
            "Set a commit's status for a context",
            create,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/statuses/{sha}",
            "List a commit's statuses",
            list,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/commits/{ref}/statuses",
            "List a commit's statuses",
            list,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/commits/{ref}/status",
            "Get a commit's combined status",
            combined,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/commits/{ref}/check-runs",
            "List Hearth's jobs of a commit as check runs",
            check_runs,
        )
}

/// The longest description GitHub keeps.
const MAX_DESCRIPTION: usize = 140;
/// The longest context.
const MAX_CONTEXT: usize = 255;

#[derive(Deserialize)]
struct Body {
    state: Option<String>,
    target_url: Option<String>,
    description: Option<String>,
    context: Option<String>,
}

/// The commit `name` names in the repository at `path`: a full or
/// abbreviated id, a branch or a tag.
async fn commit_of(path: &std::path::Path, name: String) -> Result<String> {
    let path = path.to_path_buf();
    crate::error::blocking("reading a commit", move || {
        let repo = crate::git::open(&path)?;
        let refs = crate::git::read::refs(&repo)?;
        match crate::git::read::resolve(&repo, &refs, &name)? {
            Some(r) => Ok(r.commit.to_string()),
            None => Err(Error::Unprocessable(format!("no commit found for {name:?}"))),
        }
    })
    .await?
}

fn status_json(site: &Site, repo: &db::repos::Repo, s: &stored::Status, people: &People) -> Value {
    let creator = people.user(site, s.creator.as_deref().unwrap_or(&repo.owner));
    json!({
        "url": format!("{}/statuses/{}", site.api(repo), s.sha),
        "avatar_url": creator["avatar_url"],
        "id": s.id,
        "node_id": github::node_id("SC", s.id),
        "state": s.state.as_str(),
        "description": s.description,
        "target_url": s.target_url,
        "context": s.context,
        "created_at": crate::time::rfc3339(s.created_at),
        "updated_at": crate::time::rfc3339(s.created_at),
        "creator": creator,
    })
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(user): SignedIn,
    access: RepoAccess<Write>,
    Path((_, _, sha)): Path<(String, String, String)>,
    Json(body): Json<Body>,
) -> Result<Response> {
    let said = body.state.as_deref().unwrap_or("");
    let Some(said) = Said::parse(said) else {
        return Err(Error::Unprocessable(format!(
            "state must be one of error, failure, pending or success, not {said:?}"
        )));
    };
    let context = body.context.unwrap_or_else(|| "default".into()).trim().to_string();
    if context.is_empty() || context.len() > MAX_CONTEXT || context.chars().any(char::is_control) {
        return Err(Error::Unprocessable(format!(
            "context must be 1 to {MAX_CONTEXT} characters without control characters"
        )));
    }
    let description = body.description.filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
    {
        return Err(Error::Unprocessable(format!(
            "description must be at most {MAX_DESCRIPTION} characters"
        )));
    }
    let target_url = body.target_url.filter(|u| !u.is_empty());
    if let Some(u) = &target_url
        && (!(u.starts_with("http://") || u.starts_with("https://")) || u.len() > 2048)
    {
        return Err(Error::Unprocessable(
            "target_url must be an http:// or https:// URL of at most 2048 characters".into(),
        ));
    }
    if !(sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(Error::Unprocessable(format!(
            "{sha:?} is not a full commit id (40 hex digits)"
        )));
    }
    let sha = commit_of(&access.path, sha.to_ascii_lowercase()).await?;
    let (repo, creator) = (access.repo.clone(), user.id);
    let saved = state
        .db
        .write(move |tx| {
            let new = stored::New {
                sha: &sha,
                state: said,
                context: &context,
                description: description.as_deref(),
                target_url: target_url.as_deref(),
                creator,
            };
            stored::insert(tx, repo.id, &new)?.ok_or_else(|| {
                Error::Unprocessable(format!(
                    "this commit has {} statuses, the most one may have",
                    stored::MAX_PER_COMMIT
                ))
            })
        })
        .await?;
    let mut people = People::default();
    people.add(&user);
    let site = site(&state, &headers);
    Ok((
        StatusCode::CREATED,
        Json(status_json(&site, &access.repo, &saved, &people)),
    )
        .into_response())
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Path((_, _, name)): Path<(String, String, String)>,
    Query(page): Query<Page>,
) -> Result<super::Paged> {
    let (skip, take) = page.window()?;
    let sha = commit_of(&access.path, name).await?;
    let repo = access.repo.clone();
    let (list, people) = state
        .db
        .read(move |c| {
            let list = stored::of_commit(c, repo.id, &sha, take as u32 + 1, skip as u32)?;
            let people = People::load(
                c,
                list.iter()
                    .filter_map(|s| s.creator.as_deref())
                    .chain([repo.owner.as_str()]),
            )?;
            Ok((list, people))
        })
        .await?;
    let site = site(&state, &headers);
    page.trimmed(
        list.iter()
            .map(|s| status_json(&site, &access.repo, s, &people))
            .collect(),
        site.base(),
        &uri,
    )
}

async fn combined(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, name)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    let sha = commit_of(&access.path, name).await?;
    let (repo, at) = (access.repo.clone(), sha.clone());
    let site = site(&state, &headers);
    let s = site.clone();
    let (latest, people, repository) = state
        .db
        .read(move |c| {
            let latest = stored::latest(c, repo.id, &at)?;
            let people = People::load(
                c,
                latest
                    .iter()
                    .filter_map(|s| s.creator.as_deref())
                    .chain([repo.owner.as_str()]),
            )?;
            let owner = people.user(&s, &repo.owner);
            let repository = github::repository(&s, &repo, &owner, &RepoFacts::load(c, &repo)?);
            Ok((latest, people, repository))
        })
        .await?;
    let state_word = Said::combine(latest.iter().map(|s| s.state));
    let api = site.api(&access.repo);
    Ok(Json(json!({
        "state": state_word.as_str(),
        "statuses": latest.iter().map(|s| status_json(&site, &access.repo, s, &people)).collect::<Vec<_>>(),
        "sha": sha,
        "total_count": latest.len(),
        "repository": repository,
        "commit_url": format!("{api}/commits/{sha}"),
        "url": format!("{api}/commits/{sha}/status"),
    })))
}

async fn check_runs(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Path((_, _, name)): Path<(String, String, String)>,
    Query(page): Query<Page>,
) -> Result<axum::response::Response> {
    let (skip, take) = page.window()?;
    let sha = commit_of(&access.path, name).await?;
    let repo = access.repo.clone();
    let jobs = state
        .db
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT r.id, j.id FROM jobs j JOIN runs r ON r.id = j.run_id
                 WHERE r.repo_id = ?1 AND (r.head_sha = ?2 OR r.pull_head_sha = ?2) ORDER BY j.id DESC",
            )?;
            let ids: Vec<(crate::ids::RunId, crate::ids::JobId)> = stmt
                .query_map(rusqlite::params![repo.id.0, sha], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let total = ids.len();
            let mut out = Vec::new();
            // A run's annotations are read once for all of its jobs.
            let mut annotated: std::collections::HashMap<crate::ids::RunId, Vec<db::annotations::Stored>> =
                std::collections::HashMap::new();
            for (run, job) in ids.into_iter().skip(skip).take(take) {
                let (Some(run), Some(job)) = (db::runs::by_id(c, repo.id, run)?, db::runs::job(c, job)?) else {
                    continue;
                };
                if let std::collections::hash_map::Entry::Vacant(e) = annotated.entry(run.id) {
                    e.insert(db::annotations::for_run(c, run.id)?);
                }
                let annotations = annotated[&run.id].iter().filter(|a| a.job_id == job.id).count();
                out.push((run, job, annotations));
            }
            Ok((total, out))
        })
        .await?;
    let site = site(&state, &headers);
    let (total, jobs) = jobs;
    let body = Json(json!({
        "total_count": total,
        "check_runs": jobs.iter().map(|(run, job, annotations)| github::check_run(&site, &access.repo, run, job, *annotations)).collect::<Vec<_>>(),
    }));
    let link = page.links(site.base(), &uri, skip + jobs.len() < total, Some(total));
    Ok(super::with_link(body.into_response(), link))
}
