//! The `sessions` table: browser sign-ins, looked up by the hash of the cookie.

use rusqlite::{Connection, OptionalExtension, params};

use super::users::{self, User, UserId};
use crate::error::Result;

pub fn insert(conn: &Connection, secret_hash: &str, user: UserId, expires_at: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO sessions (secret_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![secret_hash, user.0, crate::time::now(), expires_at],
    )?;
    Ok(())
}

/// The signed-in user of an unexpired session.
pub fn user(conn: &Connection, secret_hash: &str) -> Result<Option<User>> {
    let sql = format!(
        "SELECT {} FROM sessions JOIN users ON users.id = sessions.user_id
         WHERE sessions.secret_hash = ?1 AND sessions.expires_at > ?2",
        users::COLUMNS
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![secret_hash, crate::time::now()], users::from_row)
        .optional()?)
}

/// Ends a session, and with it any that have expired.
pub fn delete(conn: &Connection, secret_hash: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM sessions WHERE secret_hash = ?1 OR expires_at <= ?2",
        params![secret_hash, crate::time::now()],
    )?;
    Ok(())
}
