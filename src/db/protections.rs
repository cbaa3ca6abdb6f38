//! The `branch_protections` and `protection_users` tables: protected
//! branch rules. What they mean for a push or a merge is in `pulls::protect`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::repos::RepoId;
use super::users::UserId;
use crate::error::Result;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protection {
    pub id: i64,
    pub pattern: String,
    /// `required_status_checks`: these job names must have succeeded.
    pub require_checks: bool,
    pub required_checks: Vec<String>,
    /// The head must contain the base's tip (GitHub's `strict`).
    pub strict: bool,
    /// `required_pull_request_reviews`: changes only through pull requests.
    pub require_reviews: bool,
    pub required_approvals: u32,
    pub dismiss_stale: bool,
    /// `restrictions`: only `push_users` may push or merge.
    pub restrict_pushes: bool,
    pub push_users: Vec<String>,
    /// May push directly although changes must go through pull requests.
    pub bypass_users: Vec<String>,
    /// The rules hold for administrators too.
    pub enforce_admins: bool,
    pub allow_force_pushes: bool,
    pub allow_deletions: bool,
}

const SELECT: &str = "SELECT id, pattern, require_checks, required_checks, strict, require_reviews,
    required_approvals, dismiss_stale, restrict_pushes, enforce_admins, allow_force_pushes, allow_deletions
    FROM branch_protections";

fn from_row(r: &Row) -> rusqlite::Result<Protection> {
    let checks: String = r.get(3)?;
    Ok(Protection {
        id: r.get(0)?,
        pattern: r.get(1)?,
        require_checks: r.get(2)?,
        required_checks: checks.lines().map(str::to_string).collect(),
        strict: r.get(4)?,
        require_reviews: r.get(5)?,
        required_approvals: r.get(6)?,
        dismiss_stale: r.get(7)?,
        restrict_pushes: r.get(8)?,
        enforce_admins: r.get(9)?,
        allow_force_pushes: r.get(10)?,
        allow_deletions: r.get(11)?,
        push_users: Vec::new(),
        bypass_users: Vec::new(),
    })
}

fn attach_users(conn: &Connection, p: &mut Protection) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT pu.kind, u.name FROM protection_users pu JOIN users u ON u.id = pu.user_id
         WHERE pu.protection_id = ?1 ORDER BY u.lower_name",
    )?;
    let rows = stmt.query_map([p.id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (kind, name) = row?;
        match kind.as_str() {
            "push" => p.push_users.push(name),
            _ => p.bypass_users.push(name),
        }
    }
    Ok(())
}

/// The rules of a repository, in the order they were made.
pub fn list(conn: &Connection, repo: RepoId) -> Result<Vec<Protection>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE repo_id = ?1 ORDER BY id"))?;
    let mut rules = stmt
        .query_map([repo.0], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for p in &mut rules {
        attach_users(conn, p)?;
    }
    Ok(rules)
}

pub fn by_pattern(conn: &Connection, repo: RepoId, pattern: &str) -> Result<Option<Protection>> {
    let mut p = conn
        .query_row(
            &format!("{SELECT} WHERE repo_id = ?1 AND pattern = ?2"),
            params![repo.0, pattern],
            from_row,
        )
        .optional()?;
    if let Some(p) = &mut p {
        attach_users(conn, p)?;
    }
    Ok(p)
}

pub fn has_any(conn: &Connection, repo: RepoId) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM branch_protections WHERE repo_id = ?1 LIMIT 1",
            [repo.0],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Creates or replaces the rule of `p.pattern`, its users given by id.
pub fn upsert(conn: &Connection, repo: RepoId, p: &Protection, push: &[UserId], bypass: &[UserId]) -> Result<i64> {
    conn.execute(
        "INSERT INTO branch_protections (repo_id, pattern, require_checks, required_checks, strict, require_reviews,
             required_approvals, dismiss_stale, restrict_pushes, enforce_admins, allow_force_pushes, allow_deletions,
             created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (repo_id, pattern) DO UPDATE SET require_checks = excluded.require_checks,
             required_checks = excluded.required_checks, strict = excluded.strict,
             require_reviews = excluded.require_reviews, required_approvals = excluded.required_approvals,
             dismiss_stale = excluded.dismiss_stale, restrict_pushes = excluded.restrict_pushes,
             enforce_admins = excluded.enforce_admins, allow_force_pushes = excluded.allow_force_pushes,
             allow_deletions = excluded.allow_deletions",
        params![
            repo.0,
            p.pattern,
            p.require_checks,
            p.required_checks.join("\n"),
            p.strict,
            p.require_reviews,
            p.required_approvals,
            p.dismiss_stale,
            p.restrict_pushes,
            p.enforce_admins,
            p.allow_force_pushes,
            p.allow_deletions,
            crate::time::now()
        ],
    )?;
    let id: i64 = conn.query_row(
        "SELECT id FROM branch_protections WHERE repo_id = ?1 AND pattern = ?2",
        params![repo.0, p.pattern],
        |r| r.get(0),
    )?;
    conn.execute("DELETE FROM protection_users WHERE protection_id = ?1", [id])?;
    let mut stmt = conn
        .prepare_cached("INSERT OR IGNORE INTO protection_users (protection_id, kind, user_id) VALUES (?1, ?2, ?3)")?;
    for (kind, users) in [("push", push), ("bypass", bypass)] {
        for u in users {
            stmt.execute(params![id, kind, u.0])?;
        }
    }
    Ok(id)
}

pub fn delete(conn: &Connection, repo: RepoId, pattern: &str) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM branch_protections WHERE repo_id = ?1 AND pattern = ?2",
        params![repo.0, pattern],
    )? > 0)
}
