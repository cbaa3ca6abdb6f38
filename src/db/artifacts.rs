//! The `artifacts` and `caches` tables: names of stored .tar.gz files.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::repos::RepoId;
use crate::error::Result;
use crate::ids::{JobId, RunId};

#[derive(Debug, Clone)]
pub struct Artifact {
    pub id: i64,
    pub run_id: RunId,
    pub job_id: Option<JobId>,
    pub name: String,
    pub sha256: String,
    pub size: i64,
    pub files: i64,
    pub created_at: i64,
}

const SELECT: &str = "SELECT id, run_id, job_id, name, sha256, size, files, created_at FROM artifacts";

fn from_row(r: &Row) -> rusqlite::Result<Artifact> {
    Ok(Artifact {
        id: r.get(0)?,
        run_id: r.get(1)?,
        job_id: r.get(2)?,
        name: r.get(3)?,
        sha256: r.get(4)?,
        size: r.get(5)?,
        files: r.get(6)?,
        created_at: r.get(7)?,
    })
}

/// Records an artifact of run `run`; a second one of the same name is refused.
/// Names an artifact of run `run`; false when the run has one of that
/// name already, unless `overwrite` (upload-artifact's), which replaces it.
#[allow(clippy::too_many_arguments)]
pub fn insert(
    conn: &Connection,
    run: RunId,
    job: JobId,
    name: &str,
    sha256: &str,
    size: u64,
    files: usize,
    overwrite: bool,
) -> Result<bool> {
    let sql = if overwrite {
        "INSERT INTO artifacts (run_id, job_id, name, sha256, size, files, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (run_id, name) DO UPDATE SET job_id = ?2, sha256 = ?4, size = ?5, files = ?6, created_at = ?7"
    } else {
        "INSERT OR IGNORE INTO artifacts (run_id, job_id, name, sha256, size, files, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    };
    let added = conn.prepare_cached(sql)?.execute(params![
        run,
        job,
        name,
        sha256,
        size as i64,
        files as i64,
        crate::time::now()
    ])?;
    Ok(added > 0)
}

pub fn for_run(conn: &Connection, run: RunId) -> Result<Vec<Artifact>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE run_id = ?1 ORDER BY name"))?;
    let rows = stmt.query_map([run], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn by_name(conn: &Connection, run: RunId, name: &str) -> Result<Option<Artifact>> {
    let sql = format!("{SELECT} WHERE run_id = ?1 AND name = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![run, name], from_row)
        .optional()?)
}

/// A re-run keeps the artifacts of the jobs it does not run again.
pub fn copy_for_rerun(conn: &Connection, from_run: RunId, to_run: RunId, kept_jobs: &[(JobId, JobId)]) -> Result<()> {
    for (old_job, new_job) in kept_jobs {
        conn.execute(
            "INSERT OR IGNORE INTO artifacts (run_id, job_id, name, sha256, size, files, created_at)
             SELECT ?2, ?4, name, sha256, size, files, created_at FROM artifacts WHERE run_id = ?1 AND job_id = ?3",
            params![from_run, to_run, old_job, new_job],
        )?;
    }
    Ok(())
}

/// Where a run's caches go and come from, as GitHub scopes them: it saves
/// to its own ref, and restores from its own ref, then (a pull request's
/// run) its base branch, then the default branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheScopes {
    pub save: String,
    pub restore: Vec<String>,
}

impl CacheScopes {
    /// The scopes of a run of `full_ref`; `base`: a pull request's base branch.
    pub fn of(full_ref: &str, base: Option<&str>, default_branch: &str) -> CacheScopes {
        let mut restore = vec![full_ref.to_string()];
        for branch in base.into_iter().chain([default_branch]) {
            let scope = format!("refs/heads/{branch}");
            if !restore.contains(&scope) {
                restore.push(scope);
            }
        }
        CacheScopes {
            save: full_ref.to_string(),
            restore,
        }
    }
}

/// The cache to restore: in each scope in turn, the one saved under `key`,
/// else the newest whose key starts with one of `prefixes` (tried in
/// order). Returns its key and content.
pub fn cache_lookup(
    conn: &Connection,
    repo: RepoId,
    scopes: &CacheScopes,
    key: &str,
    prefixes: &[String],
) -> Result<Option<(String, String)>> {
    for scope in &scopes.restore {
        let exact = conn
            .query_row(
                "SELECT key, sha256 FROM caches WHERE repo_id = ?1 AND scope = ?2 AND key = ?3",
                params![repo.0, scope, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if exact.is_some() {
            return Ok(exact);
        }
        for prefix in prefixes {
            let found = conn
                .query_row(
                    "SELECT key, sha256 FROM caches WHERE repo_id = ?1 AND scope = ?2 AND substr(key, 1, length(?3)) = ?3
                     ORDER BY created_at DESC, key DESC LIMIT 1",
                    params![repo.0, scope, prefix],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if found.is_some() {
                return Ok(found);
            }
        }
    }
    Ok(None)
}

/// Saves a cache in the run's own scope; a key saved there already keeps
/// its first contents. True when saved.
pub fn cache_save(
    conn: &Connection,
    repo: RepoId,
    scopes: &CacheScopes,
    key: &str,
    sha256: &str,
    size: u64,
) -> Result<bool> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO caches (repo_id, scope, key, sha256, size, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![repo.0, scopes.save, key, sha256, size as i64, crate::time::now()],
    )? > 0)
}

#[cfg(test)]
mod tests {
    use super::CacheScopes;

    #[test]
    fn a_run_restores_its_own_caches_then_its_base_s_then_the_default_branch_s() {
        let main = CacheScopes::of("refs/heads/main", None, "main");
        assert_eq!(main.restore, ["refs/heads/main"]);
        let topic = CacheScopes::of("refs/heads/topic", None, "main");
        assert_eq!(topic.save, "refs/heads/topic");
        assert_eq!(topic.restore, ["refs/heads/topic", "refs/heads/main"]);
        let pull = CacheScopes::of("refs/pull/7/merge", Some("release"), "main");
        assert_eq!(pull.save, "refs/pull/7/merge");
        assert_eq!(
            pull.restore,
            ["refs/pull/7/merge", "refs/heads/release", "refs/heads/main"]
        );
    }
}
