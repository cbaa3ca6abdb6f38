//! The `users` table.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::{Error, Result};

pub use crate::ids::UserId;

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub created_at: i64,
}

pub(crate) const COLUMNS: &str = "users.id, users.name, users.email, users.is_admin, users.created_at";

pub(crate) fn from_row(r: &Row) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(r.get(0)?),
        name: r.get(1)?,
        email: r.get(2)?,
        is_admin: r.get(3)?,
        created_at: r.get(4)?,
    })
}

/// Inserts a user; a name taken in any letter case is `Error::Exists`.
pub fn insert(
    conn: &Connection,
    name: &str,
    email: Option<&str>,
    password_hash: &str,
    is_admin: bool,
) -> Result<UserId> {
    let inserted = conn.execute(
        "INSERT INTO users (name, lower_name, email, password_hash, is_admin, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![name, name.to_lowercase(), email, password_hash, is_admin, crate::time::now()],
    );
    match inserted {
        Ok(_) => Ok(UserId(conn.last_insert_rowid())),
        Err(e) if super::is_unique_violation(&e) => Err(Error::Exists(format!("the name {name:?} is already taken"))),
        Err(e) => Err(e.into()),
    }
}

/// Every account, by name.
pub fn all(conn: &Connection) -> Result<Vec<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY lower_name");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?)
}

pub fn by_id(conn: &Connection, id: UserId) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id.0], from_row).optional()?)
}

pub fn by_name(conn: &Connection, name: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE lower_name = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([name.to_lowercase()], from_row)
        .optional()?)
}

/// The user and their password hash, for signing in.
pub fn with_password(conn: &Connection, name: &str) -> Result<Option<(User, String)>> {
    let sql = format!("SELECT {COLUMNS}, users.password_hash FROM users WHERE lower_name = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([name.to_lowercase()], |r| Ok((from_row(r)?, r.get(5)?)))
        .optional()?)
}
