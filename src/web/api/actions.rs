//! The CI API in GitHub's shapes: runs, their jobs and steps, and job logs.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::db::repos::Repo;
use crate::db::runs::{self, Job, JobId, Run, RunId, Step};
use crate::error::{Error, Result};
use crate::web::access::{Read, RepoAccess, Write};
use crate::web::repos::clone_url;
use crate::web::{AppState, rfc3339};

use super::Page;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/repos/{owner}/{repo}/actions/runs", get(list))
        .route("/api/v1/repos/{owner}/{repo}/actions/runs/{run}", get(one))
        .route("/api/v1/repos/{owner}/{repo}/actions/runs/{run}/jobs", get(jobs))
        .route(
            "/api/v1/repos/{owner}/{repo}/actions/runs/{run}/artifacts",
            get(artifacts),
        )
        .route("/api/v1/repos/{owner}/{repo}/actions/jobs/{job}/logs", get(logs))
        .route(
            "/api/v1/repos/{owner}/{repo}/actions/runs/{run}/test-reports",
            get(test_reports),
        )
        .route("/api/v1/repos/{owner}/{repo}/actions/runs/{run}/cancel", post(cancel))
        .route(
            "/api/v1/repos/{owner}/{repo}/actions/workflows/{file}/dispatches",
            post(dispatch),
        )
        .route("/api/v1/repos/{owner}/{repo}/actions/secrets", get(secrets))
        .route(
            "/api/v1/repos/{owner}/{repo}/actions/secrets/{name}",
            axum::routing::put(put_secret).delete(delete_secret),
        )
        .route("/api/v1/repos/{owner}/{repo}/actions/runs/{run}/rerun", post(rerun))
        .route(
            "/api/v1/repos/{owner}/{repo}/actions/runs/{run}/rerun-failed-jobs",
            post(rerun_failed),
        )
}

fn run_json(html_base: &str, r: &Run) -> Value {
    json!({
        "id": r.id,
        "run_number": r.run_number,
        "name": r.name,
        "path": r.workflow,
        "event": r.event,
        "head_sha": r.head_sha,
        "head_branch": r.head_branch,
        "status": r.status,
        "conclusion": r.conclusion,
        "error": r.error,
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
        "html_url": format!("{html_base}/runs/{}", r.run_number),
    })
}

fn step_json(s: &Step) -> Value {
    json!({
        "number": s.number, "name": s.name, "status": s.status, "conclusion": s.conclusion,
        "exit_code": s.exit_code, "started_at": s.started_at.map(rfc3339), "completed_at": s.completed_at.map(rfc3339),
    })
}

fn job_json(j: &Job, steps: &[Step]) -> Value {
    json!({
        "id": j.id, "run_id": j.run_id, "name": j.name, "key": j.key, "needs": j.needs,
        "status": j.status, "conclusion": j.conclusion,
        "started_at": j.started_at.map(rfc3339), "completed_at": j.completed_at.map(rfc3339),
        "steps": steps.iter().map(step_json).collect::<Vec<_>>(),
    })
}

fn html_base(state: &AppState, headers: &HeaderMap, repo: &Repo) -> String {
    clone_url(state, headers, repo).trim_end_matches(".git").to_string()
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Query(page): Query<Page>,
    Query(filter): Query<runs::Filter>,
) -> Result<Response> {
    let (skip, take) = page.window()?;
    let id = access.repo.id;
    let (list, total) = state
        .db
        .read(move |c| runs::list(c, id, &filter, take as u32, skip as u32))
        .await?;
    let base = html_base(&state, &headers, &access.repo);
    let total = total.max(0) as usize;
    let link = page.links(
        crate::web::repos::site(&state, &headers).base(),
        &uri,
        skip + list.len() < total,
        Some(total),
    );
    let body =
        json!({ "total_count": total, "workflow_runs": list.iter().map(|r| run_json(&base, r)).collect::<Vec<_>>() });
    Ok(super::with_link(Json(body).into_response(), link))
}

async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, run)): Path<(String, String, RunId)>,
) -> Result<Json<Value>> {
    let id = access.repo.id;
    let r = state
        .db
        .read(move |c| runs::by_id(c, id, run))
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(run_json(&html_base(&state, &headers, &access.repo), &r)))
}

async fn jobs(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    Path((_, _, run)): Path<(String, String, RunId)>,
) -> Result<Json<Value>> {
    let id = access.repo.id;
    let list = state
        .db
        .read(move |c| {
            let r = runs::by_id(c, id, run)?.ok_or(Error::NotFound)?;
            let mut out = Vec::new();
            for j in runs::jobs(c, r.id)? {
                let steps = runs::steps(c, j.id)?;
                out.push(job_json(&j, &steps));
            }
            Ok(out)
        })
        .await?;
    Ok(Json(json!({ "total_count": list.len(), "jobs": list })))
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
    let base = html_base(&state, &headers, &access.repo);
    Ok((StatusCode::CREATED, Json(run_json(&base, &new))).into_response())
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
