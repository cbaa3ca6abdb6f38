//! The `access_tokens` table: personal access tokens, kept as SHA-256 hashes.

use rusqlite::{Connection, OptionalExtension, params};

use super::users::{self, User, UserId};
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub id: i64,
    pub label: String,
    pub hint: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub fn insert(conn: &Connection, user: UserId, label: &str, token_hash: &str, hint: &str) -> Result<i64> {
    conn.execute(
        "INSERT INTO access_tokens (user_id, label, token_hash, token_hint, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user.0, label, token_hash, hint, crate::time::now()],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn list(conn: &Connection, user: UserId) -> Result<Vec<AccessToken>> {
    let mut stmt = conn.prepare(
        "SELECT id, label, token_hint, created_at, last_used_at FROM access_tokens WHERE user_id = ?1 ORDER BY id DESC",
    )?;
    let rows = stmt.query_map([user.0], |r| {
        Ok(AccessToken {
            id: r.get(0)?,
            label: r.get(1)?,
            hint: r.get(2)?,
            created_at: r.get(3)?,
            last_used_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Revokes one of the user's tokens; false when they have no such token.
pub fn delete(conn: &Connection, user: UserId, id: i64) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM access_tokens WHERE id = ?1 AND user_id = ?2",
        params![id, user.0],
    )? > 0)
}

/// The owner of a token, and when the token was last marked as used.
pub fn user(conn: &Connection, token_hash: &str) -> Result<Option<(User, i64, Option<i64>)>> {
    let sql = format!(
        "SELECT {}, access_tokens.id, access_tokens.last_used_at FROM access_tokens
         JOIN users ON users.id = access_tokens.user_id WHERE access_tokens.token_hash = ?1",
        users::COLUMNS
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([token_hash], |r| Ok((users::from_row(r)?, r.get(5)?, r.get(6)?)))
        .optional()?)
}

pub fn mark_used(conn: &Connection, id: i64) -> Result<()> {
    conn.execute(
        "UPDATE access_tokens SET last_used_at = ?1 WHERE id = ?2",
        params![crate::time::now(), id],
    )?;
    Ok(())
}
