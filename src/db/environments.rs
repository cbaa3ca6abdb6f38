//! The `environments` table with its reviewers and branch policies, and
//! the `deployments` into them with their statuses and reviews.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::repos::RepoId;
use super::users::UserId;
use crate::error::{Error, Result};
use crate::ids::{JobId, RunId};
use crate::state::{self, Conclusion, Deployment};

crate::ids::integer_id!(
    /// An environment's id: unique in the server.
    EnvironmentId
);
crate::ids::integer_id!(
    /// A deployment's id: unique in the server.
    DeploymentId
);

#[derive(Debug, Clone)]
pub struct Environment {
    pub id: EnvironmentId,
    pub repo_id: RepoId,
    pub name: String,
    /// Minutes a deployment waits before it starts.
    pub wait_timer: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A branch or tag pattern that may deploy to an environment.
#[derive(Debug, Clone, PartialEq)]
pub struct BranchPolicy {
    pub id: i64,
    pub name: String,
    /// `branch` or `tag`.
    pub kind: String,
}

const ENV_SELECT: &str = "SELECT id, repo_id, name, wait_timer, created_at, updated_at FROM environments";

fn environment_from_row(r: &Row) -> rusqlite::Result<Environment> {
    Ok(Environment {
        id: r.get(0)?,
        repo_id: RepoId(r.get(1)?),
        name: r.get(2)?,
        wait_timer: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

pub fn by_name(conn: &Connection, repo: RepoId, name: &str) -> Result<Option<Environment>> {
    let sql = format!("{ENV_SELECT} WHERE repo_id = ?1 AND name = ?2 COLLATE NOCASE");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![repo.0, name], environment_from_row)
        .optional()?)
}

pub fn by_id(conn: &Connection, repo: RepoId, id: EnvironmentId) -> Result<Option<Environment>> {
    let sql = format!("{ENV_SELECT} WHERE repo_id = ?1 AND id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![repo.0, id], environment_from_row)
        .optional()?)
}

pub fn list(conn: &Connection, repo: RepoId) -> Result<Vec<Environment>> {
    let mut stmt = conn.prepare_cached(&format!("{ENV_SELECT} WHERE repo_id = ?1 ORDER BY name COLLATE NOCASE"))?;
    let rows = stmt.query_map([repo.0], environment_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The environment `name` of `repo`, made on its first use.
pub fn get_or_create(conn: &Connection, repo: RepoId, name: &str) -> Result<Environment> {
    if let Some(e) = by_name(conn, repo, name)? {
        return Ok(e);
    }
    let now = crate::time::now();
    conn.execute(
        "INSERT INTO environments (repo_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
        params![repo.0, name, now],
    )?;
    by_name(conn, repo, name)?.ok_or(Error::NotFound)
}

pub fn set_wait_timer(conn: &Connection, env: EnvironmentId, minutes: i64) -> Result<()> {
    conn.execute(
        "UPDATE environments SET wait_timer = ?2, updated_at = ?3 WHERE id = ?1",
        params![env, minutes, crate::time::now()],
    )?;
    Ok(())
}

pub fn reviewers(conn: &Connection, env: EnvironmentId) -> Result<Vec<super::users::User>> {
    let sql = format!(
        "SELECT {} FROM users WHERE id IN (SELECT user_id FROM environment_reviewers WHERE environment_id = ?1)
         ORDER BY lower_name",
        super::users::COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([env], super::users::from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn set_reviewers(conn: &Connection, env: EnvironmentId, users: &[UserId]) -> Result<()> {
    conn.execute("DELETE FROM environment_reviewers WHERE environment_id = ?1", [env])?;
    for user in users {
        conn.execute(
            "INSERT OR IGNORE INTO environment_reviewers (environment_id, user_id) VALUES (?1, ?2)",
            params![env, user.0],
        )?;
    }
    Ok(())
}

pub fn is_reviewer(conn: &Connection, env: EnvironmentId, user: UserId) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM environment_reviewers WHERE environment_id = ?1 AND user_id = ?2)",
        params![env, user.0],
        |r| r.get(0),
    )?)
}

pub fn branch_policies(conn: &Connection, env: EnvironmentId) -> Result<Vec<BranchPolicy>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, type FROM environment_branch_policies WHERE environment_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([env], |r| {
        Ok(BranchPolicy {
            id: r.get(0)?,
            name: r.get(1)?,
            kind: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Adds a pattern; an existing one of the same name and kind is `Exists`.
pub fn add_branch_policy(conn: &Connection, env: EnvironmentId, name: &str, kind: &str) -> Result<BranchPolicy> {
    room_for(conn, "environment_branch_policies", "branch and tag patterns", env)?;
    match conn.execute(
        "INSERT INTO environment_branch_policies (environment_id, name, type) VALUES (?1, ?2, ?3)",
        params![env, name, kind],
    ) {
        Ok(_) => Ok(BranchPolicy {
            id: conn.last_insert_rowid(),
            name: name.to_string(),
            kind: kind.to_string(),
        }),
        Err(e) if super::is_unique_violation(&e) => Err(Error::Exists(format!(
            "the environment allows the {kind} pattern {name:?} already"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Replaces all of an environment's patterns with `patterns` (name, kind).
pub fn set_branch_policies(conn: &Connection, env: EnvironmentId, patterns: &[(String, String)]) -> Result<()> {
    conn.execute(
        "DELETE FROM environment_branch_policies WHERE environment_id = ?1",
        [env],
    )?;
    for (name, kind) in patterns {
        conn.execute(
            "INSERT OR IGNORE INTO environment_branch_policies (environment_id, name, type) VALUES (?1, ?2, ?3)",
            params![env, name, kind],
        )?;
    }
    Ok(())
}

pub fn delete_branch_policy(conn: &Connection, env: EnvironmentId, id: i64) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM environment_branch_policies WHERE environment_id = ?1 AND id = ?2",
        params![env, id],
    )? > 0)
}

#[derive(Debug, Clone)]
pub struct DeploymentRow {
    pub id: DeploymentId,
    pub repo_id: RepoId,
    pub environment_id: EnvironmentId,
    pub environment: String,
    pub run_id: RunId,
    pub job_id: JobId,
    pub sha: String,
    pub ref_name: String,
    pub state: Deployment,
    pub url: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// It put this earlier deployment back.
    pub rollback_of: Option<DeploymentId>,
}

const DEPLOYMENT_SELECT: &str = "SELECT d.id, d.repo_id, d.environment_id, e.name, d.run_id, d.job_id, d.sha, d.ref,
    d.state, d.url, d.created_at, d.updated_at, d.rollback_of
    FROM deployments d JOIN environments e ON e.id = d.environment_id";

fn deployment_from_row(r: &Row) -> rusqlite::Result<DeploymentRow> {
    Ok(DeploymentRow {
        id: r.get(0)?,
        repo_id: RepoId(r.get(1)?),
        environment_id: r.get(2)?,
        environment: r.get(3)?,
        run_id: r.get(4)?,
        job_id: r.get(5)?,
        sha: r.get(6)?,
        ref_name: r.get(7)?,
        state: r.get(8)?,
        url: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        rollback_of: r.get(12)?,
    })
}

/// The deployment of job `job`, if it deploys and has reached its gate.
pub fn deployment_of_job(conn: &Connection, job: JobId) -> Result<Option<DeploymentRow>> {
    let sql = format!("{DEPLOYMENT_SELECT} WHERE d.job_id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([job], deployment_from_row)
        .optional()?)
}

pub fn deployment(conn: &Connection, repo: RepoId, id: DeploymentId) -> Result<Option<DeploymentRow>> {
    let sql = format!("{DEPLOYMENT_SELECT} WHERE d.repo_id = ?1 AND d.id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![repo.0, id], deployment_from_row)
        .optional()?)
}

/// Deployments of `repo`, newest first; of one environment when given.
pub fn deployments(
    conn: &Connection,
    repo: RepoId,
    environment: Option<&str>,
    limit: u32,
    offset: u32,
) -> Result<Vec<DeploymentRow>> {
    let sql = format!(
        "{DEPLOYMENT_SELECT} WHERE d.repo_id = ?1 AND (?2 IS NULL OR e.name = ?2 COLLATE NOCASE)
         ORDER BY d.id DESC LIMIT {limit} OFFSET {offset}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![repo.0, environment], deployment_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The deployments of run `run` held at their gates.
pub fn waiting_in_run(conn: &Connection, run: RunId) -> Result<Vec<DeploymentRow>> {
    let sql = format!("{DEPLOYMENT_SELECT} WHERE d.run_id = ?1 AND d.state = ?2 ORDER BY d.id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![run, Deployment::Waiting], deployment_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The environments of `repo` in the order of a pipeline's stages: as
/// jobs first deployed to them (those never deployed to last).
pub fn list_in_order(conn: &Connection, repo: RepoId) -> Result<Vec<Environment>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, e.repo_id, e.name, e.wait_timer, e.created_at, e.updated_at,
             (SELECT MIN(d.id) FROM deployments d WHERE d.environment_id = e.id) AS first
         FROM environments e
         WHERE e.repo_id = ?1 ORDER BY first IS NULL, first, e.id",
    )?;
    let rows = stmt.query_map([repo.0], environment_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The deployments of the commits `shas` of `repo`.
pub fn deployments_of_commits(conn: &Connection, repo: RepoId, shas: &[String]) -> Result<Vec<DeploymentRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{DEPLOYMENT_SELECT} WHERE d.repo_id = ?1 AND d.sha = ?2 ORDER BY d.id"
    ))?;
    let mut out = Vec::new();
    for sha in shas {
        let rows = stmt.query_map(params![repo.0, sha], deployment_from_row)?;
        out.extend(rows.collect::<rusqlite::Result<Vec<_>>>()?);
    }
    Ok(out)
}

/// What environment `env` runs now: its newest successful deployment.
pub fn current(conn: &Connection, env: EnvironmentId) -> Result<Option<DeploymentRow>> {
    let sql = format!("{DEPLOYMENT_SELECT} WHERE d.environment_id = ?1 AND d.state = ?2 ORDER BY d.id DESC LIMIT 1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![env, Deployment::Success], deployment_from_row)
        .optional()?)
}

/// The newest deployments of environment `env` (by its index).
pub fn history(conn: &Connection, env: EnvironmentId, limit: u32) -> Result<Vec<DeploymentRow>> {
    // Limits are written into the SQL: a bound LIMIT makes SQLite prepare the statement again at every run.
    let sql = format!("{DEPLOYMENT_SELECT} WHERE d.environment_id = ?1 ORDER BY d.id DESC LIMIT {limit}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![env], deployment_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The deployments of run `run`, in order.
pub fn deployments_of_run(conn: &Connection, run: RunId) -> Result<Vec<DeploymentRow>> {
    let sql = format!("{DEPLOYMENT_SELECT} WHERE d.run_id = ?1 ORDER BY d.id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([run], deployment_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records the deployment of a job reaching its environment's gate.
pub fn create_deployment(
    conn: &Connection,
    env: &Environment,
    run: RunId,
    job: JobId,
    sha: &str,
    ref_name: &str,
    state: Deployment,
) -> Result<DeploymentRow> {
    let now = crate::time::now();
    // A job run again to redeploy says which deployment it puts back.
    conn.execute(
        "INSERT INTO deployments (repo_id, environment_id, run_id, job_id, sha, ref, state, created_at, updated_at,
                                  rollback_of)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, rollback_of FROM jobs WHERE id = ?4",
        params![env.repo_id.0, env.id, run, job, sha, ref_name, state, now],
    )?;
    let id = DeploymentId(conn.last_insert_rowid());
    super::hooks::note(conn, env.repo_id, "deployment", Some("created"), id.0, None, None)?;
    add_status(conn, id, state, "")?;
    deployment(conn, env.repo_id, id)?.ok_or(Error::NotFound)
}

/// Moves deployment `id` to `state`, with a status saying so.
pub fn set_state(conn: &Connection, id: DeploymentId, state: Deployment, description: &str) -> Result<()> {
    conn.execute(
        "UPDATE deployments SET state = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, state, crate::time::now()],
    )?;
    add_status(conn, id, state, description)
}

pub fn set_url(conn: &Connection, id: DeploymentId, url: &str) -> Result<()> {
    conn.execute("UPDATE deployments SET url = ?2 WHERE id = ?1", params![id, url])?;
    Ok(())
}

fn add_status(conn: &Connection, id: DeploymentId, state: Deployment, description: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO deployment_statuses (deployment_id, state, description, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, state, description, crate::time::now()],
    )?;
    let status = conn.last_insert_rowid();
    let (repo, run, environment): (i64, RunId, i64) = conn.query_row(
        "SELECT repo_id, run_id, environment_id FROM deployments WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    if state == Deployment::Waiting {
        super::notifications::of_deployment_waiting(conn, run, environment)?;
    }
    super::hooks::note(
        conn,
        RepoId(repo),
        "deployment_status",
        Some("created"),
        status,
        None,
        None,
    )
}

/// A job ended: its deployment, if any and still open, ends with it.
pub fn job_finished(conn: &Connection, job: JobId, conclusion: Conclusion) -> Result<()> {
    if let Some(d) = deployment_of_job(conn, job)?
        && !d.state.is_final()
    {
        set_state(conn, d.id, state::deployment_ended(conclusion), "")?;
    }
    Ok(())
}

/// The deployments of environment `env` older than `than` that have not
/// started: held for review, or waiting their turn.
pub fn not_started(conn: &Connection, env: EnvironmentId, than: DeploymentId) -> Result<Vec<DeploymentRow>> {
    let sql = format!("{DEPLOYMENT_SELECT} WHERE d.environment_id = ?1 AND d.id < ?2 AND d.state IN (?3, ?4)");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![env, than, Deployment::Waiting, Deployment::Queued],
        deployment_from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Whether another deployment of environment `env` than `except` deploys now.
pub fn busy(conn: &Connection, env: EnvironmentId, except: DeploymentId) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM deployments WHERE environment_id = ?1 AND id != ?2 AND state = ?3)",
        params![env, except, Deployment::InProgress],
        |r| r.get(0),
    )?)
}

#[derive(Debug, Clone)]
pub struct Status {
    pub id: i64,
    pub state: Deployment,
    pub description: String,
    pub created_at: i64,
}

pub fn statuses(conn: &Connection, id: DeploymentId) -> Result<Vec<Status>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, state, description, created_at FROM deployment_statuses WHERE deployment_id = ?1 ORDER BY id DESC",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(Status {
            id: r.get(0)?,
            state: r.get(1)?,
            description: r.get(2)?,
            created_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[derive(Debug, Clone)]
pub struct Review {
    pub user: Option<String>,
    pub approved: bool,
    pub comment: String,
    pub created_at: i64,
}

pub fn add_review(conn: &Connection, id: DeploymentId, user: UserId, approved: bool, comment: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO deployment_reviews (deployment_id, user_id, state, comment, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            id,
            user.0,
            if approved { "approved" } else { "rejected" },
            comment,
            crate::time::now()
        ],
    )?;
    Ok(())
}

pub fn reviews(conn: &Connection, id: DeploymentId) -> Result<Vec<Review>> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.name, r.state, r.comment, r.created_at FROM deployment_reviews r
         LEFT JOIN users u ON u.id = r.user_id WHERE r.deployment_id = ?1 ORDER BY r.id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(Review {
            user: r.get(0)?,
            approved: r.get::<_, String>(1)? == "approved",
            comment: r.get(2)?,
            created_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// At most this many secrets, variables and branch patterns per
/// environment (GitHub's limit for the first two).
pub const MAX_PER_ENVIRONMENT: usize = 100;

/// Refuses a new entry of `what` when `table` holds `MAX_PER_ENVIRONMENT`
/// of them for `env` already.
fn room_for(conn: &Connection, table: &str, what: &str, env: EnvironmentId) -> Result<()> {
    let n: i64 = conn.query_row(
        &format!("SELECT count(*) FROM {table} WHERE environment_id = ?1"),
        [env],
        |r| r.get(0),
    )?;
    if n as usize >= MAX_PER_ENVIRONMENT {
        return Err(Error::invalid(format!(
            "an environment holds at most {} {what}",
            MAX_PER_ENVIRONMENT
        )));
    }
    Ok(())
}

/// Stores an environment secret, sealed; true when it was new.
pub fn put_secret(conn: &Connection, env: EnvironmentId, name: &str, nonce: &[u8], ciphertext: &[u8]) -> Result<bool> {
    let existed: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM environment_secrets WHERE environment_id = ?1 AND name = ?2)",
        params![env, name],
        |r| r.get(0),
    )?;
    if !existed {
        room_for(conn, "environment_secrets", "secrets", env)?;
    }
    conn.execute(
        "INSERT INTO environment_secrets (environment_id, name, nonce, ciphertext, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (environment_id, name) DO UPDATE SET nonce = excluded.nonce,
             ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
        params![env, name, nonce, ciphertext, crate::time::now()],
    )?;
    Ok(!existed)
}

pub fn secrets(conn: &Connection, env: EnvironmentId) -> Result<Vec<super::secrets::Sealed>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, nonce, ciphertext, updated_at FROM environment_secrets WHERE environment_id = ?1 ORDER BY name",
    )?;
    let rows = stmt.query_map([env], super::secrets::sealed_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub value: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Sets a variable; true when it was new.
pub fn put_variable(conn: &Connection, env: EnvironmentId, name: &str, value: &str) -> Result<bool> {
    let now = crate::time::now();
    let existed: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM environment_variables WHERE environment_id = ?1 AND name = ?2)",
        params![env, name],
        |r| r.get(0),
    )?;
    if !existed {
        room_for(conn, "environment_variables", "variables", env)?;
    }
    conn.execute(
        "INSERT INTO environment_variables (environment_id, name, value, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (environment_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![env, name, value, now],
    )?;
    Ok(!existed)
}

/// What of an environment is kept by name.
#[derive(Debug, Clone, Copy)]
pub enum Named {
    Secret,
    Variable,
}

/// Deletes secret or variable `name` (in any case) of `env`; false when
/// there was none.
pub fn delete_named(conn: &Connection, env: EnvironmentId, what: Named, name: &str) -> Result<bool> {
    let table = match what {
        Named::Secret => "environment_secrets",
        Named::Variable => "environment_variables",
    };
    Ok(conn.execute(
        &format!("DELETE FROM {table} WHERE environment_id = ?1 AND name = ?2"),
        params![env, name.to_ascii_uppercase()],
    )? > 0)
}

pub fn variables(conn: &Connection, env: EnvironmentId) -> Result<Vec<Variable>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, value, created_at, updated_at FROM environment_variables WHERE environment_id = ?1 ORDER BY name",
    )?;
    let rows = stmt.query_map([env], |r| {
        Ok(Variable {
            name: r.get(0)?,
            value: r.get(1)?,
            created_at: r.get(2)?,
            updated_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Job `job` used artifact `name` (digest `sha256`): when it deploys, its
/// deployment records it.
pub fn used_artifact(conn: &Connection, job: JobId, name: &str, sha256: &str) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO deployment_artifacts (deployment_id, name, sha256)
         SELECT id, ?2, ?3 FROM deployments WHERE job_id = ?1",
        params![job, name, sha256],
    )?;
    Ok(())
}

/// The artifacts each of deployments `ids` deployed, in one query.
pub fn artifacts_of_many(
    conn: &Connection,
    ids: &[DeploymentId],
) -> Result<std::collections::HashMap<DeploymentId, Vec<(String, String)>>> {
    let mut out: std::collections::HashMap<DeploymentId, Vec<(String, String)>> = Default::default();
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT deployment_id, name, sha256 FROM deployment_artifacts WHERE deployment_id IN ({marks}) ORDER BY name"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(chunk.iter()), |r| {
            Ok((r.get::<_, DeploymentId>(0)?, r.get(1)?, r.get(2)?))
        })?;
        for row in rows {
            let (id, name, sha) = row?;
            out.entry(id).or_default().push((name, sha));
        }
    }
    Ok(out)
}

/// The artifacts deployment `id` deployed: name and digest.
pub fn artifacts_of(conn: &Connection, id: DeploymentId) -> Result<Vec<(String, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT name, sha256 FROM deployment_artifacts WHERE deployment_id = ?1 ORDER BY name")?;
    let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One target of a rolling deploy and how it went.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    pub position: i64,
    pub name: String,
    pub batch: i64,
    pub state: state::Target,
    pub release: String,
    pub previous: String,
    pub message: String,
    pub updated_at: i64,
}

/// The targets of deployment `id`'s rolling deploy, all pending, in
/// batches: what was recorded for it before is replaced.
pub fn start_targets(conn: &Connection, id: DeploymentId, targets: &[(String, i64)]) -> Result<()> {
    conn.execute("DELETE FROM deployment_targets WHERE deployment_id = ?1", [id])?;
    let now = crate::time::now();
    let mut stmt = conn.prepare_cached(
        "INSERT INTO deployment_targets (deployment_id, position, name, batch, state, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (position, (name, batch)) in targets.iter().enumerate() {
        stmt.execute(params![id, position as i64, name, batch, state::Target::Pending, now])?;
    }
    Ok(())
}

/// Target `position` of deployment `id` is now in `target`; `release` and
/// `previous` are kept when empty.
pub fn set_target(
    conn: &Connection,
    id: DeploymentId,
    position: i64,
    target: state::Target,
    release: &str,
    previous: &str,
    message: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE deployment_targets SET state = ?3,
             release = CASE WHEN ?4 = '' THEN release ELSE ?4 END,
             previous = CASE WHEN ?5 = '' THEN previous ELSE ?5 END,
             message = ?6, updated_at = ?7
         WHERE deployment_id = ?1 AND position = ?2",
        params![id, position, target, release, previous, message, crate::time::now()],
    )?;
    Ok(())
}

pub fn targets(conn: &Connection, id: DeploymentId) -> Result<Vec<TargetRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT position, name, batch, state, release, previous, message, updated_at
         FROM deployment_targets WHERE deployment_id = ?1 ORDER BY position",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(TargetRow {
            position: r.get(0)?,
            name: r.get(1)?,
            batch: r.get(2)?,
            state: r.get(3)?,
            release: r.get(4)?,
            previous: r.get(5)?,
            message: r.get(6)?,
            updated_at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
