//! The `collaborators` table: who besides the owner may read or push.

use rusqlite::{Connection, OptionalExtension, params};

use super::repos::RepoId;
use super::users::UserId;
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    Read,
    Write,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
        }
    }

    pub fn parse(text: &str) -> Option<Permission> {
        match text {
            "read" | "pull" => Some(Permission::Read),
            "write" | "push" => Some(Permission::Write),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Collaborator {
    pub name: String,
    pub permission: Permission,
}

/// Adds a collaborator, or changes the permission of an existing one.
pub fn upsert(conn: &Connection, repo: RepoId, user: UserId, permission: Permission) -> Result<()> {
    conn.execute(
        "INSERT INTO collaborators (repo_id, user_id, permission, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (repo_id, user_id) DO UPDATE SET permission = excluded.permission",
        params![repo.0, user.0, permission.as_str(), crate::time::now()],
    )?;
    Ok(())
}

pub fn remove(conn: &Connection, repo: RepoId, user: UserId) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM collaborators WHERE repo_id = ?1 AND user_id = ?2",
        params![repo.0, user.0],
    )? > 0)
}

pub fn list(conn: &Connection, repo: RepoId) -> Result<Vec<Collaborator>> {
    let mut stmt = conn.prepare(
        "SELECT users.name, c.permission FROM collaborators c JOIN users ON users.id = c.user_id
         WHERE c.repo_id = ?1 ORDER BY users.lower_name",
    )?;
    let rows = stmt.query_map([repo.0], |r| {
        let perm: String = r.get(1)?;
        Ok(Collaborator {
            name: r.get(0)?,
            permission: Permission::parse(&perm).unwrap_or(Permission::Read),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn permission(conn: &Connection, repo: RepoId, user: UserId) -> Result<Option<Permission>> {
    let perm: Option<String> = conn
        .prepare_cached("SELECT permission FROM collaborators WHERE repo_id = ?1 AND user_id = ?2")?
        .query_row(params![repo.0, user.0], |r| r.get(0))
        .optional()?;
    Ok(perm.as_deref().and_then(Permission::parse))
}
