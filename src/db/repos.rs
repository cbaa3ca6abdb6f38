//! The `repos` table.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::users::UserId;
use crate::error::{Error, Result};

pub use crate::ids::RepoId;

#[derive(Debug, Clone)]
pub struct Repo {
    pub id: RepoId,
    pub owner_id: UserId,
    pub owner: String,
    pub name: String,
    pub description: String,
    pub is_private: bool,
    pub default_branch: String,
    pub created_at: i64,
}

impl Repo {
    /// `/{owner}/{name}`: the repository's page, and the start of all its
    /// pages' paths (both names are plain: letters, digits, `.`, `_`, `-`).
    pub fn url(&self) -> String {
        format!("/{}/{}", self.owner, self.name)
    }

    /// `owner/name`, as titles and GitHub's `full_name` say it.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

const SELECT: &str = "SELECT repos.id, repos.owner_id, users.name, repos.name, repos.description, repos.is_private,
        repos.default_branch, repos.created_at FROM repos JOIN users ON users.id = repos.owner_id";

fn from_row(r: &Row) -> rusqlite::Result<Repo> {
    Ok(Repo {
        id: RepoId(r.get(0)?),
        owner_id: UserId(r.get(1)?),
        owner: r.get(2)?,
        name: r.get(3)?,
        description: r.get(4)?,
        is_private: r.get(5)?,
        default_branch: r.get(6)?,
        created_at: r.get(7)?,
    })
}

/// Inserts a repository; a name the owner already has, in any letter case,
/// is `Error::Exists`.
pub fn insert(conn: &Connection, owner: UserId, name: &str, description: &str, is_private: bool) -> Result<RepoId> {
    let inserted = conn.execute(
        "INSERT INTO repos (owner_id, name, lower_name, description, is_private, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![owner.0, name, name.to_lowercase(), description, is_private, crate::time::now()],
    );
    match inserted {
        Ok(_) => {
            let id = RepoId(conn.last_insert_rowid());
            super::notifications::set_watching(conn, owner, id, true)?;
            Ok(id)
        }
        Err(e) if super::is_unique_violation(&e) => {
            Err(Error::Exists(format!("a repository named {name:?} already exists")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Looks a repository up by owner and name, both case-insensitively.
pub fn by_name(conn: &Connection, owner: &str, name: &str) -> Result<Option<Repo>> {
    let sql = format!("{SELECT} WHERE users.lower_name = ?1 AND repos.lower_name = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![owner.to_lowercase(), name.to_lowercase()], from_row)
        .optional()?)
}

pub fn by_owner(conn: &Connection, owner: UserId) -> Result<Vec<Repo>> {
    let sql = format!("{SELECT} WHERE repos.owner_id = ?1 ORDER BY repos.lower_name");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([owner.0], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn all(conn: &Connection) -> Result<Vec<Repo>> {
    let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY repos.id"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Repositories `viewer` may read that are not their own: public ones of
/// others are not listed here, only those shared through collaboration.
pub fn shared_with(conn: &Connection, viewer: UserId) -> Result<Vec<Repo>> {
    let sql = format!(
        "{SELECT} JOIN collaborators c ON c.repo_id = repos.id WHERE c.user_id = ?1 ORDER BY users.lower_name, repos.lower_name"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([viewer.0], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn by_id(conn: &Connection, id: RepoId) -> Result<Option<Repo>> {
    let sql = format!("{SELECT} WHERE repos.id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id.0], from_row).optional()?)
}
