//! Environments and deployments in GitHub's shapes: `/environments`
//! (with reviewers, wait timer and deployment branch policies),
//! `/deployments` with their statuses, and a run's
//! `/pending_deployments`, which reviewers approve or reject.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::doc::Api;
use super::{Page, repo_urls as base, user_json};
use crate::db::environments::{self, DeploymentId, DeploymentRow, Environment, EnvironmentId};
use crate::db::repos::Repo;
use crate::db::runs::{self, RunId};
use crate::db::users::User;
use crate::delivery as deploy;
use crate::error::{Error, Result};
use crate::web::access::{Admin, Read, RepoAccess, Write};
use crate::web::auth::SignedIn;
use crate::web::{AppState, rfc3339};

pub fn routes() -> Api {
    Api::new("deployments")
        .get("/api/v1/repos/{owner}/{repo}/environments", "List environments", list)
        .get(
            "/api/v1/repos/{owner}/{repo}/environments/{name}",
            "Get an environment and its protection rules",
            one,
        )
        .put(
            "/api/v1/repos/{owner}/{repo}/environments/{name}",
            "Create or change an environment (reviewers, wait timer, branches)",
            put,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/environments/{name}/deployment-branch-policies",
            "List the branches and tags that may deploy",
            policies,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/environments/{name}/deployment-branch-policies",
            "Let a branch or tag pattern deploy",
            add_policy,
        )
        .delete(
            "/api/v1/repos/{owner}/{repo}/environments/{name}/deployment-branch-policies/{id}",
            "Remove a branch policy",
            delete_policy,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/environments/{name}/secrets",
            "List an environment's secret names",
            env_secrets,
        )
        .put(
            "/api/v1/repos/{owner}/{repo}/environments/{name}/secrets/{secret}",
            "Create or replace an environment secret",
            put_env_secret,
        )
        .delete(
            "/api/v1/repos/{owner}/{repo}/environments/{name}/secrets/{secret}",
            "Delete an environment secret",
            delete_env_secret,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/environments/{name}/variables",
            "List an environment's variables",
            env_variables,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/environments/{name}/variables",
            "Create an environment variable",
            add_env_variable,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/environments/{name}/variables/{variable}",
            "Get an environment variable",
            env_variable,
        )
        .patch(
            "/api/v1/repos/{owner}/{repo}/environments/{name}/variables/{variable}",
            "Change an environment variable",
            update_env_variable,
        )
        .delete(
            "/api/v1/repos/{owner}/{repo}/environments/{name}/variables/{variable}",
            "Delete an environment variable",
            delete_env_variable,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/deployments",
            "List deployments (environment)",
            deployments,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/deployments/{id}",
            "Get a deployment",
            deployment,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/deployments/{id}/statuses",
            "List a deployment's statuses",
            statuses,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/deployments/{id}/redeploy",
            "Deploy a deployment's commit again (a rollback)",
            redeploy,
        )
        .get(
            "/api/v1/repos/{owner}/{repo}/actions/runs/{run}/pending_deployments",
            "List a run's deployments waiting for review",
            pending,
        )
        .post(
            "/api/v1/repos/{owner}/{repo}/actions/runs/{run}/pending_deployments",
            "Approve or reject waiting deployments",
            review,
        )
}

fn environment_json((html, api): &(String, String), e: &Environment, reviewers: &[User], policies: usize) -> Value {
    let name = crate::web::auth::url_encode(&e.name);
    let mut rules = Vec::new();
    if e.wait_timer > 0 {
        rules.push(json!({ "id": e.id.0 * 10 + 1, "type": "wait_timer", "wait_timer": e.wait_timer }));
    }
    if !reviewers.is_empty() {
        rules.push(json!({
            "id": e.id.0 * 10 + 2, "type": "required_reviewers", "prevent_self_review": false,
            "reviewers": reviewers.iter().map(|u| json!({ "type": "User", "reviewer": user_json(u) })).collect::<Vec<_>>(),
        }));
    }
    if policies > 0 {
        rules.push(json!({ "id": e.id.0 * 10 + 3, "type": "branch_policy" }));
    }
    json!({
        "id": e.id,
        "name": e.name,
        "url": format!("{api}/environments/{name}"),
        "html_url": format!("{html}/environments"),
        "created_at": rfc3339(e.created_at),
        "updated_at": rfc3339(e.updated_at),
        "protection_rules": rules,
        "deployment_branch_policy": (policies > 0).then(|| json!({ "protected_branches": false, "custom_branch_policies": true })),
    })
}

fn deployment_json((html, api): &(String, String), d: &Deployed, run_number: Option<i64>) -> Value {
    let (d, artifacts) = (&d.0, &d.1);
    json!({
        "id": d.id,
        "url": format!("{api}/deployments/{}", d.id),
        "statuses_url": format!("{api}/deployments/{}/statuses", d.id),
        "sha": d.sha,
        "ref": d.ref_name,
        "task": "deploy",
        // What it deployed: the run's artifacts, by digest.
        "payload": { "artifacts": artifacts.iter().map(|(name, sha)| json!({ "name": name, "sha256": sha })).collect::<Vec<_>>() },
        "environment": d.environment,
        "original_environment": d.environment,
        "description": null,
        "state": d.state,
        "environment_url": d.url,
        "run_id": d.run_id,
        "job_id": d.job_id,
        "log_url": run_number.map(|n| format!("{html}/runs/{n}/jobs/{}", d.job_id)),
        "rollback_of": d.rollback_of,
        "transient_environment": false,
        "production_environment": false,
        "created_at": rfc3339(d.created_at),
        "updated_at": rfc3339(d.updated_at),
    })
}

async fn environment_of(state: &AppState, repo: &Repo, name: String) -> Result<(Environment, Vec<User>, usize)> {
    let id = repo.id;
    state
        .db
        .read(move |c| {
            let e = environments::by_name(c, id, &name)?.ok_or(Error::NotFound)?;
            let reviewers = environments::reviewers(c, e.id)?;
            let policies = environments::branch_policies(c, e.id)?.len();
            Ok((e, reviewers, policies))
        })
        .await
}

async fn list(State(state): State<AppState>, headers: HeaderMap, access: RepoAccess<Read>) -> Result<Json<Value>> {
    let id = access.repo.id;
    let all = state
        .db
        .read(move |c| {
            let mut out = Vec::new();
            for e in environments::list(c, id)? {
                let reviewers = environments::reviewers(c, e.id)?;
                let policies = environments::branch_policies(c, e.id)?.len();
                out.push((e, reviewers, policies));
            }
            Ok(out)
        })
        .await?;
    let base = base(&state, &headers, &access.repo);
    let items: Vec<Value> = all.iter().map(|(e, r, p)| environment_json(&base, e, r, *p)).collect();
    Ok(Json(json!({ "total_count": items.len(), "environments": items })))
}

async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, name)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    let (e, reviewers, policies) = environment_of(&state, &access.repo, name).await?;
    Ok(Json(environment_json(
        &base(&state, &headers, &access.repo),
        &e,
        &reviewers,
        policies,
    )))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EnvironmentBody {
    wait_timer: Option<i64>,
    #[serde(default)]
    prevent_self_review: Option<bool>,
    reviewers: Option<Vec<ReviewerRef>>,
    #[serde(default)]
    deployment_branch_policy: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewerRef {
    #[serde(rename = "type")]
    kind: String,
    id: i64,
}

/// Creates or updates an environment (admins): its wait timer (0 to
/// 43,200 minutes, as GitHub allows) and up to six reviewers, each an
/// account that can write to the repository.
async fn put(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Admin>,
    Path((_, _, name)): Path<(String, String, String)>,
    body: Option<Json<EnvironmentBody>>,
) -> Result<Json<Value>> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let name = deploy::check_name(&name)?;
    if let Some(t) = body.wait_timer
        && !(0..=deploy::MAX_WAIT_TIMER).contains(&t)
    {
        return Err(Error::invalid(format!(
            "wait_timer: 0 to {} minutes",
            deploy::MAX_WAIT_TIMER
        )));
    }
    if body.prevent_self_review == Some(true) {
        return Err(Error::invalid("prevent_self_review is not supported by this Hearth"));
    }
    if let Some(p) = &body.deployment_branch_policy
        && !p.is_null()
        && p.get("protected_branches").and_then(Value::as_bool) == Some(true)
    {
        return Err(Error::invalid(
            "deployment_branch_policy.protected_branches: this Hearth has no protected branches yet; use custom_branch_policies",
        ));
    }
    let given = body.reviewers.is_some();
    let reviewers = body.reviewers.unwrap_or_default();
    if reviewers.len() > deploy::MAX_REVIEWERS {
        return Err(Error::invalid(format!("at most {} reviewers", deploy::MAX_REVIEWERS)));
    }
    if let Some(r) = reviewers.iter().find(|r| r.kind != "User") {
        return Err(Error::invalid(format!(
            "reviewers: type {:?} is not supported; use \"User\"",
            r.kind
        )));
    }
    let repo = access.repo.clone();
    let wait_timer = body.wait_timer;
    let new_reviewers: Option<Vec<i64>> = given.then(|| reviewers.iter().map(|r| r.id).collect());
    let named = name.clone();
    state
        .db
        .write(move |tx| {
            let e = environments::get_or_create(tx, repo.id, &named)?;
            if let Some(t) = wait_timer {
                environments::set_wait_timer(tx, e.id, t)?;
            }
            if let Some(ids) = new_reviewers {
                let mut users = Vec::new();
                for id in ids {
                    let user = crate::db::users::by_id(tx, crate::db::users::UserId(id))?
                        .ok_or_else(|| Error::invalid(format!("reviewers: there is no user {id}")))?;
                    deploy::check_reviewer(tx, &repo, &user)?;
                    users.push(user.id);
                }
                environments::set_reviewers(tx, e.id, &users)?;
            }
            Ok(())
        })
        .await?;
    let (e, reviewers, policies) = environment_of(&state, &access.repo, name).await?;
    Ok(Json(environment_json(
        &base(&state, &headers, &access.repo),
        &e,
        &reviewers,
        policies,
    )))
}

fn policy_json(p: &environments::BranchPolicy) -> Value {
    json!({ "id": p.id, "name": p.name, "type": p.kind })
}

async fn policies(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    Path((_, _, name)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    let (e, _, _) = environment_of(&state, &access.repo, name).await?;
    let list = state.db.read(move |c| environments::branch_policies(c, e.id)).await?;
    Ok(Json(json!({
        "total_count": list.len(),
        "branch_policies": list.iter().map(policy_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    name: String,
    #[serde(rename = "type", default = "branch")]
    kind: String,
}

fn branch() -> String {
    "branch".into()
}

/// Allows a branch or tag pattern to deploy (`*` within a segment, `**` across).
async fn add_policy(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path((_, _, name)): Path<(String, String, String)>,
    Json(body): Json<PolicyBody>,
) -> Result<Json<Value>> {
    let pattern = deploy::check_pattern(&body.name)?;
    if body.kind != "branch" && body.kind != "tag" {
        return Err(Error::invalid("type: branch or tag"));
    }
    let (e, _, _) = environment_of(&state, &access.repo, name).await?;
    let kind = body.kind;
    let p = state
        .db
        .write(move |tx| environments::add_branch_policy(tx, e.id, &pattern, &kind))
        .await?;
    Ok(Json(policy_json(&p)))
}

async fn delete_policy(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path((_, _, name, id)): Path<(String, String, String, i64)>,
) -> Result<axum::http::StatusCode> {
    let (e, _, _) = environment_of(&state, &access.repo, name).await?;
    if state
        .db
        .write(move |tx| environments::delete_branch_policy(tx, e.id, id))
        .await?
    {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound)
    }
}

#[derive(Deserialize)]
struct DeploymentFilter {
    environment: Option<String>,
}

async fn deployments(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Query(filter): Query<DeploymentFilter>,
    Query(page): Query<Page>,
) -> Result<super::Paged> {
    let (offset, limit) = page.window()?;
    let id = access.repo.id;
    let list = state
        .db
        .read(move |c| {
            let list =
                environments::deployments(c, id, filter.environment.as_deref(), limit as u32 + 1, offset as u32)?;
            with_run_numbers(c, id, list)
        })
        .await?;
    let base_urls = base(&state, &headers, &access.repo);
    page.trimmed(
        list.iter().map(|(d, n)| deployment_json(&base_urls, d, *n)).collect(),
        crate::web::repos::site(&state, &headers).base(),
        &uri,
    )
}

/// A deployment with the artifacts it deployed (name, digest).
type Deployed = (DeploymentRow, Vec<(String, String)>);

/// Deployments with their artifacts and their runs' numbers, for their links.
fn with_run_numbers(
    c: &rusqlite::Connection,
    repo: crate::db::repos::RepoId,
    list: Vec<DeploymentRow>,
) -> Result<Vec<(Deployed, Option<i64>)>> {
    list.into_iter()
        .map(|d| {
            let n = runs::by_id(c, repo, d.run_id)?.map(|r| r.run_number.0);
            let artifacts = environments::artifacts_of(c, d.id)?;
            Ok(((d, artifacts), n))
        })
        .collect()
}

async fn deployment(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, id)): Path<(String, String, DeploymentId)>,
) -> Result<Json<Value>> {
    let repo = access.repo.id;
    let (d, n) = state
        .db
        .read(move |c| {
            let d = environments::deployment(c, repo, id)?.ok_or(Error::NotFound)?;
            Ok(with_run_numbers(c, repo, vec![d])?.remove(0))
        })
        .await?;
    Ok(Json(deployment_json(&base(&state, &headers, &access.repo), &d, n)))
}

async fn statuses(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Read>,
    Path((_, _, id)): Path<(String, String, DeploymentId)>,
    Query(page): Query<Page>,
) -> Result<super::Paged> {
    let repo = access.repo.id;
    let (d, list) = state
        .db
        .read(move |c| {
            let d = environments::deployment(c, repo, id)?.ok_or(Error::NotFound)?;
            let list = environments::statuses(c, d.id)?;
            Ok((d, list))
        })
        .await?;
    let (_, api) = base(&state, &headers, &access.repo);
    page.slice(
        list.iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "state": s.state.github_state(),
                    "hearth_state": s.state,
                    "description": s.description,
                    "environment": d.environment,
                    "environment_url": d.url,
                    "deployment_url": format!("{api}/deployments/{}", d.id),
                    "created_at": rfc3339(s.created_at),
                    "updated_at": rfc3339(s.created_at),
                })
            })
            .collect(),
        crate::web::repos::site(&state, &headers).base(),
        &uri,
    )
}

/// The deployments of a run held at their gates, with who may let them through.
async fn pending(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Read>,
    Path((_, _, run)): Path<(String, String, RunId)>,
) -> Result<Json<Value>> {
    let repo = access.repo.id;
    let viewer = access.viewer.as_ref().map(|u| u.id);
    let held = state
        .db
        .read(move |c| {
            let r = runs::by_id(c, repo, run)?.ok_or(Error::NotFound)?;
            let mut out = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for d in environments::waiting_in_run(c, r.id)? {
                if !seen.insert(d.environment_id) {
                    continue;
                }
                let e = environments::by_id(c, repo, d.environment_id)?.ok_or(Error::NotFound)?;
                let reviewers = environments::reviewers(c, e.id)?;
                out.push((d, e, reviewers));
            }
            Ok(out)
        })
        .await?;
    let (html, api) = base(&state, &headers, &access.repo);
    Ok(Json(Value::Array(
        held.iter()
            .map(|(d, e, reviewers)| {
                json!({
                    "environment": {
                        "id": e.id, "name": e.name,
                        "url": format!("{api}/environments/{}", crate::web::auth::url_encode(&e.name)),
                        "html_url": format!("{html}/environments"),
                    },
                    "wait_timer": e.wait_timer,
                    "wait_timer_started_at": rfc3339(d.created_at),
                    "current_user_can_approve": viewer.is_some_and(|v| reviewers.iter().any(|u| u.id == v)),
                    "reviewers": reviewers.iter().map(|u| json!({ "type": "User", "reviewer": user_json(u) })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    environment_ids: Vec<EnvironmentId>,
    state: String,
    #[serde(default)]
    comment: String,
}

/// A reviewer approves or rejects a run's deployments held at the named
/// environments' gates.
async fn review(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(user): SignedIn,
    access: RepoAccess<Write>,
    Path((_, _, run)): Path<(String, String, RunId)>,
    Json(body): Json<ReviewBody>,
) -> Result<Json<Value>> {
    let approved = match body.state.as_str() {
        "approved" => true,
        "rejected" => false,
        other => return Err(Error::invalid(format!("state {other:?}: approved or rejected"))),
    };
    if body.comment.len() > 10_000 {
        return Err(Error::TooLarge("the comment is too long (10,000 bytes at most)".into()));
    }
    // A gate waits for a person the environment allows: never a job (its
    // own run's, or another's), whatever the token's permissions.
    if access.token_scope.is_some() {
        return Err(Error::Forbidden(
            "a job token cannot approve or reject deployments: a reviewer of the environment decides, signed in".into(),
        ));
    }
    let repo = access.repo.id;
    let decided = state
        .db
        .write(move |tx| {
            let r = runs::by_id(tx, repo, run)?.ok_or(Error::NotFound)?;
            let decided = deploy::review(tx, &r, &body.environment_ids, &user, approved, &body.comment)?;
            with_run_numbers(tx, repo, decided)
        })
        .await?;
    state.ci.wake();
    let base = base(&state, &headers, &access.repo);
    Ok(Json(Value::Array(
        decided.iter().map(|(d, n)| deployment_json(&base, d, *n)).collect(),
    )))
}

/// An environment's secrets (admins): names and dates, never values.
async fn env_secrets(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path((_, _, name)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    let (e, _, _) = environment_of(&state, &access.repo, name).await?;
    let list = state.db.read(move |c| environments::secrets(c, e.id)).await?;
    Ok(Json(json!({
        "total_count": list.len(),
        "secrets": list.iter().map(|s| json!({
            "name": s.name, "created_at": rfc3339(s.updated_at), "updated_at": rfc3339(s.updated_at),
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    value: String,
}

async fn put_env_secret(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path((_, _, name, secret)): Path<(String, String, String, String)>,
    Json(body): Json<SecretBody>,
) -> Result<axum::http::StatusCode> {
    let (e, _, _) = environment_of(&state, &access.repo, name).await?;
    let created =
        crate::ci::secrets::put_for_environment(&state.db, &state.keys, access.repo.id, e.id, &secret, &body.value)
            .await?;
    Ok(if created {
        axum::http::StatusCode::CREATED
    } else {
        axum::http::StatusCode::NO_CONTENT
    })
}

async fn delete_env_secret(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path((_, _, name, secret)): Path<(String, String, String, String)>,
) -> Result<axum::http::StatusCode> {
    delete_named(&state, &access.repo, name, environments::Named::Secret, secret).await
}

async fn delete_env_variable(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path((_, _, name, variable)): Path<(String, String, String, String)>,
) -> Result<axum::http::StatusCode> {
    delete_named(&state, &access.repo, name, environments::Named::Variable, variable).await
}

/// Deletes a secret or variable of environment `env`: 204, or 404.
async fn delete_named(
    state: &AppState,
    repo: &Repo,
    env: String,
    what: environments::Named,
    item: String,
) -> Result<axum::http::StatusCode> {
    let (e, _, _) = environment_of(state, repo, env).await?;
    if state
        .db
        .write(move |tx| environments::delete_named(tx, e.id, what, &item))
        .await?
    {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound)
    }
}

fn variable_json(v: &environments::Variable) -> Value {
    json!({
        "name": v.name, "value": v.value,
        "created_at": rfc3339(v.created_at), "updated_at": rfc3339(v.updated_at),
    })
}

async fn env_variables(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    access: RepoAccess<Admin>,
    Path((_, _, name)): Path<(String, String, String)>,
    Query(page): Query<Page>,
) -> Result<axum::response::Response> {
    let (offset, limit) = page.window()?;
    let (e, _, _) = environment_of(&state, &access.repo, name).await?;
    let list = state.db.read(move |c| environments::variables(c, e.id)).await?;
    let shown: Vec<Value> = list.iter().skip(offset).take(limit).map(variable_json).collect();
    let more = offset + shown.len() < list.len();
    let link = page.links(
        crate::web::repos::site(&state, &headers).base(),
        &uri,
        more,
        Some(list.len()),
    );
    let body = Json(json!({ "total_count": list.len(), "variables": shown }));
    Ok(super::with_link(
        axum::response::IntoResponse::into_response(body),
        link,
    ))
}

async fn env_variable(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path((_, _, name, variable)): Path<(String, String, String, String)>,
) -> Result<Json<Value>> {
    let (e, _, _) = environment_of(&state, &access.repo, name).await?;
    let variable = variable.to_ascii_uppercase();
    let list = state.db.read(move |c| environments::variables(c, e.id)).await?;
    list.iter()
        .find(|v| v.name == variable)
        .map(|v| Json(variable_json(v)))
        .ok_or(Error::NotFound)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VariableBody {
    name: Option<String>,
    value: String,
}

async fn add_env_variable(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path((_, _, name)): Path<(String, String, String)>,
    Json(body): Json<VariableBody>,
) -> Result<axum::http::StatusCode> {
    let variable = crate::ci::secrets::check_variable(body.name.as_deref().unwrap_or(""), &body.value)?;
    let (e, _, _) = environment_of(&state, &access.repo, name).await?;
    state
        .db
        .write(move |tx| {
            if environments::variables(tx, e.id)?.iter().any(|v| v.name == variable) {
                return Err(Error::Exists(format!(
                    "the environment has a variable {variable} already"
                )));
            }
            environments::put_variable(tx, e.id, &variable, &body.value)
        })
        .await?;
    Ok(axum::http::StatusCode::CREATED)
}

async fn update_env_variable(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    Path((_, _, name, variable)): Path<(String, String, String, String)>,
    Json(body): Json<VariableBody>,
) -> Result<axum::http::StatusCode> {
    let variable = crate::ci::secrets::check_variable(&variable, &body.value)?;
    if body.name.as_deref().is_some_and(|n| !n.eq_ignore_ascii_case(&variable)) {
        return Err(Error::invalid(
            "a variable cannot be renamed; add the new one and delete this",
        ));
    }
    let (e, _, _) = environment_of(&state, &access.repo, name).await?;
    state
        .db
        .write(move |tx| {
            if !environments::variables(tx, e.id)?.iter().any(|v| v.name == variable) {
                return Err(Error::NotFound);
            }
            environments::put_variable(tx, e.id, &variable, &body.value)
        })
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Deploys again what a successful deployment deployed, as a rollback
/// (see `Ci::redeploy`): 201 with the new run.
async fn redeploy(
    State(state): State<AppState>,
    headers: HeaderMap,
    access: RepoAccess<Write>,
    Path((_, _, id)): Path<(String, String, DeploymentId)>,
) -> Result<(axum::http::StatusCode, Json<Value>)> {
    let run = state.ci.redeploy(access.repo.id, id).await?;
    let (html, _) = base(&state, &headers, &access.repo);
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({
            "run_id": run.id, "run_number": run.run_number,
            "html_url": format!("{html}/runs/{}", run.run_number),
        })),
    ))
}
