//! Workflows, their runs and jobs, check runs, deployments and releases.

use serde_json::{Value, json};

use super::repos::repository_lite;
use super::site::*;
use crate::db;
use crate::db::repos::Repo;
use crate::state::{Conclusion, Deployment, Status};
use crate::time::rfc3339;

/// A workflow file (`workflow`).
pub fn workflow(site: &Site, repo: &Repo, path: &str, name: &str, created_at: i64) -> Value {
    let id = workflow_id(repo, path);
    let file = path.rsplit('/').next().unwrap_or(path);
    json!({
        "id": id,
        "node_id": node_id("W", id),
        "name": name,
        "path": path,
        "state": "active",
        "created_at": rfc3339(created_at),
        "updated_at": rfc3339(created_at),
        "url": format!("{}/actions/workflows/{id}", site.api(repo)),
        "html_url": format!("{}/blob/{}/{path}", site.html(repo), repo.default_branch),
        "badge_url": format!("{}/workflows/{file}/badge.svg", site.html(repo)),
    })
}

/// The webhook spelling of a conclusion: GitHub's jobs end in one of four.
fn job_conclusion(c: Option<Conclusion>) -> Option<&'static str> {
    c.map(|c| match c {
        Conclusion::TimedOut => "failure",
        other => other.as_str(),
    })
}

/// A run's commit, as its `head_commit` (`commit-simple`).
pub struct HeadCommit {
    pub id: String,
    pub tree_id: String,
    pub message: String,
    pub timestamp: i64,
    pub author: Value,
    pub committer: Value,
}

/// What a run's shape needs beside its row.
pub struct RunParts<'a> {
    pub run: &'a db::runs::Run,
    pub actor: Value,
    pub head_commit: Option<&'a HeadCommit>,
    pub started_at: Option<i64>,
}

/// A workflow run (`workflow-run`). `status` overrides the stored one for
/// an announcement made after the run moved on.
pub fn workflow_run(site: &Site, repo: &Repo, parts: &RunParts, owner: &Value, status: Option<&str>) -> Value {
    let r = parts.run;
    let (html, api) = (site.html(repo), site.api(repo));
    let url = format!("{api}/actions/runs/{}", r.id);
    let workflow = workflow_id(repo, &r.workflow);
    let lite = repository_lite(site, repo, owner);
    let status = status.unwrap_or(r.status.as_str());
    let completed = status == Status::Completed.as_str();
    let head_commit = parts.head_commit.map(|c| {
        json!({
            "id": c.id, "tree_id": c.tree_id, "message": c.message, "timestamp": rfc3339(c.timestamp),
            "author": c.author, "committer": c.committer,
        })
    });
    json!({
        "id": r.id,
        "name": r.name,
        "node_id": node_id("WFR", r.id.0),
        "head_branch": r.head_branch,
        "head_sha": r.head_sha,
        "path": r.workflow,
        "display_title": r.name,
        "run_number": r.run_number,
        "event": r.event,
        "status": status,
        "conclusion": if completed { r.conclusion.map(|c| c.as_str()) } else { None },
        "workflow_id": workflow,
        "check_suite_id": r.id,
        "check_suite_node_id": node_id("CS", r.id.0),
        "url": url,
        "html_url": format!("{html}/runs/{}", r.run_number),
        "pull_requests": [],
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
        "actor": parts.actor,
        "triggering_actor": parts.actor,
        "run_attempt": 1,
        "referenced_workflows": [],
        "run_started_at": rfc3339(parts.started_at.unwrap_or(r.created_at)),
        "jobs_url": format!("{url}/jobs"),
        "logs_url": format!("{url}/logs"),
        "check_suite_url": format!("{api}/check-suites/{}", r.id),
        "artifacts_url": format!("{url}/artifacts"),
        "cancel_url": format!("{url}/cancel"),
        "rerun_url": format!("{url}/rerun"),
        "previous_attempt_url": null,
        "workflow_url": format!("{api}/actions/workflows/{workflow}"),
        "head_commit": head_commit,
        "repository": lite,
        "head_repository": lite,
    })
}

/// A run as a deployment names it (`deployment-workflow-run`).
pub fn deployment_workflow_run(site: &Site, repo: &Repo, parts: &RunParts) -> Value {
    let r = parts.run;
    let completed = r.status == Status::Completed;
    json!({
        "id": r.id,
        "name": r.name,
        "node_id": node_id("WFR", r.id.0),
        "path": r.workflow,
        "display_title": r.name,
        "head_branch": r.head_branch,
        "head_sha": r.head_sha,
        "run_number": r.run_number,
        "event": r.event,
        "status": if r.status == Status::Waiting { "queued" } else { r.status.as_str() },
        "conclusion": if completed { r.conclusion.map(|c| if c == Conclusion::Skipped { "neutral" } else { c.as_str() }) } else { None },
        "workflow_id": workflow_id(repo, &r.workflow),
        "check_suite_id": r.id,
        "check_suite_node_id": node_id("CS", r.id.0),
        "url": format!("{}/actions/runs/{}", site.api(repo), r.id),
        "html_url": format!("{}/runs/{}", site.html(repo), r.run_number),
        "pull_requests": [],
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
        "actor": parts.actor,
        "triggering_actor": parts.actor,
        "run_attempt": 1,
        "run_started_at": rfc3339(parts.started_at.unwrap_or(r.created_at)),
    })
}

fn step(s: &db::runs::Step, job_status: Status) -> Value {
    // A finished job's steps are finished: those not run were skipped.
    let status = if job_status == Status::Completed {
        Status::Completed
    } else {
        s.status
    };
    match status {
        Status::Completed => json!({
            "name": s.name, "status": "completed", "number": s.number,
            "conclusion": job_conclusion(s.conclusion).unwrap_or("skipped"),
            "started_at": rfc3339(s.started_at.or(s.completed_at).unwrap_or(0)),
            "completed_at": rfc3339(s.completed_at.or(s.started_at).unwrap_or(0)),
        }),
        Status::InProgress => json!({
            "name": s.name, "status": "in_progress", "number": s.number, "conclusion": null,
            "started_at": rfc3339(s.started_at.unwrap_or(0)), "completed_at": null,
        }),
        _ => json!({
            "name": s.name, "status": "queued", "number": s.number, "conclusion": null,
            "started_at": null, "completed_at": null,
        }),
    }
}

/// A job (`workflow-job`). `status` overrides the stored one, as for runs.
pub fn workflow_job(
    site: &Site,
    repo: &Repo,
    run: &db::runs::Run,
    job: &db::runs::Job,
    steps: &[db::runs::Step],
    status: Option<Status>,
) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    let status = status.unwrap_or(job.status);
    let completed = status == Status::Completed;
    let steps: Vec<Value> = steps.iter().map(|s| step(s, status)).collect();
    json!({
        "id": job.id,
        "run_id": run.id,
        "run_url": format!("{api}/actions/runs/{}", run.id),
        "run_attempt": 1,
        "node_id": node_id("CR", job.id.0),
        "head_sha": run.head_sha,
        "head_branch": run.head_branch,
        "workflow_name": run.name,
        "url": format!("{api}/actions/jobs/{}", job.id),
        "html_url": format!("{html}/runs/{}/jobs/{}", run.run_number, job.id),
        "check_run_url": format!("{api}/check-runs/{}", job.id),
        "status": if status == Status::Waiting { "waiting" } else { status.as_str() },
        "conclusion": if completed { job_conclusion(job.conclusion) } else { None },
        "created_at": rfc3339(run.created_at),
        "started_at": rfc3339(job.started_at.unwrap_or(run.created_at)),
        "completed_at": if completed { job.completed_at.map(rfc3339) } else { None },
        "name": job.name,
        "steps": steps,
        "labels": ["self-hosted", "linux", "x64"],
        "runner_id": if status == Status::Queued { Value::Null } else { json!(1) },
        "runner_name": if status == Status::Queued { Value::Null } else { json!("hearth") },
        "runner_group_id": if status == Status::Queued { Value::Null } else { json!(1) },
        "runner_group_name": if status == Status::Queued { Value::Null } else { json!("Default") },
    })
}

/// A deployment state as GitHub names it.
pub fn deployment_state(state: Deployment) -> &'static str {
    match state {
        Deployment::RolledBack | Deployment::Rejected => "failure",
        Deployment::Cancelled => "error",
        other => other.as_str(),
    }
}

pub fn deployment(
    site: &Site,
    repo: &Repo,
    d: &db::environments::DeploymentRow,
    creator: &Value,
    artifacts: &[(String, String)],
    production: bool,
) -> Value {
    let api = site.api(repo);
    let url = format!("{api}/deployments/{}", d.id);
    json!({
        "url": url,
        "id": d.id,
        "node_id": node_id("DE", d.id.0),
        "sha": d.sha,
        "ref": d.ref_name,
        "task": "deploy",
        // What it deployed: the run's artifacts, by digest.
        "payload": { "artifacts": artifacts.iter().map(|(name, sha)| json!({ "name": name, "sha256": sha })).collect::<Vec<_>>() },
        "original_environment": d.environment,
        "environment": d.environment,
        "transient_environment": false,
        "production_environment": production,
        "description": null,
        "creator": creator,
        "created_at": rfc3339(d.created_at),
        "updated_at": rfc3339(d.updated_at),
        "statuses_url": format!("{url}/statuses"),
        "repository_url": api,
        "performed_via_github_app": null,
    })
}

pub fn deployment_status(
    site: &Site,
    repo: &Repo,
    d: &db::environments::DeploymentRow,
    s: &db::environments::Status,
    creator: &Value,
    log_url: Option<String>,
) -> Value {
    let api = site.api(repo);
    let url = format!("{api}/deployments/{}", d.id);
    json!({
        "url": format!("{url}/statuses/{}", s.id),
        "id": s.id,
        "node_id": node_id("DES", s.id),
        "state": deployment_state(s.state),
        "creator": creator,
        "description": s.description,
        "environment": d.environment,
        "environment_url": d.url.clone().unwrap_or_default(),
        "target_url": log_url.clone().unwrap_or_default(),
        "log_url": log_url.unwrap_or_default(),
        "created_at": rfc3339(s.created_at),
        "updated_at": rfc3339(s.created_at),
        "deployment_url": url,
        "repository_url": api,
        "performed_via_github_app": null,
    })
}

pub fn release_asset(site: &Site, repo: &Repo, tag: &str, a: &db::releases::Asset, uploader: Option<&Value>) -> Value {
    let enc = url_encode;
    let mut out = json!({
        "url": format!("{}/releases/assets/{}", site.api(repo), a.id),
        "browser_download_url": format!("{}/releases/download/{}/{}", site.html(repo), enc(tag), enc(&a.name)),
        "id": a.id.0,
        "node_id": node_id("RA", a.id.0),
        "name": a.name,
        "label": a.label,
        "state": "uploaded",
        "content_type": a.content_type,
        "size": a.size,
        "download_count": a.download_count,
        "created_at": rfc3339(a.created_at),
        "updated_at": rfc3339(a.created_at),
    });
    if let Some(u) = uploader {
        out["uploader"] = u.clone();
    }
    out
}

pub fn release(
    site: &Site,
    repo: &Repo,
    r: &db::releases::Release,
    assets: &[db::releases::Asset],
    people: &People,
) -> Value {
    let api = site.api(repo);
    let tag = url_encode(&r.tag_name);
    let url = format!("{api}/releases/{}", r.id);
    let author = people.user(site, r.author.as_deref().unwrap_or(&repo.owner));
    json!({
        "url": url,
        "html_url": format!("{}/releases/tag/{tag}", site.html(repo)),
        "assets_url": format!("{url}/assets"),
        "upload_url": format!("{url}/assets{{?name,label}}"),
        "tarball_url": format!("{api}/tarball/{tag}"),
        "zipball_url": format!("{api}/zipball/{tag}"),
        "id": r.id.0,
        "node_id": node_id("RE", r.id.0),
        "tag_name": r.tag_name,
        "target_commitish": r.target_commitish,
        "name": r.name,
        "body": r.body,
        "draft": r.draft,
        "prerelease": r.prerelease,
        "created_at": rfc3339(r.created_at),
        "published_at": r.published_at.map(rfc3339),
        "author": author,
        "assets": assets.iter().map(|a| release_asset(site, repo, &r.tag_name, a, a.uploader.as_deref().map(|u| people.user(site, u)).as_ref())).collect::<Vec<_>>(),
        "reactions": reactions(&url),
    })
}

/// One of Hearth's jobs as a check run (GitHub's `check-run`).
pub fn check_run(site: &Site, repo: &Repo, run: &db::runs::Run, job: &db::runs::Job, annotations: usize) -> Value {
    let (html, api) = (site.html(repo), site.api(repo));
    let url = format!("{api}/check-runs/{}", job.id);
    let completed = job.status == Status::Completed;
    let details = format!("{html}/runs/{}/jobs/{}", run.run_number, job.id);
    json!({
        "id": job.id,
        "head_sha": run.head_sha,
        "node_id": node_id("CR", job.id.0),
        "external_id": job.key,
        "url": url,
        "html_url": details,
        "details_url": details,
        "status": match job.status { Status::Completed => "completed", Status::InProgress => "in_progress", Status::Waiting => "waiting", Status::Queued => "queued" },
        "conclusion": if completed { job.conclusion.map(|c| c.as_str()) } else { None },
        "started_at": job.started_at.map(rfc3339),
        "completed_at": if completed { job.completed_at.map(rfc3339) } else { None },
        "output": {
            "title": job.conclusion.map(|c| format!("{}: {}", job.name, c.as_str())),
            "summary": null,
            "text": null,
            "annotations_count": annotations,
            "annotations_url": format!("{url}/annotations"),
        },
        "name": job.name,
        "check_suite": { "id": run.id },
        "app": { "id": 1, "slug": "hearth", "name": "Hearth", "owner": null },
        "pull_requests": [],
    })
}
