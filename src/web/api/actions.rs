//! The CI API in GitHub's shapes: runs, their jobs and steps, and job logs.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Page;
use super::doc::Api;
use crate::db::repos::Repo;
use crate::db::runs::{self, Job, JobId, Run, RunId, Step};
use crate::error::{Error, Result};
use crate::github::{self, Site};
use crate::web::access::{Read, RepoAccess, Write};
use crate::web::repos::clone_url;
use crate::web::{AppState, rfc3339};

pub fn routes() -> Api {
    Api::new("actions")
        .get(
            "/api/v1/repos/{owner}/{repo}/actions/runs",
            "List the runs (branch, workflow, status, event)",
            list,
        )
        .get("/api/v1/repos/{owner}/{repo}/actions/runs/{run}", "Get a run", one)
        .get(
            "/api/v1/repos/{owner}/{repo}/actions/runs/{run}/jobs",
            "List a run's jobs and their steps",
            jobs,
        )
        .get("/api/v1/repos/{owner}/{repo}/actions/jobs/{job}", "Get a job", one_job)
        .get(
            "/api/v1/repos/{owner}/{repo}/actions/jobs/{job}/logs",
            "Download a job's log, as far as it has come",
            logs,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/actions/workflows",
            "List the workflows of the default branch",
            workflows,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/actions/workflows/{file}",
            "Get a workflow by id or file name",
            workflow,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/actions/workflows/{file}/runs",
            "List a workflow's runs",
            workflow_runs,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/actions/workflows/{file}/dispatches",
            "Start a workflow_dispatch run",
            dispatch,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/actions/runs/{run}/artifacts",
            "List a run's artifacts",
            artifacts,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/actions/runs/{run}/test-reports",
            "A run's test reports (JUnit): totals and failed tests",
            test_reports,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/actions/runs/{run}/cancel",
            "Cancel a run",
            cancel,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/actions/runs/{run}/rerun",
            "Run a run again",
            rerun,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/actions/runs/{run}/rerun-failed-jobs",
            "Run a run's failed jobs again",
            rerun_failed,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/actions/secrets",
            "List the repository's secret names",
            secrets,
        )
        .put(
            "/api/v1/repos/{owner}/{repo}/actions/secrets/{name}",
            "Create or replace a secret",
            put_secret,
        )
        .delete(
            "/api/v1/repos/{owner}/{repo}/actions/secrets/{name}",
            "Delete a secret",
            delete_secret,
        )
}

/// Runs in GitHub's shape, with Hearth's `error` (why a run failed before
/// any job ran).
fn runs_json(
    state: &AppState,
    headers: &HeaderMap,
    conn: &rusqlite::Connection,
    repo: &Repo,
    list: &[Run],
) -> Result<Vec<Value>> {
    let site = crate::web::repos::site(state, headers);
    let path = state.config.data_dir.repo(&repo.owner, &repo.name);
    let mut out = crate::hooks::payload::rest_runs(conn, &site, repo, &path, list)?;
    for (json, r) in out.iter_mut().zip(list) {
        json["error"] = json!(r.error);
    }
    Ok(out)
}

/// A job in GitHub's shape, with Hearth's `key` (its id under `jobs:`),
/// `needs`, each step's `exit_code`, and its own conclusion (`timed_out`
/// too).
fn job_json(site: &Site, repo: &Repo, run: &Run, j: &Job, steps: &[Step]) -> Value {
    let mut json = github::workflow_job(site, repo, run, j, steps, None);
    json["key"] = json!(j.key);
    json["needs"] = json!(j.needs);
    if j.status == crate::state::Status::Completed {
        json["conclusion"] = json!(j.conclusion);
    }
    if let Some(out) = json["steps"].as_array_mut() {
        for (out, s) in out.iter_mut().zip(steps) {
            out["exit_code"] = json!(s.exit_code);
        }
    }
    json
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Query(page): Query<Page>,
    Query(filter): Query<runs::Filter>,
) -> Result<Response> {
    runs_page(&state, &headers, &uri, &access.repo, &page, filter).await
}

/// One page of `repo`'s runs that `filter` keeps, as GitHub lists them.
async fn runs_page(
    state: &AppState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    repo: &Repo,
    page: &Page,
    filter: runs::Filter,
) -> Result<Response> {
    let (skip, take) = page.window()?;
    let (st, h, r) = (state.clone(), headers.clone(), repo.clone());
    let (items, total) = state
        .db
        .read(move |c| {
            let (list, total) = runs::list(c, r.id, &filter, take as u32, skip as u32)?;
            Ok((runs_json(&st, &h, c, &r, &list)?, total))
        })
        .await?;
    let total = total.max(0) as usize;
    let link = page.links(
        crate::web::repos::site(state, headers).base(),
        uri,
        skip + items.len() < total,
        Some(total),
    );
    let body = json!({ "total_count": total, "workflow_runs": items });
    Ok(super::with_link(Json(body).into_response(), link))
}

async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, run)): Path<(String, String, RunId)>,
) -> Result<Json<Value>> {
    let (st, repo) = (state.clone(), access.repo.clone());
    let json = state
        .db
        .read(move |c| {
            let r = runs::by_id(c, repo.id, run)?.ok_or(Error::NotFound)?;
            Ok(runs_json(&st, &headers, c, &repo, std::slice::from_ref(&r))?.remove(0))
        })
        .await?;
    Ok(Json(json))
}

async fn jobs(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, run)): Path<(String, String, RunId)>,
) -> Result<Json<Value>> {
    let (site, repo) = (crate::web::repos::site(&state, &headers), access.repo.clone());
    let list = state
        .db
        .read(move |c| {
            let r = runs::by_id(c, repo.id, run)?.ok_or(Error::NotFound)?;
            let mut out = Vec::new();
            for j in runs::jobs(c, r.id)? {
                let steps = runs::steps(c, j.id)?;
                out.push(job_json(&site, &repo, &r, &j, &steps));
            }
            Ok(out)
        })
        .await?;
    Ok(Json(json!({ "total_count": list.len(), "jobs": list })))
}

/// `GET …/actions/jobs/{id}`.
async fn one_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, job)): Path<(String, String, JobId)>,
) -> Result<Json<Value>> {
    let (site, repo) = (crate::web::repos::site(&state, &headers), access.repo.clone());
    let json = state
        .db
        .read(move |c| {
            let j = runs::job(c, job)?.ok_or(Error::NotFound)?;
            // The job must belong to this repository.
            let r = runs::by_id(c, repo.id, j.run_id)?.ok_or(Error::NotFound)?;
            let steps = runs::steps(c, j.id)?;
            Ok(job_json(&site, &repo, &r, &j, &steps))
        })
        .await?;
    Ok(Json(json))
}

/// The workflows of the default branch, each as GitHub's `workflow`: the
/// name its file gives (else its path), and its first run as its birth.
async fn workflows_of(
    state: &AppState,
    headers: &HeaderMap,
    access: &RepoAccess<Read>,
) -> Result<Vec<(String, Value)>> {
    let default_branch = access.repo.default_branch.clone();
    let files = crate::web::code::with_repo(state, access, move |repo, refs| {
        let Some(tip) = crate::web::code::default_ref(refs, &default_branch) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (path, text) in crate::ci::trigger::workflow_files(repo, tip.commit)? {
            let name = text
                .ok()
                .and_then(|t| crate::ci::workflow::parse(&path, &t).ok())
                .and_then(|w| w.name);
            out.push((path, name));
        }
        Ok(out)
    })
    .await?;
    let (site, repo) = (crate::web::repos::site(state, headers), access.repo.clone());
    state
        .db
        .read(move |c| {
            let mut out = Vec::new();
            for (path, name) in files {
                let first: Option<i64> = c.query_row(
                    "SELECT MIN(created_at) FROM runs WHERE repo_id = ?1 AND workflow = ?2",
                    rusqlite::params![repo.id.0, path],
                    |r| r.get(0),
                )?;
                let name = name.unwrap_or_else(|| path.clone());
                let json = github::workflow(&site, &repo, &path, &name, first.unwrap_or(repo.created_at));
                out.push((path, json));
            }
            Ok(out)
        })
        .await
}

/// The workflow `id` names: its number, or its file name (`ci.yml`).
async fn workflow_named(
    state: &AppState,
    headers: &HeaderMap,
    access: &RepoAccess<Read>,
    id: &str,
) -> Result<(String, Value)> {
    workflows_of(state, headers, access)
        .await?
        .into_iter()
        .find(|(path, json)| {
            json["id"].as_i64().is_some_and(|n| n.to_string() == id)
                || path.rsplit('/').next() == Some(id)
                || path == id
        })
        .ok_or(Error::NotFound)
}

/// `GET …/actions/workflows`.
async fn workflows(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Query(page): Query<Page>,
) -> Result<Response> {
    let all: Vec<Value> = workflows_of(&state, &headers, &access)
        .await?
        .into_iter()
        .map(|(_, j)| j)
        .collect();
    let total = all.len();
    let paged = page.slice(all, crate::web::repos::site(&state, &headers).base(), &uri)?;
    let body = json!({ "total_count": total, "workflows": paged.items });
    Ok(super::with_link(Json(body).into_response(), paged.link))
}

/// `GET …/actions/workflows/{id}`.
async fn workflow(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, id)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    Ok(Json(workflow_named(&state, &headers, &access, &id).await?.1))
}

/// `GET …/actions/workflows/{id}/runs`.
async fn workflow_runs(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Path((_, _, id)): Path<(String, String, String)>,
    Query(page): Query<Page>,
    Query(mut filter): Query<runs::Filter>,
) -> Result<Response> {
    let (path, _) = workflow_named(&state, &headers, &access, &id).await?;
    filter.workflow = Some(path);
    runs_page(&state, &headers, &uri, &access.repo, &page, filter).await
}

/// The run's artifacts, with where to download each.
async fn artifacts(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, run)): Path<(String, String, RunId)>,
) -> Result<Json<Value>> {
    let id = access.repo.id;
    let (r, list) = state
        .db
        .read(move |c| {
            let r = runs::by_id(c, id, run)?.ok_or(Error::NotFound)?;
            let list = crate::db::artifacts::for_run(c, r.id)?;
            Ok((r, list))
        })
        .await?;
    let base = clone_url(&state, &headers, &access.repo);
    let base = base.trim_end_matches(".git");
    let items: Vec<Value> = list
        .iter()
        .map(|a| {
            json!({
                "id": a.id, "name": a.name, "size_in_bytes": a.size, "files": a.files,
                "created_at": rfc3339(a.created_at),
                "archive_download_url": format!("{base}/runs/{}/artifacts/{}", r.run_number, crate::web::auth::url_encode(&a.name)),
            })
        })
        .collect();
    Ok(Json(json!({ "total_count": items.len(), "artifacts": items })))
}

/// The job's log as text: what is there so far while it runs.
async fn logs(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    Path((_, _, job)): Path<(String, String, JobId)>,
) -> Result<Response> {
    let id = access.repo.id;
    let j = state
        .db
        .read(move |c| {
            let j = runs::job(c, job)?.ok_or(Error::NotFound)?;
            // The job must belong to this repository.
            runs::by_id(c, id, j.run_id)?.ok_or(Error::NotFound)?;
            Ok(j)
        })
        .await?;
    let text = match tokio::fs::read(state.config.data_dir.job_log(j.run_id, j.id)).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut response = text.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

async fn cancel(
    State(state): State<AppState>,
    access: RepoAccess<Write>,
    Path((_, _, run)): Path<(String, String, RunId)>,
) -> Result<(StatusCode, Json<Value>)> {
    let id = access.repo.id;
    let r = state
        .db
        .read(move |c| runs::by_id(c, id, run))
        .await?
        .ok_or(Error::NotFound)?;
    if !r.status.is_open() {
        return Err(Error::WrongState(format!(
            "run #{} has completed already",
            r.run_number
        )));
    }
    state.ci.cancel(r.id).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}

async fn rerun(
    state: State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Write>,
    path: Path<(String, String, RunId)>,
) -> Result<Response> {
    start_again(state, headers, access, path, false).await
}

async fn rerun_failed(
    state: State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Write>,
    path: Path<(String, String, RunId)>,
) -> Result<Response> {
    start_again(state, headers, access, path, true).await
}

async fn start_again(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Write>,
    Path((_, _, run)): Path<(String, String, RunId)>,
    only_failed: bool,
) -> Result<Response> {
    let id = access.repo.id;
    let new = state.ci.rerun(id, run, only_failed).await?;
    let (st, repo) = (state.clone(), access.repo.clone());
    let json = state
        .db
        .read(move |c| Ok(runs_json(&st, &headers, c, &repo, std::slice::from_ref(&new))?.remove(0)))
        .await?;
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

#[derive(serde::Deserialize)]
struct Dispatch {
    #[serde(rename = "ref")]
    rev: String,
    #[serde(default)]
    inputs: serde_json::Map<String, Value>,
}

/// `workflow_dispatch`: starts a workflow on a branch or tag by hand.
async fn dispatch(
    State(state): State<AppState>,
    access: RepoAccess<Write>,
    Path((_, _, file)): Path<(String, String, String)>,
    Json(body): Json<Dispatch>,
) -> Result<StatusCode> {
    let mut inputs = std::collections::BTreeMap::new();
    for (name, value) in body.inputs {
        let text = match value {
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(Error::invalid(format!(
                    "input {name}: a string, a number or true/false"
                )));
            }
        };
        inputs.insert(name, text);
    }
    crate::ci::trigger::dispatch(
        &state.db,
        &state.config.data_dir,
        &access.repo,
        &file,
        &body.rev,
        &inputs,
    )
    .await?;
    state.ci.wake();
    Ok(StatusCode::NO_CONTENT)
}

/// Secret names only: values are never given back.
async fn secrets(State(state): State<AppState>, access: RepoAccess<Write>) -> Result<Json<Value>> {
    let id = access.repo.id;
    let list = state.db.read(move |c| crate::db::secrets::all(c, id)).await?;
    let items: Vec<Value> = list
        .iter()
        .map(|s| json!({ "name": s.name, "updated_at": rfc3339(s.updated_at) }))
        .collect();
    Ok(Json(json!({ "total_count": items.len(), "secrets": items })))
}

#[derive(serde::Deserialize)]
struct SecretValue {
    value: String,
}

async fn put_secret(
    State(state): State<AppState>,
    access: RepoAccess<Write>,
    Path((_, _, name)): Path<(String, String, String)>,
    Json(body): Json<SecretValue>,
) -> Result<StatusCode> {
    let created = crate::ci::secrets::put(&state.db, &state.keys, access.repo.id, &name, &body.value).await?;
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    })
}

async fn delete_secret(
    State(state): State<AppState>,
    access: RepoAccess<Write>,
    Path((_, _, name)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    let id = access.repo.id;
    let name = name.to_ascii_uppercase();
    if state
        .db
        .write(move |tx| crate::db::secrets::delete(tx, id, &name))
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound)
    }
}

/// The test reports of a run's jobs (`uses: hearth/test-report`).
async fn test_reports(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    Path((_, _, run)): Path<(String, String, RunId)>,
) -> Result<Json<Value>> {
    let id = access.repo.id;
    let list = state
        .db
        .read(move |c| {
            let r = runs::by_id(c, id, run)?.ok_or(Error::NotFound)?;
            crate::db::test_reports::for_run(c, r.id)
        })
        .await?;
    let items: Vec<Value> = list
        .iter()
        .map(|t| {
            let s = &t.summary;
            json!({
                "job_id": t.job_id, "name": t.name, "kind": t.kind,
                "tests": s.tests, "failures": s.failures, "errors": s.errors, "skipped": s.skipped,
                "duration_ms": s.duration_ms,
                "failed": s.failed.iter().map(|f| json!({
                    "name": f.name, "classname": f.classname, "message": f.message, "output": f.output, "error": f.error,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "total_count": items.len(), "test_reports": items })))
}
