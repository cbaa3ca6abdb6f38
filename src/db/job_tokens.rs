//! The `job_tokens` table: each running job's `GITHUB_TOKEN`, by its hash.

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::repos::RepoId;
use crate::db::users::UserId;
use crate::error::Result;
use crate::ids::JobId;

/// What a job token may do, as found by its hash.
#[derive(Debug, Clone)]
pub struct Grant {
    pub job: JobId,
    pub repo: RepoId,
    pub user: UserId,
    /// JSON: scope → `read`, `write` or `none`.
    pub permissions: String,
}

pub fn insert(
    conn: &Connection,
    job: JobId,
    token_hash: &str,
    repo: RepoId,
    user: UserId,
    permissions: &str,
    expires_at: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO job_tokens (job_id, token_hash, repo_id, user_id, permissions, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![job, token_hash, repo.0, user.0, permissions, expires_at])?;
    Ok(())
}

/// The grant of a token: only while it has not expired and its job runs.
pub fn find(conn: &Connection, token_hash: &str, now: i64) -> Result<Option<Grant>> {
    Ok(conn
        .prepare_cached(
            "SELECT t.job_id, t.repo_id, t.user_id, t.permissions FROM job_tokens t
             JOIN jobs j ON j.id = t.job_id
             WHERE t.token_hash = ?1 AND t.expires_at > ?2 AND j.status = 'in_progress'",
        )?
        .query_row(params![token_hash, now], |r| {
            Ok(Grant {
                job: r.get(0)?,
                repo: RepoId(r.get(1)?),
                user: UserId(r.get(2)?),
                permissions: r.get(3)?,
            })
        })
        .optional()?)
}

pub fn revoke(conn: &Connection, job: JobId) -> Result<()> {
    conn.prepare_cached("DELETE FROM job_tokens WHERE job_id = ?1")?
        .execute([job])?;
    Ok(())
}

/// At start-up: no job runs, so no token is good.
pub fn revoke_all(conn: &Connection) -> Result<usize> {
    Ok(conn.execute("DELETE FROM job_tokens", [])?)
}

/// Who started the run of job `job`: the pusher of its ref update, else
/// (a schedule, a run started by hand, a push found at start-up) the
/// repository's owner.
pub fn actor_of_job(conn: &Connection, job: JobId) -> Result<Option<UserId>> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(u.pusher_id, r.owner_id) FROM jobs j
             JOIN runs ru ON ru.id = j.run_id
             JOIN repos r ON r.id = ru.repo_id
             LEFT JOIN ref_updates u ON u.id = ru.ref_update_id
             WHERE j.id = ?1",
        )?
        .query_row([job], |r| r.get::<_, i64>(0))
        .optional()?
        .map(UserId))
}
